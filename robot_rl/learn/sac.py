"""Soft Actor-Critic for the batched envs, built to be extended by intervention learning (RLIF / HIL-SERL).

- critic ensemble (twin by default) with LayerNorm, target networks with Polyak averaging;
- configurable update-to-data ratio (gradient updates per collected transition);
- replay sampling that can mix a prior buffer (demonstrations, interventions) 50/50 with online data (RLPD);
- automatic entropy tuning toward `-target_entropy_scale * n_act`;
- optional asymmetric critic: privileged randomized parameters as extra critic inputs, never seen by the actor.

Actions are normalized to [-1, 1] by a tanh-squashed Gaussian; the env command is the task's action map.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from robot_rl.envs import RobotVectorEnv
from robot_rl.learn.buffers import ReplayBuffer, sample_mixed
from robot_rl.learn.episodes import EpisodeTracker, privileged_inputs
from robot_rl.learn.networks import DeterministicPolicy, RunningNorm, mlp

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


@dataclass(frozen=True)
class SACConfig:
    """SAC hyper-parameters."""

    hidden: tuple[int, ...] = (256, 256)
    """Hidden layer sizes of actor and critics."""
    activation: str = "relu"
    """Hidden activation: relu, elu or tanh."""
    num_critics: int = 2
    """Critic ensemble size; targets use the minimum over the ensemble."""
    critic_layer_norm: bool = True
    """LayerNorm after each critic hidden layer (stabilizes high update-to-data ratios)."""
    utd_ratio: float = 0.25
    """Gradient updates per collected transition."""
    batch_size: int = 256
    """Transitions per gradient update."""
    learning_rate: float = 3e-4
    """Adam step size of actor, critics and temperature."""
    gamma: float = 0.99
    """Discount per control step."""
    tau: float = 0.005
    """Polyak factor of the target critics."""
    buffer_capacity: int = 1_000_000
    """Online replay capacity, transitions."""
    learning_starts: int = 5_000
    """Transitions collected with uniform random actions before learning."""
    steps_per_iteration: int = 8
    """Vector-env steps per `iterate()` call."""
    init_temperature: float = 0.1
    """Initial entropy temperature alpha."""
    target_entropy_scale: float = 1.0
    """Target entropy = -target_entropy_scale * action size."""
    prior_fraction: float = 0.5
    """Share of each batch drawn from the prior buffer when one is given (RLPD: 0.5)."""
    privileged_critic: bool = False
    """Give the critics the randomized physical parameters (asymmetric actor-critic)."""


def critic_target(
    reward: torch.Tensor, terminated: torch.Tensor, next_q: torch.Tensor, next_logp: torch.Tensor, gamma: float,
    alpha: float | torch.Tensor,
) -> torch.Tensor:
    """TD target `[B]`: `r + gamma * (1 - terminated) * (min_e next_q[e] - alpha * next_logp)`, next_q `[E, B]`."""
    return reward + gamma * (1.0 - terminated) * (next_q.min(dim=0).values - alpha * next_logp)


def actor_objective(q: torch.Tensor, logp: torch.Tensor, alpha: float | torch.Tensor) -> torch.Tensor:
    """Actor loss `mean(alpha * logp - mean_e q[e])`, q `[E, B]`, logp `[B]`."""
    return (alpha * logp - q.mean(dim=0)).mean()


def squashed_log_prob(pre: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """Log-density `[B]` of `tanh(pre)` where `pre ~ N(mean, exp(log_std))` (tanh change of variables)."""
    normal = torch.distributions.Normal(mean, log_std.exp())
    correction = 2.0 * (np.log(2.0) - pre - nn.functional.softplus(-2.0 * pre))  # log(1 - tanh(pre)^2)
    return (normal.log_prob(pre) - correction).sum(-1)


class CriticEnsemble(nn.Module):
    """`num_critics` Q-networks on (normalized obs, privileged, action); output `[E, B]`."""

    def __init__(self, in_size: int, config: SACConfig) -> None:
        super().__init__()
        self.nets = nn.ModuleList(
            mlp(in_size, config.hidden, 1, config.activation, config.critic_layer_norm)
            for _ in range(config.num_critics)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Q-values `[E, B]` for inputs `[B, in_size]`."""
        return torch.stack([net(x).squeeze(-1) for net in self.nets])


