"""Many live Overview pages on one dashboard process: server CPU, refresh intervals, engine data lag.

Run::

    .venv/bin/python benchmarks/dashboard_load.py [--pages 1 10 20] [--browsers 1] [--seconds 60]
        [--warmup-timeout 240] [--speed 60] [--history-days 10] [--no-launcher]

Target (issue 11, ``../shared/SPEC.md`` §5): 20 Overview pages refreshing at 1 Hz on one server process at replay
speed 60: server CPU ≤ 1 core, each page's refresh median ≤ 1.5 s and max ≤ 3 s, engine data lag < 2 s.

Methodology, for each page count N (a fresh server and database each time):

1. A database with ``--history-days`` of history is made first (``papertrader replay --end``, the bundled data from
   2021-04-20; 0: none), so the charts are at their point cap as on a long run; then the dashboard is started as
   ``make run`` starts it (``streamlit run dashboard/serve.py``; ``--no-launcher``:
   ``streamlit run dashboard/app.py``, the engine then starting at the first page view) on a free port, with its own
   temporary database, ``PAPERTRADER_SIM__SPEED`` set, and its operations endpoint on a free port.
2. The N viewers: ``--browsers`` of them (default 1) are real pages — one headless Debian Chromium
   (``/usr/bin/chromium``, or ``PAPERTRADER_CHROMIUM``) opens them, each in its own browser context (its own
   Streamlit session), 1280×900 — and the others are protocol-level viewers (:mod:`streamlit_viewer`): sessions
   that send the server exactly what the page's Streamlit frontend sends (the first run, then each fragment's
   rerun request every second) and measure what arrives, without drawing it. Why: a real Overview page costs its
   browser ≈ 0.4 core to draw (measured below); twenty of them need ≈ 8 cores, which a 2-core test machine shares
   with the server, so the refresh intervals would measure the browsers' queue, not the server. A real viewer
   brings their own machine. ``--browsers N`` makes every viewer a real page (reported as well, with the browser's
   CPU). A page is *warm* once it shows a Plotly chart with points; the measurement starts when every viewer is
   warm.
3. For ``--seconds`` wall seconds:

   - **server CPU**: user + system CPU time of the server process (``/proc/<pid>/stat``; the engine, the simulator
     and the web server all live in it) over the wall time, in cores (1.0 = one core busy all the time);
   - **refresh interval**: in each real page a script samples every 100 ms a signature of every Plotly chart on the page
     (points, last x and last y of each trace); a change is a refresh (changes within 400 ms of the last refresh are
     the same refresh: its charts land one after the other), and the time between two refreshes is that page's
     refresh interval (1 s when the 1 Hz refresh keeps up with data arriving every wall second); a protocol-level
     viewer counts a refresh when the spec of any of its Plotly charts changes, with the same 400 ms coalescing.
     Per viewer: median and max; reported: the worst viewer's median and max, for pages and protocol viewers
     apart;
   - **blank charts**: checked at every animation frame of each real page: a chart's place in the layout showing no
     drawn chart (none, one still hidden, or one without points), e.g. a chart re-created rather than updated
     mid-refresh. Reported: how many times it happened and the share of page-time it lasted;
   - **engine data lag**: ``papertrader_data_lag_seconds`` (wall seconds since the last market message) scraped
     from ``/metrics`` once a second: max;
   - **bytes per viewer**: WebSocket bytes the server sent to each viewer per second (mean over viewers).

4. The machine's load is printed before and after (``/proc/loadavg``, the CPU count), the CPU this process used
   (the protocol-level viewers live in it), and the CPU the browser used over the same window (``/proc/<pid>/stat``
   of every process in the Chromium tree): on a small machine the browser's renderers compete with the server for
   the same cores, which lengthens refresh intervals without the server being at fault.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import itertools
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page, sync_playwright
from streamlit_viewer import Viewer

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("PAPERTRADER_CHROMIUM", "/usr/bin/chromium")
CLK_TCK = os.sysconf("SC_CLK_TCK")
TARGET_CPU_CORES = 1.0
TARGET_MEDIAN_S = 1.5
TARGET_MAX_S = 3.0
TARGET_LAG_S = 2.0
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
HISTORY_START = datetime(2021, 4, 20, tzinfo=UTC)

SAMPLER_JS = """() => {
    if (window.__bench) return;
    const bench = window.__bench = {updates: [], blanks: 0, blankMs: 0, last: null};
    const COALESCE_MS = 400;
    const last = (a) => (a && a.length ? String(a[a.length - 1]) : '');
    const drawn = (p) => p && Array.isArray(p._fullData) && getComputedStyle(p).visibility !== 'hidden'
        && p._fullData.some(t => t.x && t.x.length);
    let blankSince = null, lastFrame = performance.now();
    const frame = () => {
        const now = performance.now();
        // a chart slot in the layout showing no drawn chart: blank (e.g. its chart re-created mid-refresh)
        const blank = [...document.querySelectorAll('[data-testid="ptChart"]')]
            .some(c => c.getBoundingClientRect().height > 0 && !drawn(c));
        if (blank && blankSince === null) { blankSince = now; bench.blanks++; }
        if (blank) bench.blankMs += now - lastFrame;
        if (!blank) blankSince = null;
        lastFrame = now;
        requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
    setInterval(() => {
        const plots = [...document.querySelectorAll('.js-plotly-plot')].filter(p => drawn(p));
        const signature = plots.map(p => p._fullData.map(t => `${t.x ? t.x.length : 0}:${last(t.x)}:${last(t.y)}`).join()).join('|');
        const now = performance.now();
        if (signature !== bench.last) {
            bench.last = signature;
            // the charts of one refresh land within a few hundred ms of each other: one refresh
            if (!bench.updates.length || now - bench.updates[bench.updates.length - 1] > COALESCE_MS) bench.updates.push(now);
        }
    }, 100);
}"""
WARM_JS = """() => [...document.querySelectorAll('.js-plotly-plot')].some(p => Array.isArray(p._fullData)
    && p._fullData.some(t => t.x && t.x.length))"""


@dataclass
class Refreshes:
    """Refresh intervals of one kind of viewer (real pages or protocol-level viewers): per viewer, median and max."""

    medians_s: list[float]
    maxima_s: list[float]

    @classmethod
    def of(cls, stamps_per_viewer: list[list[float]], *, wall_s: float) -> Refreshes:
        """From each viewer's refresh times (seconds); a viewer with fewer than two refreshes counts ``wall_s``."""
        gaps = [[b - a for a, b in itertools.pairwise(stamps)] or [wall_s] for stamps in stamps_per_viewer]
        return cls([statistics.median(g) for g in gaps], [max(g) for g in gaps])

    def ok(self) -> bool:
        return not self.medians_s or (max(self.medians_s) <= TARGET_MEDIAN_S and max(self.maxima_s) <= TARGET_MAX_S)

    def text(self, what: str) -> str:
        if not self.medians_s:
            return f"no {what}"
        return (
            f"{len(self.medians_s)} {what}: refresh median (worst) {max(self.medians_s):.2f} s, "
            f"max {max(self.maxima_s):.2f} s"
        )


@dataclass
class Result:
    pages: int
    seconds: float
    server_cores: float
    browser_cores: float
    client_cores: float
    in_browser: Refreshes
    by_protocol: Refreshes
    blanks: int
    blank_share: float
    max_lag_s: float
    bytes_per_viewer_s: float
    load_before: str
    load_after: str

    def verdict(self) -> str:
        ok = (
            self.server_cores <= TARGET_CPU_CORES
            and self.in_browser.ok()
            and self.by_protocol.ok()
            and self.max_lag_s < TARGET_LAG_S
            and self.blanks == 0
        )
        return "meets the target" if ok else "MISSES the target"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (its threads included), from ``/proc/<pid>/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds of ``root`` and every live descendant (the Chromium browser, its GPU and renderer processes)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    total, stack = 0.0, [root]
    while stack:
        pid = stack.pop()
        with contextlib.suppress(OSError):
            total += cpu_seconds(pid)
        stack.extend(children.get(pid, []))
    return total


def loadavg() -> str:
    one, five, fifteen = Path("/proc/loadavg").read_text().split()[:3]
    return f"load average {one} {five} {fifteen} on {os.cpu_count()} CPUs"


def history(database: Path, *, days: int) -> None:
    """``days`` of replayed history in ``database`` (the live engine then resumes after its last candle)."""
    if days:
        end = (HISTORY_START + timedelta(days=days)).isoformat()
        subprocess.run(
            [sys.executable, "-m", "engine", "replay", "--db", str(database), "--end", end, "--no-progress"],
            cwd=REPO, env={**clean_env(), "PYTHONPATH": str(REPO)}, check=True, stdout=subprocess.DEVNULL,
        )


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PAPERTRADER_")}


@contextlib.contextmanager
def server(*, speed: float, launcher: bool, workdir: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, str]]:
    """The dashboard on a free port: ``(process, app URL, metrics URL)``; stopped with SIGTERM afterwards."""
    port, metrics_port = free_port(), free_port()
    env = {
        **clean_env(),
        "PAPERTRADER_STORAGE__PATH": str(workdir / "bench.duckdb"),
        "PAPERTRADER_SIM__SPEED": str(speed),
        "PAPERTRADER_METRICS__PORT": str(metrics_port),
        "PYTHONPATH": str(REPO),
    }
    script = "dashboard/serve.py" if launcher else "dashboard/app.py"
    command = [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port)]
    log = (workdir / "server.log").open("wb")
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise SystemExit(f"the dashboard exited with {process.returncode}: see {workdir / 'server.log'}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/_stcore/health", timeout=1.0).text == "ok":
                    break
            if time.monotonic() > deadline:
                raise SystemExit("the dashboard did not answer /_stcore/health within 90 s")
            time.sleep(0.2)
        yield process, url, f"http://127.0.0.1:{metrics_port}/metrics"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def data_lag_s(metrics_url: str) -> float | None:
    with contextlib.suppress(httpx.HTTPError):
        match = re.search(r"^papertrader_data_lag_seconds (\S+)$", httpx.get(metrics_url, timeout=1.0).text, re.MULTILINE)
        return float(match.group(1)) if match else None
    return None


