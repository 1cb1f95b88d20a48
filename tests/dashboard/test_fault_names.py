"""Human names of the simulator's fault switches."""

from __future__ import annotations

from dashboard.fault_names import FAULT_NAMES, fault_name, fault_switches, human_detail
from simulator.faults import FaultSettings


def test_every_switch_has_a_human_name() -> None:
    assert set(FAULT_NAMES) == set(FaultSettings.model_fields)
    assert fault_name("rest_429_storm") == "REST 429 storm"
    assert fault_name("a_new_switch") == "a_new_switch"


def test_audit_details_are_parsed_and_shown_with_the_names() -> None:
    detail = "faults: rest_429_storm=True, rest_5xx_rate=0.25"
    assert fault_switches(detail) == {"rest_429_storm": "True", "rest_5xx_rate": "0.25"}
    assert human_detail(detail) == "faults: REST 429 storm = True, REST 5xx rate = 0.25"
    assert fault_switches("every fault off") == {} and human_detail("every fault off") == "every fault off"
