"""Proximal Policy Optimization for the batched robot_rl envs, read top to bottom.

config -> pure math (GAE, losses, Gaussian helpers, privileged critic input) -> episode statistics -> networks ->
the `PPO` learner (collect a rollout, update, report scalars).

Actor: running-statistics normalization of the raw observation -> MLP -> Gaussian mean in the normalized action
space `[-1, 1]` with a state-independent log-std. The env receives `action_map.to_command(obs, clip(a, -1, 1))`.
Critic: its own MLP on the normalized observation, plus (with `privileged_critic`) the episode's randomized physical
parameters scaled by their ranges, which the actor never sees.

Resume: envs are reset from a seed derived from `(seed, iteration)` at every `env_reset_every`-th iteration and
after `load_state_dict`; a checkpoint written at such an iteration continues bit-for-bit on CPU.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from robot_rl.envs import RobotVectorEnv
from robot_rl.learn.caps import spatial_loss, temporal_loss
from robot_rl.learn.episodes import EpisodeTracker, privileged_inputs
from robot_rl.learn.networks import DeterministicPolicy, RunningNorm, mlp


@dataclass(frozen=True)
class PPOConfig:
    """PPO hyperparameters. Batch per iteration = `num_envs * rollout_steps` transitions."""

    actor_hidden: tuple[int, ...] = (128, 128)
    """Hidden layer widths of the actor MLP (the exported policy)."""
    critic_hidden: tuple[int, ...] = (128, 128)
    """Hidden layer widths of the critic MLP."""
    activation: str = "elu"
    """Hidden activation: "elu" | "tanh" | "relu"."""
    learning_rate: float = 3e-4
    """Adam step size at the start (adapted when `desired_kl` is set)."""
    desired_kl: float | None = 0.01
    """KL-adaptive learning rate (rsl_rl): /1.5 above 2x, *1.5 below 0.5x this KL per minibatch; None = constant."""
    max_learning_rate: float = 1e-2
    """Upper bound of the adapted learning rate (the lower bound is 1e-5)."""
    gamma: float = 0.99
    """Discount per control step."""
    lam: float = 0.95
    """GAE lambda."""
    clip: float = 0.2
    """Policy ratio clip range epsilon."""
    value_clip: float | None = None
    """Clip the value change per update to +- this (return units); None = unclipped value loss."""
    value_coef: float = 0.5
    """Weight of the value loss in the total loss."""
    entropy_coef: float = 0.0
    """Weight of the entropy bonus (nats)."""
    epochs: int = 5
    """Passes over each rollout."""
    minibatches: int = 4
    """Minibatches per pass."""
    rollout_steps: int = 32
    """Control steps collected per env per iteration."""
    init_log_std: float = -0.5
    """Initial log standard deviation of the Gaussian (normalized action units; -0.5 -> std 0.61)."""
    max_grad_norm: float = 1.0
    """Gradient norm clip, applied to actor and critic parameters separately."""
    reward_scale: float = 1.0
    """Rewards are multiplied by this before GAE (keeps value targets O(1..10))."""
    privileged_critic: bool = False
    """Feed the randomized physical parameters (normalized by their ranges) to the critic only."""
    env_reset_every: int = 50
    """Reset all envs from a seed derived from (seed, iteration) every this many iterations (for exact resume)."""
    caps_temporal: float = 0.0
    """Weight of CAPS' temporal smoothness loss on the mean action (`robot_rl.learn.caps`); 0 = off."""
    caps_spatial: float = 0.0
    """Weight of CAPS' spatial smoothness loss on the mean action; 0 = off."""
    caps_spatial_std: float = 0.05
    """Std of the spatial loss's observation perturbation, in running-std units of each observation."""

    @classmethod
    def for_env(cls, env_id: str) -> PPOConfig:
        """Tuned defaults for `env_id` (`PPO_DEFAULTS`), or the class defaults."""
        return PPO_DEFAULTS.get(env_id, cls())


