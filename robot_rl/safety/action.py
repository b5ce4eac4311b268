"""Action sanitation: what stands between a proposed command and the physics (or the robot).

Documented behaviour, identical in sim and on the robot:
- a row with any NaN or infinite element is replaced by the fallback (the last applied command: hold);
- finite elements outside `[low, high]` are clipped to the bounds;
- every replacement or clip is reported as an event, per row.
"""

from __future__ import annotations

import numpy as np


def sanitize_action(
    proposed: np.ndarray, low: np.ndarray, high: np.ndarray, fallback: np.ndarray
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Make a proposed command safe to apply.

    Args:
        proposed: `[N, n]` commands in physical units.
        low: `[n]` lower command bounds.
        high: `[n]` upper command bounds.
        fallback: `[N, n]` command used for rows that are not finite (normally the last applied one).

    Returns:
        applied `[N, n]` float64 and events `{"nonfinite": [N] bool, "clipped": [N] bool}`.

    """
    proposed = np.asarray(proposed, dtype=np.float64)
    nonfinite = ~np.isfinite(proposed).all(axis=1)
    safe = np.where(nonfinite[:, None], fallback, proposed)
    applied = np.clip(safe, low, high)
    clipped = (applied != safe).any(axis=1) & ~nonfinite
    return applied, {"nonfinite": nonfinite, "clipped": clipped}


def rate_limit(target: np.ndarray, previous: np.ndarray, max_delta: np.ndarray) -> np.ndarray:
    """Move from `previous` toward `target` by at most `max_delta` per element (all `[N, n]` or broadcastable)."""
    return previous + np.clip(target - previous, -max_delta, max_delta)
