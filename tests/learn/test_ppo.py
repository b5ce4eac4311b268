import math

import numpy as np
import pytest
import torch

import robot_rl.envs as envs
from robot_rl.learn.checkpoint import build_policy
from robot_rl.learn.episodes import privileged_inputs
from robot_rl.learn.networks import RunningNorm
from robot_rl.learn.ppo import (
    PPO,
    PPOConfig,
    compute_gae,
    gaussian_entropy,
    gaussian_kl,
    gaussian_log_prob,
    ppo_losses,
)

TINY = PPOConfig(actor_hidden=(16, 16), critic_hidden=(16, 16), rollout_steps=4, epochs=1, minibatches=2)


def test_gae_hand_computed_with_truncation_and_termination():
    # gamma 0.9, lam 0.5, T = 3 steps, 2 envs (columns).
    # env 0: r = 1, V = 0.5 each step, truncated at t=1 with V(final_obs) = 1.0, bootstrap V(s_3) = 2.0
    #   t=2: delta = 1 + 0.9*2.0 - 0.5 = 2.3                      A = 2.3
    #   t=1: truncated -> next V = 1.0: delta = 1 + 0.9 - 0.5 = 1.4, no carry across the boundary: A = 1.4
    #   t=0: next V = V(s_1) = 0.5: delta = 1 + 0.45 - 0.5 = 0.95, A = 0.95 + 0.9*0.5*1.4 = 1.58
    # env 1: r = (0, 2, 0), V = 1 each step, terminated at t=1 (its final value 5.0 must be ignored), V(s_3) = 3.0
    #   t=2: delta = 0 + 0.9*3 - 1 = 1.7                           A = 1.7
    #   t=1: terminated -> next V = 0: delta = 2 - 1 = 1.0           A = 1.0
    #   t=0: delta = 0 + 0.9*1 - 1 = -0.1, A = -0.1 + 0.45*1.0 = 0.35
    rewards = torch.tensor([[1.0, 0.0], [1.0, 2.0], [1.0, 0.0]])
    values = torch.tensor([[0.5, 1.0], [0.5, 1.0], [0.5, 1.0]])
    last = torch.tensor([2.0, 3.0])
    terminated = torch.tensor([[False, False], [False, True], [False, False]])
    truncated = torch.tensor([[False, False], [True, False], [False, False]])
    final = torch.tensor([[0.0, 0.0], [1.0, 5.0], [0.0, 0.0]])
    adv, ret = compute_gae(rewards, values, last, terminated, truncated, final, gamma=0.9, lam=0.5)
    assert adv[:, 0].tolist() == pytest.approx([1.58, 1.4, 2.3])
    assert adv[:, 1].tolist() == pytest.approx([0.35, 1.0, 1.7])
    # returns = A + V
    assert ret[:, 0].tolist() == pytest.approx([2.08, 1.9, 2.8])
    assert ret[:, 1].tolist() == pytest.approx([1.35, 2.0, 2.7])


def test_gae_lambda_one_is_discounted_return_minus_value():
    # lam = 1, no episode end: A_0 = r0 + g r1 + g^2 V(s_2) - V(s_0) = 1 + 0.5*1 + 0.25*4 - 0 = 2.5
    adv, _ = compute_gae(torch.ones(2, 1), torch.zeros(2, 1), torch.tensor([4.0]), torch.zeros(2, 1, dtype=bool),
                         torch.zeros(2, 1, dtype=bool), torch.zeros(2, 1), gamma=0.5, lam=1.0)
    assert adv[0, 0].item() == pytest.approx(2.5)


def test_clipped_policy_and_value_losses_hand_computed():
    # ratios 1.5, 0.5, 1.5, 0.5 with advantages +1, +1, -1, -1 and clip 0.2:
    #   min(1.5, 1.2) = 1.2;  min(0.5, 0.8) = 0.5;  min(-1.5, -1.2) = -1.5;  min(-0.5, -0.8) = -0.8
    #   policy loss = -mean(1.2, 0.5, -1.5, -0.8) = -(-0.6 / 4) = 0.15; every ratio is outside [0.8, 1.2]
    # approx_kl = mean((r - 1) - log r): (0.5 - ln 1.5 = 0.094535) and (-0.5 - ln 0.5 = 0.193147) -> 0.143841
    # value: V = (1, 2, 0, 0), V_old = (0, 2, 0, 0), R = (3, 2, 1, 0): errors (4, 0, 1, 0) -> 1.25
    #   clipped at 0.5: V_clip = (0.5, 2, 0, 0), errors (6.25, 0, 1, 0), max -> (6.25, 0, 1, 0) -> 1.8125
    log_prob = torch.log(torch.tensor([1.5, 0.5, 1.5, 0.5]))
    old = torch.zeros(4)
    adv = torch.tensor([1.0, 1.0, -1.0, -1.0])
    values, old_values = torch.tensor([1.0, 2.0, 0.0, 0.0]), torch.tensor([0.0, 2.0, 0.0, 0.0])
    returns = torch.tensor([3.0, 2.0, 1.0, 0.0])
    out = ppo_losses(log_prob, old, adv, values, old_values, returns, clip=0.2)
    assert out.policy.item() == pytest.approx(0.15)
    assert out.value.item() == pytest.approx(1.25)
    assert out.clip_fraction.item() == pytest.approx(1.0)
    assert out.approx_kl.item() == pytest.approx(0.143841, abs=1e-6)
    assert ppo_losses(log_prob, old, adv, values, old_values, returns, 0.2, value_clip=0.5).value.item() == (
        pytest.approx(1.8125))


