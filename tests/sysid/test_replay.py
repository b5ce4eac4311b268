"""Windowed replay: the true parameters reproduce the plant's own log; hand-computed helpers."""

from __future__ import annotations

import numpy as np
import pytest

from robot_rl.sysid.gap import gap_table, horizon_ticks, nrmse
from robot_rl.sysid.logs import concatenate, segments_of
from robot_rl.sysid.replay import ArmReplay, SysidLog, clip_segments, delayed, window_starts

from .conftest import REALITY


def test_window_starts_and_delay_by_hand():
    assert clip_segments([(0, 10), (10, 20)], (5, 12)) == [(5, 10), (10, 12)]
    assert window_starts([(0, 10), (10, 14)], 4).tolist() == [0, 4]  # a window needs window + 1 ticks
    assert window_starts([(0, 4)], 4).tolist() == []
    cmd = np.array([[1.0], [2.0], [3.0]])
    assert delayed(cmd, 0, np.zeros(1)).ravel().tolist() == [1.0, 2.0, 3.0]
    assert delayed(cmd, 2, np.array([9.0])).ravel().tolist() == [9.0, 9.0, 1.0]
    assert delayed(cmd, 5, np.array([9.0])).ravel().tolist() == [9.0, 9.0, 9.0]


def test_segments_cut_at_tick_gaps_and_new_episodes():
    assert segments_of([1, 2, 3, 5, 6, 7], [1, 1, 1, 1, 1, 2]) == [(0, 3), (3, 5), (5, 6)]


def test_nrmse_by_hand():
    got = nrmse(np.array([[1.0, 0.0], [1.0, 2.0]]), np.zeros((2, 2)), np.array([1.0, 2.0]))
    np.testing.assert_allclose(got, [1.0, np.sqrt(2.0) / 2])


def test_true_parameters_replay_the_log_to_its_noise(arm, arm_log):
    replay = ArmReplay(arm, arm_log, 25)
    measured = replay.measured()
    truth, nominal, late = replay.predict([REALITY, {}, dict(REALITY, action_latency_steps=2)])
    rms = [float(np.sqrt(np.mean((p - measured) ** 2))) for p in (truth, nominal, late)]
    # noise is 1e-4 rad / 1e-3 rad/s = 0.01 in the residual's scale (0.01 rad, 0.1 rad/s); the start state is noisy too
    assert rms[0] < 0.03
    assert rms[1] > 30 * rms[0] and rms[2] > 10 * rms[0]


def test_batches_and_spans_give_the_same_predictions(arm, arm_log):
    full = ArmReplay(arm, arm_log, 25)
    params = [REALITY, {}, dict(REALITY, joint_damping_scale=0.7)]
    np.testing.assert_allclose(full.predict(params, batch=1), full.predict(params), atol=1e-9)
    half = ArmReplay(arm, arm_log, 25, span=(300, 600))
    assert half.starts.min() >= 300 and half.starts.max() + 25 < 600
    rows = np.searchsorted(full.starts, half.starts)
    np.testing.assert_allclose(half.predict([REALITY])[0], full.predict([REALITY])[0][rows], atol=1e-9)


def test_gap_table_nominal_vs_truth(arm, arm_log):
    table = gap_table(arm, arm_log, (400, 600), {"nominal": {}, "truth": REALITY}, (0.5, None))
    assert set(table["truth"]) == {"0.5 s", "full"} and horizon_ticks(arm_log, (400, 600), None) == 199
    assert max(table["truth"]["full"]) < 0.05 < min(table["nominal"]["full"])


def test_logs_concatenate_without_crossing(arm_log):
    both = concatenate([arm_log, arm_log])
    assert both.segments == [(0, 600), (600, 1200)] and len(both.sources) == 2
    with pytest.raises(ValueError, match="'qd' has"):
        SysidLog("arm", 0.02, np.zeros((3, 7)), np.zeros((2, 7)), np.zeros((3, 7)), [(0, 3)])
    with pytest.raises(ValueError, match="non-finite"):
        SysidLog("arm", 0.02, np.full((3, 7), np.nan), np.zeros((3, 7)), np.zeros((3, 7)), [(0, 3)])
