"""Physics sanity per robot with numbers, on every backend (nominal parameters)."""

import numpy as np
import pytest

from robot_rl.envs import BACKENDS, BatchedRobotEnv, entry

G = 9.81


def nominal(env_id, backend):
    env = BatchedRobotEnv(entry(env_id), num_envs=1, backend=backend, randomize=False)
    env.seed(0)
    env.reset()
    return env


def place_quadrotor(env, z=1.0):
    env.plant.backend.set_base_state(np.array([0]), np.array([[0.0, 0.0, z]]), np.array([[1.0, 0, 0, 0]]),
                                     np.zeros((1, 3)), np.zeros((1, 3)))


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_quadrotor_holds_altitude_under_weight_thrust(backend):
    env = nominal("robot_rl/QuadrotorHover-v0", backend)
    place_quadrotor(env)
    m = env.spec.quadrotor.mass_kg
    for _ in range(100):  # 1 s at 100 Hz, thrust = m g = 0.26487 N
        env.step(np.array([[m * G, 0.0, 0.0, 0.0]]))
    pos = env.plant.backend.base_state()[0][0]
    assert abs(pos[2] - 1.0) < 0.002, pos  # less than 2 mm drift in 1 s
    assert np.abs(pos[:2]).max() < 0.002


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_quadrotor_accelerates_as_f_over_m(backend):
    env = nominal("robot_rl/QuadrotorHover-v0", backend)
    place_quadrotor(env, z=0.5)
    q = env.spec.quadrotor
    thrust = 0.4  # N: a = 0.4 / 0.027 - 9.81 = 5.005 m/s^2 before drag
    v = []
    for _ in range(40):
        env.step(np.array([[thrust, 0.0, 0.0, 0.0]]))
        v.append(env.plant.backend.base_state()[2][0, 2])
    # motors settle within ~0.15 s (5 time constants); measure from 0.2 s to 0.4 s, correcting for drag
    accel = (v[39] - v[19]) / 0.2
    drag = q.drag_coefficient_n_s_per_m * np.mean(v[19:40]) / q.mass_kg
    assert accel == pytest.approx(thrust / q.mass_kg - G - drag, rel=0.02)


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_mobile_base_travels_v_times_t(backend):
    env = nominal("robot_rl/MobileBaseGoal-v0", backend)
    b = env.plant.backend
    b.set_obstacle_positions(np.array([0]), np.full((1, 6, 2), 20.0))
    z = b.base_state()[0][0, 2]
    b.set_base_state(np.array([0]), np.array([[0.0, 0.0, z]]), np.array([[1.0, 0, 0, 0]]), np.zeros((1, 3)),
                     np.zeros((1, 3)))
    for _ in range(60):  # 3 s at 20 Hz, 0.5 m/s
        env.step(np.array([[0.5, 0.0]]))
    x, y = b.base_state()[0][0, :2]
    # wheel acceleration limit 30 rad/s^2 * 0.08 m = 2.4 m/s^2: ramp to 0.5 m/s takes 0.21 s, losing 0.05 m
    assert x == pytest.approx(0.5 * 3.0 - 0.5 * 0.5 / 2.4 / 2, rel=0.05)
    assert abs(y) < 0.05


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_arm_holds_commanded_pose_against_gravity(backend):
    env = nominal("robot_rl/ArmReach-v0", backend)
    pose = np.array([[0.0, 0.6, 0.0, -1.2, 0.0, 1.8, 0.785]])  # leaning forward: large gravity load on joint 2
    env.plant.backend.set_joint_state(np.array([0]), pose, np.zeros_like(pose))
    env.plant.reset(np.array([0]), pose, env.rng)
    for _ in range(100):  # 2 s
        env.step(pose)
    q, qd = env.plant.backend.joint_state()
    assert np.abs(q - pose).max() < 0.005
    assert np.abs(qd).max() < 0.01


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_a_pushed_mobile_base_moves_and_an_unpushed_one_draws_nothing_for_it(backend):
    env = nominal("robot_rl/MobileBaseGoal-v0", backend)
    plant, b = env.plant, env.plant.backend
    b.set_obstacle_positions(np.array([0]), np.full((1, 6, 2), 20.0))
    z = b.base_state()[0][0, 2]
    b.set_base_state(np.array([0]), np.array([[0.0, 0.0, z]]), np.array([[1.0, 0, 0, 0]]), np.zeros((1, 3)),
                     np.zeros((1, 3)))
    rng, ref = np.random.default_rng(3), np.random.default_rng(3)
    for _ in range(5):  # no push: the only draws are the wheels' slip, [N, 2] per period
        plant.control_step(np.zeros((1, 2)), rng)
        ref.random((1, 2))
    assert rng.random() == ref.random()
    plant.pushes.force_n[:] = 150.0  # N: above what the wheels' traction holds (0.8 x 11 kg x 9.81 = 86 N)
    plant.pushes.rate_hz = 1 / env.control_dt_s  # a push at once
    plant.control_step(np.zeros((1, 2)), rng)
    push = plant.pushes.vector[0].copy()
    for _ in range(3):  # the push's 0.2 s
        plant.control_step(np.zeros((1, 2)), rng)
    moved = b.base_state()[0][0, :2]
    assert np.linalg.norm(moved) > 0.01, moved  # shoved while commanded to stand still
    assert moved @ push[:2] > 0  # along the push
