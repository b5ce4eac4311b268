"""Evaluate an exported policy (its ONNX graph through `OnnxPolicy`, not the torch module): `robot-rl eval`.

Same per-env episode quota and summary as the reference controllers (`robot_rl.envs.rollout`).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from robot_rl.envs import make_vec
from robot_rl.envs.rollout import EpisodeStats, run_episodes, summarize
from robot_rl.evaluate.smoothness import command_smoothness
from robot_rl.policy import OnnxPolicy


def evaluate_policy(
    policy_dir: str | Path,
    episodes: int,
    backend: str = "mujoco",
    randomize: bool | str | Path = True,
    num_envs: int = 16,
    seed: int = 0,
    progress: bool = False,
) -> EpisodeStats:
    """Run the policy in `policy_dir` for `episodes` episodes in its task, split evenly over `num_envs` envs.

    Args:
        policy_dir: folder with `policy.onnx` and `card.yaml` (verified by `OnnxPolicy.load`).
        episodes: episodes to finish, >= 1.
        backend: "mujoco" or "pybullet".
        randomize: True (robot.yaml ranges), False (nominal robot) or a ranges YAML.
        num_envs: envs stepped as one batch (at most `episodes`).
        seed: seeds parameters, start states and noise.
        progress: print progress to stderr.

    Returns:
        Stats whose `command_clip_fraction` counts steps with a command clipped by the env or at a limit, and
        whose `sm`, `action_rate_rms` and `high_freq_energy_share` measure the smoothness of the applied commands
        (`robot_rl.evaluate.smoothness`).

    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    policy = OnnxPolicy.load(policy_dir)
    env_id = policy.card.env_id
    num_envs = max(1, min(num_envs, episodes))
    env = make_vec(env_id, num_envs, backend=backend, randomize=randomize)
    commands: list[np.ndarray] = []
    start = time.perf_counter()
    try:
        results = run_episodes(env, policy.act, episodes, seed, label=f"{env_id} [{backend}]" if progress else None,
                               commands=commands)
    finally:
        env.close()
    smooth = command_smoothness(commands, env.core.action_low, env.core.action_high, 1.0 / env.control_dt_s)
    stats = summarize(results, env_id, f"onnx:{Path(policy_dir).name}", backend, randomize is not False,
                      time.perf_counter() - start)
    return stats.with_smoothness(smooth.sm, smooth.action_rate_rms, smooth.high_freq_energy_share)
