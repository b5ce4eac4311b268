"""Evaluate an exported policy (its ONNX graph through `OnnxPolicy`, not the torch module): `robot-rl eval`.

Same per-env episode quota and summary as the reference controllers (`robot_rl.envs.rollout`).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from robot_rl.envs import make_vec
from robot_rl.envs.rollout import EpisodeStats
from robot_rl.evaluate.baseline import run_measured
from robot_rl.policy import OnnxPolicy
from robot_rl.policy.card import CARD_FILE, ONNX_FILE


def evaluate_policy(
    policy_dir: str | Path,
    episodes: int,
    backend: str = "mujoco",
    randomize: bool | str | Path = True,
    num_envs: int = 16,
    seed: int = 0,
    progress: bool = False,
    reality: Mapping[str, float] | None = None,
    safety_filter: bool = False,
    details: list[dict[str, Any]] | None = None,
    env_options: Mapping[str, Any] | None = None,
    trace_key: str | None = None,
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
        reality: fixed physical parameters by name (a hidden reality, the others nominal) instead of `randomize`'s
            draws; noise, starts and disturbances still come from `seed`.
        safety_filter: certify every command with the robot's safety filter first, as on the robot.
        env_options: further keyword arguments of the env (`state_drop_prob`, `record_qpos`).
        trace_key: a state quantity to keep step by step in `details` (`robot_rl.envs.rollout.run_episodes`).
        details: receives one dict per episode (task error at its end; with the filter, its share, events and
            constraint-violation steps: `robot_rl.envs.rollout.EpisodeDetails`).

    Returns:
        Stats whose `command_clip_fraction` counts steps with a command clipped by the env or at a limit, and
        whose `sm`, `action_rate_rms` and `high_freq_energy_share` measure the smoothness of the applied commands
        (`robot_rl.evaluate.smoothness`).

    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    policy = OnnxPolicy.load(policy_dir)
    num_envs = max(1, min(num_envs, episodes))
    env = make_vec(policy.card.env_id, num_envs, backend=backend, randomize=randomize, safety_filter=safety_filter,
                   **(env_options or {}))
    if reality is not None:
        env.core.fix_parameters(reality)
    return run_measured(env, policy.act, episodes, seed, f"onnx:{Path(policy_dir).name}",
                        randomize is not False and reality is None, progress=progress, details=details,
                        trace_key=trace_key)


def policy_files(folder: str | Path) -> dict[str, bytes]:
    """The files a policy is evaluated from (`policy.onnx`, `card.yaml`), by name: what a Ray worker is sent."""
    return {name: (Path(folder) / name).read_bytes() for name in (ONNX_FILE, CARD_FILE)}


@contextlib.contextmanager
def unpacked(files: Mapping[str, bytes]) -> Iterator[Path]:
    """A temporary policy folder holding `files` (`policy_files`), removed afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "policy"
        folder.mkdir()
        for name, data in files.items():
            (folder / name).write_bytes(data)
        yield folder


def evaluate_shipped(files: Mapping[str, bytes], episodes: int, **kwargs: Any) -> EpisodeStats:  # noqa: ANN401
    """`evaluate_policy` of a policy sent as its files (a Ray task needs no file system shared with its caller)."""
    with unpacked(files) as folder:
        return evaluate_policy(folder, episodes, **kwargs)
