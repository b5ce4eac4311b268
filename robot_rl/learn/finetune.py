"""Fine-tuning a deployed policy from intervention data: RLIF, HIL-SERL, HG-DAgger and BC (`robot-rl finetune`).

Every method starts from the parent's actor (its checkpoint's `DeterministicPolicy`, normalizer frozen so the
observation statistics of the deployed graph stay those it was trained with) and trains only its MLP, in the
normalized action space of the task's action map. Commands in the data (robot units) are mapped back to normalized
actions with `ActionMap.to_action` on the step's own observation.

- `bc`: behaviour cloning of the applied commands of the episodes that ended in success (filtered BC).
- `hg-dagger`: regression on the operator's labels (`dagger_mask`), aggregated over every dataset given, plus an
  anchor that keeps the policy's own ticks at the parent's action (HG-DAgger retrains on the aggregate; the anchor
  stands in for the parent's training data, which the logs do not hold).
- `rlif`: off-policy RL on the RLIF reward alone (-1 on the policy step before an intervention onset, else 0), no
  task reward. `hil-serl`: the sparse success reward, with the intervention transitions as the demonstration half of
  a 50/50 RLPD batch. Both use the SAC critic of `robot_rl.learn.sac` (LayerNorm ensemble, min over the ensemble in
  the target, Polyak targets) with a deterministic actor and a behaviour-cloning term (TD3+BC's
  `-lambda Q / mean|Q| + ||pi - a||^2`). The parents are PPO policies whose deployed graph is `clip(mean)`; a
  tanh-Gaussian SAC actor would change that graph, so the actor stays the parent's and target actions are smoothed
  with clipped Gaussian noise instead of being sampled.
- Critic warm start: `critic_warmup` updates of the critic alone on the data with the parent's actor (policy
  evaluation of the parent) before any actor update, so the first actor steps follow a critic that already values
  the parent, rather than a random one (WSRL's concern, met offline).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch

from robot_rl.data.transitions import Transitions
from robot_rl.learn.buffers import ReplayBuffer, sample_mixed
from robot_rl.learn.finetune_config import FinetuneConfig
from robot_rl.learn.networks import DeterministicPolicy
from robot_rl.learn.sac import CriticEnsemble, SACConfig, critic_target
from robot_rl.spaces import VectorSpec
from robot_rl.spaces.actions import ActionMap


@dataclass
class Samples:
    """Training arrays in normalized action units, `N` steps."""

    obs: np.ndarray
    """float32 [N, n_obs] raw observations."""
    next_obs: np.ndarray
    action: np.ndarray
    """float32 [N, n_act]: the applied command as a normalized action."""
    label: np.ndarray
    """float32 [N, n_act]: the operator's command as a normalized action (0 where none)."""
    label_mask: np.ndarray
    """bool [N]: `label` is an HG-DAgger label."""
    policy_tick: np.ndarray
    """bool [N]: the policy acted."""
    success: np.ndarray
    """bool [N]: the step's episode ended in success."""
    intervention: np.ndarray
    """bool [N]: the operator acted."""
    rlif_reward: np.ndarray
    hil_serl_reward: np.ndarray
    terminated: np.ndarray


