"""CAPS regularizers: hand-computed losses, and that the temporal one makes PPO's mean action change less."""

from dataclasses import replace

import pytest
import torch

import robot_rl.envs as envs
from robot_rl.learn.caps import spatial_loss, temporal_loss
from robot_rl.learn.ppo import PPO, PPOConfig


def test_temporal_loss_by_hand_leaves_out_episode_ends():
    mean = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.5, 0.5]])
    nxt = torch.tensor([[0.3, 0.4], [0.0, 0.0], [9.0, 9.0]])
    same = torch.tensor([True, True, False])  # row 2's next observation starts a new episode
    # rows 0, 1: 0.09 + 0.16 = 0.25 and 1.0; mean 0.625
    assert temporal_loss(mean, nxt, same).item() == pytest.approx(0.625)
    assert temporal_loss(mean, nxt, torch.zeros(3, dtype=torch.bool)).item() == 0.0


def test_spatial_loss_by_hand():
    mean = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    perturbed = torch.tensor([[1.0, 1.0], [2.0, 0.0]])
    assert spatial_loss(mean, perturbed).item() == pytest.approx((1.0 + 4.0) / 2)


def mean_step_change(learner: PPO, steps: int = 40) -> float:
    """Mean squared change of the deterministic mean action between consecutive steps of the same episode."""
    rollout = learner._collect()
    with torch.no_grad():
        means = learner.model.mean(rollout.obs.flatten(0, 1)).reshape(*rollout.obs.shape[:2], -1)[:steps]
    same = ~(rollout.terminated | rollout.truncated)[: steps - 1]
    diff = ((means[1:] - means[:-1]) ** 2).sum(-1)
    return (diff * same).sum().item() / same.sum().item()


def test_temporal_caps_makes_the_mean_action_change_less():
    venv = envs.make_vec("robot_rl/QuadrotorHover-v0", 8, randomize=True)
    base = PPOConfig(actor_hidden=(32, 32), critic_hidden=(32, 32), rollout_steps=40, init_log_std=0.0)
    try:
        changes = []
        for weight in (0.0, 10.0):
            learner = PPO(venv, replace(base, caps_temporal=weight, caps_spatial=weight), seed=0, device="cpu")
            for _ in range(6):
                learner.iterate()
            changes.append(mean_step_change(learner))
    finally:
        venv.close()
    assert changes[1] < 0.5 * changes[0], changes
