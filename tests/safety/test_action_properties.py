"""Property: whatever is proposed, the applied command is finite and within bounds."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from robot_rl.safety import sanitize_action

LOW, HIGH = np.array([0.0, -6.0, -6.0, -3.0]), np.array([0.596, 6.0, 6.0, 3.0])
anything = st.floats(allow_nan=True, allow_infinity=True, width=64)


@settings(max_examples=300, deadline=None)
@given(arrays(np.float64, (5, 4), elements=anything))
def test_applied_is_finite_and_bounded(proposed):
    fallback = np.tile((LOW + HIGH) / 2, (5, 1))
    applied, events = sanitize_action(proposed, LOW, HIGH, fallback)
    assert np.isfinite(applied).all()
    assert (applied >= LOW).all() and (applied <= HIGH).all()
    finite_rows = np.isfinite(proposed).all(axis=1)
    assert (events["nonfinite"] == ~finite_rows).all()
    inside = finite_rows & ((proposed >= LOW) & (proposed <= HIGH)).all(axis=1)
    assert np.array_equal(applied[inside], proposed[inside])
