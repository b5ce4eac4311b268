import numpy as np

from robot_rl.safety import rate_limit, sanitize_action

LOW, HIGH = np.array([-1.0, 0.0]), np.array([1.0, 2.0])


def test_in_bounds_passes_unchanged():
    applied, ev = sanitize_action(np.array([[0.5, 1.0]]), LOW, HIGH, np.zeros((1, 2)))
    assert applied.tolist() == [[0.5, 1.0]]
    assert not ev["clipped"][0] and not ev["nonfinite"][0]


def test_out_of_bounds_is_clipped_and_reported():
    # 3.0 > high 2.0 -> 2.0 ; -5 < low -1 -> -1
    applied, ev = sanitize_action(np.array([[-5.0, 3.0]]), LOW, HIGH, np.zeros((1, 2)))
    assert applied.tolist() == [[-1.0, 2.0]]
    assert ev["clipped"][0] and not ev["nonfinite"][0]


def test_nan_row_holds_the_fallback_other_rows_untouched():
    proposed = np.array([[np.nan, 1.0], [0.2, np.inf], [0.1, 0.1]])
    fallback = np.array([[0.3, 0.4], [0.5, 0.6], [9.0, 9.0]])
    applied, ev = sanitize_action(proposed, LOW, HIGH, fallback)
    assert applied.tolist() == [[0.3, 0.4], [0.5, 0.6], [0.1, 0.1]]
    assert ev["nonfinite"].tolist() == [True, True, False]
    assert ev["clipped"].tolist() == [False, False, False]


def test_rate_limit_hand_computed():
    # previous 0, target 1.0, max step 0.25 -> 0.25 ; target -0.1 within step -> -0.1
    out = rate_limit(np.array([[1.0, -0.1]]), np.zeros((1, 2)), np.array([0.25, 0.25]))
    assert np.allclose(out, [[0.25, -0.1]])
