"""Excitation signals: inside the limits, under the speed cap, starting and ending at home; files checked."""

from __future__ import annotations

import numpy as np
import pytest

from robot_rl.sysid.excitation import (
    LIMIT_MARGIN_RAD,
    ROBOT_FAMILIES,
    SPEED_FRACTION,
    Excitation,
    arm_candidates,
    arm_commands,
    fade,
    joint_amplitudes,
)
from robot_rl.sysid.logs import SysidError
from robot_rl.sysid.schedule import arm_design_commands, load_excitation, write_excitation


def test_joint_amplitudes_by_hand():
    # joint 0: 2 rad of room each side -> the full 0.5; joint 1: 0.2 rad above home, less the 0.1 margin -> 0.1
    amp = joint_amplitudes(np.array([0.0, 1.0]), np.array([-2.0, 0.0]), np.array([2.0, 1.2]), 0.5)
    np.testing.assert_allclose(amp, [0.5, 0.1])


def test_fade_is_zero_at_both_ends_and_one_inside():
    t = np.linspace(0, 10, 101)
    w = fade(t, 10.0)
    assert w[0] == 0 and w[-1] == pytest.approx(0, abs=1e-12) and np.all(w[20:81] == 1)
    assert w[5] == pytest.approx(0.5)  # half-way through the 1 s cosine ramp


@pytest.mark.parametrize("family", ROBOT_FAMILIES["arm"])
def test_every_family_stays_in_limits_and_under_the_speed_cap(arm, family):
    a = arm.arm
    low = np.array([j.position_min_rad for j in a.joints])
    high = np.array([j.position_max_rad for j in a.joints])
    vmax = np.array([j.velocity_max_rad_s for j in a.joints])
    q = arm_commands(Excitation(family, 1.5, 0.2, 3.0), a.home_rad, low, high, 8.0, 0.02, vmax)
    assert q.shape == (400, 7)
    assert np.all(q >= low + LIMIT_MARGIN_RAD - 1e-12) and np.all(q <= high - LIMIT_MARGIN_RAD + 1e-12)
    assert np.all(np.abs(np.diff(q, axis=0)) / 0.02 <= SPEED_FRACTION * vmax + 1e-9)
    np.testing.assert_allclose(q[0], a.home_rad, atol=1e-9)  # starts at home, at rest
    assert np.ptp(q, axis=0).min() > 0.01  # and every joint moves


def test_multisine_joints_never_share_a_frequency(arm):
    n = 7
    grid = np.geomspace(0.2, 2.0, 4 * n).reshape(4, n).T
    assert len(np.unique(grid.round(9))) == 4 * n
    q = arm_design_commands(arm, Excitation("multisine", 0.3, 0.2, 2.0), 20.0)
    spectra = np.abs(np.fft.rfft(q - q.mean(0), axis=0))
    assert len(set(np.argmax(spectra, axis=0).tolist())) == n  # each joint's strongest line is its own


def test_bad_designs_name_the_field():
    with pytest.raises(ValueError, match="family"):
        Excitation("triangle")
    with pytest.raises(ValueError, match="f_low_hz"):
        Excitation("chirp", 0.3, 3.0, 1.0)
    with pytest.raises(ValueError, match="duration_s"):
        arm_commands(Excitation(), [0.0], [-1.0], [1.0], 0.0, 0.02)
    assert len(arm_candidates(30.0)) >= 4


def test_excitation_file_round_trip_and_bad_files(arm, tmp_path):
    path = write_excitation(tmp_path / "e.yaml", arm, Excitation("chirp", 0.3, 0.1, 2.0), 4.0)
    schedule = load_excitation(path, arm)
    assert schedule.commands.shape == (200, 7) and len(schedule.sha256) == 64
    np.testing.assert_array_equal(schedule.command(10**6), schedule.commands[-1])  # held after the end
    bad = {"robot: quadrotor\nduration_s: 4\ndesign: {family: chirp}\n": "field 'robot'",
           "robot: arm\nduration_s: -1\ndesign: {family: chirp}\n": "field 'duration_s'",
           "robot: arm\nduration_s: 4\ndesign: {family: chirp, speed: 3}\n": "field 'design'",
           "robot: arm\nduration_s: 4\ndesign: {family: zigzag}\n": "field 'design'",
           "robot: arm\nduration_s: 4\ndesign: {family: doublets}\n": "field 'design'.*'doublets' is not one of robot"}
    for text, field in bad.items():
        (tmp_path / "bad.yaml").write_text(text)
        with pytest.raises(SysidError, match=field):
            load_excitation(tmp_path / "bad.yaml", arm)
