"""Arm safety rules: joint position targets kept inside limits, speed and an end-effector box.

The command is a joint position target `x` `[N, 7]` rad for a position servo; `r` = `last_applied` (the servo's
current reference), `q`, `qd` = measured positions and velocities, `dt` = control period. In order:

1. position: `x1 = clip(x, pos_min + margin, pos_max - margin)`                         (event `position_limit`)
2. speed of the target stream: the implied velocity `v = (x1 - r) / dt` must lie in `[-vmax, vmax]` per joint;
   joints outside get `x2 = r + clip(v, -vmax, vmax) dt` (event `velocity_limit`). `x2` lies between `r` and
   `x1`, so step 1 still holds when `r` does; a reference outside the limits (first cycle, tightened override) is
   clipped back in, position limits taking priority.
3. workspace: if `FK(x2)` leaves the box `[workspace_low, workspace_high]`, the target is pulled back along the
   segment from an anchor whose FK is inside: `x3 = a + s (x2 - a)`, `s` found by bisection (16 halvings, keeping
   the inside end). The anchor is `r` when `r` is inside the position limits and `FK(r)` inside the box (then steps
   1-2 still hold), else the held position `clip(q)`; if `FK(clip(q))` is outside too, the target is `clip(q)`
   (hold where it is).                                                                  (event `workspace`)

A proposal that passes every step is returned unchanged, bit for bit.

Acceleration and jerk are not rules on the 50 Hz target: the certified target goes to the jerk-limited generator
(`robot_rl.safety.trajectory`, Ruckig at 1 kHz, limits `acceleration_max_rad_s2` and `jerk_max_rad_s3`), which
the controller runs after this filter and the simulated plant runs too, so every executed sample is within the
velocity, acceleration and jerk limits whatever the targets do (a rule on the targets' own acceleration against the
Panda's 7.5-20 rad/s^2 would clip what the generator smooths anyway).

Fallback (non-finite input or action, stale input, e-stop): hold the measured position clipped into the limits with
margin; non-finite elements of `q` are replaced by `last_applied`, then by the middle of the limits.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from robot_rl.robots.kinematics import forward_kinematics
from robot_rl.safety.guards import GUARD_EVENTS, guard_events, run_with_fallback
from robot_rl.safety.limits import ArmLimits

LIMIT_EVENTS = ("position_limit", "velocity_limit", "workspace")
EVENT_NAMES = (*GUARD_EVENTS, "clipped", *LIMIT_EVENTS)
INPUT_KEYS = ("joint_pos_rad", "joint_vel_rad_s", "last_applied")
BISECTION_STEPS = 16


def in_workspace(limits: ArmLimits, ee_pos_m: np.ndarray) -> np.ndarray:
    """End-effector positions `[N, 3]` m inside the workspace box (bounds included) -> `[N]` bool."""
    return ((ee_pos_m >= limits.workspace_low_m) & (ee_pos_m <= limits.workspace_high_m)).all(axis=1)


def violated_arm(limits: ArmLimits, state: Mapping[str, np.ndarray]) -> np.ndarray:
    """`[N]` bool: the measured state breaks a limit.

    A joint beyond its position limits (`joint_pos_rad` `[N, 7]` rad) or the end effector (`ee_pos_m` `[N, 3]` m)
    outside the workspace box.
    """
    q = state["joint_pos_rad"]
    beyond = ((q < limits.position_min_rad) | (q > limits.position_max_rad)).any(axis=1)
    return beyond | ~in_workspace(limits, state["ee_pos_m"])


def hold_position(limits: ArmLimits, state: Mapping[str, np.ndarray]) -> np.ndarray:
    """The hold target `[N, 7]` rad: measured position (else last applied, else mid-range) clipped into the limits."""
    q = np.asarray(state["joint_pos_rad"], dtype=np.float64)
    if not np.isfinite(q).all():
        mid = (limits.target_min_rad + limits.target_max_rad) / 2
        last = np.asarray(state["last_applied"], dtype=np.float64)
        q = np.where(np.isfinite(q), q, np.where(np.isfinite(last), last, mid))
    return np.clip(q, limits.target_min_rad, limits.target_max_rad)


def fallback_arm(limits: ArmLimits, state: Mapping[str, np.ndarray]) -> np.ndarray:
    """Fallback command `[N, 7]` rad: hold the current position (`hold_position`)."""
    return hold_position(limits, state)


def _limit_motion(
    limits: ArmLimits, state: Mapping[str, np.ndarray], target: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Step 2: speed of the target relative to `last_applied`; returns the target and the velocity events `[N]`."""
    ref, dt = state["last_applied"], limits.control_dt_s
    v = (target - ref) * limits.control_rate_hz
    outside = np.abs(v) > limits.velocity_max_rad_s
    if not np.count_nonzero(outside):
        return target, np.zeros(len(target), dtype=bool)
    moved = ref + np.clip(v, limits.velocity_min_rad_s, limits.velocity_max_rad_s) * dt
    target = np.clip(np.where(outside, moved, target), limits.target_min_rad, limits.target_max_rad)
    return target, outside.any(axis=1)


