"""Guards every robot's filter applies first: non-finite inputs and actions, the watchdog, the e-stop latch.

Any of `nonfinite_input`, `nonfinite_action`, `stale` or `estop` replaces the row's command by the robot's
fallback in the same call (see `docs/safety.md`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

GUARD_EVENTS = ("nonfinite_input", "nonfinite_action", "stale", "estop", "fallback")


def nonfinite_rows(x: np.ndarray) -> np.ndarray:
    """Rows with any NaN or infinite element.

    Args:
        x: `[N, ...]` array.

    Returns:
        `[N]` bool.

    """
    x = np.asarray(x, dtype=np.float64)
    return ~np.isfinite(x.reshape(len(x), -1)).all(axis=1)


def watchdog_stale(input_age_s: np.ndarray, control_dt_s: float, periods: float = 3.0) -> np.ndarray:
    """Watchdog: inputs are stale when older than `periods` control periods (NaN age counts as stale).

    Args:
        input_age_s: `[N]` age of the oldest input, s.
        control_dt_s: control period, s.
        periods: allowed age in control periods (k).

    Returns:
        `[N]` bool, `~(input_age_s <= periods * control_dt_s)`.

    """
    return ~(np.asarray(input_age_s, dtype=np.float64) <= periods * control_dt_s)


def estop_latch(latched: np.ndarray, estop_msg: np.ndarray, reset: np.ndarray) -> np.ndarray:
    """E-stop latch: set by an e-stop input, cleared only by an explicit reset while the e-stop input is false.

    Args:
        latched: `[N]` bool, the latch before this cycle.
        estop_msg: `[N]` bool, the e-stop input now.
        reset: `[N]` bool, an operator's reset request now.

    Returns:
        `[N]` bool, `estop_msg | (latched & ~reset)`.

    """
    latched, estop_msg, reset = (np.asarray(a, dtype=bool) for a in (latched, estop_msg, reset))
    return estop_msg | (latched & ~reset)


def guard_events(
    state: Mapping[str, np.ndarray],
    proposed: np.ndarray,
    input_keys: tuple[str, ...],
    stale_after_s: float,
    invalid_input: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The guard events of one cycle.

    Args:
        state: the filter state: `inputs_finite` `[N]` bool, `input_age_s` `[N]` s, `estop` `[N]` bool (latched),
            and the arrays named in `input_keys` (each `[N, k]`, checked for NaN/Inf as well).
        proposed: `[N, n_cmd]` proposed command, float64.
        input_keys: `[N, k]` state arrays the robot's rules read (including `last_applied`).
        stale_after_s: watchdog threshold `k * control_dt_s`, s.
        invalid_input: optional `[N]` bool, robot-specific invalid inputs (counted as `nonfinite_input`).

    Returns:
        `{name: [N] bool}` for `GUARD_EVENTS`; `fallback` is the OR of the other four.

    """
    inputs = np.concatenate([state[k] for k in input_keys], axis=1) if len(input_keys) > 1 else state[input_keys[0]]
    bad_input = ~(np.logical_and.reduce(np.isfinite(inputs), axis=1) & state["inputs_finite"])
    if invalid_input is not None:
        bad_input = bad_input | invalid_input
    bad_action = ~np.logical_and.reduce(np.isfinite(proposed), axis=1)
    stale = ~(np.asarray(state["input_age_s"]) <= stale_after_s)
    estop = np.asarray(state["estop"], dtype=bool)
    return {
        "nonfinite_input": bad_input,
        "nonfinite_action": bad_action,
        "stale": stale,
        "estop": estop,
        "fallback": bad_input | bad_action | stale | estop,
    }


Rules = Callable[[Any, Mapping[str, np.ndarray], np.ndarray], tuple[np.ndarray, dict[str, np.ndarray]]]
Fallback = Callable[[Any, Mapping[str, np.ndarray]], np.ndarray]


def run_with_fallback(
    limits: Any,  # noqa: ANN401 - the robot's limits dataclass
    state: Mapping[str, np.ndarray],
    proposed: np.ndarray,
    guards: dict[str, np.ndarray],
    rules: Rules,
    fallback: Fallback,
    limit_events: tuple[str, ...],
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Apply the robot's limit `rules` to rows without a guard event and its `fallback` to the others.

    Args:
        limits: the robot's limits.
        state: filter state, arrays `[N, ...]`.
        proposed: `[N, n_cmd]` float64.
        guards: `guard_events(...)` of this cycle.
        rules: `(limits, state rows, proposed rows) -> (applied rows, {limit event: [rows] bool})`.
        fallback: `(limits, state) -> [N, n_cmd]` finite fallback command.
        limit_events: the names `rules` reports.

    Returns:
        applied `[N, n_cmd]` float64 and events: the guards, the limit events (False on fallback rows) and
        `clipped` (any limit event).

    """
    fb = guards["fallback"]
    if not np.count_nonzero(fb):
        applied, limit = rules(limits, state, proposed)
    else:
        ok = ~fb
        applied = fallback(limits, state)
        limit = {name: np.zeros(len(fb), dtype=bool) for name in limit_events}
        if np.count_nonzero(ok):
            sub_applied, sub_limit = rules(limits, {k: np.asarray(v)[ok] for k, v in state.items()}, proposed[ok])
            applied[ok] = sub_applied
            for name, rows in sub_limit.items():
                limit[name][ok] = rows
    clipped = np.zeros(len(fb), dtype=bool)
    for rows in limit.values():
        clipped = clipped | rows
    return applied, {**guards, "clipped": clipped, **limit}
