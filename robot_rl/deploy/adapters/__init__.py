"""Robot adapters: each robot's ROS 2 messages <-> the named quantities its task's observation is built from.

One registry by robot kind; the controller and the simulated robot driver use the same adapter, so what the
driver publishes is exactly what the controller decodes.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from robot_rl.deploy.adapters.arm import ArmAdapter
from robot_rl.deploy.adapters.base import Rejected, goal_from_pose, pose_from_position
from robot_rl.deploy.adapters.mobile_base import MobileBaseAdapter
from robot_rl.deploy.adapters.quadrotor import QuadrotorAdapter
from robot_rl.robots import RobotSpec


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


def adapter_for(spec: RobotSpec, command_type: str | None = None) -> RobotAdapter:
    """The adapter for `spec.kind`; `command_type` overrides robot.yaml's command message type."""
    return ADAPTERS[spec.kind](spec, command_type)


__all__ = ["ADAPTERS", "Rejected", "RobotAdapter", "adapter_for", "goal_from_pose", "pose_from_position"]
