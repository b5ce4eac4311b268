"""The arm plant's command path: 50 Hz targets -> 1 kHz jerk-limited generator -> PD servos with velocity reference."""

import numpy as np
import pytest

from robot_rl.envs import BACKENDS, BatchedRobotEnv, entry
from robot_rl.envs.plants.arm import cycles_per_physics_step, servo_targets

V_MAX = np.array([2.175, 2.175, 2.175, 2.175, 2.61, 2.61, 2.61])  # Panda, rad/s
A_MAX = np.array([15.0, 7.5, 10.0, 12.5, 15.0, 20.0, 20.0])  # rad/s^2
J_MAX = 500.0 * A_MAX  # rad/s^3: 7500, 3750, 5000, 6250, 7500, 10000, 10000


def nominal_arm(backend):
    env = BatchedRobotEnv(entry("robot_rl/ArmReach-v0"), num_envs=1, backend=backend, randomize=False)
    env.seed(0)
    env.reset()
    return env


def test_servo_target_gives_the_pd_law_with_velocity_reference():
    # kp = 600, kd = 40; reference q_d = 1.0 rad, dq_d = 2.0 rad/s; measured q = 0.9 rad, qd = 1.5 rad/s.
    # Wanted: kp (q_d - q) + kd (dq_d - qd) = 600 * 0.1 + 40 * 0.5 = 80 N m.
    # target = q_d + kd / kp * dq_d = 1.0 + 0.0667 * 2 = 1.1333; kp (target - q) - kd qd = 140 - 60 = 80 N m.
    kp, kd = 600.0, 40.0
    target = servo_targets(np.array([1.0]), np.array([2.0]), np.array([kd / kp]))
    assert target[0] == pytest.approx(1.0 + 2.0 / 15.0)
    assert kp * (target[0] - 0.9) - kd * 1.5 == pytest.approx(80.0)


def test_cycles_per_physics_step():
    assert cycles_per_physics_step(0.002, 0.001) == 2  # 500 Hz physics, 1 kHz generator
    assert cycles_per_physics_step(0.001, 0.001) == 1
    with pytest.raises(ValueError, match="whole number"):
        cycles_per_physics_step(0.0015, 0.001)


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_reset_starts_the_generator_at_rest_at_the_measured_joints(backend):
    env = nominal_arm(backend)
    q = env.plant.backend.joint_state()[0]
    np.testing.assert_array_equal(env.plant.generator.position, q)
    assert not env.plant.generator.velocity.any() and not env.plant.generator.acceleration.any()


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_a_large_target_step_is_streamed_within_limits_and_tracked(backend):
    env = nominal_arm(backend)
    plant = env.plant
    start = plant.backend.joint_state()[0][0]
    target = start + np.array([0.6, 0.4, -0.5, 0.5, 0.8, -0.6, 0.9])  # one 50 Hz step, far beyond 20 ms of motion
    lag = []
    env.step(target[None])
    # From rest, 20 ms of jerk-limited motion covers at most J t^3 / 6: joint 2 (J = 3750 rad/s^3) 0.005 rad.
    assert (np.abs(plant.generator.position[0] - start) <= J_MAX * 0.02**3 / 6 + 1e-12).all()
    for _ in range(59):  # 1.2 s; the slowest joint (2: 0.4 rad at 7.5 rad/s^2, 3750 rad/s^3) needs about 0.47 s
        env.step(target[None])
        q = plant.backend.joint_state()[0][0]
        assert (np.abs(plant.generator.velocity[0]) <= V_MAX * (1 + 1e-9)).all()
        assert (np.abs(plant.generator.acceleration[0]) <= A_MAX * (1 + 1e-9)).all()
        lag.append(np.abs(q - plant.generator.position[0]).max())
        np.testing.assert_array_equal(plant.read_state(env.rng)["joint_target_rad"][0], target)  # the 50 Hz target
    # With the velocity reference the servos follow the generator within 0.02 rad; without it they would lag by
    # kd / kp * dq_d, e.g. 40 / 600 s * 1.5 rad/s = 0.1 rad on joint 1.
    assert max(lag) < 0.02
    # At the end the generator is at the target, at rest, and so is the arm.
    np.testing.assert_allclose(plant.generator.position[0], target, atol=1e-9)
    assert np.abs(plant.generator.velocity[0]).max() < 1e-9
    assert np.abs(plant.backend.joint_state()[0][0] - target).max() < 1e-3
