"""Quadrotor rules by hand (m = 0.027 kg, g = 9.81 m/s^2, hover thrust m g = 0.26487 N), and a closed-loop geofence."""

import numpy as np
import pytest

from robot_rl.envs import entry
from robot_rl.envs.core import BatchedRobotEnv
from robot_rl.robots import load_robot
from robot_rl.safety import SafetyFilter

QUAD = SafetyFilter.for_robot(load_robot("quadrotor"))
HOVER = 0.027 * 9.81
LEVEL = np.array([[1.0, 0.0, 0.0, 0.0]])


def roll_quat(angle):
    return np.array([[np.cos(angle / 2), np.sin(angle / 2), 0.0, 0.0]])


def state(pos=(0.0, 0.0, 1.5), vel=(0.0, 0.0, 0.0), quat=LEVEL, **kw):
    base = {"inputs_finite": np.array([True]), "input_age_s": np.array([0.0]), "estop": np.array([False]),
            "last_applied": np.array([[HOVER, 0.0, 0.0, 0.0]]), "position_m": np.array([pos]),
            "quat_wxyz": quat, "linear_velocity_m_s": np.array([vel]), "angular_velocity_rad_s": np.zeros((1, 3))}
    return {**base, **kw}


def fired(events):
    return sorted(k for k, v in events.items() if v.any())


def test_hover_passes_bit_for_bit():
    proposed = np.array([[0.3, 0.5, -0.5, 0.1]])
    applied, events = QUAD.certify(state(), proposed)
    assert np.array_equal(applied, proposed) and fired(events) == []


def test_thrust_and_rate_bounds():
    # bounds: thrust <= 0.596 N, roll and pitch rates +-2.28 rad/s, yaw rate +-4.76 rad/s, clipped per component
    # descending at 1 m/s from 0.5 m: the full-thrust climb predicted 0.3 s ahead stays clear of the geofence
    applied, events = QUAD.certify(state(pos=(0.0, 0.0, 0.5), vel=(0.0, 0.0, -1.0)),
                                   np.array([[0.7, 7.0, -2.0, -5.0]]))
    assert applied.tolist() == [[0.596, 2.28, -2.0, -4.76]]
    assert fired(events) == ["clipped", "rate_limit", "thrust_limit"]


def test_tilt_beyond_limit_levels_instead_of_tilting_further():
    # rolled by 1.0 rad > 0.8: world up in body g = (0, sin 1, cos 1); d cos(tilt)/dt = -sin(1) w_x
    applied, events = QUAD.certify(state(quat=roll_quat(1.0)), np.array([[HOVER, 1.0, 0.5, 0.2]]))
    # leveling: axis (-g_y, g_x, 0) / |.| = (-1, 0, 0), angle 1.0 rad, 10/s x 1.0 = 10 rad/s -> scaled to 2.28
    assert applied == pytest.approx(np.array([[HOVER, -2.28, 0.0, 0.2]]))
    assert fired(events) == ["clipped", "tilt"]
    proposed = np.array([[HOVER, -1.0, 0.5, 0.2]])  # already leveling: d cos/dt = +0.84 > 0
    applied, events = QUAD.certify(state(quat=roll_quat(1.0)), proposed)
    assert np.array_equal(applied, proposed) and fired(events) == []


def test_geofence_brakes_toward_the_inside():
    # 0.1 m from the +x wall (2.5 m) at 2 m/s, hover: in 0.15 s x' = 2.7, d = -0.2: 2 * 3 * -0.2 < 2 * |2|
    applied, events = QUAD.certify(state(pos=(2.4, 0.0, 1.5), vel=(2.0, 0.0, 0.0)), np.array([[HOVER, 0, 0, 0.]]))
    # brake: a = 2.5 x 3 m/s^2 toward -x; f = m (-7.5, 0, 9.81), tilt atan(7.5 / 9.81) = 0.6527 rad < 0.8
    # thrust = f . z_b = m g (level); pitch rate = -10/s x 0.6527 rad = -6.53 rad/s (turn the thrust toward -x),
    # scaled to the 2.28 rad/s limit; yaw 0
    assert applied == pytest.approx(np.array([[HOVER, 0.0, -2.28, 0.0]]))
    assert fired(events) == ["clipped", "geofence"]