def open_page(browser: Browser, url: str, received: list[int], *, timeout_s: float) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    slot = len(received)
    received.append(0)

    def count(payload: str | bytes) -> None:
        received[slot] += len(payload)

    page.on("websocket", lambda ws: ws.on("framereceived", count))
    page.goto(url, wait_until="commit", timeout=timeout_s * 1000)
    page.wait_for_load_state("load", timeout=timeout_s * 1000)
    page.evaluate(SAMPLER_JS)
    return page


def run(
    browser: Browser, *, pages: int, browsers: int, seconds: float, speed: float, launcher: bool,
    warmup_timeout_s: float, history_days: int,
) -> Result:
    with tempfile.TemporaryDirectory(prefix="pt-load-") as tmp:
        history(Path(tmp) / "bench.duckdb", days=history_days)
        with (
            server(speed=speed, launcher=launcher, workdir=Path(tmp)) as (process, url, metrics_url),
            ProtocolViewers(url, pages - browsers) as viewers,
        ):
            return measure(
                browser, viewers, process, url, metrics_url, pages=browsers, seconds=seconds,
                warmup_timeout_s=warmup_timeout_s,
            )


class ProtocolViewers:
    """``count`` :class:`streamlit_viewer.Viewer` sessions of ``url``, run by an asyncio loop in a thread of this
    process for as long as the ``with`` block lasts."""

    def __init__(self, url: str, count: int) -> None:
        self.viewers = [Viewer(url) for _ in range(count)]
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="protocol-viewers", daemon=True)
        self._stop: asyncio.Event | None = None
        self._runs: concurrent.futures.Future[list[None]] | None = None

    def __enter__(self) -> ProtocolViewers:
        self._thread.start()
        self._runs = asyncio.run_coroutine_threadsafe(self._all(), self._loop)
        return self

    async def _all(self) -> list[None]:
        self._stop = asyncio.Event()
        return await asyncio.gather(*(v.run(self._stop) for v in self.viewers))

    def wait_warm(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not all(v.warm for v in self.viewers):
            self.check()
            if time.monotonic() > deadline:
                raise SystemExit(f"protocol viewers not warm within {timeout_s:.0f} s")
            time.sleep(0.2)

    def check(self) -> None:
        """Stop the benchmark when a viewer failed (its connection refused or closed)."""
        failed = [error for v in self.viewers for error in v.errors]
        if failed:
            raise SystemExit(f"a protocol viewer stopped: {failed[0]}")

    def reset(self) -> None:
        """Forget every viewer's warm-up (in the viewers' loop, between two of their messages)."""

        def forget() -> None:
            for viewer in self.viewers:
                viewer.reset()

        self._loop.call_soon_threadsafe(forget)

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._runs is not None:
            with contextlib.suppress(Exception):
                self._runs.result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


def measure(
    browser: Browser, viewers: ProtocolViewers, process: subprocess.Popen[bytes], url: str, metrics_url: str, *,
    pages: int, seconds: float, warmup_timeout_s: float,
) -> Result:
    received: list[int] = []
    opened = [open_page(browser, url, received, timeout_s=warmup_timeout_s) for _ in range(pages)]
    for page in opened:
        page.wait_for_function(WARM_JS, timeout=warmup_timeout_s * 1000, polling=500)
    viewers.wait_warm(warmup_timeout_s)
    browser_pid = browser_process_pid()
    load_before = loadavg()
    start_bytes = sum(received)
    cpu0, browser0, client0, wall0 = (
        cpu_seconds(process.pid), tree_cpu_seconds(browser_pid), time.process_time(), time.monotonic()
    )
    for page in opened:
        page.evaluate("() => { Object.assign(window.__bench, {updates: [], blanks: 0, blankMs: 0}); }")
    viewers.reset()
    lags: list[float] = []
    while time.monotonic() - wall0 < seconds:
        viewers.check()
        lag = data_lag_s(metrics_url)
        if lag is not None:
            lags.append(lag)
        if opened:
            opened[0].wait_for_timeout(1000)  # lets Playwright deliver the WebSocket frame events meanwhile
        else:
            time.sleep(1.0)
    wall = time.monotonic() - wall0
    server_cores = (cpu_seconds(process.pid) - cpu0) / wall
    browser_cores = (tree_cpu_seconds(browser_pid) - browser0) / wall
    client_cores = (time.process_time() - client0) / wall
    page_bytes = sum(received) - start_bytes
    viewer_bytes = sum(v.received_bytes for v in viewers.viewers)
    stamps, blanks, blank_ms = [], 0, 0.0
    for page in opened:
        bench = page.evaluate("() => window.__bench")
        stamps.append([ms / 1000 for ms in bench["updates"]])
        blanks += bench["blanks"]
        blank_ms += bench["blankMs"]
    for page in opened:
        page.context.close()
    total = pages + len(viewers.viewers)
    return Result(
        total, wall, server_cores, browser_cores, client_cores,
        Refreshes.of(stamps, wall_s=wall),
        Refreshes.of([list(v.refreshes) for v in viewers.viewers], wall_s=wall),
        blanks, blank_ms / 1000 / wall / max(pages, 1),
        max(lags, default=float("nan")),
        (page_bytes + viewer_bytes) / wall / total, load_before, loadavg(),
    )


def browser_process_pid() -> int:
    """The Chromium browser process Playwright launched: the ``chromium`` process of this process tree whose parent is
    not one (its GPU, network and renderer processes descend from it)."""
    mine = os.getpid()
    names: dict[int, tuple[str, int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                names[int(entry.name)] = (stat[stat.index("(") + 1 : stat.rindex(")")], int(stat.rsplit(")", 1)[1].split()[1]))
    roots = [
        pid for pid, (name, ppid) in names.items()
        if "chrom" in name and "chrom" not in names.get(ppid, ("", 0))[0] and is_descendant(ppid, mine)
    ]
    [root] = roots
    return root


def is_descendant(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            return False
    return False


def report(result: Result) -> None:
    print(
        f"{result.pages:>3} viewer(s), {result.seconds:.0f} s: server {result.server_cores:.2f} core(s); "
        f"{result.in_browser.text('real page(s)')}; {result.by_protocol.text('protocol viewer(s)')}; "
        f"blank charts {result.blanks} times ({result.blank_share:.1%} of the time); engine data lag max "
        f"{result.max_lag_s:.2f} s; {result.bytes_per_viewer_s / 1000:.1f} kB/s per viewer — {result.verdict()}"
    )
    print(
        f"      CPU beside the server: browser {result.browser_cores:.2f} core(s), protocol viewers "
        f"{result.client_cores:.2f} core(s); before: {result.load_before}; after: {result.load_after}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, nargs="+", default=[1, 10, 20], help="viewers per measurement")
    parser.add_argument("--browsers", type=int, default=1, help="how many of the viewers are real Chromium pages")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--speed", type=float, default=60.0)
    parser.add_argument("--warmup-timeout", type=float, default=240.0)
    parser.add_argument("--history-days", type=int, default=10, help="days replayed into the database first (0: none)")
    parser.add_argument("--no-launcher", action="store_true", help="streamlit run dashboard/app.py (the engine starts at the first view)")
    args = parser.parse_args()
    if args.browsers < 0 or any(n < 1 for n in args.pages):
        parser.error("--browsers must be ≥ 0 and every --pages count ≥ 1")
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # each result as soon as it is measured
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"no Chromium at {CHROMIUM}: apt-get install chromium (or set PAPERTRADER_CHROMIUM)")
    print(f"machine: {loadavg()}")
    print(
        f"target: server ≤ {TARGET_CPU_CORES:g} core, refresh median ≤ {TARGET_MEDIAN_S:g} s and max ≤ {TARGET_MAX_S:g} s "
        f"per page, engine data lag < {TARGET_LAG_S:g} s, no blank chart"
    )
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            for pages in args.pages:
                report(
                    run(
                        browser, pages=pages, browsers=min(args.browsers, pages), seconds=args.seconds, speed=args.speed,
                        launcher=not args.no_launcher, warmup_timeout_s=args.warmup_timeout,
                        history_days=args.history_days,
                    )
                )
        finally:
            browser.close()


if __name__ == "__main__":
    main()
