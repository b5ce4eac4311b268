"""Fits on mujoco.sysid: a short real fit recovers a known robot; the math helpers by hand; failures are clear."""

from __future__ import annotations

import numpy as np
import pytest

from robot_rl.robots import RangeSpec
from robot_rl.sysid.design import information
from robot_rl.sysid.fit import (
    FitError,
    cluster_inflation,
    fit,
    fit_bounds,
    from_unit,
    to_unit,
    unidentifiable_directions,
)
from robot_rl.sysid.replay import ArmReplay

from .conftest import REALITY


def test_fit_bounds_by_hand():
    ranges = {"g": RangeSpec(distribution="uniform", low=0.8, high=1.2, unit="x nominal"),
              "m": RangeSpec(distribution="uniform", low=0.0, high=0.5, unit="kg")}
    assert fit_bounds(ranges, ["g", "m"]) == {"g": (0.08, 12.0), "m": (0.0, 2.0)}


def test_unit_box_round_trip():
    lo, hi = np.array([0.1, 0.0]), np.array([10.0, 2.0])
    np.testing.assert_allclose(to_unit(np.array([1.0, 0.5]), lo, hi), [0.5, 0.25])  # log and linear
    u = np.array([0.3, 0.9])
    np.testing.assert_allclose(to_unit(from_unit(u, lo, hi), lo, hi), u)


def test_unidentifiable_direction_by_hand():
    # the residual sees only a + b: a - b is free; with widths (1, 1) the direction is (1, -1) / sqrt 2
    assert unidentifiable_directions(np.array([[1.0, 1.0], [2.0, 2.0]]), ["a", "b"], np.ones(2)) == [
        "0.71 a -0.71 b"]
    assert unidentifiable_directions(np.eye(2), ["a", "b"], np.ones(2)) == []


def test_cluster_inflation_by_hand():
    # one parameter, J = 1: two windows whose error is held for both ticks (+1 +1, -1 -1).
    # plain: s^2 (J^T J)^-1 = (4 / 3) / 4 = 1/3; robust: (sum_w (J_w^T r_w)^2) / (J^T J)^2 = (4 + 4) / 16 = 1/2
    assert cluster_inflation(np.ones((4, 1)), np.array([1.0, 1.0, -1.0, -1.0]), 2).tolist() == pytest.approx([1.5])
    # errors alternating inside each window cancel in its gradient: never narrower than the plain interval
    assert cluster_inflation(np.ones((4, 1)), np.array([1.0, -1.0, 1.0, -1.0]), 2).tolist() == [1.0]


def test_information_by_hand():
    logdet, trace = information(np.array([[2.0, 0.0], [0.0, 1.0]]))
    assert logdet == pytest.approx(np.log(4.0)) and trace == 5.0
    assert information(np.array([[1.0, 1.0]]))[0] == float("-inf")  # singular: nothing to rank


def test_short_fit_recovers_a_robot_outside_the_training_ranges(arm, arm_log):
    names = ["actuator_gain_scale", "joint_damping_scale", "payload_mass_kg"]
    bounds = fit_bounds(arm.randomization, names)
    fixed = {k: v for k, v in REALITY.items() if k not in names and k != "action_latency_steps"}
    replay, search = ArmReplay(arm, arm_log, 25), ArmReplay(arm, arm_log, 25, max_windows=8)
    replay.nominal.update(fixed)  # the other parameters known: a 3-parameter + latency problem
    search.nominal.update(fixed)
    lines = []
    result = fit(replay, search, bounds, max_latency=2, generations=8, popsize=6, progress=lines.append)
    assert result.values["action_latency_steps"] == 1
    for name in names:
        assert result.values[name] == pytest.approx(REALITY[name], rel=0.03), name
        assert 0 < result.ci95[name] < 0.1 * REALITY[name]
    assert result.unidentifiable == [] and set(result.latency_costs) == {0, 1, 2}
    assert min(result.latency_costs, key=result.latency_costs.get) == 1
    assert any("global search 8/8" in line for line in lines)


def test_a_robot_beyond_the_search_box_is_a_clear_failure(arm, arm_log):
    bounds = {"actuator_gain_scale": (0.9, 3.0)}  # the truth, 0.5, lies outside
    replay = ArmReplay(arm, arm_log, 25)
    replay.nominal.update({k: v for k, v in REALITY.items() if k != "actuator_gain_scale"})
    with pytest.raises(FitError, match="actuator_gain_scale = 0.9 ended on the bound"):
        fit(replay, replay, bounds, max_latency=1, generations=3, popsize=4, progress=lambda _: None)
