"""Commands a person sends to the engine (dashboard buttons, CLI), applied between events and audited.

The UI never touches engine internals: it builds a :class:`Command` and hands it to ``Runtime.submit``.
The engine applies it on its own thread and writes one ``commands`` row (who, when, why, result).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CommandKind(StrEnum):
    PAUSE = "PAUSE"
    RESUME = "RESUME"
    RESET_BREAKER = "RESET_BREAKER"
    FLATTEN = "FLATTEN"


@dataclass(frozen=True, slots=True)
class Command:
    """One request from a person.

    ``actor`` says who (``dashboard``, ``cli``, a user name); ``reason`` is free text kept in the audit log.
    """

    kind: CommandKind
    actor: str
    reason: str = ""
