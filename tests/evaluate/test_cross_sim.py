"""MuJoCo vs PyBullet: the standard open-loop excitation, trajectories within the documented tolerances.

Measured (docs/simulation.md): arm 0.59 mrad max joint difference over 2 s; quadrotor 0.12 mm over 1 s while it
travels 2.2 m; mobile base 7.3 cm over a 2.2 m, 4 s curve (3 %, wheel-contact models differ).
"""

import numpy as np
import pytest

from robot_rl.evaluate.cross_sim import compare_open_loop, standard_excitation
from robot_rl.evaluate.plots import plot_cross_sim


def test_arm_joint_trajectories_agree():
    result = compare_open_loop("robot_rl/ArmReach-v0")
    assert result.quantity == "joint_pos_rad"
    assert result.max_abs_difference < 2e-3  # rad


def test_quadrotor_positions_agree():
    result = compare_open_loop("robot_rl/QuadrotorHover-v0")
    travelled = np.linalg.norm(result.trajectories["mujoco"][-1] - result.trajectories["mujoco"][0])
    assert travelled > 1.0  # the sequence really moves it
    assert result.max_abs_difference < 1e-3  # m


def test_mobile_base_paths_agree(tmp_path):
    result = compare_open_loop("robot_rl/MobileBaseGoal-v0")
    path = result.trajectories["mujoco"]
    assert np.linalg.norm(path[-1] - path[0]) == pytest.approx(2.18, abs=0.1)
    assert result.max_abs_difference < 0.12  # m, about 5 % of the path
    png = plot_cross_sim(result, tmp_path / "base.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_standard_excitations_stay_within_command_limits():
    from robot_rl.envs import entry
    from robot_rl.robots import load_robot

    for env_id in ("robot_rl/ArmReach-v0", "robot_rl/QuadrotorHover-v0", "robot_rl/MobileBaseGoal-v0"):
        spec = load_robot(entry(env_id).robot)
        commands = standard_excitation(env_id)
        assert (commands >= np.array(spec.command.low)).all() and (commands <= np.array(spec.command.high)).all()
