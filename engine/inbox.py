"""The command inbox: any thread submits, the engine loop is woken at once and applies commands in order.

:meth:`CommandInbox.submit` returns a :class:`concurrent.futures.Future` that resolves to the command's
:class:`~engine.core.events.CommandApplied` once it is applied and its audit row is on disk, so the page that sent a
command waits on exactly that command (two browser sessions never read each other's result). No polling: a submit
wakes the loop through ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import Future

from engine.commands import Command
from engine.core.events import CommandApplied
from engine.errors import EngineError

INBOX_SIZE = 1000
"""Commands that may wait unapplied; beyond it :meth:`CommandInbox.submit` refuses (the engine is stuck)."""


class CommandInbox:
    """Thread-safe queue of ``(command, future)`` drained on the engine loop."""

    def __init__(self, *, size: int = INBOX_SIZE) -> None:
        self._queue: collections.deque[tuple[Command, Future[CommandApplied]]] = collections.deque()
        self._size = size
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Attach to the engine loop (from that loop's thread); commands submitted before are applied at once."""
        self._loop, self._wake = loop, asyncio.Event()
        if self._queue:
            self._wake.set()

    def unbind(self) -> None:
        """The loop is ending: later submits queue for :meth:`drain` without waking anything."""
        with self._lock:
            self._loop = self._wake = None

    def submit(self, command: Command) -> Future[CommandApplied]:
        """Queue ``command`` from any thread and wake the engine.

        Raises:
            EngineError: ``INBOX_SIZE`` commands are already waiting.
        """
        future: Future[CommandApplied] = Future()
        with self._lock:
            if len(self._queue) >= self._size:
                raise EngineError(f"{len(self._queue)} commands are waiting: the engine is not applying them")
            self._queue.append((command, future))
            loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: Runtime.stop drains what is left
                loop.call_soon_threadsafe(wake.set)
        return future

    def __len__(self) -> int:
        return len(self._queue)

    async def run(self, apply: Callable[[Command], CommandApplied]) -> None:
        """Apply commands as they come, until cancelled (on the loop :meth:`bind` attached)."""
        assert self._wake is not None, "bind() first"
        while True:
            await self._wake.wait()
            self._wake.clear()
            self.drain(apply)

    def drain(self, apply: Callable[[Command], CommandApplied]) -> int:
        """Apply every queued command in order, resolving each future; returns how many."""
        applied = 0
        while True:
            with self._lock:
                if not self._queue:
                    return applied
                command, future = self._queue.popleft()
            try:
                future.set_result(apply(command))
            except Exception as exc:  # a failing command must not take the loop down; its sender gets the error
                future.set_exception(exc)
            applied += 1
