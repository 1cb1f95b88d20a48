"""data.binance.vision in miniature: a local HTTP server (127.0.0.1, port 0) serving archive-format kline zips built
from the bundled data, with their ``.CHECKSUM`` files, ``Range`` requests, and the faults a download meets."""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.conftest import write_archive


class ArchiveServer:
    """Files by URL path (``/data/spot/monthly/klines/...``); every request is kept in :attr:`requests` as
    ``(path, Range header or None)``.

    Faults: :attr:`cut_after` (path → bytes: the next answer for that path stops after that many bytes of its body
    and the connection is closed, once); :attr:`stall_after` (path → bytes: the next answer sends that many bytes,
    then nothing until :attr:`released` is set, once); :attr:`status` (path → HTTP status answered instead, every
    time); :attr:`ranges` false: ``Range`` headers are ignored (200 and the whole file, as some servers do).
    """

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.cut_after: dict[str, int] = {}
        self.stall_after: dict[str, int] = {}
        self.released = threading.Event()
        self.status: dict[str, int] = {}
        self.ranges = True
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), name="archive-server", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def add(self, path: str, content: bytes, *, checksum: str | None = None) -> None:
        """Serve ``content`` at ``path`` and its CHECKSUM at ``path.CHECKSUM`` (``checksum``: another digest)."""
        self.files[path] = content
        digest = checksum or hashlib.sha256(content).hexdigest()
        self.files[f"{path}.CHECKSUM"] = f"{digest}  {path.rsplit('/', 1)[1]}\n".encode()

    def add_klines(self, tmp: Path, symbol: str, rows: Sequence[Sequence[str]], *, by: str = "month", micro: bool = False) -> list[str]:
        """``rows`` (project-format rows) as the archive's monthly or daily zips of ``symbol`` (built in ``tmp``);
        returns their URL paths."""
        paths = []
        for zip_path in write_archive(tmp / f"built-{symbol}-{by}", symbol, rows, by=by, micro=micro):
            frequency = "daily" if by == "day" else "monthly"
            path = f"/data/spot/{frequency}/klines/{symbol}/1m/{zip_path.name}"
            self.add(path, zip_path.read_bytes())
            paths.append(path)
        return paths

    def start(self) -> ArchiveServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.released.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


@contextmanager
def archive_server() -> Iterator[ArchiveServer]:
    server = ArchiveServer().start()
    try:
        yield server
    finally:
        server.stop()


def _handler(server: ArchiveServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path, asked = self.path, self.headers.get("Range")
            server.requests.append((path, asked))
            body = server.files.get(path)
            if path in server.status or body is None:
                self.send_response(server.status.get(path, 404))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            start = 0
            match = re.fullmatch(r"bytes=(\d+)-", asked or "") if server.ranges else None
            if match is not None:
                start = int(match[1])
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            payload = body[start:]
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            cut = server.cut_after.pop(path, None)
            stall = server.stall_after.pop(path, None)
            self.wfile.write(payload if cut is None and stall is None else payload[: cut or stall])
            self.wfile.flush()
            if stall is not None:
                server.released.wait(timeout=60)
            self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the tests read :attr:`ArchiveServer.requests`."""

    return Handler
