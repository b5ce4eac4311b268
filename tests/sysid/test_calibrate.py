"""`calibrate`: a fit written as a calibration file the env reads, with its report; bad input refused, nothing lost."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml

from robot_rl.envs import BatchedRobotEnv, entry
from robot_rl.robots import RobotSpecError, load_calibration
from robot_rl.sysid.calibrate import calibrate, fit_names, summary_lines
from robot_rl.sysid.excitation import Excitation
from robot_rl.sysid.fit import FitError
from robot_rl.sysid.logs import SysidError, simulate_arm_log
from robot_rl.sysid.schedule import arm_design_commands

NAMES = ["actuator_gain_scale", "joint_damping_scale"]
QUIET = {"progress": lambda _line: None}


@pytest.fixture(scope="module")
def weak_log(arm):
    commands = arm_design_commands(arm, Excitation("chirp", 0.3, 0.2, 2.0), 10.0)
    return simulate_arm_log(arm, commands, {"actuator_gain_scale": 0.3, "joint_damping_scale": 1.8,
                                            "action_latency_steps": 2}, noise_std=(1e-4, 1e-3), seed=1)


@pytest.fixture(scope="module")
def calibrated(arm, weak_log, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cal")
    doc = calibrate(arm, weak_log, folder / "arm.yaml", NAMES, folder / "gap.html", max_latency=3, generations=8,
                    truth={"actuator_gain_scale": 0.3, "joint_damping_scale": 1.8}, **QUIET)
    return folder, doc


def test_the_file_holds_the_fit_and_the_env_recentres_on_it(arm, calibrated):
    folder, doc = calibrated
    p = doc["parameters"]
    assert p["actuator_gain_scale"]["mean"] == pytest.approx(0.3, rel=0.02)
    assert p["joint_damping_scale"]["mean"] == pytest.approx(1.8, rel=0.05)
    assert p["action_latency_steps"]["mean"] == 2
    lo, hi = p["actuator_gain_scale"]["ci95"]
    assert lo < p["actuator_gain_scale"]["mean"] < hi and p["actuator_gain_scale"]["unit"] == "x nominal"
    assert doc["nrmse"]["heldout"] < 0.4 * doc["nrmse"]["heldout_nominal"]
    assert doc["mujoco_version"] and doc["source_logs"][0]["path"] == "simulated"
    cal = load_calibration(folder / "arm.yaml", arm)
    assert cal.parameters["actuator_gain_scale"].ci95 == [lo, hi]
    env = BatchedRobotEnv(entry("robot_rl/ArmReach-v0"), 2, calibration=folder / "arm.yaml")
    gain = env.ranges["actuator_gain_scale"]
    # centred on the fit, at least a quarter of robot.yaml's half-width (0.2) wide on each side
    assert gain.low == pytest.approx(0.3 - 0.05, abs=0.01) and gain.high == pytest.approx(0.3 + 0.05, abs=0.01)
    assert env.ranges["action_latency_steps"].low <= 2 <= env.ranges["action_latency_steps"].high
    env.close()
    assert any("held-out NRMSE" in line for line in summary_lines(doc))


def test_the_report_is_one_self_contained_file(calibrated):
    page = (calibrated[0] / "gap.html").read_text()
    assert page.count("data:image/png;base64,") == 2 and "http://" not in page and "https://" not in page
    assert "Latency found: 2 control steps" in page and "<th>truth</th>" in page


def test_bad_input_is_refused_naming_what_is_wrong(arm, weak_log, tmp_path):
    with pytest.raises(SysidError, match=r"\['stiffness'\] are not identifiable parameters"):
        fit_names(arm, ["stiffness"])
    short = simulate_arm_log(arm, arm_design_commands(arm, Excitation(), 10.0)[:100], {})
    with pytest.raises(SysidError, match="too little excitation"):
        calibrate(arm, short, tmp_path / "a.yaml", NAMES, **QUIET)
    still = simulate_arm_log(arm, np.tile(arm.arm.home_rad, (500, 1)), {})
    with pytest.raises(SysidError, match="no excitation"):
        calibrate(arm, still, tmp_path / "b.yaml", NAMES, **QUIET)
    assert not (tmp_path / "a.yaml").exists() and not (tmp_path / "b.yaml").exists()


def test_a_fit_that_does_not_converge_writes_nothing(arm, tmp_path):
    commands = arm_design_commands(arm, Excitation("chirp", 0.3, 0.2, 2.0), 8.0)
    log = simulate_arm_log(arm, commands, {"actuator_gain_scale": 0.03})  # below the search box (>= 0.08)
    with pytest.raises(FitError, match="actuator_gain_scale .* ended on the bound"):
        calibrate(arm, log, tmp_path / "c.yaml", ["actuator_gain_scale"], max_latency=1, generations=3, **QUIET)
    assert not (tmp_path / "c.yaml").exists()


def test_calibrations_with_nan_or_of_another_robot_are_refused_at_load(arm, calibrated, tmp_path):
    doc = yaml.safe_load((calibrated[0] / "arm.yaml").read_text())
    doc["parameters"]["joint_damping_scale"]["mean"] = math.nan
    (tmp_path / "nan.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(RobotSpecError, match="parameters.joint_damping_scale.mean"):
        load_calibration(tmp_path / "nan.yaml", arm)
    doc["parameters"]["joint_damping_scale"]["mean"] = 1.0
    doc["robot"] = "quadrotor"
    (tmp_path / "other.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(RobotSpecError, match="field 'robot'"):
        load_calibration(tmp_path / "other.yaml", arm)
