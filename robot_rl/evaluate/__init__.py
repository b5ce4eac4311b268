"""Evaluation: episode runners and summaries (reference controllers now; policies and reports later)."""

from robot_rl.evaluate.baseline import EpisodeStats, run_baseline

__all__ = ["EpisodeStats", "run_baseline"]
