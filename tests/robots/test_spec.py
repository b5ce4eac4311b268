from pathlib import Path

import pytest
import yaml

from robot_rl.robots import ROBOTS, RobotSpecError, load_calibration, load_range_override, load_robot, sim_root


@pytest.mark.parametrize("name", ROBOTS)
def test_shipped_robots_load(name):
    spec = load_robot(name)
    assert spec.kind == name
    assert spec.path(spec.mjcf).is_file() and spec.path(spec.urdf).is_file()
    assert spec.substeps >= 1


def test_rates_match_the_issue():
    arm, quad, base = (load_robot(n) for n in ROBOTS)
    assert (arm.control_rate_hz, arm.substeps) == (50, 10)  # 50 Hz control over 500 Hz physics
    assert quad.control_rate_hz == 100 and quad.quadrotor.rate_controller_hz >= 500
    assert base.control_rate_hz == 20


def test_quadrotor_max_thrust_is_2_25_weight():
    q = load_robot("quadrotor").quadrotor
    # 4 * kf * max_rpm^2 = 2.25 * 0.027 kg * 9.81 m/s^2 = 0.5960 N
    assert 4 * q.thrust_coefficient_n_per_rpm2 * q.max_rpm**2 == pytest.approx(0.5959575)


def _write_variant(tmp_path: Path, edit) -> Path:
    src = sim_root() / "arm"
    data = yaml.safe_load((src / "robot.yaml").read_text())
    edit(data)
    for f in ("model.xml", "model.urdf"):
        (tmp_path / f).write_text((src / f).read_text())
    path = tmp_path / "robot.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d.pop("control_rate_hz"), "control_rate_hz"),
        (lambda d: d.__setitem__("physics_dt_s", "fast"), "physics_dt_s"),
        (lambda d: d["arm"]["joints"][3].__setitem__("position_min_rad", 1.0), "arm.joints.3"),
        (lambda d: d.__setitem__("colour", "orange"), "colour"),
        (lambda d: d["randomization"]["payload_mass_kg"].__setitem__("low", 2.0), "randomization.payload_mass_kg"),
        (lambda d: d["command"]["low"].__setitem__(0, 5.0), "command"),
    ],
    ids=["missing", "wrong-type", "inverted-limit", "unknown-key", "inverted-range", "inverted-command"],
)
def test_bad_robot_yaml_names_file_and_field(tmp_path, edit, field):
    path = _write_variant(tmp_path, edit)
    with pytest.raises(RobotSpecError) as err:
        load_robot(path)
    assert str(path) in str(err.value)
    assert field in str(err.value)


def test_missing_model_file_is_named(tmp_path):
    path = _write_variant(tmp_path, lambda d: d.__setitem__("mjcf", "nope.xml"))
    with pytest.raises(RobotSpecError, match="nope.xml"):
        load_robot(path)


def test_not_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "robot.yaml"
    bad.write_text("name: [unclosed")
    with pytest.raises(RobotSpecError, match="not valid YAML"):
        load_robot(bad)
    with pytest.raises(RobotSpecError, match="no such file"):
        load_robot(tmp_path / "absent.yaml")


def test_range_override_replaces_entries_and_rejects_unknown(tmp_path):
    spec = load_robot("arm")
    f = tmp_path / "ranges.yaml"
    f.write_text("randomization:\n  payload_mass_kg: {distribution: uniform, low: 0.0, high: 1.0, unit: kg}\n")
    ranges = load_range_override(f, spec)
    assert ranges["payload_mass_kg"].high == 1.0
    assert ranges["link_mass_scale"] == spec.randomization["link_mass_scale"]
    f.write_text("randomization:\n  payload_kg: {distribution: uniform, low: 0.0, high: 1.0, unit: kg}\n")
    with pytest.raises(RobotSpecError, match="payload_kg"):
        load_range_override(f, spec)


def test_calibration_for_another_robot_is_refused(tmp_path):
    f = tmp_path / "cal.yaml"
    f.write_text("robot: quadrotor\nparameters:\n  mass_kg: {mean: 0.028, std: 0.001}\n")
    with pytest.raises(RobotSpecError, match="'robot'"):
        load_calibration(f, load_robot("arm"))
    assert load_calibration(f, load_robot("quadrotor")).parameters["mass_kg"].mean == 0.028
