"""Per-episode statistics of a batched env and the privileged critic inputs, shared by the learners."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from robot_rl.envs import BatchedRobotEnv


class EpisodeTracker:
    """Accumulates returns, lengths and reward terms per env; summarizes episodes finished since the last summary."""

    def __init__(self, num_envs: int) -> None:
        self.ret = np.zeros(num_envs)
        self.length = np.zeros(num_envs, dtype=int)
        self.terms: dict[str, np.ndarray] = {}
        self.finished: list[dict[str, float]] = []

    def update(self, reward: np.ndarray, terminated: np.ndarray, truncated: np.ndarray, info: Mapping) -> None:
        """Add one step `[N]` of a vector env; record envs whose episode ended."""
        self.ret += reward
        self.length += 1
        for k, v in info["reward_terms"].items():
            self.terms.setdefault(k, np.zeros_like(self.ret))
            self.terms[k] += v
        for i in np.flatnonzero(terminated | truncated):
            row = {"episode/return": float(self.ret[i]), "episode/length": float(self.length[i]),
                   "episode/success_rate": float(info["is_success"][i]),
                   "episode/failure_rate": float(info["failure"][i])}
            row.update({f"reward_terms/{k}": float(v[i]) for k, v in self.terms.items()})
            self.finished.append(row)
            self.ret[i], self.length[i] = 0.0, 0
            for v in self.terms.values():
                v[i] = 0.0

    def summary(self) -> dict[str, float]:
        """Means over episodes finished since the last call (empty if none), plus their count."""
        if not self.finished:
            return {}
        out = {k: float(np.mean([r[k] for r in self.finished])) for k in self.finished[0]}
        out["episode/count"] = float(len(self.finished))
        self.finished = []
        return out


def privileged_inputs(core: BatchedRobotEnv) -> np.ndarray:
    """Randomized physical parameters `[N, P]` scaled to about [-1, 1] by their ranges (sorted names).

    These are what an asymmetric critic sees and the actor never does; all zeros without randomization.
    """
    if core.ranges is None:
        return np.zeros((core.num_envs, len(core.params)), dtype=np.float32)
    cols = []
    for name in sorted(core.params):
        r = core.ranges[name]
        mid, half = (r.high + r.low) / 2, max((r.high - r.low) / 2, 1e-12)
        cols.append((core.params[name] - mid) / half)
    return np.stack(cols, axis=1).astype(np.float32)
