"""Mobile-base rules by hand: dt = 0.05 s, accel 2.5 m/s^2 (0.125 m/s per cycle), angular 3.2 rad/s^2 (0.16 rad/s per
cycle), brake 2.4 m/s^2, footprint 0.25 m + stop distance 0.03 m = inflated radius 0.28 m, 36 beams 10 deg apart."""

import numpy as np
import pytest

from robot_rl.robots import load_robot
from robot_rl.safety import SafetyFilter

BASE = SafetyFilter.for_robot(load_robot("mobile_base"))


def state(last=(0.0, 0.0), beams=None, **kw):
    ranges = np.full((1, 36), 4.0)
    for i, r in (beams or {}).items():
        ranges[0, i] = r
    base = {"inputs_finite": np.array([True]), "input_age_s": np.array([0.0]), "estop": np.array([False]),
            "last_applied": np.array([last]), "forward_velocity_m_s": np.array([last[0]]),
            "yaw_rate_rad_s": np.array([last[1]]), "lidar_ranges_m": ranges}
    return {**base, **kw}


def fired(events):
    return sorted(k for k, v in events.items() if v.any())


def test_safe_twist_passes_bit_for_bit():
    proposed = np.array([[0.3, 0.62]])  # +0.1 <= 0.125 m/s, +0.12 <= 0.16 rad/s
    applied, events = BASE.certify(state(last=(0.2, 0.5)), proposed)
    assert np.array_equal(applied, proposed) and fired(events) == []


def test_velocity_limit():
    applied, events = BASE.certify(state(last=(0.9, 1.9)), np.array([[1.5, 2.5]]))
    assert applied.tolist() == [[1.0, 2.0]] and fired(events) == ["clipped", "velocity_limit"]


def test_acceleration_limit_when_speeding_up_or_reversing():
    # reversing from (0.05, 0.1): linear may go down to min(0.05 - 0.125, 0) = -0.075, angular to
    # min(0.1 - 0.16, 0) = -0.06
    applied, events = BASE.certify(state(last=(0.05, 0.1)), np.array([[-0.5, -2.0]]))
    assert applied == pytest.approx(np.array([[-0.075, -0.06]]))
    assert fired(events) == ["acceleration_limit", "clipped"]
    # reversing from (0.8, 1.5): braking to zero is free, past zero only 0.8 - 0.125 > 0 is allowed: stop at zero
    applied, events = BASE.certify(state(last=(0.8, 1.5)), np.array([[-0.5, -2.0]]))
    assert applied.tolist() == [[0.0, 0.0]] and fired(events) == ["acceleration_limit", "clipped"]
    # speeding up from (0.5, -1.0): up to 0.5 + 0.125 = 0.625 m/s, down to -1.0 - 0.16 = -1.16 rad/s
    applied, events = BASE.certify(state(last=(0.5, -1.0)), np.array([[1.0, -2.0]]))
    assert applied == pytest.approx(np.array([[0.625, -1.16]]))
    assert fired(events) == ["acceleration_limit", "clipped"]


def test_braking_to_zero_is_never_limited():
    applied, events = BASE.certify(state(last=(1.0, 2.0)), np.zeros((1, 2)))
    assert np.array_equal(applied, np.zeros((1, 2))) and fired(events) == []


@pytest.mark.parametrize(("beams", "proposed", "expected"), [
    ({0: 0.5}, 1.0, 1.0),  # ahead 0.5 - 0.28 = 0.22 m: sqrt(2 x 2.4 x 0.22) = 1.0276 m/s >= 1.0
    ({0: 0.4}, 1.0, np.sqrt(2 * 2.4 * 0.12)),  # 0.4 - 0.28 = 0.12 m: 0.75895 m/s
    # beam 2 (20 deg) at 0.4 m: y = 0.13681, x = 0.37588, chord sqrt(0.28^2 - y^2) = 0.24431: c = 0.13157 m
    ({2: 0.4}, 1.0, np.sqrt(2 * 2.4 * (0.4 * np.cos(np.radians(20)) - np.sqrt(0.28**2 - (0.4 * np.sin(
        np.radians(20)))**2)))),  # 0.79469 m/s
    ({9: 0.3}, 1.0, 1.0),  # beam 9 (90 deg, left) at 0.3 m: outside the lane (|y| = 0.3 > 0.28)
    ({0: 0.27}, 0.5, 0.0),  # 0.02 m from the footprint, inside the stop distance: no motion toward it
    ({18: 0.3}, -0.5, -np.sqrt(2 * 2.4 * 0.02)),  # behind at 0.3 m: c = 0.02 m, reverse at most 0.30984 m/s
    ({18: 0.4}, -0.5, -0.5),  # behind at 0.4 m: 0.75895 m/s allowed
])
def test_lidar_barrier(beams, proposed, expected):
    last = (1.0, 0.5) if proposed > 0 else (-0.5, 0.5)  # at the proposal's speeds: no acceleration limit
    applied, events = BASE.certify(state(last=last, beams=beams), np.array([[proposed, 0.5]]))
    assert applied[0, 0] == pytest.approx(expected) and applied[0, 1] == 0.5
    assert events["obstacle"][0] == (expected != proposed)


def test_too_close_still_allows_backing_away_and_turning_in_place():
    s = state(beams={0: 0.27})
    for proposed in ([[-0.1, 0.0]], [[0.0, 0.15]]):  # from rest, within one cycle's acceleration
        applied, events = BASE.certify(s, np.array(proposed))
        assert applied.tolist() == proposed and fired(events) == []


def test_no_return_is_not_an_obstacle():
    applied, events = BASE.certify(state(last=(1.0, 0.0), beams={0: np.inf}), np.array([[1.0, 0.0]]))
    assert applied.tolist() == [[1.0, 0.0]] and fired(events) == []


@pytest.mark.parametrize(("change", "reason"), [
    ({"estop": np.array([True])}, "estop"),
    ({"input_age_s": np.array([0.2])}, "stale"),  # > 3 x 0.05 s
    ({"inputs_finite": np.array([False])}, "nonfinite_input"),
    ({"lidar_ranges_m": np.full((1, 36), np.nan)}, "nonfinite_input"),
])
def test_fallback_stops(change, reason):
    applied, events = BASE.certify(state(last=(0.5, 0.5), **change), np.array([[0.5, 0.5]]))
    assert np.array_equal(applied, np.zeros((1, 2))) and fired(events) == sorted(["fallback", reason])


def test_nonfinite_action_stops():
    applied, events = BASE.certify(state(), np.array([[np.nan, 0.0]]))
    assert np.array_equal(applied, np.zeros((1, 2))) and fired(events) == ["fallback", "nonfinite_action"]


def test_batch_rows_are_independent():
    s = state(last=(1.0, 0.5), beams={0: 0.4})
    batch = {k: np.concatenate([v, v]) for k, v in s.items()}
    batch["estop"] = np.array([False, True])
    applied, events = BASE.certify(batch, np.array([[1.0, 0.5], [1.0, 0.5]]))
    assert applied[0] == pytest.approx([np.sqrt(2 * 2.4 * 0.12), 0.5]) and applied[1].tolist() == [0.0, 0.0]
    assert events["obstacle"].tolist() == [True, False] and events["fallback"].tolist() == [False, True]
