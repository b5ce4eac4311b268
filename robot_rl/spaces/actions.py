"""Action maps: from a policy's normalized action `a` in [-1, 1] to the robot's command in physical units.

    command = clip(offset + obs[offset_quantity] + scale * clip(a, -1, 1), low, high)

The map is part of the policy (it is exported inside the ONNX graph); the env's action space stays the robot's
command. `offset_quantity` lets a policy command increments around a measured quantity (the arm's joint targets
around its measured positions), which is the same affine map with an observation-dependent offset.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robot_rl.spaces.vector import VectorSpec

STEP_MARGIN = 1e-4
"""Action maps whose steps are a safety limit (a speed or an acceleration times the control period) stay this
fraction below it: the exported policy computes in float32, whose rounding (about 1e-7 of the command) would
otherwise put a full step just past the limit and have the safety filter change it by that rounding."""


@dataclass(frozen=True)
class ActionMap:
    """Affine map from normalized actions to commands; every tuple has one entry per command element."""

    offset: tuple[float, ...]
    scale: tuple[float, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    offset_quantity: str | None = None
    """Observation quantity added to `offset` (same size as the command), or None."""

    def offset_slice(self, spec: VectorSpec) -> slice | None:
        """Where `offset_quantity` lives in observations of `spec`."""
        return None if self.offset_quantity is None else spec.slice(self.offset_quantity)

    def to_command(self, obs: np.ndarray, action: np.ndarray, spec: VectorSpec) -> np.ndarray:
        """Commands `[N, n_cmd]` from raw observations `[N, n_obs]` and normalized actions `[N, n_cmd]`."""
        base = np.broadcast_to(np.asarray(self.offset), action.shape).astype(np.float64)
        sl = self.offset_slice(spec)
        if sl is not None:
            base = base + obs[:, sl]
        return np.clip(base + np.asarray(self.scale) * np.clip(action, -1.0, 1.0), self.low, self.high)

    def to_action(self, obs: np.ndarray, command: np.ndarray, spec: VectorSpec) -> np.ndarray:
        """Normalized actions `[N, n_cmd]` in [-1, 1] that give `command` (for demonstrations and interventions)."""
        base = np.broadcast_to(np.asarray(self.offset), command.shape).astype(np.float64)
        sl = self.offset_slice(spec)
        if sl is not None:
            base = base + obs[:, sl]
        return np.clip((command - base) / np.asarray(self.scale), -1.0, 1.0)
