"""Limits from robot.yaml and deployment overrides that may only tighten them."""

import numpy as np
import pytest
import yaml

from robot_rl.robots import RobotSpecError, load_robot, sim_root
from robot_rl.safety import SafetyFilter, limits_for

ARM, QUAD, BASE = (load_robot(n) for n in ("arm", "quadrotor", "mobile_base"))


def test_limits_from_robot_yaml():
    arm = limits_for(ARM)
    # joint4: [-3.0718, -0.0698] rad with a 0.05 rad margin -> targets in [-3.0218, -0.1198]
    assert arm.target_min_rad[3] == pytest.approx(-3.0218) and arm.target_max_rad[3] == pytest.approx(-0.1198)
    quad = limits_for(QUAD)
    assert quad.command_high.tolist() == [0.596, 2.28, 2.28, 4.76]
    base = limits_for(BASE)
    assert base.command_step.tolist() == pytest.approx([2.5 * 0.05, 3.2 * 0.05])  # 0.125 m/s, 0.16 rad/s per cycle
    assert base.lane_radius2_m2 == pytest.approx((0.25 + 0.03) ** 2)


@pytest.mark.parametrize(("spec", "overrides"), [
    (ARM, {"velocity_max_rad_s": 1.0, "joint_margin_rad": 0.1, "workspace_high_m": [0.7, 0.5, 0.9]}),
    (QUAD, {"tilt_max_rad": 0.5, "geofence_low_m": [-1.0, -1.0, 0.3], "thrust_max_n": 0.5}),
    (BASE, {"linear_velocity_max_m_s": 0.5, "linear_velocity_min_m_s": -0.2, "stop_distance_m": 0.2}),
])
def test_tightening_is_accepted(spec, overrides):
    limits = SafetyFilter.for_robot(spec, overrides).limits
    for key, value in overrides.items():
        assert np.all(np.broadcast_to(getattr(limits, key), np.shape(getattr(limits_for(spec), key))) == value)


@pytest.mark.parametrize(("spec", "key", "value", "hardware"), [
    (ARM, "velocity_max_rad_s", 3.0, "2.175"),
    (ARM, "position_min_rad", -4.0, "-2.8973"),
    (ARM, "workspace_high_m", [1.0, 0.6, 0.95], "0.85"),
    (ARM, "joint_margin_rad", 0.0, "0.05"),
    (QUAD, "tilt_max_rad", 1.0, "0.8"),
    (QUAD, "thrust_max_n", 0.7, "0.596"),
    (QUAD, "geofence_low_m", [-3.0, -2.5, 0.1], "-2.5"),
    (BASE, "accel_max_m_s2", 3.0, "2.5"),
    (BASE, "stop_distance_m", 0.01, "0.03"),
    (BASE, "linear_velocity_min_m_s", -1.0, "-0.5"),
])
def test_loosening_names_field_value_and_hardware_limit(spec, key, value, hardware):
    with pytest.raises(ValueError, match=key) as err:
        limits_for(spec, {key: value})
    assert "loosens" in str(err.value) and str(value) in str(err.value) and hardware in str(err.value)


def test_unknown_key_lists_known_ones():
    with pytest.raises(ValueError, match="unknown safety override.*'speed'.*known:.*velocity_max_rad_s"):
        limits_for(ARM, {"speed": 1.0})


def test_inconsistent_tightening_is_an_error():
    with pytest.raises(ValueError, match="hover thrust"):
        limits_for(QUAD, {"thrust_max_n": 0.2})  # below m g = 0.027 * 9.81 = 0.265 N
    with pytest.raises(ValueError, match="must contain 0"):
        limits_for(BASE, {"linear_velocity_min_m_s": 0.1})
    with pytest.raises(ValueError, match="workspace"):
        limits_for(ARM, {"workspace_low_m": [0.9, -0.6, 0.08], "workspace_high_m": [0.85, 0.6, 0.95]})
    with pytest.raises(ValueError, match="must be a number"):
        limits_for(ARM, {"velocity_max_rad_s": [1.0, 2.0]})


def _variant(tmp_path, robot, edit):
    src = sim_root() / robot
    data = yaml.safe_load((src / "robot.yaml").read_text())
    edit(data)
    for f in src.iterdir():
        if f.is_file() and f.name != "robot.yaml":  # realities/ holds hidden-reality files
            (tmp_path / f.name).write_text(f.read_text())
    (tmp_path / "robot.yaml").write_text(yaml.safe_dump(data))
    return tmp_path / "robot.yaml"


@pytest.mark.parametrize(("robot", "edit", "match"), [
    ("arm", lambda d: d["safety"].__setitem__("colour", 1.0), "safety"),
    ("arm", lambda d: d["arm"]["joints"][1].__setitem__("jerk_max_rad_s3", 0.0), "jerk_max_rad_s3"),
    ("quadrotor", lambda d: d["safety"].__setitem__("body_rate_max_rad_s", [9.0, 6.0, 3.0]), "body_rate_max"),
    ("quadrotor", lambda d: d["safety"].__setitem__("geofence_low_m", [3.0, -2.5, 0.1]), "geofence"),
    ("mobile_base", lambda d: d["safety"].__setitem__("footprint_radius_m", 0.1), "footprint_radius_m"),
    ("mobile_base", lambda d: d.__setitem__("safety", {"joint_margin_rad": 0.1,
                                                       "workspace_low_m": [0, 0, 0], "workspace_high_m": [1, 1, 1]}),
     "safety block is for 'arm'"),
])
def test_bad_safety_blocks_are_rejected(tmp_path, robot, edit, match):
    with pytest.raises(RobotSpecError, match=match):
        load_robot(_variant(tmp_path, robot, edit))


def test_missing_safety_block_is_an_error_for_the_filter(tmp_path):
    spec = load_robot(_variant(tmp_path, "arm", lambda d: d.pop("safety")))
    with pytest.raises(ValueError, match="no 'safety:' block"):
        limits_for(spec)
