"""The release gate's verdict in the card, chained to the files it judged, and the controller's check before
hardware: refused without a passed, intact gate; the override runs, warns and is recorded in the bag."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from robot_rl.deploy.controller import Controller, ControllerConfig
from robot_rl.policy import PolicyError, load_card
from robot_rl.policy.card import save_card
from robot_rl.policy.gate import REPORT_FILE, SUITE_FILE, gate_status, record_verdict
from tests.deploy.memory_transport import MemoryBus, MemoryTransport

ROOT = Path(__file__).resolve().parents[2]
WHEN = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def policy(tmp_path):
    """A copy of the shipped arm policy with a gate suite and report next to it."""
    folder = tmp_path / "arm-reach"
    shutil.copytree(ROOT / "policies" / "arm-reach", folder, ignore=shutil.ignore_patterns("gate"))
    card = load_card(folder / "card.yaml")
    save_card(card.model_copy(update={"gate": None}), folder / "card.yaml")  # ungated, whatever the shipped one is
    (folder / "gate").mkdir()
    (folder / SUITE_FILE).write_text("robot: arm\nthresholds: {success_lower_bound: 0.8}\n")
    (folder / REPORT_FILE).write_text("<!doctype html><title>gate</title>")
    return folder


def test_an_intact_passing_verdict_is_a_gate(policy):
    verdict = record_verdict(policy, True, [], WHEN)
    assert verdict.date == "2026-11-29T12:00:00+00:00" and verdict.robot == "arm"
    assert load_card(policy / "card.yaml").gate == verdict
    status = gate_status(policy)
    assert status.ok and "passed 2026-11-29" in status.summary


@pytest.mark.parametrize(("edit", "named"), [
    (lambda f: (f / "card.yaml").write_text((f / "card.yaml").read_text().replace("env_id: robot_rl/ArmReach-v0",
                                                                               "env_id: robot_rl/ArmReach-v1")),
     "card.yaml (edited after the gate)"),
    (lambda f: (f / "policy.onnx").write_bytes((f / "policy.onnx").read_bytes() + b"\0"), "policy.onnx"),
    (lambda f: (f / REPORT_FILE).write_text("<p>a nicer report</p>"), REPORT_FILE),
    (lambda f: (f / SUITE_FILE).unlink(), SUITE_FILE),
])
def test_a_verdict_whose_hashes_do_not_match_is_no_gate(policy, edit, named):
    record_verdict(policy, True, [], WHEN)
    edit(policy)
    status = gate_status(policy)
    assert not status.ok and named in status.summary and "treated as no gate" in status.summary


def test_failed_and_missing_verdicts_are_no_gate(policy):
    assert "no release-gate verdict" in gate_status(policy).summary
    record_verdict(policy, False, ["latency +2: success lower bound 0.41 < 0.8"], WHEN)
    status = gate_status(policy)
    assert not status.ok and "failed: latency +2: success lower bound 0.41 < 0.8" in status.summary
    with pytest.raises(FileNotFoundError, match="suite and report"):
        (policy / REPORT_FILE).unlink()
        record_verdict(policy, True, [], WHEN)


def _controller(policy: Path, **config: object) -> tuple[Controller, MemoryBus]:
    bus = MemoryBus()
    params = {"robot": "arm", "policy": str(policy), "use_sim_time": True, **config}
    return Controller(MemoryTransport(bus), ControllerConfig.from_parameters(params)), bus


def _recorded(bus: MemoryBus) -> dict[str, str]:
    (msg,) = bus.messages("/robot_rl/policy")
    return {kv.key: kv.value for kv in msg.status[0].values}


def test_the_controller_refuses_an_ungated_policy_on_hardware(policy):
    with pytest.raises(PolicyError, match="refused on real hardware: the card has no release-gate verdict"):
        _controller(policy, require_gate=True)
    record_verdict(policy, False, ["push forces: 12 constraint-violation steps"], WHEN)
    with pytest.raises(PolicyError, match="failed: push forces"):
        _controller(policy, require_gate=True)
    _, bus = _controller(policy)  # simulation: permissive, but the bag says the policy was not gated
    assert _recorded(bus) | {"gate": ""} == _recorded(bus) | {"gate": "", "gate_passed": "false",
                                                             "gate_required": "false", "gate_override": "false"}


def test_the_override_runs_warns_and_is_recorded(policy, capsys):
    _, bus = _controller(policy, require_gate=True, gate_override=True)
    assert "release gate OVERRIDDEN" in capsys.readouterr().err
    values = _recorded(bus)
    assert values["gate_override"] == "true" and values["gate_required"] == "true" and values["gate_passed"] == "false"


def test_a_gated_policy_drives_hardware(policy):
    record_verdict(policy, True, [], WHEN)
    _, bus = _controller(policy, require_gate=True)
    values = _recorded(bus)
    assert values["gate_passed"] == "true" and values["gate_override"] == "false"
    assert values["gate"].startswith("release gate passed 2026-11-29")
