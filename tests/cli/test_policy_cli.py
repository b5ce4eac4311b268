"""Smoke runs of `robot-rl export` and `robot-rl eval`, and one-line errors (exit 2, no traceback) for bad input."""

import json
import subprocess
import sys

import pytest
import yaml

from robot_rl.cli.main import main
from robot_rl.learn.checkpoint import save_atomic
from robot_rl.policy.export import untrained_checkpoint

ENV_ID = "robot_rl/QuadrotorHover-v0"


def run(*args):
    return subprocess.run([sys.executable, "-m", "robot_rl.cli.main", *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """`robot-rl export` of an untrained policy through the real entry point (no evaluation episodes)."""
    root = tmp_path_factory.mktemp("cli")
    save_atomic(untrained_checkpoint(ENV_ID, hidden=(32, 32)), root / "runs" / "quad" / "checkpoint.pt")
    out = run("export", str(root / "runs" / "quad"), "--out", str(root / "policies" / "quad"), "--episodes", "0",
              "--json")
    assert out.returncode == 0, out.stderr
    return root, json.loads(out.stdout)


def test_help_lists_policy_commands():
    out = run("--help")
    assert out.returncode == 0 and "export" in out.stdout and "eval" in out.stdout


def test_export_json(shipped):
    root, summary = shipped
    assert summary["out_dir"] == str(root / "policies" / "quad") and len(summary["sha256"]) == 64
    assert summary["parity_random"] <= 1e-5 and summary["parity_recorded"] <= 1e-5
    assert summary["evaluation"] == []


def test_export_text_with_evaluation(tmp_path, capsys):
    save_atomic(untrained_checkpoint(ENV_ID, hidden=(16,)), tmp_path / "run" / "checkpoint.pt")
    assert main(["export", str(tmp_path / "run"), "--out", str(tmp_path / "p"), "--episodes", "1",
                 "--num-envs", "1"]) == 0
    text = capsys.readouterr().out
    assert "parity_recorded" in text and "mujoco: success" in text and "pybullet: success" in text


def test_eval_json_through_entry_point(shipped):
    root, _ = shipped
    out = run("eval", str(root / "policies" / "quad"), "--episodes", "2", "--backend", "pybullet", "--nominal",
              "--json")
    assert out.returncode == 0, out.stderr
    stats = json.loads(out.stdout)
    assert stats["episodes"] == 2 and stats["randomized"] is False and stats["backend"] == "pybullet"
    assert {"success_rate", "mean_return", "mean_episode_length", "command_clip_fraction"} <= set(stats)


def test_eval_text(shipped, capsys):
    root, _ = shipped
    assert main(["eval", str(root / "policies" / "quad"), "--episodes", "1", "--quiet"]) == 0
    assert "success_rate" in capsys.readouterr().out


def test_run_folder_without_checkpoint_is_one_line(tmp_path):
    (tmp_path / "run").mkdir()
    out = run("export", str(tmp_path / "run"), "--out", str(tmp_path / "p"), "--episodes", "0")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert f"robot-rl export: error: {tmp_path / 'run' / 'checkpoint.pt'}: no checkpoint file" in out.stderr
    assert not (tmp_path / "p").exists()


def damaged_copy(shipped, tmp_path):
    import shutil

    root, _ = shipped
    return shutil.copytree(root / "policies" / "quad", tmp_path / "quad")


def check_error(capsys, argv, *fragments):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith(f"robot-rl {argv[0]}: error: ")
    for fragment in fragments:
        assert fragment in err, err


def test_truncated_onnx_is_a_clear_error(shipped, tmp_path, capsys):
    folder = damaged_copy(shipped, tmp_path)
    (folder / "policy.onnx").write_bytes((folder / "policy.onnx").read_bytes()[:100])
    check_error(capsys, ["eval", str(folder), "--episodes", "1"], f"{folder / 'policy.onnx'}: sha256",
                "does not match card.yaml")


def test_corrupted_onnx_with_matching_hash_is_a_clear_error(shipped, tmp_path, capsys):
    import hashlib

    folder = damaged_copy(shipped, tmp_path)
    garbage = b"not an onnx model" * 10
    (folder / "policy.onnx").write_bytes(garbage)
    card = yaml.safe_load((folder / "card.yaml").read_text())
    card["onnx"]["sha256"] = hashlib.sha256(garbage).hexdigest()
    (folder / "card.yaml").write_text(yaml.safe_dump(card))
    check_error(capsys, ["eval", str(folder), "--episodes", "1"], "not a loadable ONNX model")


def test_card_for_another_robot_and_bad_field(shipped, tmp_path, capsys):
    folder = damaged_copy(shipped, tmp_path)
    card = yaml.safe_load((folder / "card.yaml").read_text())
    card["robot"] = "arm"
    (folder / "card.yaml").write_text(yaml.safe_dump(card))
    check_error(capsys, ["eval", str(folder), "--episodes", "1"], "is a task for robot 'quadrotor', not 'arm'")
    card["robot"], card["control_rate_hz"] = "quadrotor", "fast"
    (folder / "card.yaml").write_text(yaml.safe_dump(card))
    check_error(capsys, ["eval", str(folder), "--episodes", "1"], f"{folder / 'card.yaml'}: field 'control_rate_hz'")


def test_export_refuses_to_overwrite(shipped, capsys):
    root, _ = shipped
    check_error(capsys, ["export", str(root / "runs" / "quad"), "--out", str(root / "policies" / "quad"),
                         "--episodes", "0"], "already exists")