def test_geofence_ceiling_with_full_thrust():
    # 0.3 m under the ceiling (3 m), rising at 1 m/s, full thrust: a = 0.596 / 0.027 - 9.81 = 12.26 m/s^2
    applied, events = QUAD.certify(state(pos=(0.0, 0.0, 2.7), vel=(0.0, 0.0, 1.0)), np.array([[0.596, 0, 0, 0.]]))
    # brake: f = m (0, 0, 9.81 - 7.5) -> thrust 0.027 x 2.31 = 0.06237 N, level, rates 0
    assert applied == pytest.approx(np.array([[0.027 * 2.31, 0.0, 0.0, 0.0]]))
    assert "geofence" in fired(events)


@pytest.mark.parametrize(("quat", "vz", "expected"), [
    (LEVEL, 0.0, [0.027 * (9.81 + 2 * (-0.3 - 0.0)), 0.0, 0.0, 0.0]),  # 0.24867 N: start descending at 0.3 m/s
    (LEVEL, -0.3, [HOVER, 0.0, 0.0, 0.0]),  # descending at 0.3 m/s: hover thrust
    # 0.28336 N, level at 10/s x 0.5 rad = 5 rad/s, scaled to the 2.28 rad/s limit
    (roll_quat(0.5), 0.0, [0.027 * 9.21 / np.cos(0.5), -2.28, 0.0, 0.0]),
    (roll_quat(np.pi), 0.0, [0.0, 2.28, 0.0, 0.0]),  # upside down: no thrust, roll over at the rate limit
    (np.full((1, 4), np.nan), np.nan, [0.24867, 0.0, 0.0, 0.0]),  # unusable state: treated as level, v_z = 0
])
def test_fallback_levels_and_descends(quat, vz, expected):
    s = state(quat=quat, vel=(0.0, 0.0, vz))
    assert QUAD.fallback(s) == pytest.approx(np.array([expected]), abs=1e-5)
    applied, events = QUAD.certify({**s, "estop": np.array([True])}, np.array([[0.5, 3.0, 3.0, 3.0]]))
    assert np.array_equal(applied, QUAD.fallback(s)) and events["fallback"].all()


def test_nonunit_quaternion_is_invalid_input():
    applied, events = QUAD.certify(state(quat=2 * LEVEL), np.array([[HOVER, 0, 0, 0.]]))  # |q|^2 = 4
    assert fired(events) == ["fallback", "nonfinite_input"]


def test_closed_loop_geofence_holds_against_a_wall_seeking_proposal():
    env = BatchedRobotEnv(entry("robot_rl/QuadrotorHover-v0"), num_envs=16, randomize=False)
    env.seed(1)
    env.reset()
    filt = SafetyFilter.for_robot(env.spec)
    lim, n = filt.limits, env.num_envs
    proposed = np.zeros((n, 4))
    proposed[:, 0] = 0.596  # full thrust, and full roll or pitch rate toward a random wall (yaw random), or none
    proposed[np.arange(n), 1 + np.arange(n) % 2] = np.where(np.arange(n) % 4 < 2, 6.0, -6.0)
    proposed[-2:, 1:] = 0.0  # straight up into the ceiling
    proposed[-1, 0] = 0.0  # free fall onto the floor
    measured = env.plant.read_state(env.rng)
    last, worst = env.last_action.copy(), -np.inf
    for _ in range(200):  # 2 s at 100 Hz
        s = {"inputs_finite": np.ones(n, bool), "input_age_s": np.zeros(n), "estop": np.zeros(n, bool),
             "last_applied": last, **{k: measured[k] for k in ("position_m", "quat_wxyz", "linear_velocity_m_s",
                                                                  "angular_velocity_rad_s")}}
        last, _ = filt.certify(s, proposed)
        measured = env.step(last)[4]["state"]
        p = measured["position_m"]
        worst = max(worst, np.max(np.maximum(lim.geofence_low_m - p, p - lim.geofence_high_m)))
    env.close()
    assert worst < 0.02  # m beyond the geofence at most (none at all in this run)
