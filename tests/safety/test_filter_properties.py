"""Properties of the safety filter over >= 10^5 generated states and proposals per robot.

Each hypothesis example draws a seed; the seed draws a batch of BATCH random states and proposals with numpy (mixing
safe proposals, violating ones, non-finite values, stale inputs and e-stops), so MAX_EXAMPLES * BATCH cases run per
robot in a few seconds. Checked on every row: the fallback rows get exactly the fallback; every other row respects
every limit (bounds, rates, workspace via FK, tilt rule, barriers); safe proposals pass bit for bit.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from robot_rl.robots import forward_kinematics, load_robot
from robot_rl.safety import SafetyFilter
from robot_rl.safety.quadrotor import predict, rotation

BATCH = 2000
MAX_EXAMPLES = 50  # 50 x 2000 = 100,000 cases per robot
TOL = 1e-9
seeds = st.integers(min_value=0, max_value=2**32 - 1)
ARM = SafetyFilter.for_robot(load_robot("arm"))
QUAD = SafetyFilter.for_robot(load_robot("quadrotor"))
BASE = SafetyFilter.for_robot(load_robot("mobile_base"))
HOME = np.array([0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785])


def common(rng, n_cmd, last):
    """Guard inputs: ~2 % each of non-finite observation, stale inputs (age > 3 periods) and e-stop."""
    return {"inputs_finite": rng.random(BATCH) > 0.02, "input_age_s": rng.uniform(0, 3.1, BATCH) * np.where(
        rng.random(BATCH) < 0.02, 1.0, 0.0), "estop": rng.random(BATCH) < 0.02, "last_applied": last}


def sprinkle_nan(rng, x, fraction=0.01):
    x = x.copy()
    rows = rng.random(len(x)) < fraction
    x[rows, rng.integers(0, x.shape[1], rows.sum())] = rng.choice([np.nan, np.inf, -np.inf], rows.sum())
    return x


def expected_fallback(state, proposed, keys, stale_after_s):
    bad = ~state["inputs_finite"] | ~np.isfinite(proposed).all(1) | ~(state["input_age_s"] <= stale_after_s)
    for k in keys:
        bad |= ~np.isfinite(state[k]).all(1)
    return bad | state["estop"]


def check_fallback(filt, state, proposed, applied, events, fb):
    assert applied.dtype == np.float64 and applied.shape == proposed.shape
    assert np.isfinite(applied).all()
    assert np.array_equal(events["fallback"], fb)
    assert np.array_equal(applied[fb], filt.fallback(state)[fb])  # exactly the fallback, in the same call
    assert not events["clipped"][fb].any()
    assert set(events) == set(filt.event_names)


def arm_case(rng):
    lim = ARM.limits
    near_home = rng.random(BATCH) < 0.6
    q = np.where(near_home[:, None], HOME + rng.uniform(-0.8, 0.8, (BATCH, 7)),
                 rng.uniform(lim.position_min_rad, lim.position_max_rad, (BATCH, 7)))
    qd = rng.uniform(-1.2, 1.2, (BATCH, 7)) * lim.velocity_max_rad_s
    last = np.where(rng.random((BATCH, 1)) < 0.3, q, q + rng.uniform(-0.1, 0.1, (BATCH, 7)))
    safe_step = last + rng.uniform(lim.velocity_min_rad_s, lim.velocity_max_rad_s, (BATCH, 7)) * lim.control_dt_s
    wild = last + rng.uniform(-0.5, 0.5, (BATCH, 7))
    proposed = np.where(rng.random((BATCH, 1)) < 0.5, safe_step, wild)
    state = {**common(rng, 7, last), "joint_pos_rad": sprinkle_nan(rng, q, 0.005), "joint_vel_rad_s": qd}
    return state, sprinkle_nan(rng, proposed)


@settings(max_examples=MAX_EXAMPLES, deadline=None)
@given(seed=seeds)
def test_arm_properties(seed):
    rng = np.random.default_rng(seed)
    state, proposed = arm_case(rng)
    lim = ARM.limits
    applied, events = ARM.certify(state, proposed)
    fb = expected_fallback(state, proposed, ("joint_pos_rad", "joint_vel_rad_s", "last_applied"), 0.06)
    check_fallback(ARM, state, proposed, applied, events, fb)
    ok = ~fb
    a, last = applied[ok], state["last_applied"][ok]
    assert ((a >= lim.target_min_rad) & (a <= lim.target_max_rad)).all()  # position limits with margin
    ee = forward_kinematics(lim.chain, a)
    inside = ((ee >= lim.workspace_low_m) & (ee <= lim.workspace_high_m)).all(1)
    hold = np.clip(state["joint_pos_rad"][ok], lim.target_min_rad, lim.target_max_rad)
    held = (a == hold).all(1)
    assert (inside | held).all()  # workspace, unless holding an already-outside position
    last_in = ((last >= lim.target_min_rad) & (last <= lim.target_max_rad)).all(1)
    last_ws = ((lambda e: ((e >= lim.workspace_low_m) & (e <= lim.workspace_high_m)).all(1))(
        forward_kinematics(lim.chain, last)))
    lo, hi = lim.velocity_min_rad_s, lim.velocity_max_rad_s
    v = (a - last) / lim.control_dt_s
    rate_ok = ((v >= lo - TOL) & (v <= hi + TOL)).all(1)
    assert rate_ok[last_in & (~events["workspace"][ok] | last_ws)].all()  # speed
    p = proposed[ok]
    v_p = (p - last) / lim.control_dt_s
    ee_p = forward_kinematics(lim.chain, p)
    safe = (((p >= lim.target_min_rad) & (p <= lim.target_max_rad)).all(1) & ((v_p >= lo) & (v_p <= hi)).all(1)
            & ((ee_p >= lim.workspace_low_m) & (ee_p <= lim.workspace_high_m)).all(1))
    assert safe.sum() > BATCH // 10
    assert np.array_equal(a[safe], p[safe]) and not events["clipped"][ok][safe].any()  # identity, bit for bit
    unchanged = ~events["clipped"][ok]
    assert np.array_equal(a[unchanged], p[unchanged])


def random_quat(rng, max_tilt_rad):
    """Quaternions wxyz: random yaw, tilt ~ U(0, max_tilt) about a random horizontal axis."""
    yaw, tilt, az = rng.uniform(-np.pi, np.pi, BATCH), rng.uniform(0, max_tilt_rad, BATCH), rng.uniform(
        -np.pi, np.pi, BATCH)
    q_yaw = np.stack([np.cos(yaw / 2), 0 * yaw, 0 * yaw, np.sin(yaw / 2)], 1)
    q_tilt = np.stack([np.cos(tilt / 2), np.sin(tilt / 2) * np.cos(az), np.sin(tilt / 2) * np.sin(az), 0 * yaw], 1)
    w1, v1, w2, v2 = q_tilt[:, :1], q_tilt[:, 1:], q_yaw[:, :1], q_yaw[:, 1:]
    return np.hstack([w1 * w2 - (v1 * v2).sum(1, keepdims=True), w1 * v2 + w2 * v1 + np.cross(v1, v2)])


def quad_case(rng):
    lim = QUAD.limits
    calm = rng.random((BATCH, 1)) < 0.5  # well inside the fence, slow, near hover
    pos = np.where(calm, rng.uniform([-1.5, -1.5, 0.8], [1.5, 1.5, 2.2], (BATCH, 3)),
                   rng.uniform(lim.geofence_low_m - 0.3, lim.geofence_high_m + 0.3, (BATCH, 3)))
    vel = rng.uniform(-3, 3, (BATCH, 3)) * np.where(calm, 0.1, 1.0)
    quat = random_quat(rng, np.where(calm[:, 0], 0.9, np.pi))
    proposed = np.where(calm, np.column_stack([rng.uniform(0.2, 0.35, BATCH), rng.uniform(-2, 2, (BATCH, 3))]),
                        np.column_stack([rng.uniform(-0.1, 0.7, BATCH), rng.uniform(-8, 8, (BATCH, 3))]))
    last = np.column_stack([rng.uniform(0, 0.596, BATCH), rng.uniform(-6, 6, (BATCH, 3))])
    state = {**common(rng, 4, last), "position_m": pos, "quat_wxyz": sprinkle_nan(rng, quat, 0.005),
             "linear_velocity_m_s": vel, "angular_velocity_rad_s": rng.uniform(-3, 3, (BATCH, 3))}
    return state, sprinkle_nan(rng, proposed)


def barrier_margin(lim, pos, vel):
    """min over faces of sign(d) sqrt(2 a |d|) - v_n (m/s): >= 0 where the barrier holds, in the sqrt form."""
    def face(d, v_n):
        return np.sign(d) * np.sqrt(2 * lim.brake_accel_m_s2 * np.abs(d)) - v_n
    return np.minimum(face(pos - lim.geofence_low_m, -vel), face(lim.geofence_high_m - pos, vel)).min(1)


@settings(max_examples=MAX_EXAMPLES, deadline=None)
@given(seed=seeds)
def test_quadrotor_properties(seed):
    rng = np.random.default_rng(seed)
    state, proposed = quad_case(rng)
    lim = QUAD.limits
    applied, events = QUAD.certify(state, proposed)
    keys = ("position_m", "quat_wxyz", "linear_velocity_m_s", "angular_velocity_rad_s", "last_applied")
    fb = expected_fallback(state, proposed, keys, 0.03)
    check_fallback(QUAD, state, proposed, applied, events, fb)
    ok = ~fb
    a, p = applied[ok], proposed[ok]
    assert ((a >= lim.command_low - 1e-12) & (a <= lim.command_high + 1e-12)).all()  # thrust and rate bounds
    rot, _ = rotation(state["quat_wxyz"][ok])
    up = rot[:, 2, :]
    tilted = up[:, 2] < np.cos(lim.tilt_max_rad)
    tilt_rate = up[:, 0] * a[:, 2] - up[:, 1] * a[:, 1]  # d cos(tilt)/dt
    assert (tilt_rate[tilted] >= -1e-12).all()  # tilt rule: never tilting further beyond tilt_max
    sub = {k: v[ok] for k, v in state.items()}
    fence = events["geofence"][ok]
    assert (barrier_margin(lim, *predict(lim, sub, rot, a))[~fence] >= -1e-7).all()  # barrier under applied
    assert (a[fence, 3] == 0).all()  # braking: yaw rate 0
    safe = ((p >= lim.command_low) & (p <= lim.command_high)).all(1) & ~(tilted & (
        up[:, 0] * p[:, 2] - up[:, 1] * p[:, 1] < 0)) & (barrier_margin(lim, *predict(lim, sub, rot, p)) > 1e-7)
    assert safe.sum() > BATCH // 10
    assert np.array_equal(a[safe], p[safe]) and not events["clipped"][ok][safe].any()  # identity, bit for bit
    unchanged = ~events["clipped"][ok]
    assert np.array_equal(a[unchanged], p[unchanged])


def base_case(rng):
    n_beams = len(BASE.limits.beam_cos)
    ranges = rng.uniform(0.12, 4.0, (BATCH, n_beams)) * np.where(rng.random((BATCH, 1)) < 0.5, 0.3, 1.0)
    ranges[rng.random((BATCH, n_beams)) < 0.1] = np.inf  # no return
    ranges[rng.random(BATCH) < 0.01, 0] = np.nan
    last = np.column_stack([rng.uniform(-0.5, 1.0, BATCH), rng.uniform(-2, 2, BATCH)])
    step = np.array([BASE.limits.accel_max_m_s2, BASE.limits.angular_accel_max_rad_s2]) * BASE.limits.control_dt_s
    near = last + rng.uniform(-1.0, 1.0, (BATCH, 2)) * step  # within one cycle's acceleration
    wild = np.column_stack([rng.uniform(-1, 1.5, BATCH), rng.uniform(-3, 3, BATCH)])
    proposed = np.where(rng.random((BATCH, 1)) < 0.7, near, wild)  # enough safe rows for the identity check
    state = {**common(rng, 2, last), "forward_velocity_m_s": last[:, 0], "yaw_rate_rad_s": last[:, 1],
             "lidar_ranges_m": ranges}
    return state, sprinkle_nan(rng, proposed)


def base_speed_limits(lim, ranges):
    """Largest forward and reverse speeds allowed by the barrier, from the points in the inflated lane."""
    angle = np.arctan2(lim.beam_sin, lim.beam_cos)
    r = np.where(np.isinf(ranges), 1e9, ranges)
    x, y = r * np.cos(angle), r * np.sin(angle)
    radius = lim.footprint_radius_m + lim.stop_distance_m
    lane = np.abs(y) < radius
    reach = np.sqrt(np.clip(radius**2 - y**2, 0, None))
    fwd = np.where(lane & (x > 0), x - reach, np.inf).min(1)
    rev = np.where(lane & (x <= 0), -x - reach, np.inf).min(1)
    b2 = 2 * lim.brake_decel_m_s2
    return np.sqrt(b2 * np.clip(fwd, 0, None)), np.sqrt(b2 * np.clip(rev, 0, None))


@settings(max_examples=MAX_EXAMPLES, deadline=None)
@given(seed=seeds)
def test_mobile_base_properties(seed):
    rng = np.random.default_rng(seed)
    state, proposed = base_case(rng)
    lim = BASE.limits
    applied, events = BASE.certify(state, proposed)
    fb = expected_fallback(state, proposed, ("last_applied",), 0.15) | np.isnan(state["lidar_ranges_m"]).any(1)
    check_fallback(BASE, state, proposed, applied, events, fb)
    assert (applied[fb] == 0).all()  # stop
    ok = ~fb
    a, p, last = applied[ok], proposed[ok], state["last_applied"][ok]
    assert ((a >= lim.command_low) & (a <= lim.command_high)).all()  # velocity limits
    step = np.array([lim.accel_max_m_s2, lim.angular_accel_max_rad_s2]) * lim.control_dt_s
    lo, hi = np.minimum(last - step, 0), np.maximum(last + step, 0)  # speeding up <= a dt, braking free
    assert ((a >= lo - TOL) & (a <= hi + TOL)).all()
    v_fwd, v_rev = base_speed_limits(lim, state["lidar_ranges_m"][ok])
    assert ((a[:, 0] <= v_fwd + TOL) & (-a[:, 0] <= v_rev + TOL)).all()  # lidar barrier
    assert np.array_equal(a[:, 1], np.clip(p[:, 1], np.maximum(lo[:, 1], lim.command_low[1]),
                                           np.minimum(hi[:, 1], lim.command_high[1])))  # turning never blocked
    safe = (((p >= lim.command_low) & (p <= lim.command_high) & (p >= lo) & (p <= hi)).all(1)
            & (p[:, 0] <= v_fwd * (1 - 1e-9)) & (-p[:, 0] <= v_rev * (1 - 1e-9)))
    assert safe.sum() > BATCH // 10
    assert np.array_equal(a[safe], p[safe]) and not events["clipped"][ok][safe].any()  # identity, bit for bit


def test_at_least_1e5_cases_per_robot():
    assert MAX_EXAMPLES * BATCH >= 100_000  # 50 examples x 2000 rows, for each of the three robots
