"""`robot-rl gate` for real on a copy of the shipped arm policy (a small suite): cases, thresholds, report, verdict
in the card with an intact hash chain; bad suites and another robot's suite are refused naming the field."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from robot_rl.evaluate.gate_suite import GateSuite, Thresholds, build_cases, load_suite, sweep_values
from robot_rl.evaluate.stats import cvar
from robot_rl.policy import load_card
from robot_rl.policy.card import save_card
from robot_rl.policy.gate import REPORT_FILE, SUITE_FILE, gate_status
from robot_rl.robots import RangeSpec, load_robot
from robot_rl.robots.spec import RobotSpecError
from robot_rl.safety.filter import SafetyFilter

ROOT = Path(__file__).resolve().parents[2]
SMALL = """robot: arm
episodes: 4
seed: 0
cross_sim: false
sweep_points: 3
latency_steps: [1]
noise_factors: [2.0]
thresholds: {{nominal: {nominal}, randomized: 0.3, stress: 0.2}}
"""


def _gate(policy: Path, suite: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "robot_rl.cli.main", "gate", str(policy), "--suite", str(suite),
                           "--json"], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture
def policy(tmp_path):
    folder = tmp_path / "arm-reach"
    shutil.copytree(ROOT / "policies" / "arm-reach", folder, ignore=shutil.ignore_patterns("gate"))
    save_card(load_card(folder / "card.yaml").model_copy(update={"gate": None}), folder / "card.yaml")  # ungated
    return folder


def test_cases_of_a_suite():
    arm = load_robot("arm")
    suite = GateSuite(robot="arm", sweep_points=3, latency_steps=[1, 2], noise_factors=[3.0],
                      thresholds=Thresholds(nominal=0.8, randomized=0.7, stress=0.5))
    cases = build_cases(suite, arm)
    names = [c.name for c in cases]
    assert names[:3] == ["nominal", "randomized", "randomized, PyBullet"]
    assert "latency +2 steps" in names and "observation noise x3" in names
    gain = [c for c in cases if c.parameter == "actuator_gain_scale"]
    assert [c.value for c in gain] == pytest.approx([0.6, 1.0, 1.4])  # trained 0.8-1.2: twice its width
    assert [c.threshold for c in gain] == [None, 0.7, None]  # beyond the trained range: reported only
    drop = [c for c in cases if c.parameter == "state_drop_prob"]  # the default 20 % and 50 %
    assert [c.env_options for c in drop] == [{"state_drop_prob": 0.2}, {"state_drop_prob": 0.5}]
    assert [c.name for c in drop] == ["state messages dropped 20%", "state messages dropped 50%"]
    lat = next(c for c in cases if c.name == "latency +2 steps").ranges["action_latency_steps"]
    assert (lat.low, lat.high) == (2, 3)
    assert sweep_values(RangeSpec(distribution="uniform", low=0.0, high=0.5, unit="kg"), 3).tolist() == [0, 0.25, 0.75]
    push = RangeSpec(distribution="uniform", low=0.0, high=10.0, unit="N")
    assert sweep_values(push, 5).tolist() == [0, 5, 10, 15]  # -5 and 0 both clip to 0: swept once


def test_push_stress_cases_on_a_robot_that_trains_without_pushes(tmp_path):
    base = load_robot("mobile_base")  # robot.yaml holds push_force_n constant at 0: not swept
    suite = GateSuite(robot="mobile_base", sweep_points=3, push_forces_n=[30.0, 60.0],
                      thresholds=Thresholds(nominal=0.8, randomized=0.7, stress=0.5))
    cases = build_cases(suite, base)
    push = [c for c in cases if c.parameter == "push_force_n"]
    assert [(c.name, c.kind, c.value, c.threshold) for c in push] == [
        ("pushes of 30 N", "stress", 30.0, 0.5), ("pushes of 60 N", "stress", 60.0, 0.5)]
    assert push[1].ranges["push_force_n"] == RangeSpec(distribution="constant", low=60.0, high=60.0, unit="N")
    assert push[1].ranges["wheel_slip_fraction"] == base.randomization["wheel_slip_fraction"]  # the rest as trained
    text = "robot: {robot}\npush_forces_n: {forces}\nthresholds: {{nominal: 1, randomized: 0.5, stress: 0.5}}\n"
    for robot, forces, why in [("arm", "[20]", "randomizes them in training"), ("quadrotor", "[20]", "has no pushes"),
                               ("mobile_base", "[0]", "each must be > 0 N")]:
        (tmp_path / "s.yaml").write_text(text.format(robot=robot, forces=forces))
        with pytest.raises(RobotSpecError, match=f"field 'push_forces_n'.*{why}"):
            load_suite(tmp_path / "s.yaml", load_robot(robot))


def test_the_gate_passes_writes_its_report_and_chains_the_verdict(policy, tmp_path):
    (tmp_path / "suite.yaml").write_text(SMALL.format(nominal=0.3))
    result = _gate(policy, tmp_path / "suite.yaml")
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout)
    assert out["passed"] and out["reasons"] == [] and len(out["cases"]) == 2 + 3 * 6 + 2 + 2  # + dropped 20/50 %
    for case in out["cases"]:  # task error (m), its CVaR, the filter in the loop, violations, smoothness
        assert 0 <= case["task_error"] <= case["task_error_cvar"] < 1.0
        assert 0 <= case["filter_share"] <= 1 and case["violation_steps"] >= 0
        assert set(case["filter_events"]) <= set(SafetyFilter.for_robot(load_robot("arm")).event_names)
        assert case["sm"] > 0 and case["action_rate_rms"] > 0 and 0 <= case["high_freq_energy_share"] <= 1
    assert (policy / SUITE_FILE).read_text() == (tmp_path / "suite.yaml").read_text()
    page = (policy / REPORT_FILE).read_text()
    assert "PASSED" in page and "data:image/png;base64," in page and "http" not in page.split("<body>")[1]
    assert "Worst episodes: " in page  # the weakest case again: trajectories, and frames where OpenGL renders
    assert 'alt="frames"' in page or "frames not rendered: no offscreen OpenGL here" in page
    status = gate_status(policy)
    assert status.ok, status.summary
    assert load_card(policy / "card.yaml").gate.passed


def test_a_threshold_no_policy_can_meet_fails_the_gate_with_reasons(policy, tmp_path):
    (tmp_path / "suite.yaml").write_text(SMALL.format(nominal=0.99).replace("sweep_points: 3", "sweep_points: 0"))
    result = _gate(policy, tmp_path / "suite.yaml")
    assert result.returncode == 1, result.stderr[-2000:]
    out = json.loads(result.stdout)
    assert not out["passed"] and out["reasons"][0].startswith("nominal: success lower bound 0.510 < 0.99")
    status = gate_status(policy)
    assert not status.ok and "failed: nominal" in status.summary


def test_bad_suites_are_refused_naming_the_field(policy, tmp_path):
    arm = load_robot("arm")
    bad = {"robot: arm\nthresholds: {nominal: 2, randomized: 0.5, stress: 0.5}\n": "field 'thresholds.nominal'",
           "robot: arm\nepisodes: 0\nthresholds: {nominal: 1, randomized: 0.5, stress: 0.5}\n": "field 'episodes'",
           "robot: arm\n": "field 'thresholds'",
           "robot: arm\ndrop_probabilities: [1.0]\nthresholds: {nominal: 1, randomized: 0.5, stress: 0.5}\n":
               "field 'drop_probabilities'",
           "robot: quadrotor\nthresholds: {nominal: 1, randomized: 0.5, stress: 0.5}\n": "the suite is for 'quadrotor'"}
    for text, field in bad.items():
        (tmp_path / "s.yaml").write_text(text)
        with pytest.raises(RobotSpecError, match=field):
            load_suite(tmp_path / "s.yaml", arm)
    result = _gate(policy, ROOT / "sim" / "quadrotor" / "gate.yaml")  # a policy for another robot
    assert result.returncode == 2 and "the suite is for 'quadrotor', the policy for 'arm'" in result.stderr
    assert load_card(policy / "card.yaml").gate is None  # nothing recorded
    missing = _gate(policy, tmp_path / "nope.yaml")
    assert missing.returncode == 2 and "nope.yaml" in missing.stderr


@pytest.mark.parametrize("robot", ["arm", "quadrotor", "mobile_base"])
def test_the_default_suites_load(robot):
    spec = load_robot(robot)
    assert load_suite(ROOT / "sim" / robot / "gate.yaml", spec).robot == robot


def test_cvar_by_hand():
    assert cvar([1.0, 2.0, 3.0, 4.0], 0.5) == 3.5  # the worst half: 3 and 4
    assert cvar([1.0, 2.0, 3.0], 0.5) == 2.5  # ceil(1.5) = 2 worst
    assert cvar([5.0], 0.5) == 5.0 and cvar([1.0, float("nan"), 3.0], 0.5) == 3.0
    assert np.isnan(cvar([], 0.5))


def test_the_weakest_case_and_its_frames():
    from types import SimpleNamespace

    import mujoco

    from robot_rl.evaluate.gate_worst import FRAMES, render_frames, weakest

    results = [SimpleNamespace(success=s, task_error_cvar=c) for s, c in [(1.0, 0.1), (0.5, 0.2), (0.5, 0.4)]]
    assert weakest(results) == 2  # the lowest success; of those, the largest CVaR
    base = load_robot("mobile_base")
    model = mujoco.MjModel.from_xml_path(str(base.path(base.mjcf)))
    qpos = np.tile(model.qpos0, (10, 1))
    qpos[:, 2] = base.mobile_base.base_height_m
    far = model.body_pos[model.body_mocapid >= 0][np.argsort(model.body_mocapid[model.body_mocapid >= 0])]
    near = far.copy()
    near[0] = [0.8, 0.0, 0.0]  # one obstacle just ahead
    episode = {"qpos": qpos, "mocap_pos": far, "task": {"goal_xy_m": np.array([0.0, 0.6])}}
    try:
        alone = render_frames(base, episode)
    except RuntimeError as e:
        pytest.skip(f"no offscreen OpenGL here: {e}")
    assert alone.shape == (240, FRAMES * 320, 3) and alone.dtype == np.uint8
    assert alone.std() > 5  # a scene, not a blank image

    def orange(img):  # the obstacles' 0.8 0.4 0.1
        r, g, b = (img[..., k].astype(int) for k in range(3))
        return int(((r > g + 40) & (g > b + 20)).sum())

    def green(img):  # the goal's sphere
        r, g, b = (img[..., k].astype(int) for k in range(3))
        return int(((g > r + 40) & (g > b + 40)).sum())

    beside = render_frames(base, episode | {"mocap_pos": near})
    assert orange(beside) > orange(alone) + 500  # the episode's obstacle where it stood
    gone = render_frames(base, episode | {"task": {"goal_xy_m": np.array([60.0, 60.0])}})
    assert green(alone) > green(gone) + 200  # the goal drawn where it is