PPO_DEFAULTS: dict[str, PPOConfig] = {
    # 64 envs, randomized, reward "reached" scaled to 0 (runner.TRAIN_ENV_DEFAULTS): >= 97 % randomized success
    # after 0.25 M env steps (50-80 s on 2 cores); desired_kl 0.01 needed ~0.8 M steps, 0.08 was less reliable.
    # Through the jerk-limited generator (the Panda's command path), targets stepping the last one by <= vmax dt,
    # CAPS temporal and spatial losses (weight 1 each): 96 % randomized success at 0.4 M steps (runner evaluation;
    # 123 s), Sm 2.3x below the former policy's (docs/benchmarks.md). Without CAPS and with the
    # former map (increments on the measured joints), 0.3 M steps gave 83 %, 0.4 M 97 %.
    "robot_rl/ArmReach-v0": PPOConfig(actor_hidden=(64, 64), critic_hidden=(64, 64), desired_kl=0.04,
                                      caps_temporal=1.0, caps_spatial=1.0),
    # Fixed-length 300-step episodes that start together: longer rollouts see more of each episode per batch;
    # returns ~ 250 are scaled by 0.1 for the value targets. The privileged critic (wind, mass, motor lag ...)
    # gave 92-95 % randomized success at 0.5-1 M steps where the plain critic gave 80 % at 1.5 M; a smaller
    # initial std (-1.5) or a learning-rate cap of 1e-3 learned slower.
    # CAPS (weight 1 each): Sm 2.8x and action-rate RMS 3x below the former policy's (docs/benchmarks.md),
    # 98 % at 1.5 M steps (413 s); the reward's action-rate penalty at a weight that smoothed as much stopped PPO
    # learning (it penalizes the exploration noise too).
    "robot_rl/QuadrotorHover-v0": PPOConfig(actor_hidden=(64, 64), critic_hidden=(64, 64), desired_kl=0.02,
                                            rollout_steps=100, reward_scale=0.1, privileged_critic=True,
                                            caps_temporal=1.0, caps_spatial=1.0),
    # 90 % randomized success at 0.4 M env steps (143 s), 95 % after resuming to 0.6 M (docs/benchmarks.md).
    "robot_rl/MobileBaseGoal-v0": PPOConfig(actor_hidden=(64, 64), critic_hidden=(64, 64), desired_kl=0.02),
}
"""Per-env tuned configs (`PPOConfig.for_env`); figures from `robot-rl train` on the 2-core reference machine."""


# ---------------------------------------------------------------------------------------------------------- math


