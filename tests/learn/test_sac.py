import numpy as np
import pytest
import torch

import robot_rl.envs as envs
from robot_rl.learn.buffers import ReplayBuffer, sample_mixed
from robot_rl.learn.checkpoint import build_policy
from robot_rl.learn.episodes import EpisodeTracker, privileged_inputs
from robot_rl.learn.sac import SAC, SACConfig, actor_objective, critic_target, squashed_log_prob


def test_critic_target_hand_computed():
    # r = 1, gamma = 0.9, next_q = min(2, 3) = 2, alpha * logp = 0.5 * -1 -> y = 1 + 0.9 * (2 + 0.5) = 3.25
    # terminated: y = r = 1
    y = critic_target(torch.tensor([1.0, 1.0]), torch.tensor([0.0, 1.0]), torch.tensor([[2.0, 2.0], [3.0, 3.0]]),
                      torch.tensor([-1.0, -1.0]), 0.9, 0.5)
    assert y.tolist() == pytest.approx([3.25, 1.0])


def test_actor_objective_hand_computed():
    # alpha * logp - mean_e q = 0.2 * -2 - (1 + 3) / 2 = -2.4
    assert actor_objective(torch.tensor([[1.0], [3.0]]), torch.tensor([-2.0]), 0.2).item() == pytest.approx(-2.4)


def test_squashed_log_prob_matches_change_of_variables():
    # at pre = 0.3, mean 0, std 1: log N(0.3) - log(1 - tanh(0.3)^2)
    pre = torch.tensor([[0.3]])
    expected = -0.5 * 0.09 - 0.5 * np.log(2 * np.pi) - np.log(1 - np.tanh(0.3) ** 2)
    assert squashed_log_prob(pre, torch.zeros(1, 1), torch.zeros(1, 1)).item() == pytest.approx(expected, abs=1e-6)


def _fill(buf, value, n):
    buf.add(obs=np.full((n, 2), value), action=np.zeros((n, 1)), reward=np.full(n, value), next_obs=np.zeros((n, 2)),
            terminated=np.zeros(n), privileged=np.zeros((n, 0)), next_privileged=np.zeros((n, 0)))


def test_rlpd_mixing_takes_half_from_prior():
    online, prior = ReplayBuffer(100, 2, 1), ReplayBuffer(100, 2, 1)
    _fill(online, 1.0, 50)
    _fill(prior, 2.0, 30)
    b = sample_mixed(online, prior, 64, 0.5, np.random.default_rng(0))
    assert (b.reward == 2.0).sum() == 32 and (b.reward == 1.0).sum() == 32
    assert (sample_mixed(online, None, 64, 0.5, np.random.default_rng(0)).reward == 1.0).all()


def test_replay_wraps_around():
    buf = ReplayBuffer(4, 2, 1)
    _fill(buf, 1.0, 3)
    _fill(buf, 2.0, 3)  # overwrites the two oldest
    assert buf.size == 4 and sorted(buf.data["reward"].tolist()) == [1.0, 2.0, 2.0, 2.0]


def test_episode_tracker_hand_computed():
    t = EpisodeTracker(2)
    info = {"reward_terms": {"a": np.array([1.0, 2.0])}, "is_success": np.array([True, False]),
            "failure": np.array([False, False])}
    t.update(np.array([1.0, 2.0]), np.array([False, False]), np.array([False, False]), info)
    t.update(np.array([1.0, 2.0]), np.array([True, False]), np.array([False, False]), info)
    s = t.summary()
    assert s["episode/return"] == 2.0 and s["episode/length"] == 2 and s["reward_terms/a"] == 2.0
    assert s["episode/success_rate"] == 1.0 and t.summary() == {}


def test_privileged_inputs_scale_by_ranges():
    venv = envs.make_vec("robot_rl/QuadrotorHover-v0", 2, randomize=True)
    venv.reset(seed=0)
    p = privileged_inputs(venv.core)
    assert p.shape == (2, len(venv.core.params)) and np.abs(p).max() <= 1.0 + 1e-6
    nominal = envs.make_vec("robot_rl/QuadrotorHover-v0", 2, randomize=False)
    assert (privileged_inputs(nominal.core) == 0).all()


def test_sac_learns_steps_and_exports_identical_policy():
    venv = envs.make_vec("robot_rl/MobileBaseGoal-v0", 4, randomize=True)
    sac = SAC(venv, SACConfig(hidden=(32, 32), learning_starts=64, steps_per_iteration=16, privileged_critic=True))
    stats = {}
    for _ in range(3):
        stats = sac.iterate()
    assert "loss/critic" in stats and np.isfinite(stats["loss/critic"])
    obs = torch.randn(5, 43)
    rebuilt = build_policy("robot_rl/MobileBaseGoal-v0", sac.policy_block())
    assert torch.allclose(rebuilt(obs), sac.policy()(obs), atol=1e-6)  # same weights, a narrower last layer
    state = sac.state_dict()
    sac2 = SAC(venv, SACConfig(hidden=(32, 32), learning_starts=64, steps_per_iteration=16, privileged_critic=True))
    sac2.load_state_dict(state)
    assert torch.equal(sac2.policy()(obs), sac.policy()(obs))


def test_robot_rl_train_sac_smoke_and_export(tmp_path):
    from robot_rl.cli.main import main

    cfg = tmp_path / "sac.yaml"
    cfg.write_text("learner:\n  learning_starts: 64\n  hidden: [16, 16]\n  steps_per_iteration: 8\n")
    run = tmp_path / "run"
    assert main(["train", "robot_rl/QuadrotorHover-v0", "--algo", "sac", "--steps", "256", "--num-envs", "4",
                 "--out", str(run), "--config", str(cfg), "--quiet"]) == 0
    ckpt = torch.load(run / "checkpoint.pt", weights_only=False)
    assert ckpt["algo"] == "sac" and ckpt["policy"]["squash"] == "tanh"
    assert main(["export", str(run), "--out", str(tmp_path / "pol"), "--episodes", "2"]) == 0
    assert (tmp_path / "pol" / "policy.onnx").is_file()
