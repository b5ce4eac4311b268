"""Quadrotor safety rules: thrust and body-rate bounds, a geofence braking barrier and a tilt limit.

Command `[thrust N, roll_rate, pitch_rate, yaw_rate rad/s]` (body rates). `R` = body-to-world rotation of the
measured quaternion, `z_b = R e_z` the body z axis in the world, `g_b = R^T e_z` the world up axis in the body frame,
tilt = `arccos(g_b,z)`. In order:

1. bounds: thrust clipped to `[thrust_min, thrust_max]`, rates to `+-body_rate_max`.   (`thrust_limit`, `rate_limit`)
2. tilt: when tilt > `tilt_max` and the rates would increase it (`d cos(tilt)/dt = g_b,x w_y - g_b,y w_x < 0`),
   roll and pitch rates are replaced by leveling rates (`attitude_rates` toward `e_z`); yaw rate is kept. (`tilt`)
3. geofence barrier, per axis and face of the box, on the state predicted `REACTION_TIME_S` ahead if the bounded
   proposal were held that long (`predict`; covers the attitude and motor lag of the braking that follows): with
   `d` = signed distance to the face (positive inside) and `v_n` = velocity toward it, the state must satisfy
   `v_n <= sign(d) sqrt(2 brake_accel |d|)`, computed as `v_n |v_n| <= 2 brake_accel d` (inside: slow enough to
   stop at `brake_accel` before the face; outside: moving back in at least that fast). Where any face is
   violated, the whole command is replaced by a braking command: desired acceleration
   `a = sum over violated faces of BRAKE_FACTOR * brake_accel * (inward normal)`, thrust vector
   `f = m (a + g e_z)` with its tilt limited to `tilt_max`, thrust `= f . z_b` (clipped to the bounds) and rates
   that turn `z_b` toward `f / |f|` (`attitude_rates`), yaw rate 0; the tilt rule (2) is applied to it again
   (it only acts when the body is more than 90 deg from level).                                      (`geofence`)

Generated rates (braking, leveling) are scaled as a vector into the rate bounds, which keeps their direction.
A proposal that passes every step is returned unchanged, bit for bit.

Fallback: level and descend: leveling rates, yaw rate 0, thrust
`m (g + DESCENT_GAIN (-descent_speed - v_z)) / max(cos(tilt), cos(tilt_max))` (thrust_min when upside down),
clipped to the bounds; an invalid quaternion counts as level and a non-finite v_z as 0. A quaternion with
`||q|^2 - 1| > QUAT_NORM2_TOLERANCE` (or non-finite) is invalid input (`nonfinite_input`); others are normalized.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from robot_rl.safety.guards import GUARD_EVENTS, guard_events, run_with_fallback
from robot_rl.safety.limits import GRAVITY_M_S2, QuadrotorLimits

LIMIT_EVENTS = ("thrust_limit", "rate_limit", "geofence", "tilt")
EVENT_NAMES = (*GUARD_EVENTS, "clipped", *LIMIT_EVENTS)
INPUT_KEYS = ("position_m", "quat_wxyz", "linear_velocity_m_s", "angular_velocity_rad_s", "last_applied")
ATTITUDE_GAIN_PER_S = 10.0  # rad/s of body rate per rad of attitude error
DESCENT_GAIN_PER_S = 2.0  # m/s^2 of vertical acceleration per m/s of vertical speed error
QUAT_NORM2_TOLERANCE = 0.1  # |q|^2 further than this from 1 is invalid input
BRAKE_FACTOR = 2.5
REACTION_TIME_S = 0.3
"""s the geofence looks ahead: braking tilts the thrust by up to atan(BRAKE_FACTOR * brake_accel / g) (0.65 rad
for sim/quadrotor/robot.yaml), which takes 0.29 s at the Crazyflie's 2.28 rad/s roll/pitch-rate bound."""


