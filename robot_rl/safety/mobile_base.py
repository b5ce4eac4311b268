"""Mobile-base safety rules: twist bounds, command acceleration and a lidar stopping barrier.

Command `[linear_x m/s, angular_z rad/s]`; `u` = `last_applied`, `dt` = control period. In order, per component:

1. speed and acceleration: the command must lie in `[lo, hi]` with
   `lo = max(v_min, min(0, u - a_max dt))`, `hi = min(v_max, max(0, u + a_max dt))` (`a_max` = accel_max_m_s2 for
   linear, angular_accel_max_rad_s2 for angular): within the velocity limits, and speeding up (away from zero) by
   at most `a_max dt` per cycle; slowing toward zero is never limited.  (`velocity_limit` if outside the velocity
   limits, else `acceleration_limit`)
2. lidar barrier on the linear command. Each beam `i` (angle `phi_i = i * fov / n`, counter-clockwise from ahead)
   gives a point `(x, y) = r_i (cos phi_i, sin phi_i)` in the base frame (+inf ranges = no return). With the
   footprint inflated by the stop distance, `R_s = footprint_radius + stop_distance`, a point ahead (`x > 0`) with
   `|y| < R_s` is reached by the inflated footprint after `c_i = x - sqrt(R_s^2 - y^2)` of forward travel (for a
   point straight ahead, `c = d - stop_distance` with `d = x - footprint_radius` its gap to the footprint).
   Forward speed is limited to `sqrt(2 brake_decel max(0, min_i c_i))`; reverse speed likewise with the points
   behind (`x < 0`, `c_i = -x - sqrt(R_s^2 - y^2)`). So the base stops before the obstacle comes within the stop
   distance and cannot move toward an obstacle already that close; turning in place is never limited.  (`obstacle`)

Each step moves the command toward zero only, so earlier steps stay satisfied. A proposal that passes every step is
returned unchanged, bit for bit. Fallback: stop (zero twist). NaN or negative lidar ranges are invalid input.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from robot_rl.safety.guards import GUARD_EVENTS, guard_events, run_with_fallback
from robot_rl.safety.limits import MobileBaseLimits

LIMIT_EVENTS = ("velocity_limit", "acceleration_limit", "obstacle")
EVENT_NAMES = (*GUARD_EVENTS, "clipped", *LIMIT_EVENTS)
INPUT_KEYS = ("last_applied",)  # ranges are checked separately: +inf (no return) is valid


def fallback_mobile_base(limits: MobileBaseLimits, state: Mapping[str, np.ndarray]) -> np.ndarray:
    """Fallback `[N, 2]`: zero twist (stop)."""
    return np.zeros((len(state["last_applied"]), 2))


def violated_mobile_base(limits: MobileBaseLimits, state: Mapping[str, np.ndarray]) -> np.ndarray:
    """`[N]` bool: an obstacle inside the footprint plus the stop distance.

    `lidar_ranges_m` `[N, n_beams]` m, from the base's centre.
    """
    return state["lidar_ranges_m"].min(axis=1) < limits.footprint_radius_m + limits.stop_distance_m


def twist_bounds(limits: MobileBaseLimits, last_applied: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Allowed command `[lo, hi]` `[N, 2]` from the velocity limits and the acceleration limits (step 1)."""
    lo = np.maximum(np.minimum(last_applied - limits.command_step, 0.0), limits.command_low)
    hi = np.minimum(np.maximum(last_applied + limits.command_step, 0.0), limits.command_high)
    return lo, hi


def clearances(limits: MobileBaseLimits, ranges_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward and reverse travel `[N]` m before the inflated footprint touches a lidar point (inf if none).

    Beams pointing ahead (`cos phi > 0`) count for forward travel, the others for reverse: `c = |x| - sqrt(R_s^2 -
    y^2)` for points in the lane `|y| < R_s`, inf outside it.
    """
    r = np.minimum(ranges_m, 1e6)  # +inf: no return
    y = r * limits.beam_sin
    room = limits.lane_radius2_m2 - y * y  # > 0 inside the lane
    travel = np.where(room > 0, r * limits.beam_abs_cos - np.sqrt(np.maximum(room, 0.0)), np.inf)
    ahead = np.minimum.reduce(travel + limits.rear_penalty, axis=1)
    behind = np.minimum.reduce(travel + limits.front_penalty, axis=1)
    return ahead, behind


def mobile_base_rules(
    limits: MobileBaseLimits, state: Mapping[str, np.ndarray], proposed: np.ndarray
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Steps 1-2 (module docstring) on valid, fresh rows: applied `[N, 2]` and the limit events `[N]` bool."""
    lo, hi = twist_bounds(limits, state["last_applied"])
    command = np.minimum(np.maximum(proposed, lo), hi)
    moved = command != proposed
    over = (proposed < limits.command_low) | (proposed > limits.command_high)
    ahead, behind = clearances(limits, state["lidar_ranges_m"])
    two_b = 2 * limits.brake_decel_m_s2
    v = command[:, 0]
    v_barrier = np.minimum(np.maximum(v, -np.sqrt(two_b * np.maximum(behind, 0.0))),
                           np.sqrt(two_b * np.maximum(ahead, 0.0)))
    obstacle = v_barrier != v
    command[:, 0] = v_barrier
    events = {"velocity_limit": np.logical_or.reduce(over, axis=1),
              "acceleration_limit": np.logical_or.reduce(moved & ~over, axis=1), "obstacle": obstacle}
    return command, events


def certify_mobile_base(
    limits: MobileBaseLimits, state: Mapping[str, np.ndarray], proposed: np.ndarray
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Certify mobile-base twist commands.

    Args:
        limits: `limits_for(mobile_base_spec)`.
        state: `inputs_finite` `[N]` bool, `input_age_s` `[N]` s, `estop` `[N]` bool (latched), `last_applied`
            `[N, 2]`, `forward_velocity_m_s` `[N]`, `yaw_rate_rad_s` `[N]`, `lidar_ranges_m` `[N, n_beams]` m.
        proposed: `[N, 2]` linear x m/s, angular z rad/s.

    Returns:
        applied `[N, 2]` float64 and `{name: [N] bool}` for every name in `EVENT_NAMES`.

    """
    proposed = np.asarray(proposed, dtype=np.float64)
    bad_scan = ~np.logical_and.reduce(np.asarray(state["lidar_ranges_m"]) >= 0, axis=1)  # NaN or negative
    guards = guard_events(state, proposed, INPUT_KEYS, limits.watchdog_periods * limits.control_dt_s, bad_scan)
    return run_with_fallback(limits, state, proposed, guards, mobile_base_rules, fallback_mobile_base, LIMIT_EVENTS)
