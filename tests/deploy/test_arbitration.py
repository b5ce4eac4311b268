"""Arbitration rules on hand-made tick sequences (one row each), and the controller's takeover config."""

import numpy as np
import pytest

from robot_rl.deploy.arbitration import (
    ESTOP,
    HOLD,
    NONE,
    OPERATOR,
    POLICY,
    RELEASED,
    STALE,
    ArbiterState,
    TakeoverConfig,
    arbitrate,
    debounce,
)
from robot_rl.deploy.nodes.common import ParameterError


def run(deadman, fresh, estop=None, reenable=None, hold=False):
    """Feed one sequence tick by tick; returns (sources, onsets, end reasons) as lists."""
    n = len(deadman)
    estop = estop or [False] * n
    reenable = reenable or [False] * n
    state, out = ArbiterState.initial(), ([], [], [])
    for t in range(n):
        state, source, onset, end = arbitrate(state, np.array([deadman[t]]), np.array([fresh[t]]),
                                              np.array([estop[t]]), np.array([reenable[t]]), hold)
        for lst, v in zip(out, (source[0], onset[0], end[0]), strict=True):
            lst.append(int(v))
    return out


def test_press_hold_release_hands_back_to_the_policy():
    sources, onsets, ends = run([0, 1, 1, 1, 0, 0], [1] * 6)
    assert sources == [POLICY, OPERATOR, OPERATOR, OPERATOR, POLICY, POLICY]
    assert onsets == [0, 1, 0, 0, 0, 0]  # one onset, at the first held tick
    assert ends == [NONE, NONE, NONE, NONE, RELEASED, NONE]


def test_hold_on_release_holds_until_re_enabled():
    sources, _, ends = run([1, 0, 0, 0, 0], [1] * 5, reenable=[0, 0, 0, 1, 0], hold=True)
    # tick 1 released -> hold; ticks 2 hold; tick 3 re-enabled -> policy again
    assert sources == [OPERATOR, HOLD, HOLD, POLICY, POLICY]
    assert ends[1] == RELEASED


def test_a_new_press_leaves_the_hold():
    sources, onsets, _ = run([1, 0, 1], [1, 1, 1], hold=True)
    assert sources == [OPERATOR, HOLD, OPERATOR] and onsets == [1, 0, 1]


def test_stale_input_ends_the_takeover_and_needs_a_new_press():
    # held throughout; input goes stale at tick 2 and fresh again at tick 3: no takeover until released and pressed
    sources, onsets, ends = run([1, 1, 1, 1, 0, 1], [1, 1, 0, 1, 1, 1])
    assert sources == [OPERATOR, OPERATOR, POLICY, POLICY, POLICY, OPERATOR]
    assert ends[2] == STALE and onsets == [1, 0, 0, 0, 0, 1]


def test_estop_beats_the_operator():
    sources, onsets, ends = run([1, 1, 1, 0, 1], [1] * 5, estop=[0, 1, 0, 0, 0])
    # e-stop at tick 1 ends the takeover; tick 2 still held -> re-arm needed; released at 3; pressed at 4
    assert sources == [OPERATOR, HOLD, POLICY, POLICY, OPERATOR]
    assert ends[1] == ESTOP and onsets == [1, 0, 0, 0, 1]


def test_no_takeover_without_fresh_input():
    sources, onsets, _ = run([1, 1], [0, 0])
    assert sources == [POLICY, POLICY] and onsets == [0, 0]


def test_debounce_takes_the_raw_state_after_it_settled():
    # raw pressed at t = 100 ns, debounce 20 ns: at 110 the debounced state is still False, at 120 it is True
    debounced, raw, since = np.array([False]), np.array([True]), np.array([100])
    assert not debounce(debounced, raw, since, 110, 20)[0]
    assert debounce(debounced, raw, since, 120, 20)[0]
    assert debounce(debounced, raw, since, 100, 0)[0]  # no debouncing


def test_takeover_config_names_bad_keys():
    assert TakeoverConfig.from_parameters({}).max_age_s == 0.5
    with pytest.raises(ParameterError, match="on_release"):
        TakeoverConfig.from_parameters({"on_release": "later"})
    with pytest.raises(ParameterError, match="unknown parameters \\['deadman'\\]"):
        TakeoverConfig.from_parameters({"deadman": 3})
