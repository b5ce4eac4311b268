"""Robot adapters: what the simulated driver encodes, the controller decodes to the same quantities; bad messages
are rejected with the field named."""

from __future__ import annotations

import math

import numpy as np
import pytest

from robot_rl.deploy.adapters import Rejected, adapter_for, goal_from_pose, pose_from_position
from robot_rl.deploy.adapters.base import decode_command, encode_command
from robot_rl.deploy.msgs import AttitudeTarget, Float64MultiArray
from robot_rl.envs import BatchedRobotEnv, entry
from robot_rl.robots import load_robot

ENV_IDS = {"arm": "robot_rl/ArmReach-v0", "quadrotor": "robot_rl/QuadrotorHover-v0",
           "mobile_base": "robot_rl/MobileBaseGoal-v0"}
STAMP = 5_000_000_000


@pytest.fixture(scope="module", params=list(ENV_IDS))
def sim(request: pytest.FixtureRequest) -> tuple:
    env = BatchedRobotEnv(entry(ENV_IDS[request.param]), 1, "mujoco", randomize=True)
    env.seed(3)
    env.reset()
    _, _, _, _, info = env.step(env.last_action)
    yield env, info
    env.close()


def test_observation_from_messages_equals_the_env_observation(sim: tuple) -> None:
    """state -> messages -> decode -> observation equals the task's own observation of that state (no noise)."""
    env, info = sim
    adapter = adapter_for(env.spec)
    q: dict[str, np.ndarray] = {}
    for key, msg in adapter.encode_state(info["state"], STAMP).items():
        stamp, values = adapter.decode(key, msg)
        assert stamp == STAMP
        q |= values
    goal = adapter.goal_from_task(info["task"] | env.task.task_info())
    goal = goal_from_pose(pose_from_position(goal), adapter.goal_size, "/goal")
    ours = adapter.observation(q, goal, env.last_action[0])
    expected = env.task.observe(info["state"], env.last_action)
    np.testing.assert_allclose(ours, expected, atol=2e-6)  # float32 observations; FK vs MuJoCo to 1e-9 m


def test_command_round_trip(sim: tuple) -> None:
    env, _ = sim
    adapter = adapter_for(env.spec)
    command = (np.array(env.spec.command.low) + np.array(env.spec.command.high)) / 3
    np.testing.assert_allclose(adapter.decode_command(adapter.encode_command(command)), command, rtol=1e-6)


def test_attitude_target_carries_normalized_thrust() -> None:
    # thrust 0.298 N of a 0.596 N maximum -> 0.5 in MAVROS' normalized collective thrust
    msg = encode_command("mavros_msgs/msg/AttitudeTarget", np.array([0.298, 0.1, -0.2, 0.3]), [], thrust_max_n=0.596)
    assert isinstance(msg, AttitudeTarget)
    assert msg.type_mask == 128 and math.isclose(msg.thrust, 0.5, rel_tol=1e-6)
    assert (msg.body_rate.x, msg.body_rate.y, msg.body_rate.z) == pytest.approx((0.1, -0.2, 0.3))
    back = decode_command("mavros_msgs/msg/AttitudeTarget", msg, 4, thrust_max_n=0.596)
    np.testing.assert_allclose(back, [0.298, 0.1, -0.2, 0.3], rtol=1e-6)
    msg.type_mask = 0
    with pytest.raises(Rejected, match="IGNORE_ATTITUDE"):
        decode_command("mavros_msgs/msg/AttitudeTarget", msg, 4, thrust_max_n=0.596)


def test_quadrotor_adapter_can_command_through_mavros() -> None:
    adapter = adapter_for(load_robot("quadrotor"), "mavros_msgs/msg/AttitudeTarget")
    assert isinstance(adapter.encode_command(np.array([0.3, 0, 0, 0])), AttitudeTarget)


def test_bad_commands_are_rejected_naming_the_problem() -> None:
    with pytest.raises(Rejected, match="3 elements, expected 7"):
        decode_command("std_msgs/msg/Float64MultiArray", Float64MultiArray(data=[0.0, 1.0, 2.0]), 7)
    with pytest.raises(Rejected, match="non-finite"):
        decode_command("std_msgs/msg/Float64MultiArray", Float64MultiArray(data=[0.0, float("nan")]), 2)
    with pytest.raises(ValueError, match="not supported"):
        encode_command("std_msgs/msg/String", np.zeros(2), [])


def test_arm_joint_state_checks() -> None:
    adapter = adapter_for(load_robot("arm"))
    q = np.array(load_robot("arm").arm.home_rad)[None]
    msg = adapter.encode_state({"joint_pos_rad": q, "joint_vel_rad_s": np.zeros_like(q)}, STAMP)["joint_states"]
    # any order, and the gripper's finger joints are ignored
    msg.name = [*reversed(msg.name), "finger_joint1"]
    msg.position = [*reversed(msg.position), 0.02]
    msg.velocity = [*reversed(msg.velocity), 0.0]
    _, values = adapter.decode("joint_states", msg)
    np.testing.assert_allclose(values["joint_pos_rad"], q[0])
    bad = [("name", lambda m: m.name.__setitem__(0, "elbow"), "unknown joints \\['elbow'\\]"),
           ("velocity", lambda m: m.velocity.pop(), "velocity: 7 elements, expected 8"),
           ("position", lambda m: m.position.__setitem__(2, float("inf")), "position: non-finite element at index 2"),
           ("stamp", lambda m: setattr(m.header.stamp, "sec", 0) or setattr(m.header.stamp, "nanosec", 0),
            "header.stamp is not set")]
    for _field, corrupt, message in bad:
        broken = adapter.encode_state({"joint_pos_rad": q, "joint_vel_rad_s": np.zeros_like(q)}, STAMP)["joint_states"]
        broken.name.append("finger_joint1")
        broken.position.append(0.0)
        broken.velocity.append(0.0)
        corrupt(broken)
        with pytest.raises(Rejected, match=message):
            adapter.decode("joint_states", broken)


def test_laser_scan_checks() -> None:
    spec = load_robot("mobile_base")
    adapter = adapter_for(spec)
    n = spec.mobile_base.lidar.num_beams
    state = {"base_xy_m": np.zeros((1, 2)), "base_yaw_rad": np.zeros(1), "forward_velocity_m_s": np.zeros(1),
             "yaw_rate_rad_s": np.zeros(1), "lidar_ranges_m": np.full((1, n), 1.0)}
    scan = adapter.encode_state(state, STAMP)["scan"]
    scan.ranges[3] = float("inf")  # no return: read as the maximum range (REP 117)
    _, values = adapter.decode("scan", scan)
    assert values["lidar_ranges_m"][3] == spec.mobile_base.lidar.range_max_m
    scan.ranges[4] = float("nan")
    with pytest.raises(Rejected, match="NaN range at beam 4"):
        adapter.decode("scan", scan)
    scan.ranges = [1.0] * (n - 1)
    with pytest.raises(Rejected, match=f"{n - 1} ranges, expected {n}"):
        adapter.decode("scan", scan)
    scan.angle_min = -math.pi
    with pytest.raises(Rejected, match="angle_min"):
        adapter.decode("scan", scan)
