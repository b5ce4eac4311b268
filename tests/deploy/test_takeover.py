"""The controller's takeover, tick by tick and deterministic: an in-process transport with a clock the test sets
(tests/deploy/memory_transport.py), the real controller, policy, Joy map and safety filter. The test plays the arm
and the operator; each case names the fault of the issue it covers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from robot_rl.data.ticks import parse_tick
from robot_rl.deploy.adapters import adapter_for, pose_from_position
from robot_rl.deploy.controller import Controller, ControllerConfig
from robot_rl.deploy.msgs import Bool, Joy, ns_from_stamp, stamp_from_ns
from robot_rl.deploy.transport import COMMAND_QOS
from robot_rl.robots import load_robot
from robot_rl.teleop.joy_map import load_joy_map
from tests.deploy.memory_transport import MemoryBus, MemoryTransport

ROOT = Path(__file__).resolve().parents[2]
ARM = load_robot("arm")
HOME = np.array(ARM.arm.home_rad)
PERIOD_NS = 20_000_000  # 50 Hz
JOY = load_joy_map(ARM)


class Rig:
    """Controller + robot + operator on one memory bus; `step()` = one state, one tick."""

    def __init__(self, **takeover: object) -> None:
        self.bus = MemoryBus()
        self.t = MemoryTransport(self.bus)
        self.adapter = adapter_for(ARM)
        params = {"robot": "arm", "policy": str(ROOT / "policies" / "arm-reach"), "auto_enable": True,
                  "use_sim_time": True, "takeover": {"debounce_s": 0.0, **takeover}}
        self.c = Controller(self.t, ControllerConfig.from_parameters(params))
        self.publish("/goal", pose_from_position([0.5, 0.1, 0.4]))
        self.q = HOME.copy()

    def publish(self, topic: str, msg: object) -> None:
        self.t.create_publisher(topic, type(msg), COMMAND_QOS).publish(msg)

    def joy(self, deadman: bool, axes: tuple[float, ...] = (), n_buttons: int | None = None,
            success: bool = False) -> None:
        buttons = [0] * (n_buttons if n_buttons is not None else JOY.min_buttons)
        if deadman and n_buttons is None:
            buttons[JOY.enable_button] = 1
        if success:
            buttons[JOY.success_button] = 1
        msg = Joy(axes=list(axes) + [0.0] * (JOY.min_axes - len(axes)), buttons=buttons)
        msg.header.stamp, msg.header.frame_id = stamp_from_ns(self.bus.now_ns), "test-operator"
        self.publish("/robot_rl/operator/joy", msg)

    def command(self, values: np.ndarray) -> None:
        self.publish("/robot_rl/operator/command", self.adapter.encode_command(values))

    def step(self) -> object:
        """Advance 20 ms, publish the arm's state, tick once; returns the tick's record."""
        self.bus.now_ns += PERIOD_NS
        msg = self.adapter.encode_state({"joint_pos_rad": self.q[None], "joint_vel_rad_s": np.zeros((1, 7))},
                                        self.bus.now_ns)["joint_states"]
        self.publish(ARM.ros.state_topics["joint_states"].name, msg)
        self.c.tick()
        ticks = self.bus.messages("/robot_rl/tick")
        record = parse_tick({kv.key: kv.value for kv in ticks[-1].status[0].values},
                            ns_from_stamp(ticks[-1].header.stamp))
        self.q = record.applied.copy()  # the servo tracks its target
        return record

    def events(self) -> list[tuple[str, str]]:
        return [(s.values[0].value, s.values[1].value) for m in self.bus.messages("/robot_rl/intervention")
                for s in m.status]


def test_provenance_is_recorded_at_start_not_on_a_timer() -> None:
    rig = Rig()
    [msg] = rig.bus.messages("/robot_rl/policy")  # published in the constructor, before any tick
    values = {kv.key: kv.value for kv in msg.status[0].values}
    assert values["policy_sha256"] == rig.c.policy.card.onnx.sha256 and values["robot"] == "arm"
    assert "sha256" in values["card"] and values["observation"].startswith("joint_pos_rad:7,")
    assert rig.bus.latched["/robot_rl/policy"] is msg  # transient local: a late recorder still gets it


def test_operator_command_replaces_the_policy_and_is_filtered() -> None:
    rig = Rig()
    assert rig.step().source == "policy"
    far = HOME + 1.0  # 1 rad away in one 20 ms step: 50 rad/s, beyond every joint's speed limit
    rig.command(far)
    rig.joy(deadman=True)
    r = rig.step()
    assert r.source == "operator" and r.onset and np.array_equal(r.operator, far)
    assert np.isfinite(r.proposed).all()  # the policy still proposes, logged next to the operator
    vmax = rig.c.safety.limits.velocity_max_rad_s
    assert (np.abs(r.applied - r.last_action) <= vmax * 0.02 + 1e-12).all()  # filtered like any command
    assert "velocity_limit" in r.events


def test_release_hands_back_and_logs_onset_and_end() -> None:
    rig = Rig()
    rig.command(HOME)
    rig.joy(deadman=True)
    rig.step()
    rig.joy(deadman=False)
    r = rig.step()
    assert r.source == "policy" and r.operator is None
    assert rig.events() == [("onset", "deadman"), ("end", "released")]


def test_stale_operator_mid_takeover_ends_it_with_an_event() -> None:
    rig = Rig()
    rig.command(HOME)
    rig.joy(deadman=True)
    assert rig.step().source == "operator"
    for _ in range(24):  # Joy sent at t0; ticks at t0 + 40 ... 500 ms: at most max_age_s old, still fresh
        assert rig.step().source == "operator"
    r = rig.step()  # 0.52 s > 0.5 s: stale
    assert r.source == "policy" and rig.events()[-1] == ("end", "stale")
    rig.joy(deadman=True)  # still held, fresh again: no takeover until released and pressed again
    assert rig.step().source == "policy"
    rig.joy(deadman=False)
    rig.step()
    rig.command(HOME)
    rig.joy(deadman=True)
    assert rig.step().source == "operator"


def test_estop_during_a_takeover_beats_the_operator() -> None:
    rig = Rig()
    rig.command(HOME + 0.01)
    rig.joy(deadman=True)
    assert rig.step().source == "operator"
    rig.publish("/robot_rl/estop", Bool(data=True))
    rig.joy(deadman=True)
    r = rig.step()
    assert r.source == "hold" and r.mode == "safe-stop" and "fallback" in r.events
    lim = rig.c.safety.limits
    np.testing.assert_array_equal(r.applied, np.clip(r.quantities["joint_pos_rad"], lim.target_min_rad,
                                                     lim.target_max_rad))  # the fallback: hold where it is
    assert rig.events()[-1] == ("end", "estop")


def test_nan_operator_command_meets_the_filters_guard() -> None:
    rig = Rig()
    bad = HOME.copy()
    bad[2] = np.nan
    rig.command(bad)
    rig.joy(deadman=True)
    r = rig.step()
    assert r.source == "operator" and np.isnan(r.operator[2])
    assert "fallback" in r.events and np.isfinite(r.applied).all()  # held in place, never NaN to the robot


def test_joy_with_too_few_buttons_is_rejected_and_counted() -> None:
    rig = Rig()
    rig.joy(deadman=False, n_buttons=2)
    r = rig.step()
    assert r.source == "policy" and rig.c.rejections["joy_size"] == 1 and rig.c.mode == "active"


def test_joy_axes_drive_the_arm_through_the_ik() -> None:
    rig = Rig(command_topic="")
    rig.joy(deadman=True, axes=(0.0, 0.0, 0.0, 0.0, 0.0))
    r = rig.step()
    np.testing.assert_allclose(r.operator, HOME, atol=1e-9)  # zero axes hold where the arm is


def test_success_button_marks_the_episode() -> None:
    rig = Rig()
    rig.joy(deadman=False, success=True)
    assert rig.step().mark == "success"
    rig.joy(deadman=False, success=True)  # still held: one mark per press
    assert rig.step().mark == ""
    assert rig.events()[-1] == ("mark", "success")


def test_hold_on_release_holds_until_re_enabled() -> None:
    rig = Rig(on_release="hold")
    rig.command(HOME)
    rig.joy(deadman=True)
    rig.step()
    rig.joy(deadman=False)
    assert rig.step().source == "hold"
    assert rig.step().source == "hold"
    rig.publish("/robot_rl/enable", Bool(data=True))
    assert rig.step().source == "policy"


@pytest.mark.parametrize("bad", [{"on_release": "never"}, {"max_age": 1.0}])
def test_bad_takeover_parameters_are_named(bad: dict) -> None:
    from robot_rl.deploy.nodes.common import ParameterError

    with pytest.raises(ParameterError, match=next(iter(bad))):
        Rig(**bad)


def test_a_synced_tick_waits_for_the_operator_and_a_silent_one_stops_the_waiting(monkeypatch) -> None:
    clock = [1000.0]  # wall seconds, set by the test
    monkeypatch.setattr("robot_rl.deploy.controller.time.monotonic", lambda: clock[0])
    rig = Rig(sync=True, sync_timeout_s=5.0)
    rig.joy(deadman=False)
    rig.step()  # enabled and active

    def new_state() -> None:
        rig.bus.now_ns += PERIOD_NS
        msg = rig.adapter.encode_state({"joint_pos_rad": rig.q[None], "joint_vel_rad_s": np.zeros((1, 7))},
                                       rig.bus.now_ns)["joint_states"]
        rig.publish(ARM.ros.state_topics["joint_states"].name, msg)
        rig.t.spin_once(0.0)

    new_state()
    assert rig.c.mode == "active" and not rig.c.fresh()  # the operator has not answered this state
    clock[0] += 4.9
    assert not rig.c.fresh()  # still within the timeout
    clock[0] += 0.2
    assert rig.c.fresh() and rig.c.sync_lost  # 5.1 s: go on without it
    rig.c.tick()
    new_state()
    assert rig.c.fresh()  # a silent operator no longer holds every tick for 5 s
    rig.joy(deadman=False)  # it answers again (its Joy carries this state's stamp)
    rig.t.spin_once(0.0)
    assert rig.c.fresh() and not rig.c.sync_lost
    rig.c.tick()
    new_state()
    assert not rig.c.fresh()  # and the ticks wait for it again