def normalized_action(module: DeterministicPolicy, obs: torch.Tensor) -> torch.Tensor:
    """The policy's normalized action `[B, n_act]` in [-1, 1] before the action map.

    A clip squash passes gradients straight through (the forward value is the deployed clip), so a saturated
    output can still be pulled back inside by a loss.
    """
    pre = module.net(module.normalizer(obs))
    if module.squash == "tanh":
        return torch.tanh(pre)
    return pre + (torch.clamp(pre, -1.0, 1.0) - pre).detach()


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over masked rows of the squared error summed over action components; 0 with no row masked."""
    weight = mask.float()
    return (((pred - target) ** 2).sum(-1) * weight).sum() / weight.sum().clamp(min=1.0)


def dagger_loss(pred: torch.Tensor, label: torch.Tensor, label_mask: torch.Tensor, parent: torch.Tensor,
                policy_tick: torch.Tensor, anchor_weight: float) -> torch.Tensor:
    """HG-DAgger: squared error to the operator's labels plus `anchor_weight` x that to the parent's action.

    The anchor counts on the policy's own ticks only. Actions `[B, n_act]` normalized, masks `[B]`.
    """
    return masked_mse(pred, label, label_mask) + anchor_weight * masked_mse(pred, parent, policy_tick)


def td3_bc_actor_loss(q: torch.Tensor, pred: torch.Tensor, data_action: torch.Tensor, q_weight: float,
                      q_floor: float = 1.0) -> torch.Tensor:
    """TD3+BC: `-(q_weight / max(mean|Q|, q_floor)) mean Q + mean ||pred - data_action||^2`.

    q `[E, B]`, actions `[B, n_act]`. The floor keeps sparse rewards (RLIF's -1 at onsets, HIL-SERL's +1 at
    success), whose Q-values are mostly near 0, from inflating the weight of a still noisy critic's gradient.
    """
    q_mean = q.mean(0)
    lam = q_weight / q_mean.abs().mean().detach().clamp(min=q_floor)
    return -lam * q_mean.mean() + ((pred - data_action) ** 2).sum(-1).mean()


def _tensor(x: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x, dtype=np.float32))


def _minibatch(samples: Samples, idx: np.ndarray) -> dict[str, torch.Tensor]:
    return {k: torch.as_tensor(np.asarray(getattr(samples, k)[idx], dtype=np.float32))
            for k in ("obs", "action", "label", "label_mask", "policy_tick")}


def _supervised(actor: DeterministicPolicy, parent: DeterministicPolicy, samples: Samples, config: FinetuneConfig,
                rng: np.random.Generator, say: Callable[[str], None], resume: dict | None
                ) -> tuple[dict[str, float], dict]:
    """BC (on successful episodes) or HG-DAgger (labels + anchor) regression."""
    if config.method == "bc":
        pool = np.flatnonzero(samples.success)
    else:
        pool = np.flatnonzero(samples.label_mask | samples.policy_tick)
    opt = torch.optim.Adam(actor.net.parameters(), lr=config.actor_lr)
    if resume:
        opt.load_state_dict(resume["actor_opt"])
    with torch.no_grad():  # the parent is fixed: its actions once, not per batch
        anchors = normalized_action(parent, _tensor(samples.obs))
    loss = torch.zeros(())
    for step in range(config.updates):
        idx = rng.choice(pool, config.batch_size)
        b = _minibatch(samples, idx)
        pred = normalized_action(actor, b["obs"])
        if config.method == "bc":
            loss = ((pred - b["action"]) ** 2).sum(-1).mean()
        else:
            loss = dagger_loss(pred, b["label"], b["label_mask"] > 0, anchors[idx], b["policy_tick"] > 0,
                               config.anchor_weight)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if (step + 1) % max(1, config.updates // 4) == 0:
            say(f"finetune[{config.method}]: update {step + 1}/{config.updates}, loss {loss.item():.4f}")
    return {"loss/actor": float(loss.item())}, {"actor_opt": opt.state_dict()}


def _replay(samples: Samples, reward: np.ndarray, rows: np.ndarray) -> ReplayBuffer:
    buf = ReplayBuffer(max(1, len(rows)), samples.obs.shape[1], samples.action.shape[1])
    if len(rows):
        buf.add(obs=samples.obs[rows], action=samples.action[rows], reward=reward[rows],
                next_obs=samples.next_obs[rows], terminated=samples.terminated[rows].astype(np.float32),
                privileged=np.zeros((len(rows), 0), np.float32), next_privileged=np.zeros((len(rows), 0), np.float32))
    return buf


def _offline_rl(actor: DeterministicPolicy, samples: Samples, config: FinetuneConfig, rng: np.random.Generator,
                say: Callable[[str], None], resume: dict | None) -> tuple[dict[str, float], dict]:
    """RLIF or HIL-SERL: critic warm-up on the parent, then TD3+BC actor updates against the critic ensemble.

    `resume` (a previous call's state) continues critic, targets and optimizers, without a second warm-up.
    """
    c = config
    rlif = c.method == "rlif"
    reward = samples.rlif_reward if rlif else samples.hil_serl_reward
    everything = _replay(samples, reward, np.arange(len(samples.obs)))
    prior = None if rlif else _replay(samples, reward, np.flatnonzero(samples.intervention))
    n_obs, n_act = samples.obs.shape[1], samples.action.shape[1]
    critic = CriticEnsemble(n_obs + n_act, SACConfig(num_critics=c.num_critics, critic_layer_norm=True))
    target = copy.deepcopy(critic)
    critic_opt = torch.optim.Adam(critic.parameters(), lr=c.critic_lr)
    actor_opt = torch.optim.Adam(actor.net.parameters(), lr=c.actor_lr)
    if resume:
        for name, obj in (("critic", critic), ("critic_target", target), ("critic_opt", critic_opt),
                          ("actor_opt", actor_opt)):
            obj.load_state_dict(resume[name])
    norm = actor.normalizer
    stats: dict[str, float] = {}
    warmup = 0 if resume else c.critic_warmup
    total = warmup + c.updates
    for step in range(total):
        b = sample_mixed(everything, prior, c.batch_size, c.prior_fraction, rng)
        obs, nxt, act = _tensor(b.obs), _tensor(b.next_obs), _tensor(b.action)
        with torch.no_grad():
            noise = (torch.randn_like(act) * c.target_noise).clamp(-2.5 * c.target_noise, 2.5 * c.target_noise)
            next_act = (normalized_action(actor, nxt) + noise).clamp(-1.0, 1.0)
            next_q = target(torch.cat([norm(nxt), next_act], -1))
            y = critic_target(_tensor(b.reward), _tensor(b.terminated), next_q, torch.zeros_like(next_q[0]),
                              c.gamma, 0.0)
        q = critic(torch.cat([norm(obs), act], -1))
        critic_loss = ((q - y) ** 2).mean()
        critic_opt.zero_grad()
        critic_loss.backward()
        critic_opt.step()
        stats.update({"loss/critic": critic_loss.item(), "q_mean": q.mean().item()})
        if step >= warmup:
            pred = normalized_action(actor, obs)
            critic.requires_grad_(False)
            actor_loss = td3_bc_actor_loss(critic(torch.cat([norm(obs), pred], -1)), pred, act, c.q_weight, c.q_floor)
            actor_opt.zero_grad()
            actor_loss.backward()
            critic.requires_grad_(True)
            actor_opt.step()
            stats["loss/actor"] = actor_loss.item()
        with torch.no_grad():
            for tp, p in zip(target.parameters(), critic.parameters(), strict=True):
                tp.lerp_(p, c.tau)
        if (step + 1) % max(1, total // 4) == 0:
            phase = "critic warm-up" if step < warmup else "actor"
            say(f"finetune[{c.method}]: update {step + 1}/{total} ({phase}), critic loss {critic_loss.item():.4f}, "
                f"Q {q.mean().item():+.3f}")
    state = {"critic": critic.state_dict(), "critic_target": target.state_dict(),
             "critic_opt": critic_opt.state_dict(), "actor_opt": actor_opt.state_dict()}
    return stats, state


def samples_from(transitions: Transitions, action_map: ActionMap, obs_spec: VectorSpec) -> Samples:
    """Normalized-action training arrays from `transitions` for the task of `action_map` and `obs_spec`."""
    t = transitions
    obs64 = t.obs.astype(np.float64)
    action = action_map.to_action(obs64, t.applied, obs_spec)
    has_label = t.dagger_mask & np.isfinite(t.operator).all(axis=1)
    operator = np.where(has_label[:, None], np.nan_to_num(t.operator), t.applied)
    label = np.where(has_label[:, None], action_map.to_action(obs64, operator, obs_spec), 0.0)
    return Samples(obs=t.obs.astype(np.float32), next_obs=t.next_obs.astype(np.float32),
                   action=action.astype(np.float32), label=label.astype(np.float32), label_mask=has_label,
                   policy_tick=t.source == 0, success=t.success.astype(bool), intervention=t.intervention.astype(bool),
                   rlif_reward=t.rlif_reward.astype(np.float32), hil_serl_reward=t.hil_serl_reward.astype(np.float32),
                   terminated=t.terminated.astype(bool))


def required_labels(method: str, samples: Samples) -> str | None:
    """Why `samples` cannot train `method` (None when they can)."""
    if method == "rlif" and not (samples.rlif_reward < 0).any():
        return "no intervention onsets (RLIF's -1 labels): rlif learns only from interventions"
    if method == "hg-dagger" and not samples.label_mask.any():
        return "no operator labels (dagger_mask): hg-dagger learns only from interventions"
    if method == "hil-serl" and not samples.intervention.any():
        return "no intervention transitions for the demonstration half of the RLPD batch"
    if method == "hil-serl" and not (samples.hil_serl_reward > 0).any():
        return "no successful episode: hil-serl's sparse reward is 0 everywhere"
    if method == "bc" and not samples.success.any():
        return "no successful episode to clone"
    return None


def finetune_actor(parent: DeterministicPolicy, samples: Samples, config: FinetuneConfig,
                   progress: Callable[[str], None] | None = None, resume: dict | None = None
                   ) -> tuple[DeterministicPolicy, dict]:
    """Train a copy of `parent` on `samples` with `config.method`; returns it (eval mode) and the learner state.

    `resume`: the state a previous call returned (optimizers, and the critics of the RL methods), to continue
    training (the online learner) instead of starting them afresh.

    Raises:
        ValueError: the samples lack what the method learns from (`required_labels`).

    """
    why = required_labels(config.method, samples)
    if why is not None:
        raise ValueError(f"{config.method}: {why}")
    say = progress or (lambda _line: None)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    actor = copy.deepcopy(parent).train()  # the normalizer holds buffers only: it stays the parent's
    if config.method in ("bc", "hg-dagger"):
        stats, state = _supervised(actor, parent, samples, config, rng, say, resume)
    else:
        stats, state = _offline_rl(actor, samples, config, rng, say, resume)
    state.update({"config": asdict(config), "actor": actor.state_dict(), "stats": stats})
    return actor.eval(), state
