"""The engine loop's command handling without a running loop: venue commands go to the Runtime's control (refused
without a simulator), trading commands to the core; each is audited with its id and flushed before its result."""

from __future__ import annotations

import contextlib
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from engine.commands import Command, CommandKind
from engine.config import Settings
from engine.core.core import TradingCore
from engine.core.events import CommandResult
from engine.core.portfolio import Portfolio
from engine.core.strategy import SmaCrossover
from engine.loop import EngineLoop


class ListRecorder:
    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {}
        self.flushes = 0

    def record(self, table: str, row: Any) -> None:
        self.rows.setdefault(table, []).append(dict(row))

    def flush(self) -> int:
        self.flushes += 1
        return 0

    def atomic(self) -> contextlib.nullcontext[None]:
        return contextlib.nullcontext()


def make_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, venue_control: Any = None) -> tuple[EngineLoop, ListRecorder]:
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    core = TradingCore(settings, strategy=SmaCrossover(), portfolio=Portfolio(Decimal(10_000)))
    recorder = ListRecorder()
    loop = EngineLoop(
        settings, core=core, recorder=recorder, rest_url="http://127.0.0.1:1", ws_url="ws://127.0.0.1:1",
        next_ms={}, gaps=[], warmup_candles=44, venue_control=venue_control, wall_clock=lambda: 1_700_000_000.0,
    )
    return loop, recorder


def test_venue_commands_are_refused_without_a_simulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loop, recorder = make_loop(tmp_path, monkeypatch)
    command = Command(CommandKind.SET_FAULTS, "ops", params={"ws_stall": True})
    applied = loop.apply_command(command)
    assert (applied.result, applied.detail) == (CommandResult.REFUSED, "the venue is not the simulator")
    (row,) = recorder.rows["commands"]
    assert (row["command_id"], row["command"], row["result"]) == (command.command_id, "SET_FAULTS", "REFUSED")
    assert recorder.flushes == 1, "audited on disk before the result is handed back"


def test_venue_commands_go_to_the_control_and_its_refusals_are_audited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    applied_params: list[dict[str, Any]] = []

    def control(command: Command) -> str:
        if command.params.get("rest_5xx_rate", 0) > 1:
            raise ValueError("rest_5xx_rate must be\n at most 1")
        applied_params.append(dict(command.params))
        return f"faults: {dict(command.params)}"

    loop, recorder = make_loop(tmp_path, monkeypatch, venue_control=control)
    ok = loop.apply_command(Command(CommandKind.SET_FAULTS, "ops", params={"ws_stall": True}))
    refused = loop.apply_command(Command(CommandKind.SET_FAULTS, "ops", params={"rest_5xx_rate": 2.0}))

    assert (ok.result, ok.detail) == (CommandResult.OK, "faults: {'ws_stall': True}")
    assert (refused.result, refused.detail) == (CommandResult.REFUSED, "rest_5xx_rate must be at most 1")
    assert applied_params == [{"ws_stall": True}]
    assert [r["result"] for r in recorder.rows["commands"]] == ["OK", "REFUSED"]


def test_trading_commands_go_to_the_core(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loop, recorder = make_loop(tmp_path, monkeypatch)
    assert loop.apply_command(Command(CommandKind.PAUSE, "ops")).result is CommandResult.OK
    assert loop.core.paused
    assert loop.apply_command(Command(CommandKind.PAUSE, "ops")).result is CommandResult.IGNORED
    assert [r["detail"] for r in recorder.rows["commands"]] == ["entries stopped", "already paused"]