def _rotation_forms() -> np.ndarray:
    """`[16, 10]`: `outer(q, q).ravel() @ F` gives `|q|^2 R` (row-major, 9 entries) and `|q|^2` for any wxyz `q`."""
    w, x, y, z = range(4)
    entries = [  # (sign, i, j) terms of |q|^2 R_rc; products of different components appear twice in outer(q, q)
        [(1, w, w), (1, x, x), (-1, y, y), (-1, z, z)], [(1, x, y), (1, y, x), (-1, w, z), (-1, z, w)],
        [(1, x, z), (1, z, x), (1, w, y), (1, y, w)], [(1, x, y), (1, y, x), (1, w, z), (1, z, w)],
        [(1, w, w), (-1, x, x), (1, y, y), (-1, z, z)], [(1, y, z), (1, z, y), (-1, w, x), (-1, x, w)],
        [(1, x, z), (1, z, x), (-1, w, y), (-1, y, w)], [(1, y, z), (1, z, y), (1, w, x), (1, x, w)],
        [(1, w, w), (-1, x, x), (-1, y, y), (1, z, z)], [(1, w, w), (1, x, x), (1, y, y), (1, z, z)],
    ]
    forms = np.zeros((16, 10))
    for k, terms in enumerate(entries):
        for sign, i, j in terms:
            forms[4 * i + j, k] += sign
    return forms


_FORMS = _rotation_forms()
_UP = np.array([0.0, 0.0, 1.0])
_LEVEL = np.array([1.0, 0.0, 0.0, 0.0])
_GRAVITY = GRAVITY_M_S2 * _UP
_TILT_STEP = np.array([[0.0, -0.5 * REACTION_TIME_S, 0.0], [0.5 * REACTION_TIME_S, 0.0, 0.0]])  # (w_x, w_y) ->
# (t/2) (w_y, -w_x, 0): the body z axis turned by the proposed rates for half the reaction time


