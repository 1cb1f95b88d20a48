"""Human names of the simulator's fault switches (:class:`simulator.faults.FaultSettings`), as the dashboard shows
them: the Simulator page's switches, the active-fault line and the fault windows on the charts."""

from __future__ import annotations

FAULT_NAMES: dict[str, str] = {
    "rest_429_storm": "REST 429 storm",
    "rest_418_ban_s": "REST 418 ban (s)",
    "rest_5xx_rate": "REST 5xx rate",
    "rest_delay_ms": "REST delay (ms)",
    "background_weight_per_s": "Other clients' weight (/s)",
    "ws_drop_every_s": "Stream drop every (s)",
    "ws_close_every_s": "Stream close every (s)",
    "ws_stall": "Stream stall",
    "ws_malformed_rate": "Malformed message rate",
    "bad_price_rate": "Bad price rate",
    "duplicate_rate": "Duplicate candle rate",
    "out_of_order_rate": "Out-of-order candle rate",
}
"""Switch name → label; every field of ``FaultSettings`` has one."""


def fault_name(switch: str) -> str:
    """The human name of ``switch``; an unknown one (a switch added later) is shown as itself."""
    return FAULT_NAMES.get(switch, switch)


def fault_switches(detail: str) -> dict[str, str]:
    """The switches of a SET_FAULTS audit detail, as ``engine.runtime.Runtime`` writes it (``faults: a=1, b=True``):
    ``{"a": "1", "b": "True"}``; ``{}`` for any other detail."""
    if not detail.startswith("faults: "):
        return {}
    pairs = (item.partition("=") for item in detail.removeprefix("faults: ").split(", "))
    return {name.strip(): value.strip() for name, _, value in pairs if name.strip()}


def human_detail(detail: str) -> str:
    """An audit detail with its fault switches by their names (``faults: REST 429 storm = True``); other details as
    they are."""
    switches = fault_switches(detail)
    if not switches:
        return detail
    return "faults: " + ", ".join(f"{fault_name(name)} = {value}" for name, value in switches.items())
