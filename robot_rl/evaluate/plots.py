"""Figures people would rather look at than read (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from robot_rl.evaluate.cross_sim import CrossSimResult


def plot_cross_sim(result: CrossSimResult, path: str | Path) -> Path:
    """Write a PNG: the compared quantity per backend over time (one panel per element) and their difference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    backends = list(result.trajectories)
    first = result.trajectories[backends[0]]
    t = np.arange(len(first)) * result.control_dt_s
    k = first.shape[1]
    fig, axes = plt.subplots(k + 1, 1, figsize=(8, 1.6 * (k + 1)), sharex=True)
    for i in range(k):
        for b, style in zip(backends, ("-", "--"), strict=False):
            axes[i].plot(t, result.trajectories[b][:, i], style, label=b)
        axes[i].set_ylabel(f"{result.quantity}[{i}]", fontsize=8)
    diff = np.abs(result.trajectories[backends[0]] - result.trajectories[backends[-1]]).max(axis=1)
    axes[-1].plot(t, diff, color="crimson")
    axes[-1].set_ylabel("max |diff|", fontsize=8)
    axes[-1].set_xlabel("time [s]")
    axes[0].legend(loc="upper right", fontsize=8)
    fig.suptitle(f"{result.env_id}: same open-loop commands, max difference {result.max_abs_difference:.3g}")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
