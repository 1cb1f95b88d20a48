"""Commands a person sends to the engine (dashboard buttons, CLI), applied between events and audited.

The UI never touches engine internals: it builds a :class:`Command` and hands it to ``Runtime.submit``, which wakes the
engine at once and returns a future of the command's :class:`~engine.core.events.CommandApplied`. The engine applies
it on its own thread and writes one ``commands`` row (id, who, when, why, result), so a page reads the result of its
own command by id, never another session's.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class CommandKind(StrEnum):
    PAUSE = "PAUSE"
    RESUME = "RESUME"
    RESET_BREAKER = "RESET_BREAKER"
    FLATTEN = "FLATTEN"
    SET_FAULTS = "SET_FAULTS"  # venue sim: switch fault injection (params: FaultSettings fields)
    RESET_FAULTS = "RESET_FAULTS"  # venue sim: every fault off
    PRICE_SHOCK = "PRICE_SHOCK"  # venue sim: params pct (percent fall) and candles


VENUE_COMMANDS = frozenset({CommandKind.SET_FAULTS, CommandKind.RESET_FAULTS, CommandKind.PRICE_SHOCK})
"""Commands for the simulated venue, applied by the Runtime (audited like the others)."""


def new_command_id() -> str:
    """A fresh random command id (32 hex digits)."""
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class Command:
    """One request from a person.

    ``actor`` says who (``dashboard``, ``cli``, a user name); ``reason`` is free text kept in the audit log;
    ``params`` carries the arguments of the simulator commands (fault switches, shock size); ``command_id``
    identifies it in the audit log (a new random one unless given).
    """

    kind: CommandKind
    actor: str
    reason: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    command_id: str = field(default_factory=new_command_id)
