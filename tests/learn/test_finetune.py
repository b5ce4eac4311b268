"""Fine-tuning math with hand-computed cases, label requirements, the online schedule, and the online learner's
state surviving a save/load (resume never rebuilds an actor from random weights)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from robot_rl.learn.checkpoint import build_policy, load_checkpoint
from robot_rl.learn.finetune import (
    Samples,
    dagger_loss,
    masked_mse,
    normalized_action,
    required_labels,
    td3_bc_actor_loss,
)
from robot_rl.learn.finetune_config import FinetuneConfig, schedule_due
from robot_rl.learn.online import OnlineLearner, OnlineSchedule

ROOT = Path(__file__).resolve().parents[2]


def test_masked_mse_hand_computed():
    pred, target = torch.tensor([[1.0, 0.0], [0.0, 0.0]]), torch.tensor([[0.0, 0.0], [0.0, 2.0]])
    assert masked_mse(pred, target, torch.tensor([True, False])).item() == pytest.approx(1.0)
    assert masked_mse(pred, target, torch.tensor([True, True])).item() == pytest.approx(2.5)  # (1 + 4) / 2
    assert masked_mse(pred, target, torch.tensor([False, False])).item() == 0.0


def test_dagger_loss_is_label_error_plus_weighted_anchor():
    pred = torch.tensor([[1.0, 1.0], [2.0, 0.0]])
    label, parent = torch.tensor([[0.0, 1.0], [9.0, 9.0]]), torch.tensor([[9.0, 9.0], [1.0, 0.0]])
    loss = dagger_loss(pred, label, torch.tensor([True, False]), parent, torch.tensor([False, True]), 0.5)
    assert loss.item() == pytest.approx(1.0 + 0.5 * 1.0)


def test_td3_bc_actor_loss_hand_computed():
    q = torch.tensor([[1.0, 3.0], [3.0, 1.0]])  # [E=2, B=2]: ensemble mean 2 for both
    pred, data = torch.tensor([[0.0, 0.0], [1.0, 1.0]]), torch.zeros(2, 2)
    # lambda = 2.5 / mean|Q| = 1.25; -1.25 * 2 + mean([0, 2]) = -1.5
    assert td3_bc_actor_loss(q, pred, data, 2.5).item() == pytest.approx(-1.5)
    # sparse rewards: mean|Q| = 0.1 is below the floor 1, so lambda = 2.5 / 1: -2.5 * (-0.1) + 1 = 1.25
    assert td3_bc_actor_loss(torch.full((2, 2), -0.1), pred, data, 2.5, q_floor=1.0).item() == pytest.approx(1.25)


def test_clip_squash_passes_gradients_straight_through():
    ckpt = load_checkpoint(ROOT / "policies" / "arm-reach" / "checkpoint.pt")
    module = build_policy(ckpt["env_id"], ckpt["policy"])
    obs = torch.zeros(1, module.normalizer.mean.shape[0])
    with torch.no_grad():
        module.net[-1].bias.fill_(3.0)  # pre-squash 3 + W h: saturated in every component
        module.net[-1].weight.zero_()
    out = normalized_action(module, obs)
    assert torch.equal(out, torch.ones_like(out))  # the deployed value: clip(3) = 1
    out.sum().backward()
    assert torch.equal(module.net[-1].bias.grad, torch.ones_like(module.net[-1].bias))  # not zero


def _samples(n: int = 40, n_obs: int = 5, n_act: int = 2, interventions: bool = True, success: bool = True
             ) -> Samples:
    rng = np.random.default_rng(0)
    operator = np.zeros(n, bool)
    operator[10:20] = interventions
    rlif = np.zeros(n, np.float32)
    rlif[9] = -1.0 if interventions else 0.0
    reward = np.zeros(n, np.float32)
    reward[-1] = 1.0 if success else 0.0
    return Samples(obs=rng.normal(size=(n, n_obs)).astype(np.float32),
                   next_obs=rng.normal(size=(n, n_obs)).astype(np.float32),
                   action=rng.uniform(-1, 1, (n, n_act)).astype(np.float32),
                   label=rng.uniform(-1, 1, (n, n_act)).astype(np.float32), label_mask=operator.copy(),
                   policy_tick=~operator, success=np.full(n, success), intervention=operator, rlif_reward=rlif,
                   hil_serl_reward=reward, terminated=reward > 0)


@pytest.mark.parametrize(("method", "kwargs", "needs"), [
    ("rlif", {"interventions": False}, "no intervention onsets"),
    ("hg-dagger", {"interventions": False}, "no operator labels"),
    ("hil-serl", {"interventions": False}, "no intervention transitions"),
    ("hil-serl", {"success": False}, "no successful episode"),
    ("bc", {"success": False}, "no successful episode"),
])
def test_methods_name_the_labels_they_lack(method, kwargs, needs):
    assert needs in required_labels(method, _samples(**kwargs))
    assert required_labels(method, _samples()) is None


@pytest.mark.parametrize(("ticks", "cut", "due"), [(499, 0, False), (500, 0, True), (650, 500, False),
                                                   (700, 500, True)])
def test_schedule_due(ticks, cut, due):
    assert schedule_due(ticks, cut, warmup_ticks=500, train_every_ticks=200) is due


def test_unknown_method_and_bad_settings_are_refused():
    with pytest.raises(ValueError, match="method: unknown 'dagger'"):
        FinetuneConfig(method="dagger")
    with pytest.raises(ValueError, match="updates: must be >= 1"):
        FinetuneConfig(updates=0)


@pytest.mark.parametrize("method", ["hg-dagger", "rlif"])
def test_online_learner_state_round_trips_exactly(tmp_path, method):
    ckpt = load_checkpoint(ROOT / "policies" / "arm-reach" / "checkpoint.pt")
    parent = build_policy(ckpt["env_id"], ckpt["policy"])
    n_obs, n_act = parent.normalizer.mean.shape[0], parent.offset.shape[0]
    config = FinetuneConfig(method=method, updates=3, critic_warmup=2, batch_size=8)
    learner = OnlineLearner(parent, config, OnlineSchedule(10, 10))
    learner.train(_samples(n_obs=n_obs, n_act=n_act), cut=40)
    learner.save(tmp_path / "learner.pt")
    resumed = OnlineLearner(parent, config, OnlineSchedule(10, 10))
    resumed.load(tmp_path / "learner.pt")
    assert (resumed.version, resumed.cut) == (1, 40)
    for key, value in learner.actor.state_dict().items():
        assert torch.equal(resumed.actor.state_dict()[key], value), key  # not the parent's, not random
    assert any(not torch.equal(learner.actor.state_dict()[k], v) for k, v in parent.state_dict().items())
    if method == "rlif":
        for name in ("critic", "critic_target"):
            for key, value in learner.train_state[name].items():
                assert torch.equal(resumed.train_state[name][key], value)
    assert resumed.train_state["actor_opt"]["state"]  # optimizer moments restored
    other = OnlineLearner(parent, FinetuneConfig(method="bc"), OnlineSchedule(10, 10))
    with pytest.raises(ValueError, match="field 'config.method'"):
        other.load(tmp_path / "learner.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a state")
    with pytest.raises(ValueError, match="not a readable learner state"):
        resumed.load(tmp_path / "bad.pt")