def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    last_values: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    final_values: torch.Tensor,
    gamma: float,
    lam: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalized advantage estimates and value targets of a rollout.

    Args:
        rewards: `[T, N]` reward of step t.
        values: `[T, N]` V(s_t) of the observation the action was taken in.
        last_values: `[N]` V(s_T) of the observation after the last step (rollout cut: bootstrap).
        terminated: `[T, N]` bool, the episode ended in a terminal state at step t (no bootstrap).
        truncated: `[T, N]` bool, the episode hit its time limit at step t: bootstrap from `final_values`.
        final_values: `[T, N]` V of `infos["final_obs"]` at step t (read only where `truncated`).
        gamma: discount per step.
        lam: GAE lambda.

    Returns:
        advantages `[T, N]` and returns (value targets) `advantages + values` `[T, N]`.

    """
    steps = rewards.shape[0]
    next_values = torch.cat([values[1:], last_values[None]], 0)
    next_values = torch.where(truncated, final_values, next_values)
    next_values = torch.where(terminated, torch.zeros_like(next_values), next_values)
    deltas = rewards + gamma * next_values - values
    carry = 1.0 - (terminated | truncated).to(rewards.dtype)
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(last_values)
    for t in reversed(range(steps)):
        running = deltas[t] + gamma * lam * carry[t] * running
        advantages[t] = running
    return advantages, advantages + values


class PPOLosses(NamedTuple):
    """Scalar tensors of one minibatch."""

    policy: torch.Tensor
    value: torch.Tensor
    approx_kl: torch.Tensor
    clip_fraction: torch.Tensor


def ppo_losses(
    log_prob: torch.Tensor,
    old_log_prob: torch.Tensor,
    advantages: torch.Tensor,
    values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    clip: float,
    value_clip: float | None = None,
) -> PPOLosses:
    """Clipped surrogate policy loss and (optionally clipped) squared value loss; all inputs `[B]`.

    policy = -mean(min(r A, clip(r, 1 - clip, 1 + clip) A)), r = exp(log_prob - old_log_prob)
    value  = mean((V - R)^2), or mean(max((V - R)^2, (V_old + clip(V - V_old, +-value_clip) - R)^2))
    approx_kl = mean((r - 1) - log r)  (Schulman's low-variance estimator, >= 0)
    """
    log_ratio = log_prob - old_log_prob
    ratio = torch.exp(log_ratio)
    surrogate = torch.min(ratio * advantages, torch.clamp(ratio, 1.0 - clip, 1.0 + clip) * advantages)
    value_err = (values - returns) ** 2
    if value_clip is not None:
        clipped = old_values + torch.clamp(values - old_values, -value_clip, value_clip)
        value_err = torch.max(value_err, (clipped - returns) ** 2)
    with torch.no_grad():
        approx_kl = ((ratio - 1.0) - log_ratio).mean()
        clip_fraction = ((ratio - 1.0).abs() > clip).float().mean()
    return PPOLosses(-surrogate.mean(), value_err.mean(), approx_kl, clip_fraction)


def gaussian_log_prob(action: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """Log density `[B]` of `action` `[B, A]` under the diagonal Gaussian (`mean` `[B, A]`, `log_std` `[A]`)."""
    z = (action - mean) * torch.exp(-log_std)
    return (-0.5 * z**2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)


def gaussian_entropy(log_std: torch.Tensor) -> torch.Tensor:
    """Entropy (nats, scalar) of a diagonal Gaussian with `log_std` `[A]`: sum(log_std + 0.5 log(2 pi e))."""
    return (log_std + 0.5 * math.log(2 * math.pi * math.e)).sum()


def gaussian_kl(old_mean: torch.Tensor, old_log_std: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor
                ) -> torch.Tensor:
    """Mean over the batch of KL(old || new) between diagonal Gaussians; means `[B, A]`, log-stds `[A]`."""
    old_var, var = torch.exp(2 * old_log_std), torch.exp(2 * log_std)
    kl = log_std - old_log_std + (old_var + (old_mean - mean) ** 2) / (2 * var) - 0.5
    return kl.sum(-1).mean()


# ---------------------------------------------------------------------------------------------------- networks


def _init_orthogonal(net: nn.Sequential, out_gain: float) -> None:
    """Orthogonal weights (gain sqrt 2 hidden, `out_gain` last layer), zero biases."""
    linears = [m for m in net if isinstance(m, nn.Linear)]
    for i, layer in enumerate(linears):
        nn.init.orthogonal_(layer.weight, out_gain if i == len(linears) - 1 else math.sqrt(2))
        nn.init.zeros_(layer.bias)


class ActorCritic(nn.Module):
    """Shared observation normalizer, actor MLP + log-std, critic MLP (optionally with privileged inputs)."""

    def __init__(self, n_obs: int, n_act: int, n_priv: int, config: PPOConfig) -> None:
        super().__init__()
        self.normalizer = RunningNorm(n_obs)
        self.actor = mlp(n_obs, config.actor_hidden, n_act, config.activation)
        self.critic = mlp(n_obs + n_priv, config.critic_hidden, 1, config.activation)
        self.log_std = nn.Parameter(torch.full((n_act,), float(config.init_log_std)))
        _init_orthogonal(self.actor, 0.01)
        _init_orthogonal(self.critic, 1.0)

    def mean(self, obs: torch.Tensor) -> torch.Tensor:
        """Gaussian mean `[B, A]` from raw observations `[B, n_obs]`."""
        return self.actor(self.normalizer(obs))

    def value(self, obs: torch.Tensor, priv: torch.Tensor) -> torch.Tensor:
        """V `[B]` from raw observations `[B, n_obs]` and privileged features `[B, P]` (P may be 0)."""
        return self.critic(torch.cat([self.normalizer(obs), priv], -1)).squeeze(-1)


def resolve_device(device: str) -> torch.device:
    """"auto" -> CUDA when present else CPU; "cuda" without CUDA is an error."""
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got '{device}'")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but CUDA is not available")
    return torch.device("cuda" if device == "cuda" or (device == "auto" and torch.cuda.is_available()) else "cpu")


# ------------------------------------------------------------------------------------------------------ learner


@dataclass
class Rollout:
    """One iteration's experience, tensors `[T, N, ...]` on the learner's device."""

    obs: torch.Tensor
    priv: torch.Tensor
    actions: torch.Tensor
    log_probs: torch.Tensor
    means: torch.Tensor
    values: torch.Tensor
    rewards: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    final_values: torch.Tensor
    last_values: torch.Tensor


class PPO:
    """PPO bound to a `RobotVectorEnv` (implements `robot_rl.learn.base.Learner`)."""

    algo = "ppo"

    def __init__(self, venv: RobotVectorEnv, config: PPOConfig, seed: int = 0, device: str = "auto") -> None:
        self.venv, self.config, self.seed = venv, config, seed
        self.device = resolve_device(device)
        core = venv.core
        self.obs_spec = core.task.observation_spec
        self.action_map = core.entry.action_map(core.spec)
        n_priv = len(core.params) if config.privileged_critic else 0
        torch.manual_seed(seed)
        self.model = ActorCritic(self.obs_spec.size, len(self.action_map.scale), n_priv, config).to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.learning_rate)
        self.learning_rate = config.learning_rate
        self.generator = torch.Generator(self.device).manual_seed(seed)
        self.episodes = EpisodeTracker(venv.num_envs)
        self.env_steps, self.iterations = 0, 0
        self._obs: np.ndarray | None = None
        self._reset_pending = True

    # -- experience ------------------------------------------------------------------------------------------

    def _priv(self) -> torch.Tensor:
        """Critic-only inputs `[N, P]` of the episodes now running (`[N, 0]` without `privileged_critic`)."""
        if not self.config.privileged_critic:
            return torch.zeros((self.venv.num_envs, 0), device=self.device)
        return self._tensor(privileged_inputs(self.venv.core))

    def _tensor(self, x: np.ndarray, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.as_tensor(np.asarray(x), dtype=dtype, device=self.device)

    def _reset_envs(self) -> None:
        """Reset every env from a seed derived from (seed, iteration); partial episodes are not counted."""
        derived = int(np.random.SeedSequence([self.seed, self.iterations]).generate_state(1)[0])
        self._obs, _ = self.venv.reset(seed=derived)
        self.episodes = EpisodeTracker(self.venv.num_envs)
        self._reset_pending = False

    def _final_values(self, info: dict, truncated: np.ndarray, priv: torch.Tensor) -> torch.Tensor:
        """V of `final_obs` `[N]` where `truncated` (zero elsewhere).

        `priv` `[N, P]` are the privileged inputs read before the step: parameters are constant within an episode,
        and after the step the envs that finished already carry their next episode's parameters.
        """
        out = torch.zeros(self.venv.num_envs, device=self.device)
        if truncated.any():
            idx = torch.as_tensor(np.flatnonzero(truncated), device=self.device)
            out[idx] = self.model.value(self._tensor(info["final_obs"])[idx], priv[idx])
        return out

    @torch.no_grad()
    def _collect(self) -> Rollout:
        """Step every env `rollout_steps` times with the stochastic policy."""
        steps, n = self.config.rollout_steps, self.venv.num_envs
        rows: dict[str, list[torch.Tensor]] = {k: [] for k in Rollout.__dataclass_fields__ if k != "last_values"}
        std = torch.exp(self.model.log_std)
        obs = self._obs
        for _ in range(steps):
            obs_t, priv = self._tensor(obs), self._priv()
            mean = self.model.mean(obs_t)
            action = mean + std * torch.randn(mean.shape, generator=self.generator, device=self.device)
            command = self.action_map.to_command(obs, action.cpu().numpy().astype(np.float64), self.obs_spec)
            next_obs, reward, term, trunc, info = self.venv.step(command)
            self.episodes.update(reward, term, trunc, info)
            step = {"obs": obs_t, "priv": priv, "actions": action, "means": mean,
                    "log_probs": gaussian_log_prob(action, mean, self.model.log_std),
                    "values": self.model.value(obs_t, priv), "rewards": self._tensor(reward),
                    "terminated": self._tensor(term, torch.bool), "truncated": self._tensor(trunc, torch.bool),
                    "final_values": self._final_values(info, trunc, priv)}
            for k, v in step.items():
                rows[k].append(v)
            obs = next_obs
        self._obs = obs
        last = self.model.value(self._tensor(obs), self._priv())
        self.env_steps += steps * n
        return Rollout(**{k: torch.stack(v) for k, v in rows.items()}, last_values=last)

    # -- update ----------------------------------------------------------------------------------------------

    def _adapt_lr(self, kl: float) -> None:
        target = self.config.desired_kl
        if target is None:
            return
        if kl > 2.0 * target:
            self.learning_rate = max(1e-5, self.learning_rate / 1.5)
        elif kl < 0.5 * target:
            self.learning_rate = min(self.config.max_learning_rate, self.learning_rate * 1.5)
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate

    def _minibatch_step(self, batch: dict[str, torch.Tensor], idx: torch.Tensor) -> dict[str, float]:
        c, m = self.config, self.model
        old_log_std = m.log_std.detach().clone()
        mean = m.mean(batch["obs"][idx])
        values = m.value(batch["obs"][idx], batch["priv"][idx])
        losses = ppo_losses(gaussian_log_prob(batch["actions"][idx], mean, m.log_std), batch["log_probs"][idx],
                            batch["advantages"][idx], values, batch["values"][idx], batch["returns"][idx],
                            c.clip, c.value_clip)
        entropy = gaussian_entropy(m.log_std)
        loss = losses.policy + c.value_coef * losses.value - c.entropy_coef * entropy + self._caps(mean, batch, idx)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_([*m.actor.parameters(), m.log_std], c.max_grad_norm)
        nn.utils.clip_grad_norm_(m.critic.parameters(), c.max_grad_norm)
        self.optimizer.step()
        with torch.no_grad():
            kl = gaussian_kl(batch["means"][idx], old_log_std, m.mean(batch["obs"][idx]), m.log_std)
        self._adapt_lr(kl.item())
        return {"loss/policy": losses.policy.item(), "loss/value": losses.value.item(),
                "policy/entropy": entropy.item(), "policy/approx_kl": losses.approx_kl.item(),
                "policy/clip_fraction": losses.clip_fraction.item(), "policy/kl": kl.item()}

    def _caps(self, mean: torch.Tensor, batch: dict[str, torch.Tensor], idx: torch.Tensor) -> torch.Tensor:
        """The weighted CAPS losses of a minibatch (scalar; 0 when both weights are 0)."""
        c, m = self.config, self.model
        loss = torch.zeros((), device=self.device)
        if c.caps_temporal:
            loss = loss + c.caps_temporal * temporal_loss(mean, m.mean(batch["next_obs"][idx]),
                                                          batch["same_episode"][idx])
        if c.caps_spatial:
            z = m.normalizer(batch["obs"][idx])
            noise = torch.randn(z.shape, generator=self.generator, device=self.device)
            loss = loss + c.caps_spatial * spatial_loss(mean, m.actor(z + c.caps_spatial_std * noise))
        return loss

    def _update(self, r: Rollout) -> dict[str, float]:
        """`epochs` passes of `minibatches` shuffled minibatches over the rollout; mean scalars."""
        c = self.config
        adv, ret = compute_gae(r.rewards * c.reward_scale, r.values, r.last_values, r.terminated, r.truncated,
                               r.final_values, c.gamma, c.lam)
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        flat = {"obs": r.obs, "priv": r.priv, "actions": r.actions, "log_probs": r.log_probs, "means": r.means,
                "values": r.values, "advantages": adv, "returns": ret,
                "next_obs": torch.cat([r.obs[1:], self._tensor(self._obs)[None]]),  # after the last step: _obs
                "same_episode": ~(r.terminated | r.truncated)}
        batch = {k: v.flatten(0, 1) for k, v in flat.items()}
        size = batch["obs"].shape[0]
        logs: dict[str, list[float]] = {}
        for _ in range(c.epochs):
            perm = torch.randperm(size, generator=self.generator, device=self.device)
            for idx in perm.chunk(c.minibatches):
                for k, v in self._minibatch_step(batch, idx).items():
                    logs.setdefault(k, []).append(v)
        return {k: float(np.mean(v)) for k, v in logs.items()}

    def iterate(self) -> dict[str, float]:
        """Collect `rollout_steps x num_envs` transitions, update, then update the observation normalizer."""
        start = time.perf_counter()
        if self._reset_pending or self.iterations % self.config.env_reset_every == 0:
            self._reset_envs()
        rollout = self._collect()
        scalars = self._update(rollout)
        self.model.normalizer.update(rollout.obs.reshape(-1, rollout.obs.shape[-1]))
        self.iterations += 1
        elapsed = time.perf_counter() - start
        return {**scalars, **self.episodes.summary(), "train/learning_rate": self.learning_rate,
                "policy/std": torch.exp(self.model.log_std).mean().item(),
                "perf/steps_per_s": rollout.rewards.numel() / elapsed}

    # -- policy and state ------------------------------------------------------------------------------------

    def policy(self) -> DeterministicPolicy:
        """A CPU copy of the deterministic policy (normalizer -> actor -> clip -> action map), in eval mode."""
        norm = copy.deepcopy(self.model.normalizer).cpu()
        net = copy.deepcopy(self.model.actor).cpu()
        return DeterministicPolicy(norm, net, self.action_map, self.obs_spec, squash="clip").eval()

    def policy_block(self) -> dict:
        """The checkpoint's `policy` block, rebuilt by `robot_rl.learn.checkpoint.build_policy`."""
        return {"hidden": list(self.config.actor_hidden), "activation": self.config.activation, "squash": "clip",
                "state_dict": self.policy().state_dict()}

    def state_dict(self) -> dict:
        """Networks, optimizer, counters, learning rate and RNG states (continues bit-for-bit, see module doc)."""
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "generator": self.generator.get_state(), "env_rng": self.venv.core.rng.bit_generator.state,
                "seed": self.seed, "env_steps": self.env_steps, "iterations": self.iterations,
                "learning_rate": self.learning_rate}

    def load_state_dict(self, state: dict) -> None:
        """Restore from `state_dict()`; all envs are reset (derived seed) before the next iteration."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.venv.core.rng.bit_generator.state = state["env_rng"]
        self.seed, self.env_steps, self.iterations = state["seed"], state["env_steps"], state["iterations"]
        self.learning_rate = state["learning_rate"]
        self._reset_pending = True
