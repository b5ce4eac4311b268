"""Handover properties: 10^5 generated takeover sequences per robot, closed loop, 0 limit violations.

Each hypothesis example draws a seed; the seed draws BATCH sequences of TICKS ticks with numpy: the deadman toggles
at random, the operator's input goes stale, e-stops and re-enables happen, the policy proposes near the last command
and the operator proposes anything (far beyond the limits, NaN). Every tick runs `arbitrate`, feeds the winner (or
the fallback for a 'hold' release) to `SafetyFilter.certify`, and the plant follows the applied command. Checked on
every row and tick, switches included: e-stop rows get exactly the fallback; all others respect the position and
command bounds and the filter's rate limits against the last applied command (arm: implied speed, acceleration and
jerk being the generator's after the filter; mobile base: acceleration per cycle; quadrotor: bounds, its only step
limit); the operator commands only while its deadman is held, its input fresh, and no e-stop.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from robot_rl.deploy.arbitration import HOLD, OPERATOR, ArbiterState, arbitrate
from robot_rl.robots import load_robot
from robot_rl.safety import SafetyFilter

BATCH, TICKS = 2000, 8
MAX_EXAMPLES = 50  # 50 x 2000 = 100,000 sequences per robot, 800,000 ticks
TOL = 1e-9
HOME = np.array([0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785])
FILTERS = {kind: SafetyFilter.for_robot(load_robot(kind)) for kind in ("arm", "mobile_base", "quadrotor")}
seeds = st.integers(min_value=0, max_value=2**32 - 1)


def wild(rng, low, high):
    """Operator proposals anywhere in 1.5 x the command box, 2 % with a NaN."""
    span = high - low
    x = rng.uniform(low - 0.25 * span, high + 0.25 * span, (BATCH, len(low)))
    x[rng.random(BATCH) < 0.02, 0] = np.nan
    return x


def guards(rng, last):
    return {"inputs_finite": np.ones(BATCH, bool), "input_age_s": np.zeros(BATCH), "last_applied": last}


def arm_state(rng, last, q, qd):
    return guards(rng, last) | {"joint_pos_rad": q, "joint_vel_rad_s": qd}


def check_arm(lim, state, applied, events):
    ok = ~events["fallback"] & ~events["workspace"]
    a, last = applied[ok], state["last_applied"][ok]
    assert ((a >= lim.target_min_rad - TOL) & (a <= lim.target_max_rad + TOL)).all()
    v = (a - last) / lim.control_dt_s
    assert (np.abs(v) <= lim.velocity_max_rad_s + TOL).all(), "a handover stepped beyond the arm's speed limits"


def check_base(lim, state, applied, events):
    ok = ~events["fallback"]
    a, last = applied[ok], state["last_applied"][ok]
    lo, hi = np.minimum(last - lim.command_step, 0), np.maximum(last + lim.command_step, 0)
    assert ((a >= lo - TOL) & (a <= hi + TOL)).all(), "a handover sped the base up beyond accel x dt"
    assert ((a >= lim.command_low) & (a <= lim.command_high)).all()


def check_quad(lim, state, applied, events):
    a = applied[~events["fallback"]]
    assert ((a >= lim.command_low - 1e-12) & (a <= lim.command_high + 1e-12)).all()


def run_sequences(kind, rng, hold_on_release):
    """Closed-loop sequences; returns how many ticks switched source (so the test knows switches were exercised)."""
    filt = FILTERS[kind]
    lim = filt.limits
    if kind == "arm":
        low, high = lim.target_min_rad, lim.target_max_rad
        q = np.clip(HOME + rng.uniform(-0.5, 0.5, (BATCH, 7)), low, high)
        last, qd = q.copy(), np.zeros((BATCH, 7))
    else:
        low, high = lim.command_low, lim.command_high
        last = rng.uniform(low, high, (BATCH, 4)) if kind == "quadrotor" else np.zeros((BATCH, 2))
    arb, deadman, prev_source, switches = ArbiterState.initial(BATCH), np.zeros(BATCH, bool), None, 0
    for _ in range(TICKS):
        deadman ^= rng.random(BATCH) < 0.3
        fresh, estop, reenable = rng.random(BATCH) > 0.1, rng.random(BATCH) < 0.03, rng.random(BATCH) < 0.1
        arb, source, onset, _ = arbitrate(arb, deadman, fresh, estop, reenable, hold_on_release)
        assert (source[estop] == HOLD).all() and not (source == OPERATOR)[~(deadman & fresh & ~estop)].any()
        if kind == "arm":
            state = arm_state(rng, last, q, qd)
        elif kind == "mobile_base":
            state = guards(rng, last) | {"forward_velocity_m_s": last[:, 0], "yaw_rate_rad_s": last[:, 1],
                                         "lidar_ranges_m": np.full((BATCH, len(lim.beam_cos)), np.inf)}
        else:
            state = guards(rng, last) | {"position_m": np.tile([0.0, 0.0, 1.5], (BATCH, 1)),
                                         "quat_wxyz": np.tile([1.0, 0, 0, 0], (BATCH, 1)),
                                         "linear_velocity_m_s": np.zeros((BATCH, 3)),
                                         "angular_velocity_rad_s": np.zeros((BATCH, 3))}
        state["estop"] = estop
        policy = np.clip(last + rng.normal(0, 0.05, last.shape) * (high - low), low, high)
        operator = wild(rng, low, high)
        candidate = np.where((source == OPERATOR)[:, None], operator,
                             np.where((source == HOLD)[:, None], filt.fallback(state), policy))
        applied, events = filt.certify(state, candidate)
        assert np.array_equal(applied[estop], filt.fallback(state)[estop])  # e-stop: exactly the fallback
        {"arm": check_arm, "mobile_base": check_base, "quadrotor": check_quad}[kind](lim, state, applied, events)
        if prev_source is not None:
            switches += int((source != prev_source).sum())
        prev_source = source
        if kind == "arm":  # a servo that tracks its target within one period
            qd, q, last = (applied - q) / lim.control_dt_s, applied, applied
        else:
            last = applied
    return switches


@settings(max_examples=MAX_EXAMPLES, deadline=None)
@given(seed=seeds)
def test_arm_handovers(seed):
    rng = np.random.default_rng(seed)
    assert run_sequences("arm", rng, hold_on_release=bool(seed % 2)) > BATCH


@settings(max_examples=MAX_EXAMPLES, deadline=None)
@given(seed=seeds)
def test_mobile_base_handovers(seed):
    rng = np.random.default_rng(seed)
    assert run_sequences("mobile_base", rng, hold_on_release=bool(seed % 2)) > BATCH


@settings(max_examples=MAX_EXAMPLES, deadline=None)
@given(seed=seeds)
def test_quadrotor_handovers(seed):
    rng = np.random.default_rng(seed)
    assert run_sequences("quadrotor", rng, hold_on_release=bool(seed % 2)) > BATCH


def test_at_least_1e5_sequences_per_robot():
    assert MAX_EXAMPLES * BATCH >= 100_000  # 50 examples x 2000 sequences, each of 8 ticks
