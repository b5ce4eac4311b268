"""Run a task's reference controller for N episodes and summarize: `robot-rl baseline`."""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from robot_rl.envs import entry, make_vec


@dataclass(frozen=True)
class EpisodeStats:
    """Summary of finished episodes."""

    env_id: str
    controller: str
    backend: str
    randomized: bool
    episodes: int
    success_rate: float
    failure_rate: float
    mean_return: float
    std_return: float
    mean_episode_length: float
    command_clip_fraction: float
    wall_time_s: float

    def as_dict(self) -> dict:
        """Plain dict for JSON."""
        return asdict(self)


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

    Each env runs a fixed quota of episodes, so short (early-terminating) episodes are not over-counted.
    """
    num_envs = max(1, min(num_envs, episodes))
    quota = np.full(num_envs, episodes // num_envs) + (np.arange(num_envs) < episodes % num_envs)
    env = make_vec(env_id, num_envs, backend=backend, randomize=randomize)
    expert = entry(env_id).expert(env.core.spec)
    obs, _ = env.reset(seed=seed)
    ret, length, clipped = np.zeros(num_envs), np.zeros(num_envs, dtype=int), np.zeros(num_envs)
    done_count = np.zeros(num_envs, dtype=int)
    results: list[tuple[float, bool, bool, int, float]] = []
    start, reported = time.perf_counter(), 0
    while (done_count < quota).any():
        obs, reward, term, trunc, info = env.step(expert.act(obs))
        ret += reward
        length += 1
        clipped += info["action_clipped"]
        for i in np.flatnonzero(term | trunc):
            if done_count[i] < quota[i]:
                results.append((ret[i], bool(info["is_success"][i]), bool(info["failure"][i]), length[i],
                                clipped[i] / length[i]))
                done_count[i] += 1
            ret[i], length[i], clipped[i] = 0.0, 0, 0.0
        expert.reset(np.flatnonzero(term | trunc))
        if progress and len(results) > reported:
            reported = len(results)
            print(f"\r{env_id} [{backend}] episodes {len(results)}/{episodes}", end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    env.close()
    return summarize(results, env_id, type(expert).__name__, backend, randomize is not False,
                     time.perf_counter() - start)


def summarize(
    results: list[tuple[float, bool, bool, int, float]],
    env_id: str,
    controller: str,
    backend: str,
    randomized: bool,
    wall_time_s: float,
) -> EpisodeStats:
    """Stats from per-episode `(return, success, failure, length, clipped fraction)` tuples."""
    returns = np.array([r[0] for r in results])
    return EpisodeStats(
        env_id=env_id,
        controller=controller,
        backend=backend,
        randomized=randomized,
        episodes=len(results),
        success_rate=float(np.mean([r[1] for r in results])),
        failure_rate=float(np.mean([r[2] for r in results])),
        mean_return=float(returns.mean()),
        std_return=float(returns.std()),
        mean_episode_length=float(np.mean([r[3] for r in results])),
        command_clip_fraction=float(np.mean([r[4] for r in results])),
        wall_time_s=wall_time_s,
    )
