"""The Recorder with its flushes timed, for the exporter's flush-latency histogram and the readiness check "last flush
recent" (:mod:`engine.health`).

A subclass, so that the background flusher's flushes are timed as well as the engine's own (both call
:meth:`Recorder.flush`). The latency is what a caller of ``flush()`` waits: the write, plus any wait for a flush in
progress or an atomic block to end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from storage.recorder import Recorder


class MeteredRecorder(Recorder):
    """A :class:`~storage.recorder.Recorder` that reports the latency of every flush that committed rows.

    Args:
        on_flush: called with each committing flush's latency in seconds, on the flushing thread (``None``: only
            :attr:`last_commit_s` is kept).
        monotonic: monotonic seconds.
        *args, **kwargs: as for :class:`~storage.recorder.Recorder`.
    """

    def __init__(
        self,
        *args: Any,
        on_flush: Callable[[float], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._on_flush = on_flush
        self._monotonic = monotonic
        self.last_commit_s = monotonic()
        """Monotonic seconds of the last flush that committed rows (of the construction, before the first)."""

    def flush(self) -> int:
        """:meth:`Recorder.flush`, timed; same result and errors."""
        started = self._monotonic()
        committed = super().flush()
        if committed:
            now = self.last_commit_s = self._monotonic()
            if self._on_flush is not None:
                self._on_flush(now - started)
        return committed

    def flush_age_s(self) -> float:
        """Seconds since the last flush committed rows (or since construction)."""
        return self._monotonic() - self.last_commit_s
