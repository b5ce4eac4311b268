"""`robot-rl train` end to end on tiny budgets: files, resume bit-for-bit, Ctrl-C, config errors."""

import json
import os
import signal

import pytest
import torch
import yaml

from robot_rl.cli.main import main
from robot_rl.learn.checkpoint import build_policy, load_checkpoint
from robot_rl.learn.ppo import PPO, PPOConfig
from robot_rl.learn.runner import EnvConfig, override, read_config_file, train

ENV = "robot_rl/QuadrotorHover-v0"
# 4 envs x 8 steps = 32 env steps per iteration; envs reset and checkpoints every 2 iterations
TINY = {"learner": {"actor_hidden": [16, 16], "critic_hidden": [16, 16], "rollout_steps": 8, "epochs": 2,
                    "minibatches": 2, "env_reset_every": 2},
        "runner": {"checkpoint_every": 2, "eval_episodes": 0}}


def write_config(tmp_path, doc, name="cfg.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def train_cli(out, steps, config, *extra):
    return main(["train", ENV, "--algo", "ppo", "--steps", str(steps), "--out", str(out), "--num-envs", "4",
                 "--quiet", "--config", config, *extra])


def test_train_smoke_writes_config_checkpoint_tensorboard_and_eval(tmp_path, capsys):
    doc = {**TINY, "runner": {"checkpoint_every": 2, "eval_episodes": 4, "eval_num_envs": 4}}
    out = tmp_path / "run"
    assert train_cli(out, 64, write_config(tmp_path, doc)) == 0
    assert "env_steps" in capsys.readouterr().out
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["learner"]["rollout_steps"] == 8 and config["learner"]["actor_hidden"] == [16, 16]
    assert config["env"]["randomize"] is True and config["num_envs"] == 4 and config["seed"] == 0
    assert {"torch", "mujoco", "numpy"} <= set(config["versions"]) and "git_commit" in config
    ckpt = load_checkpoint(out / "checkpoint.pt")
    assert ckpt["algo"] == "ppo" and ckpt["progress"]["env_steps"] == 64 and ckpt["progress"]["iterations"] == 2
    policy = build_policy(ENV, ckpt["policy"])
    assert policy(torch.zeros(3, 22)).shape == (3, 4)
    assert any(p.name.startswith("events.out.tfevents") for p in (out / "tb").iterdir())
    assert json.loads((out / "eval.json").read_text())["episodes"] == 4


def test_tensorboard_gets_every_scalar(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    # 8 iterations of 80 steps: quadrotor episodes (300 steps or a crash) end, so episode scalars appear
    doc = {"learner": {**TINY["learner"], "rollout_steps": 80, "env_reset_every": 8}, "runner": TINY["runner"]}
    result = train(ENV, "ppo", 4 * 80 * 8, out, num_envs=4, config_path=write_config(tmp_path, doc), progress=False)
    tags = set(EventAccumulator(str(out / "tb")).Reload().Tags()["scalars"])
    assert set(result.scalars) <= tags
    for tag in ("loss/policy", "loss/value", "policy/entropy", "policy/approx_kl", "perf/steps_per_s",
                "episode/success_rate", "episode/return", "reward_terms/position", "reward_terms/alive"):
        assert tag in tags, tag


def test_resume_is_bit_for_bit(tmp_path):
    config = write_config(tmp_path, TINY)
    # straight: 4 iterations; split: 2 iterations (checkpoint at iteration 2), then resume to 4
    assert train_cli(tmp_path / "straight", 128, config) == 0
    assert train_cli(tmp_path / "split", 64, config) == 0
    assert main(["train", ENV, "--steps", "128", "--out", str(tmp_path / "split"), "--resume", "--quiet"]) == 0
    a = load_checkpoint(tmp_path / "straight" / "checkpoint.pt")
    b = load_checkpoint(tmp_path / "split" / "checkpoint.pt")
    assert a["progress"]["iterations"] == b["progress"]["iterations"] == 4
    for k, v in a["algorithm_state"]["model"].items():
        torch.testing.assert_close(v, b["algorithm_state"]["model"][k], rtol=0, atol=0, msg=k)
    assert a["algorithm_state"]["learning_rate"] == b["algorithm_state"]["learning_rate"]
    assert torch.equal(a["algorithm_state"]["generator"], b["algorithm_state"]["generator"])


def test_ctrl_c_saves_a_checkpoint_and_exits_cleanly(tmp_path, monkeypatch, capsys):
    calls = []
    original = PPO.iterate

    def iterate_then_sigint(self):
        out = original(self)
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C: the runner finishes this iteration, saves, returns
        return out

    monkeypatch.setattr(PPO, "iterate", iterate_then_sigint)
    out = tmp_path / "run"
    assert train_cli(out, 10_000, write_config(tmp_path, TINY)) == 130
    assert "checkpoint saved" in capsys.readouterr().err
    ckpt = load_checkpoint(out / "checkpoint.pt")
    assert ckpt["progress"]["iterations"] == 3 and ckpt["progress"]["env_steps"] == 96
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_keyboard_interrupt_inside_an_iteration_still_saves(tmp_path, monkeypatch):
    original = PPO.iterate

    def iterate_or_interrupt(self):
        if self.iterations == 1:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(PPO, "iterate", iterate_or_interrupt)
    result = train(ENV, "ppo", 10_000, tmp_path / "run", num_envs=4, config_path=write_config(tmp_path, TINY),
                   progress=False)
    assert result.interrupted and load_checkpoint(result.checkpoint)["progress"]["iterations"] == 1


def test_bad_config_key_names_file_and_key(tmp_path, capsys):
    bad = write_config(tmp_path, {"learner": {"learning_rat": 0.1}}, "bad.yaml")
    assert train_cli(tmp_path / "run", 64, bad) == 2
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "learning_rat" in err and "Traceback" not in err
    section = write_config(tmp_path, {"learning_rate": 0.1}, "flat.yaml")
    assert train_cli(tmp_path / "run", 64, section) == 2
    assert "flat.yaml" in (err := capsys.readouterr().err) and "'learning_rate'" in err
    typed = write_config(tmp_path, {"learner": {"epochs": "many"}}, "typed.yaml")
    assert train_cli(tmp_path / "run", 64, typed) == 2
    assert "typed.yaml: learner.epochs" in capsys.readouterr().err


def test_resume_without_checkpoint_is_a_clear_error(tmp_path, capsys):
    assert main(["train", ENV, "--steps", "64", "--out", str(tmp_path / "none"), "--resume"]) == 2
    err = capsys.readouterr().err
    assert "no checkpoint.pt to resume from" in err and "Traceback" not in err


def test_fresh_run_refuses_to_overwrite_and_resume_refuses_other_settings(tmp_path, capsys):
    config = write_config(tmp_path, TINY)
    assert train_cli(tmp_path / "run", 32, config) == 0
    assert train_cli(tmp_path / "run", 64, config) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["train", ENV, "--steps", "64", "--out", str(tmp_path / "run"), "--resume", "--seed", "5"]) == 2
    assert "seed" in capsys.readouterr().err


def test_overrides_coerce_yaml_values(tmp_path):
    # PyYAML reads 1e-3 as a string and lists for tuples: both become the field's type
    path = write_config(tmp_path, {"learner": {"learning_rate": "1e-3", "actor_hidden": [8], "desired_kl": None},
                                   "env": {"reward_scales": {"alive": 2.0}}})
    sections = read_config_file(path)
    cfg = override(PPOConfig(), sections["learner"], "x")
    assert cfg.learning_rate == 1e-3 and cfg.actor_hidden == (8,) and cfg.desired_kl is None
    assert override(EnvConfig(), sections["env"], "x").reward_scales == {"alive": 2.0}
    with pytest.raises(ValueError, match="x.clip"):
        override(PPOConfig(), {"clip": [1]}, "x")


def test_train_with_a_calibration_recentres_and_records_it(tmp_path, capsys):
    cal = tmp_path / "quad.yaml"
    cal.write_text(yaml.safe_dump({"robot": "quadrotor", "min_range_fraction": 0.25, "parameters": {
        "mass_kg": {"mean": 0.03, "std": 1e-6}, "action_latency_steps": {"mean": 2, "std": 0}}}))
    out = tmp_path / "run"
    assert train_cli(out, 64, write_config(tmp_path, TINY), "--calibration", str(cal)) == 0
    assert yaml.safe_load((out / "config.yaml").read_text())["env"]["calibration"] == str(cal)
    capsys.readouterr()
    assert main(["train", ENV, "--algo", "ppo", "--steps", "128", "--out", str(out), "--quiet", "--resume",
                 "--calibration", str(cal)]) == 2
    assert "--calibration cannot change a run being resumed" in capsys.readouterr().err
    (tmp_path / "arm.yaml").write_text(yaml.safe_dump({"robot": "arm", "parameters": {}}))
    assert train_cli(tmp_path / "run3", 64, write_config(tmp_path, TINY), "--calibration",
                     str(tmp_path / "arm.yaml")) == 2
    assert "calibration is for 'arm', not 'quadrotor'" in capsys.readouterr().err
