"""`robot-rl sysid design | excite | fit` for real: the D-optimal excitation played by the controller through the
safety filter over DDS in lockstep against a hidden reality, recorded, then identified from the bag (arm, and the
quadrotor excited closed loop, the mobile base driving its square)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from robot_rl.data.bag import bag_info, read_bag
from robot_rl.data.ticks import TICK_TOPIC
from robot_rl.robots import load_robot
from robot_rl.sysid.excitation import Excitation
from robot_rl.sysid.schedule import EXCITATION_TOPIC, write_excitation
from tests.conftest import fresh_domain_id

ROOT = Path(__file__).resolve().parents[2]
REALITY = ROOT / "sim" / "arm" / "realities" / "weak_actuators.yaml"  # actuator gain 0.2, all else nominal


def _cli(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "robot_rl.cli.main", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def excited(tmp_path_factory):
    folder = tmp_path_factory.mktemp("excite")
    design = _cli("sysid", "design", "--robot", "arm", "--duration", "6", "--out", str(folder / "e.yaml"),
                  "--draws", "1")
    assert design.returncode == 0, design.stdout + design.stderr
    env = {"ROS_DOMAIN_ID": fresh_domain_id()}
    result = subprocess.run(
        [sys.executable, "-m", "robot_rl.cli.main", "sysid", "excite", "launch/arm.yaml", "--duration", "6",
         "--record", str(folder / "bag"), "--design", str(folder / "e.yaml"), "--middleware", "dds", "--json",
         "--set", f"sim_driver.reality_file={REALITY}"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False, env={**os.environ, **env})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return folder, json.loads(result.stdout.strip().splitlines()[-1]), design.stdout


def test_the_bag_records_what_excited_the_robot(excited):
    folder, result, design_out = excited
    assert "D-optimal:" in design_out and "log det F" in design_out
    bag = folder / "bag"
    assert result["bag"] == str(bag) and result["exit_code"] == 0
    topics = bag_info(bag)["topics"]
    assert EXCITATION_TOPIC in topics and TICK_TOPIC in topics
    (announce,) = [m for m in read_bag(bag, [EXCITATION_TOPIC])]
    values = {kv.key: kv.value for kv in announce.msg.status[0].values}
    assert values["sha256"] == result["excitation_sha256"] and values["ticks"] == "300"
    ticks = list(read_bag(bag, [TICK_TOPIC]))
    assert len(ticks) >= 300
    tags = {kv.value for m in ticks for kv in m.msg.status[0].values if kv.key == "policy_sha256"}
    assert tags == {f"excitation:{result['excitation_sha256']}"}


def test_fit_identifies_the_hidden_reality_from_the_bag(excited):
    folder, _, _ = excited
    out = folder / "cal" / "arm.yaml"
    fit = _cli("sysid", "fit", str(folder / "bag"), "--robot", "arm", "--params",
               "actuator_gain_scale,joint_damping_scale", "--out", str(out), "--report", str(folder / "gap.html"),
               "--max-latency", "2", "--json")
    assert fit.returncode == 0, fit.stdout[-3000:] + fit.stderr[-3000:]
    doc = json.loads(fit.stdout)
    assert doc["parameters"]["actuator_gain_scale"]["mean"] == pytest.approx(0.2, rel=0.03)
    assert doc["parameters"]["joint_damping_scale"]["mean"] == pytest.approx(1.0, rel=0.1)
    assert doc["parameters"]["action_latency_steps"]["mean"] == 0  # lockstep adds no delay; the reality has none
    assert doc["source_logs"][0]["path"] == str(folder / "bag") and len(doc["source_logs"][0]["sha256"]) == 64
    assert out.is_file() and (folder / "gap.html").is_file()
    assert "global search" in fit.stderr  # progress goes to stderr, JSON alone to stdout


def test_a_bag_of_another_robot_is_refused(excited):
    folder, _, _ = excited
    wrong = _cli("sysid", "fit", str(folder / "bag"), "--robot", "quadrotor", "--out", str(folder / "q.yaml"))
    assert wrong.returncode == 2 and "the bag is of robot 'arm', not 'quadrotor'" in wrong.stderr
    assert not (folder / "q.yaml").exists()


QUAD_REALITY = ROOT / "sim" / "quadrotor" / "realities" / "heavy_worn_props.yaml"  # mass 0.032, kf 2.7e-10, tau 0.06
BASE_REALITY = ROOT / "sim" / "mobile_base" / "realities" / "worn_wheels_slipping.yaml"  # r 0.074, slip 0.2, lat 1


def _excite_quietly(robot: str, design: Excitation, seconds: int, reality: Path, bag: Path) -> int:
    """`robot-rl sysid excite` of `design` on the simulated `robot` under `reality` over DDS; the bag's tick count.

    Asserts the run succeeded and the safety filter never had to act (the excitation stays inside its limits).
    """
    path = write_excitation(bag.parent / "e.yaml", load_robot(robot), design, float(seconds))
    result = subprocess.run(
        [sys.executable, "-m", "robot_rl.cli.main", "sysid", "excite", f"launch/{robot}.yaml", "--duration",
         str(seconds), "--record", str(bag), "--design", str(path), "--middleware", "dds", "--json",
         "--set", f"sim_driver.reality_file={reality}"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "ROS_DOMAIN_ID": fresh_domain_id()})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    ticks = list(read_bag(bag, [TICK_TOPIC]))
    events = {kv.value for m in ticks for kv in m.msg.status[0].values if kv.key == "events"}
    assert events <= {""}
    return len(ticks)


def test_the_quadrotor_is_excited_closed_loop_and_identified(tmp_path):
    """The hover controller plus the file's perturbations, through the safety filter over DDS; then the fit."""
    assert _excite_quietly("quadrotor", Excitation("chirp", 0.4, 0.5, 10.0), 6, QUAD_REALITY, tmp_path / "bag") >= 600
    fit = _cli("sysid", "fit", str(tmp_path / "bag"), "--robot", "quadrotor", "--out", str(tmp_path / "q.yaml"),
               "--max-latency", "1", "--json")
    assert fit.returncode == 0, fit.stdout[-3000:] + fit.stderr[-3000:]
    p = json.loads(fit.stdout)["parameters"]
    assert p["action_latency_steps"]["mean"] == 0
    assert p["mass_kg"]["mean"] == pytest.approx(0.032, rel=0.05)
    assert p["thrust_coefficient_n_per_rpm2"]["mean"] == pytest.approx(2.7e-10, rel=0.05)
    assert p["motor_time_constant_s"]["mean"] == pytest.approx(0.06, rel=0.1)
    ratio = p["thrust_coefficient_n_per_rpm2"]["mean"] / p["mass_kg"]["mean"]  # what the commands act through
    assert ratio == pytest.approx(2.7e-10 / 0.032, rel=0.01)


def test_the_mobile_base_drives_its_square_and_radius_and_slip_are_separated(tmp_path):
    """UMBmark's bidirectional square through the safety filter over DDS; then radius and slip from the bag."""
    assert _excite_quietly("mobile_base", Excitation("square", 0.8), 12, BASE_REALITY, tmp_path / "bag") >= 240
    fit = _cli("sysid", "fit", str(tmp_path / "bag"), "--robot", "mobile_base", "--out", str(tmp_path / "b.yaml"),
               "--max-latency", "2", "--params", "wheel_radius_m,wheel_slip_fraction", "--json")
    assert fit.returncode == 0, fit.stdout[-3000:] + fit.stderr[-3000:]
    doc = json.loads(fit.stdout)
    p = doc["parameters"]
    assert p["action_latency_steps"]["mean"] == 1
    assert p["wheel_radius_m"]["mean"] == pytest.approx(0.074, rel=0.02)
    assert p["wheel_slip_fraction"]["mean"] == pytest.approx(0.2, abs=0.05)
    # the mean motion alone would have said r (1 - s / 2): 7.5 % below the wheel, inside the training range
    assert doc["fit"]["slip_separation"]["mean_ratio_radius_m"] == pytest.approx(0.074 * 0.9, rel=0.02)
