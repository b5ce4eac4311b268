"""Robot adapters: each robot's ROS 2 messages <-> the named quantities its task's observation is built from.

One registry by robot kind; the controller and the simulated robot driver use the same adapter, so what the
driver publishes is exactly what the controller decodes.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from robot_rl.deploy.adapters.arm import ArmAdapter
from robot_rl.deploy.adapters.base import DirectOutput, Rejected, goal_from_pose, pose_from_position
from robot_rl.deploy.adapters.joint_trajectory import JOINT_TRAJECTORY, TrajectoryOutput, TrajectoryTiming
from robot_rl.deploy.adapters.mobile_base import MobileBaseAdapter
from robot_rl.deploy.adapters.quadrotor import QuadrotorAdapter
from robot_rl.robots import RobotSpec
from robot_rl.safety.filter import Limits


class RobotAdapter(Protocol):
    """What the controller and the simulated driver need from a robot's messages (see `ArmAdapter`)."""

    goal_size: int
    state_topics: dict[str, tuple[str, str]]
    command_topic: str
    command_type: str

    def decode(self, key: str, msg: Any) -> tuple[int, dict[str, np.ndarray]]:  # noqa: ANN401, D102
        ...

    def encode_state(self, state: Any, stamp: int) -> dict[str, Any]:  # noqa: ANN401, D102
        ...

    def observation(self, q: Any, goal: np.ndarray, last_action: np.ndarray) -> np.ndarray:  # noqa: ANN401, D102
        ...

    def safety_state(self, q: Any) -> dict[str, np.ndarray]:  # noqa: ANN401, D102
        ...

    def hold_command(self, q: Any) -> np.ndarray:  # noqa: ANN401, D102
        ...

    def encode_command(self, command: np.ndarray) -> Any:  # noqa: ANN401, D102
        ...

    def decode_command(self, msg: Any) -> np.ndarray:  # noqa: ANN401, D102
        ...

    def goal_from_task(self, task_info: Any) -> np.ndarray:  # noqa: ANN401, D102
        ...


ADAPTERS: dict[str, type] = {"arm": ArmAdapter, "quadrotor": QuadrotorAdapter, "mobile_base": MobileBaseAdapter}


def adapter_for(spec: RobotSpec, command_type: str | None = None, command_topic: str | None = None) -> RobotAdapter:
    """The adapter for `spec.kind`; `command_type` and `command_topic` override robot.yaml's command topic."""
    adapter = ADAPTERS[spec.kind](spec, command_type)
    if command_topic:
        adapter.command_topic = command_topic
    return adapter


class CommandOutput(Protocol):
    """The controller's output stage: certified commands -> command messages (see `TrajectoryOutput`)."""

    def sync(self, q: Any, restart: bool) -> None:  # noqa: ANN401, D102
        ...

    def encode(self, command: np.ndarray, now_ns: int) -> Any:  # noqa: ANN401, D102
        ...


def command_output(adapter: RobotAdapter, period_s: float, timing: TrajectoryTiming,
                   limits: Limits | None = None) -> CommandOutput:
    """The output stage for `adapter.command_type`: one message per command, or the arm's JointTrajectory.

    JointTrajectory goes through the jerk-limited generator within `limits` (the arm's safety filter's, so a
    deployment's tightened velocity, acceleration and jerk bounds hold; default the hardware's), a control period
    `period_s` (s) per tick, messages laid out by `timing`.
    """
    if adapter.command_type == JOINT_TRAJECTORY:
        return TrajectoryOutput(adapter.spec, period_s, timing, limits)  # an arm adapter: its filter's ArmLimits
    return DirectOutput(adapter.encode_command)


__all__ = ["ADAPTERS", "CommandOutput", "Rejected", "RobotAdapter", "adapter_for", "command_output", "goal_from_pose",
           "pose_from_position"]
