"""Evaluation: reference controllers and exported policies in batched sim, cross-simulator checks, plots."""

from robot_rl.envs.rollout import EpisodeStats
from robot_rl.evaluate.baseline import run_baseline

__all__ = ["EpisodeStats", "run_baseline"]
