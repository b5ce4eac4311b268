"""Random horizontal pushes: the external shoves a plant applies to one of its bodies (`push_force_n`).

Each env has its own magnitude (the episode's `push_force_n`, N; 0: never pushed). A push starts with probability
`rate_hz * dt` in each control period the env is not being pushed, in a uniformly random horizontal direction, and
lasts `duration_s`. The arm pushes its hand, the mobile base its chassis.
"""

from __future__ import annotations

import numpy as np


class RandomPushes:
    """The pushes of `num_envs` envs: magnitudes `force_n` `[N]` N, the current force `vector` `[N, 3]` N."""

    def __init__(self, num_envs: int, rate_hz: float, duration_s: float) -> None:
        self.rate_hz, self.duration_s = rate_hz, duration_s
        self.force_n = np.zeros(num_envs)
        self.left_s = np.zeros(num_envs)
        self.vector = np.zeros((num_envs, 3))

    def stop(self, env_ids: np.ndarray) -> None:
        """End any push of `env_ids` (at reset)."""
        self.left_s[env_ids] = 0.0
        self.vector[env_ids] = 0.0

    def step(self, rng: np.random.Generator, dt: float) -> np.ndarray:
        """Advance one control period of `dt` s; the force `[N, 3]` N to apply during it.

        Draws `N` uniforms for the starts, then one direction per push started.
        """
        self.left_s = np.maximum(self.left_s - dt, 0.0)
        self.vector[self.left_s <= 0] = 0.0
        start = (self.force_n > 0) & (self.left_s <= 0) & (rng.random(len(self.force_n)) < self.rate_hz * dt)
        if start.any():
            angle = rng.uniform(-np.pi, np.pi, start.sum())
            self.vector[start] = self.force_n[start, None] * np.stack(
                [np.cos(angle), np.sin(angle), np.zeros_like(angle)], -1
            )
            self.left_s[start] = self.duration_s
        return self.vector
