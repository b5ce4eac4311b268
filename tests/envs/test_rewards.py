"""Reward terms and success/failure rules, hand-computed on synthetic states (no physics)."""

import numpy as np
import pytest

from robot_rl.envs.tasks.arm_reach import ArmReachConfig, ArmReachTask
from robot_rl.envs.tasks.mobile_base_goal import MobileBaseGoalConfig, MobileBaseGoalTask
from robot_rl.envs.tasks.quadrotor_hover import QuadrotorHoverConfig, QuadrotorHoverTask
from robot_rl.robots import load_robot


def test_arm_terms_and_hold_rule():
    task = ArmReachTask(load_robot("arm"), 1, ArmReachConfig(hold_steps=2))
    task.target[:] = [0.5, 0.0, 0.4]
    state = {
        "ee_pos_m": np.array([[0.5, 0.03, 0.44]]),  # distance = sqrt(0.03^2 + 0.04^2) = 0.05 m
        "joint_vel_rad_s": np.array([[1.0, 2.0, 0, 0, 0, 0, 0]]),  # squared sum 5
        "link_pos_m": np.full((1, 8, 3), 0.3),
    }
    action, last = np.full((1, 7), 0.1), np.zeros((1, 7))  # squared change 7 * 0.01 = 0.07
    out = task.evaluate(state, action, last)
    assert out.terms["distance"][0] == pytest.approx(0.05)
    assert out.terms["reached"][0] == 0.0
    assert out.terms["action_rate"][0] == pytest.approx(0.07)
    assert out.terms["joint_velocity"][0] == pytest.approx(5.0)
    assert out.terms["failure"][0] == 0.0
    # from rest at reset: accelerations (1, 2) rad/s per 20 ms step = (50, 100) rad/s^2 -> 2500 + 10000
    assert out.terms["joint_acceleration"][0] == pytest.approx(12500.0)
    state["joint_vel_rad_s"] = np.array([[1.0, 1.0, 0, 0, 0, 0, 0.2]])  # changes (0, -1, .., 0.2): 2500 + 100
    assert task.evaluate(state, action, last).terms["joint_acceleration"][0] == pytest.approx(2600.0)
    state["ee_pos_m"] = np.array([[0.5, 0.0, 0.41]])  # 1 cm: reached, hold 1 of 2
    assert not task.evaluate(state, action, action).success[0]
    assert task.evaluate(state, action, action).success[0]  # hold 2 of 2 -> success, terminal
    state["link_pos_m"][0, 3, 2] = 0.01  # a link below the 5 cm floor clearance
    out = task.evaluate(state, action, action)
    assert out.failure[0] and out.terminal[0] and not out.success[0] and out.terms["failure"][0] == 1.0


def test_quadrotor_terms_hand_computed():
    spec = load_robot("quadrotor")
    task = QuadrotorHoverTask(spec, 1, QuadrotorHoverConfig())
    state = {
        "position_m": np.array([[0.0, 0.3, 0.6]]),  # error (0, -0.3, 0.4): 0.5 m
        "quat_wxyz": np.array([[np.cos(0.25), np.sin(0.25), 0.0, 0.0]]),  # rolled 0.5 rad: 1 - cos 0.5
        "linear_velocity_m_s": np.array([[0.0, 0.0, 2.0]]),
        "angular_velocity_rad_s": np.array([[3.0, 4.0, 0.0]]),
    }
    hover = task.hover_command[None]
    out = task.evaluate(state, hover, hover)
    assert out.terms["position"][0] == pytest.approx(0.5)
    assert out.terms["tilt"][0] == pytest.approx(1 - np.cos(0.5))
    assert out.terms["velocity"][0] == pytest.approx(2.0)
    assert out.terms["angular_velocity"][0] == pytest.approx(5.0)
    assert out.terms["action"][0] == pytest.approx(0.0)
    assert out.terms["action_rate"][0] == pytest.approx(0.0)  # no change
    assert out.terms["near_setpoint"][0] == 0.0  # 0.5 m: outside the 0.1 m success radius
    assert not out.success[0] and not out.failure[0]
    state["position_m"] = np.array([[0.0, 0.03, 0.96]])  # 5 cm off: halfway into the cone, 1 - 0.05 / 0.1
    assert task.evaluate(state, hover, hover).terms["near_setpoint"][0] == pytest.approx(0.5)
    state["position_m"] = np.array([[0.0, 0.0, 0.01]])  # below 3 cm: crash
    assert task.evaluate(state, hover, hover).failure[0]


