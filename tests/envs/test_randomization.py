import numpy as np
import pytest

from robot_rl.envs.randomization import recentre_ranges, sample_from_unit, sample_parameters
from robot_rl.robots import RangeSpec


def rs(dist, lo, hi):
    return RangeSpec(distribution=dist, low=lo, high=hi, unit="x")


def test_uniform_maps_unit_draws_linearly():
    # 0.5 + u * (2.0 - 0.5): u = 0 -> 0.5, u = 0.5 -> 1.25
    assert np.allclose(sample_from_unit(rs("uniform", 0.5, 2.0), np.array([0.0, 0.5])), [0.5, 1.25])


def test_log_uniform_midpoint_is_geometric_mean():
    # exp(log 0.5 + 0.5 * (log 2 - log 0.5)) = sqrt(0.5 * 2) = 1.0
    assert sample_from_unit(rs("log_uniform", 0.5, 2.0), np.array([0.5]))[0] == pytest.approx(1.0)


def test_uniform_int_is_inclusive_and_even():
    # low 0, high 2: floor(u * 3) -> u in [0, 1/3) gives 0, [1/3, 2/3) gives 1, [2/3, 1) gives 2
    out = sample_from_unit(rs("uniform_int", 0, 2), np.array([0.0, 0.34, 0.67, 0.999999]))
    assert out.tolist() == [0, 1, 2, 2]


def test_sampling_is_reproducible_and_within_ranges():
    ranges = {"a": rs("uniform", -1, 1), "b": rs("log_uniform", 0.1, 10), "c": rs("uniform_int", 0, 3)}
    s1 = sample_parameters(ranges, np.random.default_rng(3), 1000)
    s2 = sample_parameters(ranges, np.random.default_rng(3), 1000)
    for k in ranges:
        assert np.array_equal(s1[k], s2[k])
        assert ranges[k].low <= s1[k].min() and s1[k].max() <= ranges[k].high
    assert set(np.unique(s1["c"])) == {0, 1, 2, 3}


def test_degenerate_range_gives_the_value():
    assert sample_parameters({"m": rs("uniform", 0.027, 0.027)}, np.random.default_rng(0), 5)["m"].tolist() == [
        0.027
    ] * 5


def test_a_constant_parameter_takes_no_draw_from_the_stream():
    ranges = {"a": rs("uniform", 0, 1), "c": rs("uniform", 0, 1)}
    with_constant = ranges | {"b": rs("constant", 40.0, 40.0)}  # sorted between a and c
    plain = sample_parameters(ranges, np.random.default_rng(5), 4)
    both = sample_parameters(with_constant, np.random.default_rng(5), 4)
    assert both["b"].tolist() == [40.0] * 4
    assert np.array_equal(both["a"], plain["a"]) and np.array_equal(both["c"], plain["c"])  # c's draws unmoved
    with pytest.raises(ValueError, match="constant needs low == high"):
        rs("constant", 0.0, 1.0)


def test_recentre_on_calibration():
    ranges = {"mass": rs("uniform", 0.02, 0.03), "lat": rs("uniform_int", 0, 1), "k": rs("log_uniform", 0.5, 2)}
    # mass: 0.028 +- 3 * 0.001 = [0.025, 0.031]; lat: 1.2 +- 2 * 0.3 -> [0.6, 1.8] rounded out -> [0, 2]
    out = recentre_ranges(ranges, {"mass": (0.028, 0.001)}, 3.0)
    assert (out["mass"].low, out["mass"].high) == pytest.approx((0.025, 0.031))
    assert out["k"] == ranges["k"]
    lat = recentre_ranges(ranges, {"lat": (1.2, 0.3)}, 2.0)["lat"]
    assert (lat.low, lat.high) == (0.0, 2.0)
    with pytest.raises(KeyError, match="nope"):
        recentre_ranges(ranges, {"nope": (1.0, 0.1)}, 3.0)
    # a near-exact fit keeps min_fraction of the old half-width: 0.25 * (high - low) / 2 around the mean
    kept = recentre_ranges(ranges, {"mass": (0.028, 1e-9)}, 3.0, min_fraction=0.25)["mass"]
    half = 0.25 * (ranges["mass"].high - ranges["mass"].low) / 2
    assert (kept.low, kept.high) == pytest.approx((0.028 - half, 0.028 + half))
    # non-negative parameters stay so: latency 0 +- 0.125 -> [0, 1], not [-1, 1]
    lat0 = recentre_ranges(ranges, {"lat": (0.0, 0.0)}, 3.0, min_fraction=0.25)["lat"]
    assert (lat0.low, lat0.high) == (0.0, 1.0)


def test_fixed_parameters_replace_randomization_including_latency():
    from robot_rl.envs import BatchedRobotEnv, entry

    env = BatchedRobotEnv(entry("robot_rl/ArmReach-v0"), 2, "mujoco", randomize=True)
    env.fix_parameters({"link_mass_scale": 1.1, "action_latency_steps": 1})
    env.seed(0)
    env.reset()
    assert env.ranges is None and (env.params["link_mass_scale"] == 1.1).all()
    _, _, _, _, info = env.step(env.last_action + 0.01)
    # latency 1: the command executed now is the one applied a step ago (the start pose), not the new one
    assert (info["executed_action"] != info["applied_action"]).any()
    env.close()
