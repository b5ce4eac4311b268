"""The filter gives a row the same result, bit for bit, whatever batch it is certified in.

The robot certifies one row per tick (N = 1), batched evaluation thousands at once, through the same functions;
N-specific fast paths (skipped reductions, same-shape `[1, n]` operands) and BLAS (which rounds an `[N, k] @ [k, m]`
product differently for different N) must not make the two disagree. Cases: the property suite's generators.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from robot_rl.robots import forward_kinematics

_SPEC = importlib.util.spec_from_file_location("_filter_cases", Path(__file__).with_name("test_filter_properties.py"))
cases = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(cases)

ROBOTS = {"arm": (cases.ARM, cases.arm_case), "quadrotor": (cases.QUAD, cases.quad_case),
          "mobile_base": (cases.BASE, cases.base_case)}
ROWS = 1000  # rows certified one at a time, per robot (of the BATCH = 2000 generated)


def _rows(state: dict, rows: slice) -> dict:
    return {k: v[rows] for k, v in state.items()}


def _assert_same(applied: np.ndarray, events: dict, ref_applied: np.ndarray, ref_events: dict, rows: slice) -> None:
    assert applied.dtype == np.float64
    assert np.array_equal(applied, ref_applied[rows])
    assert list(events) == list(ref_events)
    for name, value in events.items():
        assert value.dtype == bool and np.array_equal(value, ref_events[name][rows]), name


@pytest.mark.parametrize("robot", sorted(ROBOTS))
@pytest.mark.parametrize("seed", [11, 12])
def test_rows_alone_equal_one_batch(robot: str, seed: int) -> None:
    filt, make_case = ROBOTS[robot]
    state, proposed = make_case(np.random.default_rng(seed))  # 2000 rows: safe, violating, NaN, stale, e-stop
    ref_applied, ref_events = filt.certify(state, proposed)
    for i in range(ROWS):  # N = 1, as on the robot
        applied, events = filt.certify(_rows(state, slice(i, i + 1)), proposed[i : i + 1])
        _assert_same(applied, events, ref_applied, ref_events, slice(i, i + 1))
    for start in range(0, len(proposed), 64):  # N = 64
        rows = slice(start, start + 64)
        applied, events = filt.certify(_rows(state, rows), proposed[rows])
        _assert_same(applied, events, ref_applied, ref_events, rows)
    fallback = filt.fallback(state)
    for i in range(0, ROWS, 7):
        assert np.array_equal(filt.fallback(_rows(state, slice(i, i + 1))), fallback[i : i + 1])


def test_forward_kinematics_rows_alone_equal_one_batch() -> None:
    q = np.random.default_rng(5).uniform(-3.0, 3.0, (500, 7))
    batch = forward_kinematics(cases.ARM.limits.chain, q)
    rows = np.concatenate([forward_kinematics(cases.ARM.limits.chain, q[i : i + 1]) for i in range(len(q))])
    assert np.array_equal(rows, batch)
