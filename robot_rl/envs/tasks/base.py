"""The task interface: initial-state distribution, observation, reward terms, success and failure.

Tasks are batched over envs and engine-agnostic: they read the plant's named state and teleport initial states
through the backend interface only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from robot_rl.envs.plants import Plant
from robot_rl.spaces import VectorSpec


@dataclass(frozen=True)
class Outcome:
    """What one control step meant for each env (`[N]` arrays).

    Attributes:
        terms: unscaled reward terms by name; the env multiplies each by its configured scale.
        success: the task is achieved now (the episode ends with `is_success` when `terminal` too, or at timeout).
        failure: crash, limit breach or leaving the arena; ends the episode as a failure.
        terminal: the episode ends now (success that ends the episode, or failure).
        error: the task error now, in the task's unit (arm: fingertip to target, quadrotor: to the setpoint, mobile
            base: to the goal, m); the release gate reports its statistics at the episodes' ends.

    """

    terms: dict[str, np.ndarray]
    success: np.ndarray
    failure: np.ndarray
    terminal: np.ndarray
    error: np.ndarray | None = None


class Task(Protocol):
    """One task on one robot."""

    robot: str
    observation_spec: VectorSpec
    max_episode_steps: int
    reward_scales: Mapping[str, float]

    def reset(self, plant: Plant, env_ids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Place robots and goals for `env_ids`; return the command `[len(env_ids), n_cmd]` to hold at start."""

    def observe(self, state: Mapping[str, np.ndarray], last_action: np.ndarray) -> np.ndarray:
        """Observation `[N, n_obs]` from the plant's measured state through the `spaces` function."""

    def evaluate(self, state: Mapping[str, np.ndarray], action: np.ndarray, last_action: np.ndarray) -> Outcome:
        """Reward terms, success and failure after a control step with applied `action` `[N, n_cmd]`."""

    def task_info(self) -> dict[str, np.ndarray]:
        """Goal quantities `[N, ...]` (targets, setpoints, obstacles) reported in `info` and used by experts."""


def hold_counter(counter: np.ndarray, condition: np.ndarray) -> np.ndarray:
    """Consecutive steps `[N]` int for which `condition` `[N]` has held (reset to 0 when it fails)."""
    return np.where(condition, counter + 1, 0)
