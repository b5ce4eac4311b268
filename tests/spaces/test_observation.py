import numpy as np
import pytest

from robot_rl.spaces import Quantity, VectorSpec
from robot_rl.spaces.arm import arm_reach_observation, arm_reach_spec
from robot_rl.spaces.geometry import quat_from_euler, quat_to_rotmat, wrap_angle, yaw_from_quat
from robot_rl.spaces.mobile_base import mobile_base_goal_observation
from robot_rl.spaces.quadrotor import QUADROTOR_HOVER_SPEC, quadrotor_hover_observation


def test_build_orders_by_spec_and_checks_sizes():
    spec = VectorSpec((Quantity("a", 2, "m", ""), Quantity("b", 1, "s", "")))
    out = spec.build({"b": np.array([[9.0]]), "a": np.array([[1.0, 2.0]])})
    assert out.tolist() == [[1.0, 2.0, 9.0]] and out.dtype == np.float32
    assert spec.slice("b") == slice(2, 3)
    with pytest.raises(ValueError, match="'a' has 3 elements"):
        spec.build({"a": np.ones((1, 3)), "b": np.ones((1, 1))})
    with pytest.raises(ValueError, match="missing"):
        spec.build({"a": np.ones((1, 2))})


def test_arm_observation_hand_computed():
    q, qd = np.arange(7.0)[None] * 0.1, np.ones((1, 7))
    ee, target = np.array([[0.5, 0.0, 0.4]]), np.array([[0.6, 0.1, 0.2]])
    obs = arm_reach_observation(q, qd, ee, target, q)
    spec = arm_reach_spec(7)
    assert obs.shape == (1, spec.size) == (1, 30)
    # ee_to_target = target - ee = (0.1, 0.1, -0.2)
    assert np.allclose(obs[0, spec.slice("ee_to_target_m")], [0.1, 0.1, -0.2])
    assert np.allclose(obs[0, spec.slice("joint_pos_rad")], q[0])


def test_quadrotor_observation_hand_computed():
    # level, yawed 90 deg: body x points along world y
    quat = np.array([[np.cos(np.pi / 4), 0.0, 0.0, np.sin(np.pi / 4)]])
    obs = quadrotor_hover_observation(np.array([[0.0, 0.0, 0.5]]), quat, np.zeros((1, 3)), np.zeros((1, 3)),
                                      np.array([[0.0, 0.0, 1.0]]), np.zeros((1, 4)))
    s = QUADROTOR_HOVER_SPEC
    assert np.allclose(obs[0, s.slice("position_error_m")], [0, 0, 0.5])
    assert np.allclose(obs[0, s.slice("rotation_matrix")], [0, -1, 0, 1, 0, 0, 0, 0, 1], atol=1e-6)


def test_mobile_base_observation_hand_computed():
    # base at origin facing +y (yaw pi/2); goal at (3, 4): distance 5, bearing atan2(4,3) - pi/2 = -0.6435 rad
    obs = mobile_base_goal_observation(np.zeros((1, 2)), np.array([np.pi / 2]), np.array([[3.0, 4.0]]),
                                       np.array([0.5]), np.array([0.1]), np.full((1, 36), 4.0), np.zeros((1, 2)))
    assert obs[0, 0] == pytest.approx(5.0)
    assert obs[0, 1] == pytest.approx(np.sin(-0.6435011), abs=1e-6)
    assert obs[0, 2] == pytest.approx(np.cos(-0.6435011), abs=1e-6)
    assert obs.shape == (1, 43)


def test_geometry_round_trips():
    yaw = np.array([0.3, -2.0])
    quat = quat_from_euler(np.zeros(2), np.zeros(2), yaw)
    assert np.allclose(yaw_from_quat(quat), yaw)
    rot = quat_to_rotmat(quat_from_euler(np.array([0.2]), np.array([-0.1]), np.array([1.0])))
    assert np.allclose(rot[0] @ rot[0].T, np.eye(3))
    assert np.allclose(wrap_angle(np.array([3 * np.pi / 2])), [-np.pi / 2])


def test_mobile_base_action_map_steps_the_last_command_within_the_command_accelerations():
    from robot_rl.robots import load_robot
    from robot_rl.spaces.mobile_base import mobile_base_goal_action_map, mobile_base_goal_spec

    robot = load_robot("mobile_base")
    amap, spec = mobile_base_goal_action_map(robot), mobile_base_goal_spec(36)
    obs = np.zeros((2, spec.size))
    obs[:, spec.slice("last_action")] = [[0.5, 0.2], [robot.command.high[0], 0.0]]
    # steps: 2.5 m/s^2 x 0.05 s = 0.125 m/s, 3.2 rad/s^2 x 0.05 s = 0.16 rad/s per unit of action, each 1e-4 short
    command = amap.to_command(obs, np.array([[1.0, -1.0], [1.0, 0.5]]), spec)
    assert command[0] == pytest.approx([0.5 + 0.125 * 0.9999, 0.2 - 0.16 * 0.9999])
    assert command[1] == pytest.approx([robot.command.high[0], 0.08 * 0.9999])  # clipped at the command limit
    assert amap.to_action(obs, command, spec) == pytest.approx(np.array([[1.0, -1.0], [0.0, 0.5]]))


def test_arm_action_map_steps_the_last_target_at_most_the_joint_speed():
    from robot_rl.robots import load_robot
    from robot_rl.spaces.arm import arm_reach_action_map

    robot, spec = load_robot("arm"), arm_reach_spec(7)
    amap = arm_reach_action_map(robot)
    obs = np.zeros((1, spec.size))
    obs[0, spec.slice("joint_pos_rad")] = 1.0  # the measured joints do not enter: the last target does
    obs[0, spec.slice("last_action_rad")] = [0.5, 0.5, 0.5, -1.0, 0.5, 0.5, 0.5]  # joint 4 lies in [-3.07, -0.07]
    # vmax x 0.02 s, 1e-4 short: 2.175 -> 0.0435 rad (joints 1-4), 2.61 -> 0.0522 rad (joints 5-7)
    s14, s57 = 0.0435 * 0.9999, 0.0522 * 0.9999
    command = amap.to_command(obs, np.array([[1.0, -1.0, 0.5, 0.0, 1.0, -0.5, 0.0]]), spec)
    assert command[0] == pytest.approx([0.5 + s14, 0.5 - s14, 0.5 + s14 / 2, -1.0, 0.5 + s57, 0.5 - s57 / 2, 0.5])
    obs[0, spec.slice("last_action_rad")] = robot.command.high
    command = amap.to_command(obs, np.ones((1, 7)), spec)  # targets stay 0.05 rad (joint_margin_rad) inside
    assert command[0] == pytest.approx(np.array(robot.command.high) - 0.05)
