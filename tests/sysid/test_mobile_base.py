"""The mobile base's identification: twist excitations, replay, wheel radius separated from random slip, a fit."""

from __future__ import annotations

import numpy as np
import pytest

from robot_rl.envs.plants.mobile_base import wheel_ramp
from robot_rl.robots import load_robot
from robot_rl.sysid.calibrate import calibrate, split
from robot_rl.sysid.excitation import SPEED_FRACTION, Excitation, slew_limit, square_path
from robot_rl.sysid.gap import gap_table, mean_nrmse
from robot_rl.sysid.logs import SysidError, check_excitation, simulate_log
from robot_rl.sysid.replay import make_replay
from robot_rl.sysid.schedule import design_candidates, design_commands
from robot_rl.sysid.slip import TickFactors, fit_spread, negative_log_likelihood, tick_factors, wheel_travel

REALITY = {"wheel_radius_m": 0.086, "wheel_slip_fraction": 0.2, "chassis_mass_kg": 12.0, "ground_friction": 0.7,
           "action_latency_steps": 1}
"""Outside the training ranges (radius 0.076-0.084 m, slip 0-0.15, latency 0-1)."""


@pytest.fixture(scope="module")
def base():
    return load_robot("mobile_base")


@pytest.fixture(scope="module")
def square(base):
    return design_commands(base, Excitation("square", 0.8), 30.0)


def test_square_by_hand():
    # 1 m sides at 1 m/s in 0.5 s ticks: 2 ticks; a quarter turn at pi rad/s: 1 tick; 4 left turns, then 4 right
    path = square_path(12.0, 0.5, 1.0, np.pi)
    assert path[:4].tolist() == [[1.0, 0.0], [1.0, 0.0], [0.0, np.pi], [1.0, 0.0]]
    turns = path[:24, 1][path[:24, 1] != 0]
    assert (np.sign(turns) == [1, 1, 1, 1, -1, -1, -1, -1]).all()
    assert path[:12, 1].sum() * 0.5 == pytest.approx(2 * np.pi)  # a full lap counter-clockwise


def test_slew_and_ramp_by_hand():
    assert slew_limit(np.array([[1.0], [1.0], [0.0]]), np.array([0.5])).ravel().tolist() == [0.5, 1.0, 0.5]
    ramp = wheel_ramp(np.array([[1.0, -1.0], [1.0, -1.0], [1.0, -1.0]]), np.zeros(2), 0.6)
    np.testing.assert_allclose(ramp, [[0, 0], [0.6, -0.6], [1.0, -1.0]])  # the state at the start of each period


def test_twists_stay_in_limits_and_start_and_end_at_rest(base):
    low, high = np.array(base.command.low), np.array(base.command.high)
    step = SPEED_FRACTION * np.array([base.safety.accel_max_m_s2, base.safety.angular_accel_max_rad_s2]) * 0.05
    for design in [*design_candidates(base, 30.0), Excitation("random", 0.8, 0.2, 2.0)]:
        twist = design_commands(base, design, 30.0)
        assert twist.shape == (600, 2)
        assert np.all(twist >= design.amplitude * low - 1e-12) and np.all(twist <= design.amplitude * high + 1e-12)
        assert np.all(np.abs(np.diff(twist, axis=0)) <= step + 1e-12), design.label()  # the filter changes nothing
        assert np.abs(twist[0]).max() < 0.2 and np.abs(twist[-1]).max() < 0.01 * np.abs(twist).max()


def test_each_family_is_the_robots_own(base):
    with pytest.raises(SysidError, match="family 'sweep' is not one of robot 'mobile_base'"):
        design_commands(base, Excitation("sweep", 0.3, 0.1, 0.1), 10.0)
    with pytest.raises(SysidError, match="family 'spins' is not one of robot 'arm'"):
        design_commands(load_robot("arm"), Excitation("spins", 0.3, 0.1, 0.5), 10.0)


def test_wheel_travel_by_hand():
    start = np.zeros((3, 3))
    end = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.2], [0.0, 2.0, 0.0]])
    # straight 1 m: both wheels 1 m; a 0.2 rad turn in place, track 1 m: -0.1 and +0.1 m; sideways: no travel
    np.testing.assert_allclose(wheel_travel(start, end, 1.0), [[1, 1], [-0.1, 0.1], [0, 0]], atol=1e-12)
    heading = np.array([[0.0, 0.0, np.pi / 2]])  # facing +y, 1 m along +y is forward
    np.testing.assert_allclose(wheel_travel(heading, heading + [0.0, 1.0, 0.0], 1.0), [[1, 1]], atol=1e-12)


def test_likelihood_by_hand():
    theta = np.array([1.0, np.log(0.2), np.log(1e-4)])
    inside = negative_log_likelihood(theta, np.array([0.9]), np.array([1.0]))
    assert float(inside) == pytest.approx(np.log(0.2))  # the uniform's density 1 / (a s) = 5
    edge = negative_log_likelihood(theta, np.array([1.0]), np.array([1.0]))
    assert float(edge) == pytest.approx(np.log(0.2) + np.log(2))  # half the noise falls outside: density 2.5
    batched = negative_log_likelihood(np.stack([theta, theta], -1), np.array([0.9]), np.array([1.0]))
    assert batched.shape == (2,)