def _bisect(limits: ArmLimits, anchor: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Largest `s` on the dyadic grid with `FK(anchor + s (target - anchor))` inside (FK(anchor) must be inside)."""
    lo_s, hi_s = np.zeros((len(anchor), 1)), np.ones((len(anchor), 1))
    step = target - anchor
    for _ in range(BISECTION_STEPS):
        mid = (lo_s + hi_s) / 2
        inside = in_workspace(limits, forward_kinematics(limits.chain, anchor + mid * step))[:, None]
        lo_s, hi_s = np.where(inside, mid, lo_s), np.where(inside, hi_s, mid)
    return anchor + lo_s * step


def _limit_workspace(limits: ArmLimits, state: Mapping[str, np.ndarray], target: np.ndarray) -> np.ndarray:
    """Step 3 on rows whose `FK(target)` is outside the box: pull back toward an inside anchor, else hold."""
    ref = state["last_applied"]
    hold = hold_position(limits, state)
    ref_ok = ((ref >= limits.target_min_rad) & (ref <= limits.target_max_rad)).all(axis=1)
    ref_ok &= in_workspace(limits, forward_kinematics(limits.chain, ref))
    hold_ok = in_workspace(limits, forward_kinematics(limits.chain, hold))
    anchor = np.where(ref_ok[:, None], ref, hold)
    out = hold.copy()
    pull = ref_ok | hold_ok
    if np.count_nonzero(pull):
        out[pull] = _bisect(limits, anchor[pull], target[pull])
    return out


def arm_rules(
    limits: ArmLimits, state: Mapping[str, np.ndarray], proposed: np.ndarray
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Steps 1-3 (module docstring) on finite, fresh rows: applied `[N, 7]` rad and the limit events `[N]` bool."""
    target = np.minimum(np.maximum(proposed, limits.target_min_rad), limits.target_max_rad)
    position = np.logical_or.reduce(target != proposed, axis=1)
    target, velocity = _limit_motion(limits, state, target)
    ee = forward_kinematics(limits.chain, target)
    workspace = ~np.logical_and.reduce((ee >= limits.workspace_low_m) & (ee <= limits.workspace_high_m), axis=1)
    if np.count_nonzero(workspace):
        target = target.copy()
        target[workspace] = _limit_workspace(limits, {k: v[workspace] for k, v in state.items()}, target[workspace])
    events = {"position_limit": position, "velocity_limit": velocity, "workspace": workspace}
    return target, events


def certify_arm(
    limits: ArmLimits, state: Mapping[str, np.ndarray], proposed: np.ndarray
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Certify arm joint position targets.

    Args:
        limits: `limits_for(arm_spec)`.
        state: `inputs_finite` `[N]` bool, `input_age_s` `[N]` s, `estop` `[N]` bool (latched), `last_applied`
            `[N, 7]` rad, `joint_pos_rad` `[N, 7]`, `joint_vel_rad_s` `[N, 7]` rad/s.
        proposed: `[N, 7]` joint position targets, rad.

    Returns:
        applied `[N, 7]` float64 rad and `{name: [N] bool}` for every name in `EVENT_NAMES`.

    """
    proposed = np.asarray(proposed, dtype=np.float64)
    guards = guard_events(state, proposed, INPUT_KEYS, limits.watchdog_periods * limits.control_dt_s)
    return run_with_fallback(limits, state, proposed, guards, arm_rules, fallback_arm, LIMIT_EVENTS)
