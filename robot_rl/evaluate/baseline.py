"""Run a task's reference controller for N episodes and summarize: `robot-rl baseline`."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from robot_rl.envs import RobotVectorEnv, entry, make_vec
from robot_rl.envs.rollout import EpisodeStats, run_episodes, summarize
from robot_rl.evaluate.smoothness import command_smoothness


def run_measured(env: RobotVectorEnv, act: Callable[[np.ndarray], np.ndarray], episodes: int, seed: int,
                 controller: str, randomized: bool, reset: Callable[[np.ndarray], None] | None = None,
                 progress: bool = False, details: list[dict[str, Any]] | None = None,
                 trace_key: str | None = None) -> EpisodeStats:
    """Run `act` on `env` for `episodes` episodes, close `env`, summarize with the commands' smoothness.

    `controller` names what acted in the stats; `reset(env_ids)` is told which envs started a new episode;
    `details` receives one dict per episode (`robot_rl.envs.rollout.EpisodeDetails`).
    """
    env_id, backend = env.core.entry.env_id, env.core.backend_name
    commands: list[np.ndarray] = []
    start = time.perf_counter()
    try:
        results = run_episodes(env, act, episodes, seed, reset, f"{env_id} [{backend}]" if progress else None,
                               commands, details, trace_key)
    finally:
        env.close()
    smooth = command_smoothness(commands, env.core.action_low, env.core.action_high, 1.0 / env.control_dt_s)
    stats = summarize(results, env_id, controller, backend, randomized, time.perf_counter() - start)
    return stats.with_smoothness(smooth.sm, smooth.action_rate_rms, smooth.high_freq_energy_share)


def run_baseline(
    env_id: str,
    episodes: int,
    backend: str = "mujoco",
    randomize: bool | str | Path = False,
    num_envs: int = 16,
    seed: int = 0,
    progress: bool = True,
) -> EpisodeStats:
    """Run the reference controller of `env_id` for `episodes` episodes split evenly over `num_envs` envs.

    The stats include the smoothness of the commands the controller sent (`robot_rl.evaluate.smoothness`).
    """
    num_envs = max(1, min(num_envs, episodes))
    env = make_vec(env_id, num_envs, backend=backend, randomize=randomize)
    expert = entry(env_id).expert(env.core.spec)
    return run_measured(env, expert.act, episodes, seed, type(expert).__name__, randomize is not False,
                        expert.reset, progress)
