"""The command inbox: commands from any thread are applied on the engine loop, in order, each sender getting the
result of its own command."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future

import pytest

from engine.commands import Command, CommandKind
from engine.core.events import CommandApplied, CommandResult
from engine.errors import EngineError
from engine.inbox import CommandInbox


def test_two_senders_each_get_the_result_of_their_own_commands() -> None:
    inbox = CommandInbox()
    applied_on: set[str] = set()
    order: list[str] = []

    def apply(command: Command) -> CommandApplied:
        applied_on.add(threading.current_thread().name)
        order.append(command.command_id)
        return CommandApplied(command, CommandResult.OK, f"applied {command.command_id}")

    futures: dict[str, list[tuple[Command, Future[CommandApplied]]]] = {"a": [], "b": []}

    async def engine() -> None:
        inbox.bind(asyncio.get_running_loop())
        consumer = asyncio.create_task(inbox.run(apply))

        def sender(name: str) -> None:
            for i in range(50):
                command = Command(CommandKind.PAUSE, actor=name, reason=str(i))
                futures[name].append((command, inbox.submit(command)))

        threads = [threading.Thread(target=sender, args=(n,), name=f"sender-{n}") for n in futures]
        for t in threads:
            t.start()
        await asyncio.to_thread(lambda: [t.join() for t in threads])
        await asyncio.to_thread(lambda: [f.result(timeout=10) for pairs in futures.values() for _, f in pairs])
        consumer.cancel()

    asyncio.run(engine(), debug=False)
    assert applied_on == {"MainThread"}, "applied on the loop's thread only"
    for pairs in futures.values():
        assert [f.result().detail for _, f in pairs] == [f"applied {c.command_id}" for c, _ in pairs]
        positions = [order.index(c.command_id) for c, _ in pairs]
        assert positions == sorted(positions), "each sender's commands in the order sent"
    assert len(set(order)) == 100


def test_a_command_submitted_before_the_loop_runs_or_after_it_ended_is_applied_by_drain() -> None:
    inbox = CommandInbox()
    early = inbox.submit(Command(CommandKind.RESUME, actor="t"))
    inbox.unbind()
    late = inbox.submit(Command(CommandKind.PAUSE, actor="t"))
    assert len(inbox) == 2
    assert inbox.drain(lambda c: CommandApplied(c, CommandResult.IGNORED, c.kind.value)) == 2
    assert (early.result(0).detail, late.result(0).detail) == ("RESUME", "PAUSE")


def test_a_failing_command_fails_its_own_future_only() -> None:
    inbox = CommandInbox()
    bad, good = inbox.submit(Command(CommandKind.FLATTEN, actor="t")), inbox.submit(Command(CommandKind.PAUSE, actor="t"))

    def apply(command: Command) -> CommandApplied:
        if command.kind is CommandKind.FLATTEN:
            raise RuntimeError("broken")
        return CommandApplied(command, CommandResult.OK, "")

    inbox.drain(apply)
    with pytest.raises(RuntimeError, match="broken"):
        bad.result(0)
    assert good.result(0).result is CommandResult.OK


def test_a_full_inbox_refuses_more() -> None:
    inbox = CommandInbox(size=1)
    inbox.submit(Command(CommandKind.PAUSE, actor="t"))
    with pytest.raises(EngineError, match="not applying them"):
        inbox.submit(Command(CommandKind.PAUSE, actor="t"))
