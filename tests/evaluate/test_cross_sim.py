"""MuJoCo vs PyBullet: the same open-loop command sequence, trajectories within the documented tolerances.

Measured (docs/simulation.md): arm 0.59 mrad max joint difference over 2 s; quadrotor 0.12 mm over 1 s while it
travels 2.2 m; mobile base 7.3 cm over a 2.2 m, 4 s curve (3 %, wheel-contact models differ).
"""

import numpy as np
import pytest

from robot_rl.evaluate.cross_sim import compare_open_loop
from robot_rl.robots import load_robot


def test_arm_joint_trajectories_agree():
    t = np.arange(100) * 0.02  # 2 s at 50 Hz, every joint swinging +-0.3 rad at 0.5 Hz
    home = np.array(load_robot("arm").arm.home_rad)
    commands = home + 0.3 * np.sin(2 * np.pi * 0.5 * t[:, None] + np.arange(7)[None])
    result = compare_open_loop("robot_rl/ArmReach-v0", commands)
    assert result.max_abs_difference < 2e-3  # rad


def test_quadrotor_positions_agree():
    t = np.arange(100) * 0.01  # 1 s at 100 Hz: thrust +-10 % around hover, rolling, pitching, yawing
    m = load_robot("quadrotor").quadrotor.mass_kg
    commands = np.column_stack([m * 9.81 * (1 + 0.1 * np.sin(2 * np.pi * t)), 0.5 * np.sin(2 * np.pi * t),
                                0.3 * np.cos(2 * np.pi * t), np.full_like(t, 0.2)])
    result = compare_open_loop("robot_rl/QuadrotorHover-v0", commands)
    travelled = np.linalg.norm(result.trajectories["mujoco"][-1] - result.trajectories["mujoco"][0])
    assert travelled > 1.0  # the sequence really moves it
    assert result.max_abs_difference < 1e-3  # m


def test_mobile_base_paths_agree():
    t = np.arange(80) * 0.05  # 4 s at 20 Hz: 0.6 m/s with a weaving turn rate
    commands = np.column_stack([np.full_like(t, 0.6), 0.8 * np.sin(2 * np.pi * 0.25 * t)])
    result = compare_open_loop("robot_rl/MobileBaseGoal-v0", commands)
    path = result.trajectories["mujoco"]
    assert np.linalg.norm(path[-1] - path[0]) == pytest.approx(2.18, abs=0.1)
    assert result.max_abs_difference < 0.12  # m, about 5 % of the path
