"""Guards: non-finite rows, watchdog, e-stop latch."""

import numpy as np

from robot_rl.safety import estop_latch, nonfinite_rows, watchdog_stale


def test_nonfinite_rows():
    x = np.array([[0.0, 1.0], [np.nan, 0.0], [0.0, -np.inf], [1e308, -1e308]])
    assert nonfinite_rows(x).tolist() == [False, True, True, False]


def test_watchdog_k_periods():
    # k = 3 periods of 0.02 s = 0.06 s: 0.06 is fresh, 0.0601 stale; NaN age is stale
    age = np.array([0.0, 0.06, 0.0601, np.nan])
    assert watchdog_stale(age, 0.02).tolist() == [False, False, True, True]
    assert watchdog_stale(np.array([0.03]), 0.02, periods=1.0).tolist() == [True]  # 0.03 > 1 * 0.02


def test_estop_latch_truth_table():
    latched = np.array([False, False, True, True, True, False])
    estop = np.array([False, True, False, True, False, True])
    reset = np.array([False, False, False, True, True, True])
    # set by estop; kept without reset; reset ignored while estop is still asserted; cleared by reset; estop wins
    assert estop_latch(latched, estop, reset).tolist() == [False, True, True, True, False, True]


def test_estop_latch_sequence():
    latched = np.array([False])
    for estop, reset, expected in [(True, False, True), (False, False, True), (False, True, False),
                                   (False, False, False)]:
        latched = estop_latch(latched, np.array([estop]), np.array([reset]))
        assert latched[0] == expected
