"""The 1 kHz jerk-limited generator: hand-computed profiles, limits of every sample, same as Ruckig's online API.

Limits are checked on finite differences of the 1 kHz samples: the first difference of positions over one cycle is
a mean velocity, the second a weighted mean acceleration, the third a weighted mean jerk, so none may exceed its limit
(up to rounding).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruckig import InputParameter, OutputParameter, Ruckig

from robot_rl.safety.trajectory import JerkLimitedGenerator, TrajectoryError

# Panda (Franka Emika, "Robot and interface specifications"), joints 1-7.
V_MAX = np.array([2.175, 2.175, 2.175, 2.175, 2.61, 2.61, 2.61])
A_MAX = np.array([15.0, 7.5, 10.0, 12.5, 15.0, 20.0, 20.0])
J_MAX = np.array([7500.0, 3750.0, 5000.0, 6250.0, 7500.0, 10000.0, 10000.0])
LOW = np.array([-2.8973, -1.7628, -2.8973, -3.0718, -2.8973, -0.0175, -2.8973])
HIGH = np.array([2.8973, 1.7628, 2.8973, -0.0698, 2.8973, 3.7525, 2.8973])
HOME = np.array([0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785])
DT = 0.001
REL = 1e-6  # rounding allowance on the limits (third differences of positions divide rounding by DT^3 = 1e-9)


def panda(num: int) -> JerkLimitedGenerator:
    gen = JerkLimitedGenerator(V_MAX, A_MAX, J_MAX, num)
    gen.reset(np.arange(num), np.tile(HOME, (num, 1)))
    return gen


def assert_within_limits(start: np.ndarray, positions: np.ndarray, velocities: np.ndarray,
                         accelerations: np.ndarray) -> None:
    """`start` `[N, n]` the position before the first sample (at rest), samples `[N, m, n]` 1 ms apart."""
    p = np.concatenate([start[:, None], start[:, None], start[:, None], positions], axis=1)  # at rest before
    v_fd = np.diff(p, axis=1) / DT
    a_fd = np.diff(p, 2, axis=1) / DT**2
    j_fd = np.diff(p, 3, axis=1) / DT**3
    for name, values, bound in (("velocity", velocities, V_MAX), ("acceleration", accelerations, A_MAX),
                                ("mean velocity", v_fd, V_MAX), ("mean acceleration", a_fd, A_MAX),
                                ("mean jerk", j_fd, J_MAX)):
        excess = np.abs(values) / bound - 1.0
        assert excess.max() <= REL, f"{name} beyond its limit by {excess.max():.3g} (relative)"
    j_samples = np.diff(accelerations, axis=1) / DT  # jerk between consecutive acceleration samples
    assert (np.abs(j_samples) / J_MAX - 1.0).max() <= REL


def test_rest_to_target_reaches_it_within_limits():
    gen = panda(2)
    target = np.stack([HOME + [0.5, 0.3, -0.4, 0.2, 1.0, -0.5, 0.8], HOME])  # row 1 already there
    out = gen.advance(target, 1.5)
    assert out.positions.shape == out.velocities.shape == out.accelerations.shape == (2, 1500, 7)
    np.testing.assert_allclose(out.times[[0, 1, -1]], [0.001, 0.002, 1.5])
    np.testing.assert_allclose(gen.position, target, atol=1e-9)
    np.testing.assert_allclose(gen.velocity, 0.0, atol=1e-9)
    np.testing.assert_allclose(gen.acceleration, 0.0, atol=1e-9)
    assert_within_limits(np.tile(HOME, (2, 1)), out.positions, out.velocities, out.accelerations)
    # Row 1 was at its target at rest: it stays, exactly.
    assert np.array_equal(out.positions[1], np.tile(HOME, (1500, 1)))
    assert not out.velocities[1].any() and not out.accelerations[1].any()


def test_first_samples_follow_the_jerk_limit():
    # From rest toward a far target joint 2 (the slowest, J = 3750 rad/s^3) starts with full jerk:
    # a(t) = J t, v(t) = J t^2 / 2, p(t) = J t^3 / 6; at t = 1 ms: a = 3.75, v = 1.875e-3, p = 6.25e-7.
    gen = JerkLimitedGenerator(V_MAX[1:2], A_MAX[1:2], J_MAX[1:2], 1)
    out = gen.advance(np.array([[1.0]]), 0.002)
    np.testing.assert_allclose(out.accelerations[0, :, 0], [3.75, 7.5], rtol=1e-9)
    np.testing.assert_allclose(out.velocities[0, :, 0], [1.875e-3, 7.5e-3], rtol=1e-9)
    np.testing.assert_allclose(out.positions[0, :, 0], [6.25e-7, 5e-6], rtol=1e-9)


@pytest.mark.parametrize(
    ("v", "a", "j", "distance", "duration"),
    [
        # Velocity and acceleration limits reached: A^2/J = 0.4 <= V. Acceleration phase V/A + A/J = 0.5 + 0.1 =
        # 0.6 s covering V * 0.6 / 2 = 0.6 m; 3 m needs T = D/V + V/A + A/J = 1.5 + 0.5 + 0.1 = 2.1 s.
        (2.0, 4.0, 40.0, 3.0, 2.1),
        # Acceleration limit not reached: A^2/J = 1.6 > V = 1. Jerk phases of sqrt(V/J) = 0.25 s reach V;
        # T = D/V + 2 sqrt(V/J) = 2 + 0.5 = 2.5 s.
        (1.0, 8.0, 16.0, 2.0, 2.5),
        # Neither reached: four jerk phases of t = (D / (2J))^(1/3) = (0.25 / 32)^(1/3) = 0.198425 s each,
        # T = 4 t = 0.793701 s (peak v = J t^2 = 0.63 < V, peak a = J t = 3.17 < A).
        (5.0, 8.0, 16.0, 0.25, 4 * (0.25 / 32.0) ** (1 / 3)),
        # Panda joint 2 over 1 rad: T = 1/2.175 + 2.175/7.5 + 7.5/3750 = 0.459770 + 0.29 + 0.002 = 0.751770 s.
        (2.175, 7.5, 3750.0, 1.0, 1 / 2.175 + 2.175 / 7.5 + 7.5 / 3750),
    ],
)
def test_rest_to_rest_duration_is_the_closed_form(v, a, j, distance, duration):
    gen = JerkLimitedGenerator([v], [a], [j], 1)
    out = gen.advance(np.array([[distance]]), duration + 0.01)
    reached = np.abs(out.positions[0, :, 0] - distance) < 1e-10
    first = out.times[np.argmax(reached)]
    assert reached[np.argmax(reached):].all()
    assert duration - 1e-9 <= first < duration + DT  # the first 1 ms sample at or after T
    assert out.positions[0, :, 0].max() <= distance + 1e-10  # no overshoot


def test_reset_sets_only_the_given_rows():
    gen = panda(3)
    gen.advance(np.tile(HOME + 0.3, (3, 1)), 0.02)
    before = gen.position
    gen.reset(np.array([1]), (HOME - 0.1)[None], velocity=np.full((1, 7), 0.5))
    np.testing.assert_array_equal(gen.position[[0, 2]], before[[0, 2]])
    np.testing.assert_array_equal(gen.position[1], HOME - 0.1)
    np.testing.assert_array_equal(gen.velocity[1], 0.5)
    np.testing.assert_array_equal(gen.acceleration[1], 0.0)
    assert gen.acceleration[0].any()  # rows 0 and 2 keep their motion
    # From the reset state the next samples continue it: position grows by about v * dt = 0.5 ms.
    out = gen.advance(np.tile(HOME - 0.1, (3, 1)), 0.001)
    np.testing.assert_allclose(out.positions[1, 0], HOME - 0.1 + 0.5e-3, atol=1e-5)


def test_same_samples_as_ruckigs_online_api():
    rng = np.random.default_rng(3)
    gen = panda(1)
    otg, inp, out = Ruckig(7, DT), InputParameter(7), OutputParameter(7)
    inp.max_velocity, inp.max_acceleration, inp.max_jerk = V_MAX.tolist(), A_MAX.tolist(), J_MAX.tolist()
    inp.current_position = HOME.tolist()
    for _ in range(10):
        target = np.clip(HOME + rng.normal(0, 0.1, 7), LOW, HIGH)
        samples = gen.advance(target[None], 0.02)
        inp.target_position = target.tolist()
        online = []
        for _ in range(20):
            assert otg.update(inp, out) >= 0
            online.append((out.new_position, out.new_velocity, out.new_acceleration))
            out.pass_to_input(inp)
        online = np.array(online)
        np.testing.assert_allclose(samples.positions[0], online[:, 0], atol=1e-12)
        np.testing.assert_allclose(samples.velocities[0], online[:, 1], atol=1e-12)
        np.testing.assert_allclose(samples.accelerations[0], online[:, 2], atol=1e-12)


def test_stride_returns_every_kth_sample_of_the_same_motion():
    full, strided = panda(2), panda(2)
    rng = np.random.default_rng(5)
    for _ in range(5):
        target = np.clip(HOME + rng.normal(0, 0.2, (2, 7)), LOW, HIGH)
        a, b = full.advance(target, 0.02), strided.advance(target, 0.02, stride=2)
        np.testing.assert_allclose(b.times, a.times[1::2])  # 2, 4, ..., 20 ms
        for x, y in ((a.positions, b.positions), (a.velocities, b.velocities), (a.accelerations, b.accelerations)):
            np.testing.assert_array_equal(y, x[:, 1::2])
        np.testing.assert_array_equal(full.position, strided.position)
    with pytest.raises(ValueError, match="stride 3"):
        strided.advance(HOME[None].repeat(2, 0), 0.02, stride=3)


def test_errors_name_the_row_and_inputs():
    gen = panda(2)
    with pytest.raises(TrajectoryError, match="(?s)row 1: .*exceeds its maximum velocity.*target_velocity = \\[3, 0"):
        gen.advance(np.tile(HOME + 0.1, (2, 1)), 0.02, target_velocity=np.array([[0.0] * 7, [3.0] + [0.0] * 6]))
    np.testing.assert_array_equal(gen.position, np.tile(HOME, (2, 1)))  # row 0 did not move either
    gen.advance(np.tile(HOME + 0.1, (2, 1)), 0.5)  # no target velocity given: the rejected one is gone
    np.testing.assert_allclose(gen.position, np.tile(HOME + 0.1, (2, 1)), atol=1e-9)
    np.testing.assert_allclose(gen.velocity, 0.0, atol=1e-9)
    with pytest.raises(TrajectoryError, match="non-finite values in rows \\[0\\]"):
        gen.advance(np.array([[np.nan] * 7, HOME]), 0.02)
    with pytest.raises(ValueError, match="shape"):
        gen.advance(HOME[None], 0.02)
    with pytest.raises(ValueError, match="positive"):
        JerkLimitedGenerator(V_MAX, A_MAX, -J_MAX, 1)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), pattern=st.sampled_from(["jumps", "walk", "reversals"]),
       with_velocity=st.booleans())
def test_random_50hz_targets_never_exceed_the_limits(seed, pattern, with_velocity):
    rng = np.random.default_rng(seed)
    n_rows, n_steps = 4, 30
    if pattern == "jumps":  # anywhere in the joint ranges, every 20 ms
        targets = rng.uniform(LOW, HIGH, (n_steps, n_rows, 7))
    elif pattern == "walk":  # policy-like: steps of up to 0.066 rad per 20 ms around home
        targets = np.clip(HOME + np.cumsum(rng.uniform(-0.066, 0.066, (n_steps, n_rows, 7)), 0), LOW, HIGH)
    else:  # a target flipping between two poses
        a, b = rng.uniform(LOW, HIGH, (2, n_rows, 7))
        targets = np.where((np.arange(n_steps) % 2 == 0)[:, None, None], a, b)
    gen = panda(n_rows)
    parts = []
    for k in range(n_steps):
        velocity = rng.uniform(-V_MAX, V_MAX, (n_rows, 7)) if with_velocity else None
        parts.append(gen.advance(targets[k], 0.02, target_velocity=velocity))
    positions = np.concatenate([s.positions for s in parts], axis=1)
    assert_within_limits(np.tile(HOME, (n_rows, 1)), positions, np.concatenate([s.velocities for s in parts], 1),
                         np.concatenate([s.accelerations for s in parts], 1))
