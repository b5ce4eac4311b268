import gymnasium as gym
import numpy as np
import pytest

import robot_rl.envs as envs


def test_unknown_env_kwarg_fails():
    with pytest.raises(TypeError, match="colour"):
        gym.make("robot_rl/ArmReach-v0", colour="red")


def test_unknown_backend_and_env_id_fail():
    with pytest.raises(ValueError, match="unknown backend 'gazebo'"):
        envs.make("robot_rl/ArmReach-v0", backend="gazebo")
    with pytest.raises(KeyError, match="ArmPush-v9"):
        envs.make("robot_rl/ArmPush-v9")


def test_bad_randomize_argument_and_missing_ranges_file(tmp_path):
    with pytest.raises(TypeError, match="randomize"):
        envs.make("robot_rl/ArmReach-v0", randomize=3)
    with pytest.raises(ValueError, match="absent.yaml"):
        envs.make("robot_rl/ArmReach-v0", randomize=str(tmp_path / "absent.yaml"))


def test_unknown_reward_term_and_task_field_fail():
    with pytest.raises(TypeError, match="speed"):
        envs.make("robot_rl/ArmReach-v0", reward_scales={"speed": 1.0})
    with pytest.raises(TypeError, match="horizon"):
        envs.make("robot_rl/ArmReach-v0", task_config={"horizon": 10})


def test_reward_scale_override_is_applied():
    env = envs.make("robot_rl/ArmReach-v0", randomize=False, reward_scales={"distance": -2.0})
    env.reset(seed=0)
    _, _, _, _, info = env.step(env.action_space.sample())
    assert env.core.task.reward_scales["distance"] == -2.0
    assert info["reward_terms"]["distance"] < 0


def test_nan_action_holds_last_command_and_is_reported():
    env = envs.make("robot_rl/MobileBaseGoal-v0", randomize=False)
    env.reset(seed=0)
    _, _, _, _, info = env.step(np.array([0.5, 0.2]))
    _, _, _, _, info = env.step(np.array([np.nan, 0.0]))
    assert info["action_nonfinite"]
    assert info["applied_action"].tolist() == [0.5, 0.2]  # held, not NaN
    assert np.isfinite(env.core.plant.backend.base_state()[0]).all()


def test_out_of_bounds_action_is_clipped_and_reported():
    env = envs.make("robot_rl/QuadrotorHover-v0", randomize=False)
    env.reset(seed=0)
    _, _, _, _, info = env.step(np.array([5.0, 0.0, 0.0, -100.0]))
    assert info["action_clipped"]
    high, low = env.action_space.high, env.action_space.low
    assert info["applied_action"][0] == pytest.approx(high[0]) and info["applied_action"][3] == pytest.approx(low[3])
    assert info["proposed_action"][0] == 5.0  # what was proposed is kept for the logs


def test_wrong_action_length_names_the_command():
    env = envs.make("robot_rl/ArmReach-v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="joint1"):
        env.step(np.zeros(3))


def test_noise_key_not_in_observation_is_named(tmp_path, monkeypatch):
    import shutil

    import yaml

    from robot_rl.robots import sim_root

    for name in ("arm",):
        shutil.copytree(sim_root() / name, tmp_path / name)
    data = yaml.safe_load((tmp_path / "arm" / "robot.yaml").read_text())
    data["observation_noise_std"]["gripper_width_m"] = 0.001
    (tmp_path / "arm" / "robot.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.setenv("ROBOT_RL_SIM_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="observation_noise_std.gripper_width_m"):
        envs.make("robot_rl/ArmReach-v0")
