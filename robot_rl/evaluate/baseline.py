"""Run a task's reference controller for N episodes and summarize: `robot-rl baseline`."""

from __future__ import annotations

import time
from pathlib import Path

from robot_rl.envs import entry, make_vec
from robot_rl.envs.rollout import EpisodeStats, run_episodes, summarize


def run_baseline(
    env_id: str,
    episodes: int,
    backend: str = "mujoco",
    randomize: bool | str | Path = False,
    num_envs: int = 16,
    seed: int = 0,
    progress: bool = True,
) -> EpisodeStats:
    """Run the reference controller of `env_id` for `episodes` episodes split evenly over `num_envs` envs."""
    num_envs = max(1, min(num_envs, episodes))
    env = make_vec(env_id, num_envs, backend=backend, randomize=randomize)
    expert = entry(env_id).expert(env.core.spec)
    start = time.perf_counter()
    try:
        results = run_episodes(env, expert.act, episodes, seed, expert.reset,
                               f"{env_id} [{backend}]" if progress else None)
    finally:
        env.close()
    return summarize(results, env_id, type(expert).__name__, backend, randomize is not False,
                     time.perf_counter() - start)
