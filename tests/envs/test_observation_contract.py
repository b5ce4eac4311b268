"""The observation a consumer builds from named measured quantities equals the env's (nominal: no noise)."""

import numpy as np
import pytest

import robot_rl.envs as envs
from robot_rl.spaces.arm import arm_reach_observation
from robot_rl.spaces.mobile_base import mobile_base_goal_observation
from robot_rl.spaces.quadrotor import quadrotor_hover_observation


def consumer_observation(env_id, state, task, last):
    """What a deployed controller does: the spaces function on measured quantities and the goal."""
    if env_id == "robot_rl/ArmReach-v0":
        return arm_reach_observation(state["joint_pos_rad"], state["joint_vel_rad_s"], state["ee_pos_m"],
                                     task["target_pos_m"], last)
    if env_id == "robot_rl/QuadrotorHover-v0":
        return quadrotor_hover_observation(state["position_m"], state["quat_wxyz"], state["linear_velocity_m_s"],
                                           state["angular_velocity_rad_s"], task["setpoint_m"], last)
    return mobile_base_goal_observation(state["base_xy_m"], state["base_yaw_rad"], task["goal_xy_m"],
                                        state["forward_velocity_m_s"], state["yaw_rate_rad_s"],
                                        state["lidar_ranges_m"], last)


@pytest.mark.parametrize("env_id", list(envs.ENVS))
def test_consumer_builds_the_env_observation(env_id):
    env = envs.make(env_id, randomize=False)
    env.reset(seed=3)
    for _ in range(3):
        obs, _, _, _, info = env.step(env.action_space.sample())
    batched = {k: np.asarray(v)[None] for k, v in info["state"].items()}
    task = {k: np.asarray(v)[None] for k, v in info["task"].items()}
    built = consumer_observation(env_id, batched, task, info["applied_action"][None])
    assert np.array_equal(built[0], obs)
