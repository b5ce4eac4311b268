"""The quadrotor's identification: closed-loop excitation, rotor speeds reconstructed from the log, replay, a fit."""

from __future__ import annotations

import numpy as np
import pytest

from robot_rl.envs.plants import PLANTS
from robot_rl.robots import load_robot
from robot_rl.sysid.calibrate import calibrate
from robot_rl.sysid.excitation import THRUST_FRACTION, Excitation, unit_signals
from robot_rl.sysid.logs import SysidError, check_excitation, simulate_log
from robot_rl.sysid.replay import make_replay
from robot_rl.sysid.replay_quadrotor import hover_command, motor_speeds, rotor_commands
from robot_rl.sysid.schedule import design_candidates, design_commands

REALITY = {"mass_kg": 0.031, "thrust_coefficient_n_per_rpm2": 2.8e-10, "motor_time_constant_s": 0.055,
           "action_latency_steps": 1}
"""Outside the training ranges (mass 0.0257-0.0284 kg, kf 2.9e-10-3.4e-10, motor 0.02-0.05 s, latency 0-1)."""


@pytest.fixture(scope="module")
def quad():
    return load_robot("quadrotor")


@pytest.fixture(scope="module")
def quad_log(quad):
    """10 s of a chirp on REALITY, closed loop around the hover controller, with sensor noise."""
    return simulate_log(quad, design_commands(quad, Excitation("chirp", 0.4, 0.5, 10.0), 10.0), REALITY, noise=1.0,
                        seed=2)


def test_doublets_by_hand():
    # period 1 s: channel 0 is +1 for [0, 0.5), -1 for [0.5, 1), hovers for [1, 2); then channel 1 from 2 s
    t = np.arange(16) * 0.25
    s = unit_signals(Excitation("doublets", 0.5, 1.0, 1.0), 4, t, 4.0)
    assert s[:8, 0].tolist() == [1, 1, -1, -1, 0, 0, 0, 0] and not s[8:, 0].any()
    assert s[8:, 1].tolist() == [1, 1, -1, -1, 0, 0, 0, 0] and not s[:, 2:].any()


def test_perturbations_stay_in_their_bounds_and_fade(quad):
    hover = hover_command(quad)[0]
    for design in [*design_candidates(quad, 10.0), Excitation("random", 0.4, 0.5, 10.0)]:
        off = design_commands(quad, design, 10.0)
        assert off.shape == (1000, 4)
        assert np.abs(off[:, 0]).max() <= design.amplitude * THRUST_FRACTION * hover + 1e-12
        assert np.all(np.abs(off[:, 1:]) <= design.amplitude * np.array(quad.command.high[1:4]) + 1e-12)
        assert np.abs(off[0]).max() == 0 and np.abs(off[-1]).max() < 0.01 * np.abs(off).max()
        assert np.ptp(off, axis=0).min() > 0  # every channel is excited


def test_each_robot_plays_its_own_families(quad):
    with pytest.raises(SysidError, match="family 'sweep' is not one of robot 'quadrotor'"):
        design_commands(quad, Excitation("sweep", 0.3, 0.1, 0.1), 10.0)
    with pytest.raises(SysidError, match="family 'doublets' is not one of robot 'mobile_base'"):
        design_commands(load_robot("mobile_base"), Excitation("doublets", 0.3, 1.0, 1.0), 10.0)


def test_rotor_speeds_by_hand(quad):
    # hover, then a thrust step at tick 2: each rotor's command is sqrt(T / 4 / kf); a first-order lag follows it
    kf, n = quad.quadrotor.thrust_coefficient_n_per_rpm2, quad.substeps
    executed = np.array([[0.2, 0, 0, 0], [0.2, 0, 0, 0], [0.3, 0, 0, 0], [0.3, 0, 0, 0]])
    u = rotor_commands(PLANTS["quadrotor"](quad, "mujoco", 1), executed, np.zeros((4, 3)))
    assert u.shape == (4 * n, 4)
    np.testing.assert_allclose(u[: 2 * n], np.sqrt(0.2 / 4 / kf))
    np.testing.assert_allclose(u[2 * n :], np.sqrt(0.3 / 4 / kf))
    w = motor_speeds(quad, u, np.array([0.05]))[0]
    low, high = np.sqrt(0.2 / 4 / kf), np.sqrt(0.3 / 4 / kf)
    decay = np.exp(-quad.control_dt_s / 0.05)  # one tick = substeps physics steps of the exact lag
    np.testing.assert_allclose(w[:3, 0], [low, low, low])  # at the start of tick 2 the step has not acted yet
    np.testing.assert_allclose(w[3, 0], high + (low - high) * decay)


def test_true_parameters_replay_the_log_to_its_noise(quad, quad_log):
    replay = make_replay(quad, quad_log, 50)
    measured = replay.measured()
    truth, nominal = replay.predict([REALITY, {}])
    rms_truth, rms_nominal = (float(np.sqrt(np.mean((p - measured) ** 2))) for p in (truth, nominal))
    assert rms_truth < 0.25  # noise 0.02-0.05 in scaled units, plus a noisy start velocity carried over 0.5 s
    assert rms_nominal > 10 * rms_truth
    np.testing.assert_allclose(replay.predict([REALITY], batch=1)[0], truth, atol=1e-9)  # batch independent


def test_a_hover_without_excitation_is_refused(quad):
    still = simulate_log(quad, np.zeros((400, 4)), REALITY, noise=1.0, seed=1)
    with pytest.raises(SysidError, match="no excitation.*no body rate spanned 0.2"):
        check_excitation(still, quad, 50, 1.0)


def test_short_fit_recovers_mass_thrust_motor_and_latency(quad, quad_log, tmp_path):
    doc = calibrate(quad, quad_log, tmp_path / "q.yaml", report=tmp_path / "q.html", max_latency=2, generations=4,
                    search_windows=8, progress=lambda _line: None)
    p = doc["parameters"]
    assert p["action_latency_steps"]["mean"] == 1
    for name in ("mass_kg", "thrust_coefficient_n_per_rpm2"):
        assert p[name]["mean"] == pytest.approx(REALITY[name], rel=0.02), name
    assert p["motor_time_constant_s"]["mean"] == pytest.approx(REALITY["motor_time_constant_s"], rel=0.1)
    assert doc["nrmse"]["heldout"] < 0.4 * doc["nrmse"]["heldout_nominal"]
    assert "Reality gap: quadrotor" in (tmp_path / "q.html").read_text()