class SAC:
    """SAC learner implementing `robot_rl.learn.base.Learner`."""

    algo = "sac"

    def __init__(self, venv: RobotVectorEnv, config: SACConfig, device: str = "cpu", seed: int = 0,
                 prior: ReplayBuffer | None = None) -> None:
        self.venv, self.config, self.device, self.prior = venv, config, torch.device(device), prior
        core = venv.core
        self.obs_spec = core.task.observation_spec
        self.action_map = core.entry.action_map(core.spec)
        n_obs, n_act = self.obs_spec.size, len(core.action_low)
        n_priv = len(core.params) if config.privileged_critic else 0
        torch.manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.normalizer = RunningNorm(n_obs).to(self.device)
        self.actor = mlp(n_obs, config.hidden, 2 * n_act, config.activation).to(self.device)
        self.critic = CriticEnsemble(n_obs + n_priv + n_act, config).to(self.device)
        self.critic_target = copy.deepcopy(self.critic)
        self.log_alpha = torch.tensor(np.log(config.init_temperature), device=self.device, requires_grad=True)
        lr = config.learning_rate
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=lr)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=lr)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=lr)
        self.target_entropy = -config.target_entropy_scale * n_act
        self.buffer = ReplayBuffer(config.buffer_capacity, n_obs, n_act, n_priv)
        self.tracker = EpisodeTracker(venv.num_envs)
        self.obs, _ = venv.reset(seed=seed)
        self.env_steps, self.updates = 0, 0

    # ------------------------------------------------------------------------------------------- acting
    def _tensor(self, x: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(x, dtype=torch.float32, device=self.device)

    def _sample(self, obs_n: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Reparameterized squashed action `[B, n_act]` and its log-probability `[B]` at normalized obs."""
        mean, log_std = self.actor(obs_n).chunk(2, dim=-1)
        log_std = torch.clamp(log_std, LOG_STD_MIN, LOG_STD_MAX)
        pre = mean + log_std.exp() * torch.randn_like(mean)
        return torch.tanh(pre), squashed_log_prob(pre, mean, log_std)

    def _privileged(self) -> np.ndarray:
        core = self.venv.core
        return privileged_inputs(core) if self.config.privileged_critic else np.zeros((core.num_envs, 0), np.float32)

    def _collect(self) -> None:
        priv = self._privileged()
        if self.buffer.size < self.config.learning_starts:
            action = self.rng.uniform(-1.0, 1.0, (self.venv.num_envs, len(self.venv.core.action_low)))
        else:
            with torch.no_grad():
                action = self._sample(self.normalizer(self._tensor(self.obs)))[0].cpu().numpy()
        command = self.action_map.to_command(self.obs.astype(np.float64), action, self.obs_spec)
        next_obs, reward, term, trunc, info = self.venv.step(command)
        self.tracker.update(reward, term, trunc, info)
        real_next = np.where((term | trunc)[:, None], info["final_obs"], next_obs)
        # parameters are constant within an episode: the next state's privileged inputs are this state's
        self.buffer.add(obs=self.obs, action=action, reward=reward, next_obs=real_next, terminated=term,
                        privileged=priv, next_privileged=priv)
        self.normalizer.update(self._tensor(self.obs))
        self.obs = next_obs
        self.env_steps += self.venv.num_envs

    # ----------------------------------------------------------------------------------------- learning
    def _update(self) -> dict[str, float]:
        c = self.config
        b = sample_mixed(self.buffer, self.prior, c.batch_size, c.prior_fraction, self.rng)
        obs, nxt = self.normalizer(self._tensor(b.obs)), self.normalizer(self._tensor(b.next_obs))
        priv, npriv, act = self._tensor(b.privileged), self._tensor(b.next_privileged), self._tensor(b.action)
        alpha = self.log_alpha.exp().detach()
        with torch.no_grad():
            next_action, next_logp = self._sample(nxt)
            next_q = self.critic_target(torch.cat([nxt, npriv, next_action], -1))
            y = critic_target(self._tensor(b.reward), self._tensor(b.terminated), next_q, next_logp, c.gamma, alpha)
        q = self.critic(torch.cat([obs, priv, act], -1))
        critic_loss = ((q - y) ** 2).mean()
        self.critic_opt.zero_grad()
        critic_loss.backward()
        self.critic_opt.step()
        new_action, logp = self._sample(obs)
        self.critic.requires_grad_(False)  # the actor loss needs gradients through the critic, not for it
        actor_loss = actor_objective(self.critic(torch.cat([obs, priv, new_action], -1)), logp, alpha)
        self.actor_opt.zero_grad()
        actor_loss.backward()
        self.critic.requires_grad_(True)
        self.actor_opt.step()
        alpha_loss = -(self.log_alpha * (logp.detach() + self.target_entropy)).mean()
        self.alpha_opt.zero_grad()
        alpha_loss.backward()
        self.alpha_opt.step()
        with torch.no_grad():
            for tp, p in zip(self.critic_target.parameters(), self.critic.parameters(), strict=True):
                tp.lerp_(p, c.tau)
        self.updates += 1
        return {"loss/critic": critic_loss.item(), "loss/actor": actor_loss.item(),
                "loss/temperature": alpha_loss.item(), "alpha": alpha.item(), "entropy": -logp.mean().item(),
                "q_mean": q.mean().item()}

    def iterate(self) -> dict[str, float]:
        """Collect `steps_per_iteration` vector steps, then `utd_ratio` updates per transition collected."""
        c = self.config
        for _ in range(c.steps_per_iteration):
            self._collect()
        stats: dict[str, float] = {"replay/size": float(self.buffer.size)}
        if self.buffer.size >= c.learning_starts:
            n = max(1, round(c.utd_ratio * c.steps_per_iteration * self.venv.num_envs))
            rows = [self._update() for _ in range(n)]
            stats.update({k: float(np.mean([r[k] for r in rows])) for k in rows[0]})
        stats.update(self.tracker.summary())
        return stats

    # -------------------------------------------------------------------------------------- policy, state
    def policy(self) -> DeterministicPolicy:
        """Deterministic policy `tanh(mean)` through the action map, as the exportable module."""
        mean_net = _MeanHead(self.actor)
        return DeterministicPolicy(copy.deepcopy(self.normalizer).cpu(), copy.deepcopy(mean_net).cpu(),
                                   self.action_map, self.obs_spec, squash="tanh").eval()

    def policy_block(self) -> dict:
        """The checkpoint's `policy` block (the mean head is a plain MLP: the actor's first `n_act` outputs)."""
        module = self.policy()
        return {"hidden": list(self.config.hidden), "activation": self.config.activation, "squash": "tanh",
                "state_dict": _strip_mean_head(module.state_dict())}

    def state_dict(self) -> dict:
        """Networks, optimizers, temperature, replay, counters and RNG states."""
        return {"config": asdict(self.config), "normalizer": self.normalizer.state_dict(),
                "actor": self.actor.state_dict(), "critic": self.critic.state_dict(),
                "critic_target": self.critic_target.state_dict(), "log_alpha": self.log_alpha.detach().clone(),
                "actor_opt": self.actor_opt.state_dict(), "critic_opt": self.critic_opt.state_dict(),
                "alpha_opt": self.alpha_opt.state_dict(), "buffer": self.buffer.state_dict(),
                "env_steps": self.env_steps, "updates": self.updates, "rng": self.rng.bit_generator.state,
                "torch_rng": torch.get_rng_state()}

    def load_state_dict(self, state: dict) -> None:
        """Restore `state_dict()` output."""
        for name in ("normalizer", "actor", "critic", "critic_target", "actor_opt", "critic_opt", "alpha_opt"):
            getattr(self, name).load_state_dict(state[name])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        self.buffer.load_state_dict(state["buffer"])
        self.env_steps, self.updates = state["env_steps"], state["updates"]
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])


class _MeanHead(nn.Module):
    """The actor's mean output (first half), so the exported graph is `tanh(mean)`."""

    def __init__(self, actor: nn.Sequential) -> None:
        super().__init__()
        self.actor = actor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Mean `[B, n_act]` of the pre-squash Gaussian."""
        out = self.actor(x)
        return out[:, : out.shape[1] // 2]


def _strip_mean_head(state: dict) -> dict:
    """Turn `net.actor.<i>` keys and the doubled last layer into a plain `net.<i>` MLP of `n_act` outputs."""
    out = {}
    last = max(int(k.split(".")[2]) for k in state if k.startswith("net.actor."))
    for k, v in state.items():
        if not k.startswith("net.actor."):
            out[k] = v
            continue
        _, _, layer, param = k.split(".")
        if int(layer) == last:
            v = v[: v.shape[0] // 2]
        out[f"net.{layer}.{param}"] = v
    return out