def test_unclipped_ratio_gives_plain_policy_gradient():
    # ratio 1 everywhere: loss = -mean(A) = -(2 - 1) / 2 = -0.5, nothing clipped, KL 0
    out = ppo_losses(torch.zeros(2), torch.zeros(2), torch.tensor([2.0, -1.0]), torch.zeros(2), torch.zeros(2),
                     torch.zeros(2), clip=0.2)
    assert out.policy.item() == pytest.approx(-0.5)
    assert out.clip_fraction.item() == 0.0 and out.approx_kl.item() == pytest.approx(0.0)


def test_gaussian_helpers_hand_computed():
    # N(0, 1) at 1: -0.5 - 0.5 ln(2 pi) = -1.4189385; two dims add
    lp = gaussian_log_prob(torch.tensor([[1.0, 1.0]]), torch.zeros(1, 2), torch.zeros(2))
    assert lp.item() == pytest.approx(2 * (-0.5 - 0.5 * math.log(2 * math.pi)))
    # entropy of N(0, 1) = 0.5 ln(2 pi e) = 1.4189385
    assert gaussian_entropy(torch.zeros(1)).item() == pytest.approx(0.5 * math.log(2 * math.pi * math.e))
    # KL(N(0,1) || N(1,1)) = 0.5
    assert gaussian_kl(torch.zeros(1, 1), torch.zeros(1), torch.ones(1, 1), torch.zeros(1)).item() == (
        pytest.approx(0.5))


def test_running_norm_merge_equals_numpy_statistics_of_the_concatenation():
    rng = np.random.default_rng(0)
    a, b = rng.normal(3.0, 2.0, (50, 4)), rng.normal(-1.0, 0.5, (7, 4))
    norm = RunningNorm(4)
    norm.update(torch.as_tensor(a))
    norm.update(torch.as_tensor(b))
    both = np.concatenate([a, b])
    np.testing.assert_allclose(norm.mean.numpy(), both.mean(0), rtol=1e-12)
    np.testing.assert_allclose(norm.var.numpy(), both.var(0), rtol=1e-12)
    assert norm.count.item() == 57


@pytest.fixture(scope="module")
def quad():
    venv = envs.make_vec("robot_rl/QuadrotorHover-v0", 4, randomize=True)
    yield venv
    venv.close()


def test_privileged_critic_sees_parameters_the_actor_does_not(quad):
    from dataclasses import replace

    learner = PPO(quad, replace(TINY, privileged_critic=True), seed=0, device="cpu")
    n_obs, n_params = quad.core.task.observation_spec.size, len(quad.core.params)
    assert learner.model.actor[0].in_features == n_obs
    assert learner.model.critic[0].in_features == n_obs + n_params
    learner.iterate()
    priv = learner._priv()
    np.testing.assert_array_equal(priv.numpy(), privileged_inputs(quad.core))
    assert priv.shape == (4, n_params) and priv.abs().max() <= 1.0 + 1e-6
    obs = torch.as_tensor(learner._obs)
    # the value depends on the parameters; the actor's mean cannot (it never receives them)
    assert not torch.allclose(learner.model.value(obs, priv), learner.model.value(obs, -priv))
    plain = PPO(quad, TINY, seed=0, device="cpu")
    assert plain.model.critic[0].in_features == n_obs and plain._priv().shape == (4, 0)


def test_iterate_reports_losses_and_episode_statistics(quad):
    from dataclasses import replace

    learner = PPO(quad, replace(TINY, rollout_steps=80), seed=1, device="cpu")
    scalars = {}
    for _ in range(4):  # 320 steps: the quadrotor episodes (300 steps or a crash) end
        scalars.update(learner.iterate())
    for key in ("loss/policy", "loss/value", "policy/entropy", "policy/approx_kl", "train/learning_rate",
                "perf/steps_per_s", "episode/success_rate", "episode/return", "episode/length",
                "reward_terms/position", "reward_terms/alive"):
        assert key in scalars and np.isfinite(scalars[key]), key
    assert learner.env_steps == 4 * 80 * 4


def test_policy_block_rebuilds_the_same_module(quad):
    learner = PPO(quad, TINY, seed=0, device="cpu")
    learner.iterate()
    with torch.no_grad():
        learner.model.normalizer.update(torch.randn(100, quad.core.task.observation_spec.size) * 3)
    policy = learner.policy()
    rebuilt = build_policy("robot_rl/QuadrotorHover-v0", learner.policy_block())
    obs = torch.as_tensor(learner._obs)
    torch.testing.assert_close(policy(obs), rebuilt(obs), rtol=0, atol=0)
    # deterministic policy = action map of the clipped Gaussian mean
    with torch.no_grad():
        mean, command = learner.model.mean(obs).numpy(), policy(obs).numpy()
    expected = learner.action_map.to_command(obs.numpy().astype(np.float64), np.clip(mean, -1, 1), learner.obs_spec)
    np.testing.assert_allclose(command, expected, rtol=1e-5, atol=1e-6)


def test_same_seed_same_training(quad):
    states = []
    for _ in range(2):
        learner = PPO(quad, TINY, seed=3, device="cpu")
        learner.iterate()
        learner.iterate()
        states.append(learner.model.state_dict())
    for k in states[0]:
        torch.testing.assert_close(states[0][k], states[1][k], rtol=0, atol=0)
