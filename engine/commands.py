"""Commands a person sends to the engine (dashboard buttons, CLI), applied between events and audited.

The UI never touches engine internals: it builds a :class:`Command` and hands it to ``Runtime.submit``.
The engine applies it on its own thread and writes one ``commands`` row (who, when, why, result).
"""

from __future__ import annotations

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


@dataclass(frozen=True, slots=True)
class Command:
    """One request from a person.

    ``actor`` says who (``dashboard``, ``cli``, a user name); ``reason`` is free text kept in the audit log;
    ``params`` carries the arguments of the simulator commands (fault switches, shock size).
    """

    kind: CommandKind
    actor: str
    reason: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
