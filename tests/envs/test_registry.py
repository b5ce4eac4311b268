"""Every registered env, on every backend: built, checked by Gymnasium, stepped, single and batched."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import robot_rl.envs as envs

CASES = [(e, b) for e in envs.ENVS for b in envs.BACKENDS]


@pytest.mark.parametrize(("env_id", "backend"), CASES)
def test_env_passes_gymnasium_checker_and_steps(env_id, backend):
    env = gym.make(env_id, backend=backend, randomize=True)
    check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=1)
    assert env.observation_space.contains(obs)
    assert set(info["params"]) == set(env.unwrapped.core.spec.randomization)
    for _ in range(5):
        obs, reward, term, trunc, info = env.step(env.action_space.sample())
        assert np.isfinite(obs).all() and np.isfinite(reward)
        assert set(info["reward_terms"]) == set(env.unwrapped.core.task.reward_scales)
        if term or trunc:
            env.reset()
    inner = env.unwrapped
    assert inner.control_dt_s == pytest.approx(1 / inner.core.spec.control_rate_hz)
    assert inner.physics_dt_s == inner.core.spec.physics_dt_s
    env.close()


@pytest.mark.parametrize(("env_id", "backend"), CASES)
def test_vector_env_steps_and_autoresets(env_id, backend):
    venv = envs.make_vec(env_id, 3, backend=backend, randomize=True)
    obs, _ = venv.reset(seed=0)
    assert obs.shape == (3, venv.single_observation_space.shape[0])
    assert venv.control_dt_s > 0 and venv.physics_dt_s > 0
    done_seen = False
    max_steps = venv.core.task.max_episode_steps
    for _ in range(max_steps + 1):
        obs, reward, term, trunc, info = venv.step(venv.action_space.sample())
        assert obs.shape[0] == 3 and reward.shape == (3,)
        done_seen |= bool((term | trunc).any())
        if done_seen:
            break
    assert done_seen, "some episode must end within max_episode_steps"
    assert venv.core.steps[np.flatnonzero(term | trunc)].max() == 0  # reset in the same step
    venv.close()


def test_same_seed_same_episode():
    def rollout(seed):
        env = envs.make("robot_rl/QuadrotorHover-v0", randomize=True)
        obs, info = env.reset(seed=seed)
        out = [obs]
        for _ in range(3):
            out.append(env.step(np.array([0.3, 0.1, 0.0, 0.0], dtype=np.float32))[0])
        return np.array(out), info["params"]

    a, pa = rollout(7)
    b, pb = rollout(7)
    c, _ = rollout(8)
    assert np.array_equal(a, b) and pa == pb
    assert not np.array_equal(a, c)


def test_randomization_changes_parameters_between_episodes_and_nominal_is_fixed():
    env = envs.make("robot_rl/ArmReach-v0", randomize=True)
    p1 = env.reset(seed=0)[1]["params"]
    p2 = env.reset()[1]["params"]
    assert p1["link_mass_scale"] != p2["link_mass_scale"]
    nominal = envs.make("robot_rl/ArmReach-v0", randomize=False)
    assert nominal.reset(seed=0)[1]["params"] == env.core.plant.nominal_parameters()


def test_expected_envs_registered():
    assert set(envs.ENVS) == {"robot_rl/ArmReach-v0", "robot_rl/QuadrotorHover-v0", "robot_rl/MobileBaseGoal-v0"}


def test_the_safety_filter_in_the_loop_reports_changes_events_violations_and_task_error():
    from robot_rl.envs import make_vec
    from robot_rl.envs.rollout import run_episodes

    env = make_vec("robot_rl/MobileBaseGoal-v0", 2, randomize=False, safety_filter=True)
    env.reset(seed=0)
    # full speed from rest: the filter limits the acceleration (2.5 m/s^2: 0.125 m/s per 50 ms step)
    _, _, _, _, info = env.step(np.array([[1.0, 0.0], [0.0, 0.0]]))
    assert info["safety_changed"].tolist() == [True, False]
    assert info["applied_action"][0, 0] == pytest.approx(0.125)
    assert set(info["safety_events"]) == set(env.core.safety.event_names)
    assert info["constraint_violated"].shape == (2,) and np.isfinite(info["task_error"]).all()
    details: list[dict] = []
    results = run_episodes(env, lambda obs: np.tile([1.0, 0.0], (len(obs), 1)), 2, seed=1, details=details)
    assert len(details) == len(results) == 2
    for d, (_, _, _, length, _) in zip(details, results, strict=True):
        assert 0 < d["filter_share"] <= 1 and d["events"] and d["task_error"] >= 0  # the ramp, at least
        assert 0 <= d["violation_steps"] <= length
    env.close()


def test_dropped_state_messages_keep_the_last_observation_and_age_it_until_the_watchdog_falls_back():
    from robot_rl.envs import make_vec

    env = make_vec("robot_rl/MobileBaseGoal-v0", 8, randomize=False, safety_filter=True, state_drop_prob=0.9)
    obs, _ = env.reset(seed=3)
    watchdog = env.core.spec.safety.watchdog_periods * env.core.control_dt_s
    fell_back = 0
    for _ in range(12):
        previous, stale = obs.copy(), env.core.input_age_s > watchdog + 1e-9
        obs, _, term, trunc, info = env.step(np.tile([0.5, 0.0], (8, 1)))
        kept = info["state_dropped"] & ~(term | trunc)
        np.testing.assert_array_equal(obs[kept], previous[kept])  # a lost message: the last observation again
        assert (info["safety_events"]["stale"] == stale).all()  # the filter sees the age of what it holds
        fell_back += int(stale.sum())
    assert fell_back > 0
    with pytest.raises(ValueError, match="state_drop_prob must be in"):
        make_vec("robot_rl/MobileBaseGoal-v0", 1, state_drop_prob=1.0)
    env.close()
