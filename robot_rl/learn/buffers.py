"""Replay storage for off-policy learning, with RLPD-style mixing of a prior buffer (demos, interventions).

Arrays are preallocated numpy; transitions hold raw observations, normalized actions in [-1, 1], rewards,
`terminated` (true terminations only: time-limit truncations bootstrap) and optional privileged critic inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Batch:
    """A sampled batch; every array has a leading `batch` axis."""

    obs: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    next_obs: np.ndarray
    terminated: np.ndarray
    privileged: np.ndarray
    next_privileged: np.ndarray


class ReplayBuffer:
    """Circular buffer of `capacity` transitions."""

    FIELDS = ("obs", "action", "reward", "next_obs", "terminated", "privileged", "next_privileged")

    def __init__(self, capacity: int, obs_size: int, action_size: int, privileged_size: int = 0) -> None:
        self.capacity, self.size, self._next = capacity, 0, 0
        shapes = {"obs": obs_size, "action": action_size, "reward": None, "next_obs": obs_size, "terminated": None,
                  "privileged": privileged_size, "next_privileged": privileged_size}
        self.data = {k: np.zeros((capacity,) if s is None else (capacity, s), dtype=np.float32)
                     for k, s in shapes.items()}

    def add(self, **batch: np.ndarray) -> None:
        """Append transitions given as arrays with a leading axis (all `FIELDS` required)."""
        missing = set(self.FIELDS) - set(batch)
        if missing:
            raise KeyError(f"transition fields missing: {sorted(missing)}")
        n = len(batch["obs"])
        idx = (self._next + np.arange(n)) % self.capacity
        for k in self.FIELDS:
            self.data[k][idx] = batch[k]
        self._next = int((self._next + n) % self.capacity)
        self.size = min(self.size + n, self.capacity)

    def indices(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """`n` uniform indices into the filled part."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        return rng.integers(0, self.size, n)

    def gather(self, idx: np.ndarray) -> Batch:
        """The transitions at `idx`."""
        return Batch(**{k: self.data[k][idx] for k in self.FIELDS})

    def state_dict(self) -> dict:
        """Contents and cursor, for checkpoints."""
        return {"size": self.size, "next": self._next, "data": {k: v[: self.size].copy() for k, v in self.data.items()}}

    def load_state_dict(self, state: dict) -> None:
        """Restore `state_dict()` output."""
        self.size, self._next = state["size"], state["next"]
        for k, v in state["data"].items():
            self.data[k][: self.size] = v


def sample_mixed(
    online: ReplayBuffer, prior: ReplayBuffer | None, batch_size: int, prior_fraction: float, rng: np.random.Generator
) -> Batch:
    """A batch with `round(prior_fraction * batch_size)` transitions from `prior` (RLPD: 0.5), the rest online."""
    n_prior = round(prior_fraction * batch_size) if prior is not None and prior.size > 0 else 0
    parts = [online.gather(online.indices(batch_size - n_prior, rng))]
    if n_prior:
        parts.append(prior.gather(prior.indices(n_prior, rng)))
    return Batch(**{k: np.concatenate([getattr(p, k) for p in parts]) for k in ReplayBuffer.FIELDS})