def rotation(quat_wxyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Body-to-world rotations `[N, 3, 3]` of quaternions `[N, 4]` wxyz (normalized here) and their `|q|^2` `[N]`.

    One `[1, 16] @ [16, 10]` product per row (a stack of N), never an `[N, 16] @ [16, 10]` one: BLAS rounds the
    latter differently for different N, so a row's result would depend on the batch it is certified in.
    """
    q = np.asarray(quat_wxyz, dtype=np.float64)
    forms = (q[:, :, None] * q[:, None, :]).reshape(len(q), 1, 16) @ _FORMS
    norm2 = forms[:, :, 9:]
    return (forms[:, :, :9] / norm2).reshape(len(q), 3, 3), norm2[:, 0, 0]


def _level_if_invalid(quat_wxyz: np.ndarray) -> np.ndarray:
    """Quaternions `[N, 4]`, non-finite or far from unit ones (`||q|^2 - 1| > QUAT_NORM2_TOLERANCE`) made level."""
    q = np.asarray(quat_wxyz, dtype=np.float64)
    with np.errstate(all="ignore"):
        good = np.abs(np.sum(q * q, axis=1) - 1.0) <= QUAT_NORM2_TOLERANCE
    return np.where(good[:, None], q, _LEVEL)


def scale_rates(limits: QuadrotorLimits, rates: np.ndarray) -> np.ndarray:
    """Rates `[N, 3]` rad/s scaled as vectors (direction kept) so every component is within `body_rate_max`."""
    ratio = np.max(np.abs(rates) / limits.body_rate_max_rad_s, axis=1, keepdims=True)
    return rates / np.maximum(ratio, 1.0)


def attitude_rates(limits: QuadrotorLimits, target_in_body: np.ndarray) -> np.ndarray:
    """Roll/pitch/yaw rates `[N, 3]` rad/s that turn the body z axis toward a unit direction given in the body frame.

    Rotation about the axis `e_z x t = (-t_y, t_x, 0)` (the shortest way) at `ATTITUDE_GAIN_PER_S * angle`, yaw 0,
    scaled into the rate bounds. Pointing exactly away (`t = -e_z`) rolls at the rate limit.
    """
    t = target_in_body
    axis = np.stack([-t[:, 1], t[:, 0], np.zeros(len(t))], axis=1)
    sin_angle = np.linalg.norm(axis, axis=1, keepdims=True)
    angle = np.arctan2(sin_angle, t[:, 2:3])
    flipped = sin_angle[:, 0] < 1e-9
    axis[flipped] = np.where(t[flipped, 2:3] < 0, 1.0, 0.0) * np.array([1.0, 0.0, 0.0])
    sin_angle[flipped] = 1.0
    return scale_rates(limits, ATTITUDE_GAIN_PER_S * angle * axis / sin_angle)


def predict(
    limits: QuadrotorLimits, state: Mapping[str, np.ndarray], rot: np.ndarray, command: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Position and velocity `[N, 3]` `REACTION_TIME_S` ahead if `command` `[N, 4]` were held that long.

    The thrust acts along the body z axis at mid-interval, `z_mid = R (e_z + (t/2) (w_y, -w_x, 0))` (normalized),
    so `a = (thrust / m) z_mid - g e_z`, `p' = p + v t + a t^2 / 2`, `v' = v + a t` (drag and wind ignored).
    """
    t = REACTION_TIME_S
    b = command[:, 1:3] @ _TILT_STEP + _UP  # z_mid in the body frame, |b| >= 1
    scale = command[:, :1] / (limits.mass_kg * np.sqrt(np.add.reduce(b * b, axis=1, keepdims=True)))
    accel = (rot @ (b * scale)[:, :, None])[:, :, 0] - _GRAVITY
    v = state["linear_velocity_m_s"]
    return state["position_m"] + v * t + (0.5 * t * t) * accel, v + accel * t


def geofence_violations(
    limits: QuadrotorLimits, position_m: np.ndarray, velocity_m_s: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Faces whose barrier `v_n <= sign(d) sqrt(2 brake_accel |d|)` is violated, i.e. `v_n |v_n| > 2 brake_accel d`.

    Args:
        limits: the quadrotor's limits.
        position_m: `[N, 3]` (predicted) world position, m.
        velocity_m_s: `[N, 3]` (predicted) world velocity, m/s.

    Returns:
        `[N, 3]` bool per axis for the lower faces and for the upper faces.

    """
    two_a = 2 * limits.brake_accel_m_s2
    low = velocity_m_s * np.abs(velocity_m_s) < -two_a * (position_m - limits.geofence_low_m)  # v_n = -v
    high = velocity_m_s * np.abs(velocity_m_s) > two_a * (limits.geofence_high_m - position_m)
    return low, high


def violated_quadrotor(limits: QuadrotorLimits, state: Mapping[str, np.ndarray]) -> np.ndarray:
    """`[N]` bool: the measured state breaks a limit.

    Outside the geofence box (`position_m` `[N, 3]` m) or tilted beyond `tilt_max_rad` (`quat_wxyz` `[N, 4]`: the
    body z axis's angle from vertical).
    """
    p = state["position_m"]
    outside = ((p < limits.geofence_low_m) | (p > limits.geofence_high_m)).any(axis=1)
    return outside | (rotation(state["quat_wxyz"])[0][:, 2, 2] < np.cos(limits.tilt_max_rad))


def brake_command(limits: QuadrotorLimits, rot: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Braking command `[N, 4]` for violated faces `low`, `high` `[N, 3]` bool (see module docstring, step 2)."""
    accel = BRAKE_FACTOR * limits.brake_accel_m_s2 * (low.astype(np.float64) - high)
    f = limits.mass_kg * (accel + GRAVITY_M_S2 * _UP)
    f[:, 2] = np.maximum(f[:, 2], 0.1 * limits.mass_kg * GRAVITY_M_S2)
    horizontal = np.linalg.norm(f[:, :2], axis=1)
    allowed = f[:, 2] * np.tan(limits.tilt_max_rad)
    f[:, :2] *= np.minimum(1.0, allowed / np.maximum(horizontal, 1e-12))[:, None]
    thrust = np.clip(np.sum(f * rot[:, :, 2], axis=1), limits.thrust_min_n, limits.thrust_max_n)
    f_body = np.einsum("nji,nj->ni", rot, f / np.linalg.norm(f, axis=1, keepdims=True))
    rates = attitude_rates(limits, f_body)
    return np.column_stack([thrust, rates[:, :2], np.zeros(len(thrust))])


def fallback_quadrotor(limits: QuadrotorLimits, state: Mapping[str, np.ndarray]) -> np.ndarray:
    """Fallback `[N, 4]`: level the attitude and descend at `descent_speed_m_s` (module docstring)."""
    rot, _ = rotation(_level_if_invalid(state["quat_wxyz"]))
    up = rot[:, 2, :]  # world up in the body frame
    vz = np.nan_to_num(np.asarray(state["linear_velocity_m_s"], dtype=np.float64)[:, 2], nan=0.0,
                       posinf=0.0, neginf=0.0)
    accel = GRAVITY_M_S2 + DESCENT_GAIN_PER_S * (-limits.descent_speed_m_s - vz)
    cos_tilt = np.maximum(up[:, 2], np.cos(limits.tilt_max_rad))
    thrust = np.where(up[:, 2] > 0, limits.mass_kg * accel / cos_tilt, limits.thrust_min_n)
    rates = attitude_rates(limits, up)
    return np.column_stack([np.clip(thrust, limits.thrust_min_n, limits.thrust_max_n), rates[:, :2],
                            np.zeros(len(thrust))])


def _limit_tilt(limits: QuadrotorLimits, rot: np.ndarray, command: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Step 3: level where tilt > tilt_max and the rates would increase it; returns command and `tilt` events."""
    up = rot[:, 2, :]  # world up in the body frame, g_b
    tilting = up[:, 0] * command[:, 2] < up[:, 1] * command[:, 1]  # d cos(tilt)/dt = g_x w_y - g_y w_x < 0
    tilt = (up[:, 2] < np.cos(limits.tilt_max_rad)) & tilting
    if np.count_nonzero(tilt):
        command[tilt, 1:3] = attitude_rates(limits, up[tilt])[:, :2]
    return command, tilt


def quadrotor_rules(
    limits: QuadrotorLimits, state: Mapping[str, np.ndarray], proposed: np.ndarray
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Steps 1-3 (module docstring) on valid, fresh rows: applied `[N, 4]` and the limit events `[N]` bool."""
    command = np.minimum(np.maximum(proposed, limits.command_low), limits.command_high)
    changed = command != proposed
    rot, _ = rotation(state["quat_wxyz"])
    command, tilt = _limit_tilt(limits, rot, command)
    face_low, face_high = geofence_violations(limits, *predict(limits, state, rot, command))
    geofence = np.logical_or.reduce(face_low | face_high, axis=1)
    if np.count_nonzero(geofence):
        brake = brake_command(limits, rot[geofence], face_low[geofence], face_high[geofence])
        command[geofence], tilt[geofence] = _limit_tilt(limits, rot[geofence], brake)
    events = {"thrust_limit": changed[:, 0], "rate_limit": np.logical_or.reduce(changed[:, 1:], axis=1),
              "geofence": geofence, "tilt": tilt}
    return command, events


def certify_quadrotor(
    limits: QuadrotorLimits, state: Mapping[str, np.ndarray], proposed: np.ndarray
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Certify quadrotor thrust and body-rate commands.

    Args:
        limits: `limits_for(quadrotor_spec)`.
        state: `inputs_finite` `[N]` bool, `input_age_s` `[N]` s, `estop` `[N]` bool (latched), `last_applied`
            `[N, 4]`, `position_m` `[N, 3]` world, `quat_wxyz` `[N, 4]` body to world, `linear_velocity_m_s`
            `[N, 3]` world, `angular_velocity_rad_s` `[N, 3]` body.
        proposed: `[N, 4]` thrust N, roll, pitch, yaw rate rad/s.

    Returns:
        applied `[N, 4]` float64 and `{name: [N] bool}` for every name in `EVENT_NAMES`.

    """
    proposed = np.asarray(proposed, dtype=np.float64)
    quat = np.asarray(state["quat_wxyz"], dtype=np.float64)
    bad_quat = ~(np.abs(np.add.reduce(quat * quat, axis=1) - 1.0) <= QUAT_NORM2_TOLERANCE)
    guards = guard_events(state, proposed, INPUT_KEYS, limits.watchdog_periods * limits.control_dt_s, bad_quat)
    return run_with_fallback(limits, state, proposed, guards, quadrotor_rules, fallback_quadrotor, LIMIT_EVENTS)