def test_spread_fit_recovers_radius_and_slip_from_factors_drawn_from_the_model():
    rng = np.random.default_rng(0)
    gain = rng.uniform(20, 60, 1500)  # 1/m: wheels at 0.33-1 m/s
    factor = 1.05 * (1 - 0.12 * rng.random(1500)) + 1.5e-3 * gain * rng.standard_normal(1500)
    fit = fit_spread(TickFactors(factor, gain))
    assert abs(fit.ratio - 1.05) < 3 * fit.ratio_std and fit.ratio_std < 0.01
    assert abs(fit.slip - 0.12) < 3 * fit.slip_std
    assert fit.noise_ratio == pytest.approx(1.5e-3, rel=0.1)  # sigma: the noise over what the gains assume
    with pytest.raises(ValueError, match="only 10 wheel-ticks turned the wheels enough.*too little excitation"):
        fit_spread(TickFactors(factor[:10], gain[:10]))


def test_true_parameters_replay_the_log(base, square):
    no_slip = REALITY | {"wheel_slip_fraction": 0.0}
    log = simulate_log(base, square[:300], no_slip)
    replay = make_replay(base, log, 10)
    measured = replay.measured()
    truth, nominal = replay.predict([no_slip, {}])
    rms_truth, rms_nominal = (float(np.sqrt(np.mean((p - measured) ** 2))) for p in (truth, nominal))
    assert rms_truth < 0.1  # 1 mm, 1 mrad, 5 mm/s in scaled units: the start of each window is exact
    assert rms_nominal > 10 * rms_truth
    np.testing.assert_allclose(replay.predict([no_slip], batch=1)[0], truth, atol=1e-9)  # batch independent


def test_tick_factors_span_the_slip(base, square):
    log = simulate_log(base, square, REALITY, seed=4)  # no sensor noise: the factors are the slip draws
    mean_ratio = REALITY["wheel_radius_m"] * (1 - REALITY["wheel_slip_fraction"] / 2)
    ticks = tick_factors(base, log, REALITY | {"wheel_radius_m": mean_ratio}, (0, len(log.q)))
    a, s = REALITY["wheel_radius_m"] / 0.08, REALITY["wheel_slip_fraction"]
    assert len(ticks.factor) > 500
    lo, hi = np.quantile(ticks.factor, [0.01, 0.99])
    assert hi == pytest.approx(a, rel=0.01) and lo == pytest.approx(a * (1 - s), rel=0.01)
    assert np.mean(ticks.factor) == pytest.approx(a * (1 - s / 2), rel=0.005)


def test_a_base_standing_still_is_refused(base):
    still = simulate_log(base, np.zeros((200, 2)), REALITY, noise=1.0, seed=1)
    with pytest.raises(SysidError, match=r"no excitation.*no speed spanned \[0.2 0.4\]"):
        check_excitation(still, base, 10, 1.0)


def test_short_fit_separates_wheel_radius_from_slip(base, square, tmp_path):
    log = simulate_log(base, square, REALITY, noise=1.0, seed=5)
    doc = calibrate(base, log, tmp_path / "b.yaml", params=["wheel_radius_m", "wheel_slip_fraction"], max_latency=1,
                    generations=4, search_windows=8, report=tmp_path / "b.html", progress=lambda _line: None)
    p = doc["parameters"]
    assert p["action_latency_steps"]["mean"] == 1
    assert p["wheel_radius_m"]["mean"] == pytest.approx(REALITY["wheel_radius_m"], rel=0.02)
    assert p["wheel_slip_fraction"]["mean"] == pytest.approx(REALITY["wheel_slip_fraction"], abs=0.05)
    lo, hi = p["wheel_radius_m"]["ci95"]
    assert hi - lo < 0.004  # a 95 % interval narrower than a quarter of the training range
    separated = doc["fit"]["slip_separation"]
    # the mean motion alone sees the product: the least-squares radius is r (1 - s / 2), not r
    assert separated["mean_ratio_radius_m"] == pytest.approx(0.086 * 0.9, rel=0.01)
    # over the full held-out horizon (7.5 s) the random slip's drift dominates either model; over 0.5 s it does not
    assert doc["nrmse"]["heldout"] < doc["nrmse"]["heldout_nominal"]
    fitted = {k: v["mean"] for k, v in p.items()}
    table = gap_table(base, log, split(log, 0.25)[1], {"nominal": {}, "calibrated": fitted}, (0.5,))
    assert mean_nrmse(table["calibrated"])["0.5 s"] < 0.4 * mean_nrmse(table["nominal"])["0.5 s"]
    assert "Reality gap: mobile_base" in (tmp_path / "b.html").read_text()
