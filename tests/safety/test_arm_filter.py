"""Arm rules by hand: dt = 0.02 s, joint1 vmax = 2.175 rad/s, amax = 150 rad/s^2 (amax dt = 3.0 rad/s)."""

import numpy as np
import pytest

from robot_rl.robots import forward_kinematics, load_robot
from robot_rl.safety import EVENT_NAMES, SafetyFilter

SPEC = load_robot("arm")
ARM = SafetyFilter.for_robot(SPEC)
HOME = np.array([[0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785]])


def state(q=HOME, qd=None, last=None, **kw):
    base = {"inputs_finite": np.array([True]), "input_age_s": np.array([0.0]), "estop": np.array([False]),
            "joint_pos_rad": q.copy(), "joint_vel_rad_s": np.zeros((1, 7)) if qd is None else qd,
            "last_applied": q.copy() if last is None else last}
    return {**base, **kw}


def step(joint, delta):
    out = HOME.copy()
    out[0, joint] += delta
    return out


def fired(events):
    return sorted(k for k, v in events.items() if v.any())


def test_safe_target_passes_bit_for_bit():
    proposed = step(0, 0.01)  # 0.5 rad/s from rest: below vmax and amax dt
    applied, events = ARM.certify(state(), proposed)
    assert applied is not proposed and np.array_equal(applied, proposed)
    assert fired(events) == []
    assert tuple(events) == tuple(sorted(events, key=EVENT_NAMES["arm"].index))


def test_position_limit_with_margin():
    q = step(6, 2.84 - 0.785)  # joint7 (flange roll: the TCP stays put) upper limit 2.8973 - margin 0.05 = 2.8473
    proposed = step(6, 2.86 - 0.785)
    applied, events = ARM.certify(state(q), proposed)
    assert applied[0, 6] == pytest.approx(2.8473)  # v = (2.8473 - 2.84) / 0.02 = 0.365 rad/s: no rate limit
    assert fired(events) == ["clipped", "position_limit"]


def test_velocity_limit():
    applied, events = ARM.certify(state(), step(0, 0.1))  # 0.1 / 0.02 = 5 rad/s > 2.175
    assert applied[0, 0] == pytest.approx(2.175 * 0.02)  # 0.0435 rad
    assert fired(events) == ["clipped", "velocity_limit"]


def test_measured_velocity_does_not_limit_the_target():
    """Acceleration is the jerk-limited generator's job (after the filter), not a rule on the 50 Hz target."""
    qd = np.zeros((1, 7))
    qd[0, 0] = -2.0  # moving at -2 rad/s; a target at +1.5 rad/s from the reference passes (|v| <= 2.175)
    applied, events = ARM.certify(state(qd=qd), step(0, 0.03))
    assert np.array_equal(applied, step(0, 0.03)) and fired(events) == []
    qd[0, 0] = 5.0  # faster than vmax: stopping (v = 0) and reversing at -1 rad/s pass too
    applied, events = ARM.certify(state(qd=qd), HOME)
    assert np.array_equal(applied, HOME) and fired(events) == []
    applied, events = ARM.certify(state(qd=qd), step(0, -0.02))
    assert applied[0, 0] == pytest.approx(HOME[0, 0] - 0.02) and fired(events) == []


def test_workspace_pulls_target_back_along_the_step():
    arm = SafetyFilter.for_robot(SPEC, {"workspace_high_m": [0.31, 0.6, 0.95]})  # home TCP x = 0.307
    proposed = step(1, 0.04)  # joint2 forward: TCP x 0.3129, beyond 0.31
    assert forward_kinematics(arm.limits.chain, proposed)[0, 0] > 0.31
    applied, events = arm.certify(state(), proposed)
    s = (applied[0, 1] - HOME[0, 1]) / 0.04
    assert 0 < s < 1 and np.allclose(applied, HOME + s * (proposed - HOME))
    assert forward_kinematics(arm.limits.chain, applied)[0, 0] == pytest.approx(0.31, abs=1e-5)
    assert fired(events) == ["clipped", "workspace"]


def test_workspace_holds_when_already_outside():
    arm = SafetyFilter.for_robot(SPEC, {"workspace_high_m": [0.25, 0.6, 0.95]})  # home TCP x = 0.307 is outside
    applied, events = arm.certify(state(last=step(0, 0.001)), step(0, 0.01))
    assert np.array_equal(applied, HOME) and fired(events) == ["clipped", "workspace"]


@pytest.mark.parametrize(("change", "reason"), [
    ({"estop": np.array([True])}, "estop"),
    ({"input_age_s": np.array([0.07])}, "stale"),  # > 3 x 0.02 s
    ({"inputs_finite": np.array([False])}, "nonfinite_input"),
    ({"joint_vel_rad_s": np.full((1, 7), np.nan)}, "nonfinite_input"),
])
def test_fallback_holds_current_position_clipped_into_limits(change, reason):
    q = HOME.copy()
    q[0, 3] = -0.09  # beyond the margin: held at -0.1198
    applied, events = ARM.certify(state(q, **change), step(0, 0.01))
    expected = q.copy()
    expected[0, 3] = -0.1198
    assert np.allclose(applied, expected) and np.array_equal(applied, ARM.fallback(state(q)))
    assert fired(events) == sorted(["fallback", reason])


def test_nonfinite_action_holds():
    applied, events = ARM.certify(state(), step(2, np.nan))
    assert np.array_equal(applied, HOME) and fired(events) == ["fallback", "nonfinite_action"]


def test_nonfinite_position_holds_last_applied():
    q = HOME.copy()
    q[0, 0] = np.nan
    applied = ARM.fallback(state(q, last=step(0, 0.2)))
    assert applied[0, 0] == pytest.approx(0.2) and np.isfinite(applied).all()