def test_quadrotor_action_rate_is_normalized_by_the_command_range():
    task = QuadrotorHoverTask(load_robot("quadrotor"), 2, QuadrotorHoverConfig())
    state = {"position_m": np.array([[0.0, 0.0, 1.0]] * 2), "quat_wxyz": np.array([[1.0, 0, 0, 0]] * 2),
             "linear_velocity_m_s": np.zeros((2, 3)), "angular_velocity_rad_s": np.zeros((2, 3))}
    # ranges: thrust 0..0.596 N (0.596), roll and pitch rate +-2.28 rad/s (4.56), yaw rate +-4.76 rad/s (9.52)
    last = np.array([[0.2, 0.5, 0.0, 0.0],
                     [0.0, -2.28, -2.28, -4.76]])
    action = np.array([[0.498, -0.64, 0.0, 0.952],  # changes 0.298, -1.14, 0, 0.952: 0.25 + 0.0625 + 0 + 0.01
                       [0.596, 2.28, 2.28, 4.76]])  # every component low -> high: 4 * 1^2
    out = task.evaluate(state, action, last)
    assert out.terms["action_rate"] == pytest.approx([0.3225, 4.0])
    assert task.reward_scales["action_rate"] < 0  # a penalty


def test_mobile_base_progress_collision_and_goal():
    spec = load_robot("mobile_base")
    task = MobileBaseGoalTask(spec, 1, MobileBaseGoalConfig())
    task.goal[:] = [2.0, 0.0]
    task.obstacles[:] = 20.0
    task.obstacles[0, 0] = [0.0, 1.0]
    task._prev_distance[:] = 2.0
    state = {"base_xy_m": np.array([[0.5, 0.0]]), "base_yaw_rad": np.zeros(1), "base_up_z": np.ones(1),
             "lidar_ranges_m": np.full((1, 36), 0.3)}
    a = np.zeros((1, 2))
    out = task.evaluate(state, a, a)
    assert out.terms["progress"][0] == pytest.approx(0.5)  # 2.0 -> 1.5 m
    assert out.terms["action_rate"][0] == 0.0
    assert out.terms["proximity"][0] == pytest.approx(0.1)  # 0.4 - 0.3
    # obstacle surface at |(0.5, 0) - (0, 1)| - 0.15 = 0.968 m > 0.25 m: no collision
    assert not out.failure[0]
    state["base_xy_m"] = np.array([[0.0, 0.65]])  # 0.35 - 0.15 = 0.2 m < 0.25 m body radius
    assert task.evaluate(state, a, a).failure[0]
    state["base_xy_m"] = np.array([[1.8, 0.0]])
    assert task.evaluate(state, a, a).success[0]


def test_mobile_base_action_rate_is_normalized_by_the_command_range():
    spec = load_robot("mobile_base")
    task = MobileBaseGoalTask(spec, 1, MobileBaseGoalConfig())
    task.goal[:] = [2.0, 0.0]
    task.obstacles[:] = 20.0
    state = {"base_xy_m": np.zeros((1, 2)), "base_yaw_rad": np.zeros(1), "base_up_z": np.ones(1),
             "lidar_ranges_m": np.full((1, 36), 4.0)}
    # ranges: linear -0.5..1.0 m/s (1.5), angular -2..2 rad/s (4)
    # (0.3, -1.0) -> (0.6, 1.0): ((0.3 / 1.5)^2 + (2.0 / 4)^2) = 0.04 + 0.25 = 0.29
    out = task.evaluate(state, np.array([[0.6, 1.0]]), np.array([[0.3, -1.0]]))
    assert out.terms["action_rate"][0] == pytest.approx(0.29)
    # full reversal of both: (-0.5 -> 1.0, 2 -> -2): 1 + 1 = 2, the largest value
    out = task.evaluate(state, np.array([[1.0, -2.0]]), np.array([[-0.5, 2.0]]))
    assert out.terms["action_rate"][0] == pytest.approx(2.0)
