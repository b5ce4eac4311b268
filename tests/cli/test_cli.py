"""Seconds-long smoke runs of every command, through the installed entry point's code path."""

import json
import subprocess
import sys

import pytest

from robot_rl.cli.main import main


def run(*args):
    return subprocess.run([sys.executable, "-m", "robot_rl.cli.main", *args], capture_output=True, text=True)


def test_help_lists_commands():
    out = run("--help")
    assert out.returncode == 0
    assert "envs" in out.stdout and "baseline" in out.stdout


def test_envs_lists_three_envs_with_both_backends(capsys):
    assert main(["envs", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["env_id"] for r in rows} == {"robot_rl/ArmReach-v0", "robot_rl/QuadrotorHover-v0",
                                           "robot_rl/MobileBaseGoal-v0"}
    for r in rows:
        assert r["backends"] == ["mujoco", "pybullet"]
        assert r["control_rate_hz"] > 0
    assert main(["envs"]) == 0
    assert "robot_rl/ArmReach-v0" in capsys.readouterr().out


@pytest.mark.parametrize("backend", ["mujoco", "pybullet"])
def test_baseline_json(backend):
    out = run("baseline", "robot_rl/QuadrotorHover-v0", "--episodes", "2", "--backend", backend, "--json",
              "--randomize")
    assert out.returncode == 0, out.stderr
    stats = json.loads(out.stdout)
    assert stats["episodes"] == 2 and stats["randomized"] is True
    assert {"success_rate", "mean_return", "mean_episode_length"} <= set(stats)


def test_baseline_text_output(capsys):
    assert main(["baseline", "robot_rl/ArmReach-v0", "--episodes", "2", "--quiet"]) == 0
    assert "success_rate" in capsys.readouterr().out


def test_unknown_env_is_a_clear_error():
    out = run("baseline", "robot_rl/Nope-v0", "--episodes", "1")
    assert out.returncode == 2
    assert "unknown environment 'robot_rl/Nope-v0'" in out.stderr
    assert "Traceback" not in out.stderr


def test_bad_ranges_file_is_a_clear_error(tmp_path):
    f = tmp_path / "r.yaml"
    f.write_text("randomization:\n  mass_kg: {distribution: uniform, low: 2, high: 1, unit: kg}\n")
    out = run("baseline", "robot_rl/QuadrotorHover-v0", "--episodes", "1", "--randomize-file", str(f))
    assert out.returncode == 2
    assert str(f) in out.stderr and "randomization.mass_kg" in out.stderr


def test_crosscheck_prints_gap_and_writes_plot(tmp_path):
    png = tmp_path / "arm.png"
    out = run("crosscheck", "robot_rl/ArmReach-v0", "--plot", str(png), "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["max_abs_difference"] < 2e-3 and png.is_file()
