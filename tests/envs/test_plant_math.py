import numpy as np
import pytest

from robot_rl.envs.plants.mobile_base import lidar_directions, wheel_speed_targets
from robot_rl.envs.plants.pushes import RandomPushes
from robot_rl.envs.plants.quadrotor import mix, mixer_matrix, motor_step, rate_controller


def test_mixer_hover_splits_thrust_evenly():
    a = mixer_matrix(0.0397, 7.94e-12 / 3.16e-10)
    f = mix(np.array([0.2648]), np.zeros((1, 3)), np.linalg.inv(a), 1.0)
    assert np.allclose(f, 0.0662)  # 0.2648 N / 4


def test_mixer_roll_torque_hand_computed():
    d = 0.0397 / np.sqrt(2)  # 0.028072 m
    a = mixer_matrix(0.0397, 0.025)
    # tau_x = d (f0 - f1 - f2 + f3): f = (0.1, 0.05, 0.05, 0.1) -> d * 0.1
    wrench = a @ np.array([0.1, 0.05, 0.05, 0.1])
    assert wrench[0] == pytest.approx(0.3) and wrench[1] == pytest.approx(d * 0.1)
    assert wrench[2] == pytest.approx(0.0) and wrench[3] == pytest.approx(0.0)


def test_mixer_clips_to_motor_range():
    a = mixer_matrix(0.0397, 0.025)
    f = mix(np.array([0.0]), np.array([[0.01, 0.0, 0.0]]), np.linalg.inv(a), 0.149)
    assert f.min() >= 0.0 and f.max() <= 0.149


def test_rate_controller_hand_computed():
    # J = (1e-5, 1e-5, 2e-5), kp = 10: no rotation -> tau = J kp (w_cmd - 0) = (1e-4, 0, 0)
    tau = rate_controller(np.array([[1.0, 0.0, 0.0]]), np.zeros((1, 3)), np.array([1e-5, 1e-5, 2e-5]),
                          np.array([10.0, 10.0, 10.0]))
    assert np.allclose(tau, [[1e-4, 0.0, 0.0]])


def test_motor_first_order_step():
    # after one time constant: 1 - e^-1 = 63.2 % of the step
    out = motor_step(np.zeros((1, 4)), np.full((1, 4), 1000.0), np.array([0.03]), 0.03)
    assert np.allclose(out, 1000.0 * (1 - np.exp(-1)))


def test_wheel_speeds_hand_computed():
    # v = 0.8 m/s, w = 0: both wheels 0.8 / 0.08 = 10 rad/s
    assert np.allclose(wheel_speed_targets(np.array([[0.8, 0.0]]), 0.08, 0.36, 15.0), [[10.0, 10.0]])
    # v = 0, w = 1 rad/s: -+ 1 * 0.18 / 0.08 = -+ 2.25 rad/s
    assert np.allclose(wheel_speed_targets(np.array([[0.0, 1.0]]), 0.08, 0.36, 15.0), [[-2.25, 2.25]])
    # v = 1.0, w = 2: (1 -+ 0.36) / 0.08 = (8, 17) -> scaled by 15/17 keeps the curvature
    out = wheel_speed_targets(np.array([[1.0, 2.0]]), 0.08, 0.36, 15.0)
    assert np.allclose(out, [[8 * 15 / 17, 15.0]])


def test_lidar_directions_start_ahead_counter_clockwise():
    d = lidar_directions(np.array([np.pi / 2]), 4, 2 * np.pi)
    assert np.allclose(d[0, :, :2], [[0, 1], [-1, 0], [0, -1], [1, 0]], atol=1e-12)


def test_random_pushes_by_hand():
    # rate 10 Hz x dt 0.1 s = 1: an idle env with a force starts a push every period (uniforms are < 1)
    pushes = RandomPushes(2, rate_hz=10.0, duration_s=0.25)
    pushes.force_n[:] = [0.0, 5.0]
    rng, ref = np.random.default_rng(7), np.random.default_rng(7)
    first = pushes.step(rng, 0.1).copy()
    ref.random(2)
    angle = ref.uniform(-np.pi, np.pi, 1)[0]  # one direction: only env 1 is pushed
    assert np.allclose(first, [[0, 0, 0], [5 * np.cos(angle), 5 * np.sin(angle), 0]])
    for _ in range(2):  # 0.25 s left -> 0.15 -> 0.05: the same push, no new direction drawn
        assert np.array_equal(pushes.step(rng, 0.1), first)
        ref.random(2)
    second = pushes.step(rng, 0.1)  # over after three periods; a new one starts at once
    ref.random(2)
    angle = ref.uniform(-np.pi, np.pi, 1)[0]
    assert np.allclose(second[1], [5 * np.cos(angle), 5 * np.sin(angle), 0])
    pushes.stop(np.array([1]))
    assert not pushes.vector.any() and pushes.left_s[1] == 0
