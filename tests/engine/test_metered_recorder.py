"""The metered Recorder over a real DuckDB file: every flush that commits rows is timed and reported (the engine's
own and the background flusher's), an empty flush is not, and the age of the last commit is kept."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from engine.commands import Command, CommandKind
from engine.core.events import CommandApplied, CommandResult
from engine.metered_recorder import MeteredRecorder
from engine.sinks.record import RecordSink
from storage.store import Store


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        self.now += 0.003  # each reading 3 ms later: a flush takes one step
        return self.now


def audit(sink: RecordSink, n: int = 1) -> None:
    """``n`` command rows, recorded as the engine records them."""
    sink.handle_all([CommandApplied(Command(CommandKind.PAUSE, actor="test"), CommandResult.OK, "paused") for _ in range(n)])


def test_a_committing_flush_is_timed_and_an_empty_one_is_not(tmp_path: Path) -> None:
    clock, latencies = Clock(), []
    with Store(tmp_path / "pt.duckdb") as store:
        recorder = MeteredRecorder(store, on_flush=latencies.append, monotonic=clock)
        sink = RecordSink(recorder, interval="1m")
        created = recorder.last_commit_s

        assert recorder.flush() == 0
        assert latencies == [] and recorder.last_commit_s == created

        audit(sink, 3)
        assert recorder.flush() == 3
        assert latencies == [pytest.approx(0.003)]
        assert recorder.last_commit_s > created
        assert recorder.flush_age_s() == pytest.approx(0.003)
        recorder.stop()
        [(rows,)] = store.cursor().sql("SELECT count(*) FROM commands").fetchall()
        assert rows == 3


def test_the_background_flusher_is_timed_too(tmp_path: Path) -> None:
    latencies: list[float] = []
    with Store(tmp_path / "pt.duckdb") as store:
        recorder = MeteredRecorder(store, flush_interval_ms=10, on_flush=latencies.append).start()
        audit(RecordSink(recorder, interval="1m"))
        deadline = time.monotonic() + 5
        while not latencies:
            assert time.monotonic() < deadline, "the background flush was not reported"
            time.sleep(0.005)
        recorder.stop()
    assert len(latencies) == 1 and 0 < latencies[0] < 5
    assert recorder.status().rows_written == 1
