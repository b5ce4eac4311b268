"""The plant interface: the robot's own low-level machinery in sim (servos, rate loop, motors, wheels, sensors).

A plant turns the robot's command (the ROS 2 command message's quantities) into physics, applies randomized
physical parameters, injects disturbances, and reads the measured state as named quantities. Tasks never talk
to the engine for actuation; they only teleport states at reset through `plant.backend`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import numpy as np

from robot_rl.envs.backends import Backend
from robot_rl.robots import RobotSpec

# Parameters every plant accepts and the env core applies (not physics): see robot.yaml `randomization`.
CORE_PARAMETERS = ("action_latency_steps", "observation_noise_scale")


class Plant(Protocol):
    """A batch of simulated robots of one kind."""

    spec: RobotSpec
    backend: Backend

    def nominal_parameters(self) -> dict[str, float]:
        """Value of every randomizable parameter on the nominal robot (no noise, no latency, no disturbance)."""

    def apply_parameters(self, env_ids: np.ndarray, params: Mapping[str, np.ndarray]) -> None:
        """Set physics parameters `{name: [len(env_ids)]}` for the given envs (called at each reset)."""

    def reset(self, env_ids: np.ndarray, command: np.ndarray, rng: np.random.Generator) -> None:
        """Clear internal state (motors, disturbances) of `env_ids`; `command` `[len(env_ids), n]` is held."""

    def control_step(self, command: np.ndarray, rng: np.random.Generator) -> None:
        """Execute the command `[num_envs, n_cmd]` (physical units) for one control period."""

    def read_state(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Measured state as named arrays with a leading `num_envs` axis."""


def rows(values: np.ndarray, env_ids: np.ndarray) -> np.ndarray:
    """`values[env_ids]` as float64 (helper for per-env parameter arrays)."""
    return np.asarray(values, dtype=np.float64)[env_ids]
