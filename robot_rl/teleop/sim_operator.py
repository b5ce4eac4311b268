"""Simulated operators: a task's reference controller made suboptimal, plus a rule that decides when it takes over.

The expert is `robot_rl.envs.registry.entry(env_id).expert` fed env (or deployed) observations, degraded by three
knobs (`ExpertKnobs`): it acts on the observation from `delay_steps` control steps ago, adds a constant `bias`
(drawn per episode or fixed) and Gaussian `noise` per step, both as fractions of the command range, and clips to
the command limits:

    command_t = clip(expert(obs_{t - delay}) + bias + noise_std * z_t, low, high),  z_t ~ N(0, I)
    bias = bias_frac * (high - low) * s,  s ~ U{-1, +1}^n_cmd per episode (or s = +1 when fixed)
    noise_std = noise_frac * (high - low)

Named presets (`QUALITY_PRESETS`) set the knobs per task so that the expert alone succeeds about 90 %, 40 % or
10 % of randomized episodes (figures measured by `bench/sim_operator_quality.py`, quoted in the table).

Intervention rules (`SimOperatorConfig.rule`), evaluated once per control tick while no intervention runs; an
intervention lasts `k_steps` ticks (the onset tick included), or until `reset` (the episode ends):

- `rlif`: RLIF's rule. The operator judges the policy one tick late, as a person does: at tick t it compares the
  policy's command proposed at tick t-1 with the command it would itself have given at t-1, both valued on the
  observation of t-1 with `robot_rl.teleop.rules` (V = exp(-predicted task error / value_scale_m)). If
  V(policy) < alpha * V(own) it intervenes with probability p_high, else with p_low. Without a judgment (first
  tick of an episode, or the previous tick was the operator's) it does not intervene.
- `margin`: intervene when the task error fell by no more than `stall_eps_m` over the last `stall_window_steps`
  ticks (and is above the task's success tolerance), or a safety margin is near (`robot_rl.teleop.rules.Margins`).
- `random`: intervene with probability `p_random` per tick.
- `always`: one intervention from the first tick to the end of the episode; `never`: no intervention.

All randomness comes from numpy Generators spawned from one seed: the expert's (bias, noise) and the rule's draws
are separate streams, so the expert's commands do not depend on the rule chosen.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from robot_rl.envs.registry import entry, observation_spec
from robot_rl.robots import RobotSpec
from robot_rl.teleop.rules import TASK_MODELS, Margins, stalled, value_rule_flags


@dataclass(frozen=True)
class ExpertKnobs:
    """Suboptimality of a simulated expert; fractions are of each command component's range (high - low)."""

    noise_frac: float = 0.0
    """Gaussian action noise std per step, fraction of the command range."""
    delay_steps: int = 0
    """The expert acts on the observation from this many control steps ago."""
    bias_frac: float = 0.0
    """Constant command offset magnitude, fraction of the command range."""
    bias_per_episode: bool = True
    """True: each component's bias sign is drawn per episode (+-1 with equal odds); False: always +bias."""


QUALITIES = ("reference", "expert90", "expert40", "expert10")
"""Quality names: the undegraded reference controller, and experts of about 90, 40 and 10 % success."""

# Measured with `.venv/bin/python bench/sim_operator_quality.py --episodes 256 --num-envs 16 --seed 0` (MuJoCo,
# randomized; success of the expert alone, 256 episodes, [95 % Wilson interval]; `--seed 1` in parentheses).
QUALITY_PRESETS: dict[str, dict[str, ExpertKnobs]] = {
    "robot_rl/ArmReach-v0": {
        "reference": ExpertKnobs(),  # 0.992 [0.972, 0.998]  (0.984)
        "expert90": ExpertKnobs(noise_frac=0.012),  # 0.906 [0.864, 0.936]  (0.910)
        "expert40": ExpertKnobs(noise_frac=0.03),  # 0.395 [0.337, 0.456]  (0.438)
        "expert10": ExpertKnobs(noise_frac=0.055),  # 0.105 [0.074, 0.149]  (0.098)
    },
    "robot_rl/QuadrotorHover-v0": {
        "reference": ExpertKnobs(),  # 0.930 [0.892, 0.955]  (0.922)
        "expert90": ExpertKnobs(noise_frac=0.05),  # 0.902 [0.860, 0.933]  (0.910)
        "expert40": ExpertKnobs(noise_frac=0.165),  # 0.398 [0.340, 0.459]  (0.375)
        "expert10": ExpertKnobs(noise_frac=0.24),  # 0.070 [0.045, 0.108]  (0.098)
    },
    "robot_rl/MobileBaseGoal-v0": {  # noise barely matters here (0.3 -> 0.94): a late reaction does
        "reference": ExpertKnobs(),  # 0.980 [0.955, 0.992]  (0.980)
        "expert90": ExpertKnobs(noise_frac=0.1, delay_steps=10),  # 0.875 [0.829, 0.910]  (0.859)
        "expert40": ExpertKnobs(noise_frac=0.1, delay_steps=18),  # 0.465 [0.405, 0.526]  (0.445)
        "expert10": ExpertKnobs(noise_frac=0.1, delay_steps=23),  # 0.094 [0.064, 0.136]  (0.066)
    },
}
"""Env id -> quality -> knobs."""

RULES = ("rlif", "margin", "random", "always", "never")


@dataclass(frozen=True)
class SimOperatorConfig:
    """A simulated operator: expert quality and intervention rule. Build from YAML with `from_mapping`."""

    quality: str = "expert90"
    """Expert preset, one of `QUALITIES` (knobs per task in `QUALITY_PRESETS`)."""
    rule: str = "rlif"
    """When to take over: rlif | margin | random | always | never (see the module docstring)."""
    alpha: float = 0.97
    """rlif: the policy's command is judged bad when its value is below alpha times the operator's own, (0, 1]."""
    p_high: float = 0.95
    """rlif: probability of intervening after a bad command."""
    p_low: float = 0.05
    """rlif: probability of intervening otherwise."""
    k_steps: int = 4
    """Control ticks each intervention lasts (onset included), >= 1."""
    p_random: float = 0.05
    """random: probability of intervening per tick."""
    value_scale_m: float = 0.1
    """rlif: value = exp(-predicted task error / value_scale_m), m, > 0."""
    stall_window_steps: int = 25
    """margin: ticks over which the task error must fall by more than stall_eps_m, >= 1."""
    stall_eps_m: float = 0.01
    """margin: least progress over the window, m."""
    joint_margin_rad: float = 0.05
    """margin (arm): a joint closer than this to a position limit, rad."""
    lidar_margin_m: float = 0.4
    """margin (mobile base): a lidar range below this, m."""
    tilt_margin_rad: float = 0.6
    """margin (quadrotor): tilt above this, rad."""
    altitude_margin_m: float = 0.3
    """margin (quadrotor): altitude below this, m."""
    noise_frac: float | None = None
    """Override of the preset's action noise std, fraction of the command range, >= 0."""
    delay_steps: int | None = None
    """Override of the preset's observation delay, control steps, >= 0."""
    bias_frac: float | None = None
    """Override of the preset's bias magnitude, fraction of the command range, >= 0."""
    bias_per_episode: bool | None = None
    """Override of the preset's bias mode: True draws signs per episode, False uses +bias_frac."""

    def __post_init__(self) -> None:
        checks = {
            "quality": (self.quality in QUALITIES, f"one of {list(QUALITIES)}"),
            "rule": (self.rule in RULES, f"one of {list(RULES)}"),
            "alpha": (0.0 < self.alpha <= 1.0, "in (0, 1]"),
            "p_high": (0.0 <= self.p_high <= 1.0, "in [0, 1]"),
            "p_low": (0.0 <= self.p_low <= 1.0, "in [0, 1]"),
            "p_random": (0.0 <= self.p_random <= 1.0, "in [0, 1]"),
            "k_steps": (self.k_steps >= 1, ">= 1"),
            "value_scale_m": (self.value_scale_m > 0.0, "> 0"),
            "stall_window_steps": (self.stall_window_steps >= 1, ">= 1"),
        }
        for name in ("stall_eps_m", "joint_margin_rad", "lidar_margin_m", "tilt_margin_rad", "altitude_margin_m",
                     "noise_frac", "delay_steps", "bias_frac"):
            value = getattr(self, name)
            checks[name] = (value is None or value >= 0, ">= 0")
        for name, (ok, wanted) in checks.items():
            if not ok:
                raise ValueError(f"operator config field '{name}': {getattr(self, name)!r} is not {wanted}")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "operator config") -> SimOperatorConfig:
        """Config from a plain mapping (YAML); `source` names it in errors.

        Raises:
            ValueError: unknown keys (listed with the known ones), a value of the wrong type, or out of range.

        """
        if not isinstance(data, Mapping):
            raise ValueError(f"{source}: expected a mapping, got {type(data).__name__}")
        known = {f.name: str(f.type) for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"{source}: unknown keys {unknown}; known: {sorted(known)}")
        for key, value in data.items():
            if not _type_ok(value, known[key]):
                raise ValueError(f"{source}: field '{key}': expected {known[key]}, got {value!r}")
        try:
            return cls(**{k: float(v) if known[k].startswith("float") and v is not None else v
                          for k, v in data.items()})
        except ValueError as err:
            raise ValueError(f"{source}: {err}") from None

    def knobs(self, env_id: str) -> ExpertKnobs:
        """The preset's knobs for `env_id` with this config's overrides applied."""
        if env_id not in QUALITY_PRESETS:
            raise KeyError(f"no operator presets for '{env_id}'; known: {sorted(QUALITY_PRESETS)}")
        base = QUALITY_PRESETS[env_id][self.quality]
        overrides = {f.name: getattr(self, f.name) for f in fields(ExpertKnobs) if getattr(self, f.name) is not None}
        return replace(base, **overrides)

    def margins(self) -> Margins:
        """The margin rule's thresholds."""
        return Margins(self.joint_margin_rad, self.lidar_margin_m, self.tilt_margin_rad, self.altitude_margin_m)


def _type_ok(value: object, annotation: str) -> bool:
    """Whether a YAML value fits a field annotated `annotation` (`float` takes ints, never bools)."""
    allowed = {t.strip() for t in annotation.split("|")}
    if value is None:
        return "None" in allowed
    if isinstance(value, bool):
        return "bool" in allowed
    if isinstance(value, int):
        return bool({"int", "float"} & allowed)
    return any(isinstance(value, {"float": float, "str": str}.get(t, type(None))) for t in allowed)


def perturb(
    clean: np.ndarray, bias: np.ndarray, noise: np.ndarray, low: np.ndarray, high: np.ndarray
) -> np.ndarray:
    """Degraded commands `[N, n_cmd]`: `clip(clean + bias + noise, low, high)` (all `[N, n_cmd]` or `[n_cmd]`)."""
    return np.clip(clean + bias + noise, low, high)


def draw_bias(knobs: ExpertKnobs, span: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Per-episode bias `[n, n_cmd]` in command units for `n` episodes; `span` `[n_cmd]` is high - low."""
    if knobs.bias_frac == 0.0:
        return np.zeros((n, len(span)))
    signs = rng.choice([-1.0, 1.0], size=(n, len(span))) if knobs.bias_per_episode else np.ones((n, len(span)))
    return knobs.bias_frac * span * signs


class SuboptimalExpert:
    """The task's reference controller for `num_envs` envs, degraded by `ExpertKnobs` (see the module doc)."""

    def __init__(
        self, env_id: str, robot: RobotSpec, knobs: ExpertKnobs, num_envs: int, rng: np.random.Generator
    ) -> None:
        self.expert = entry(env_id).expert(robot)
        self.knobs, self.num_envs, self.rng = knobs, num_envs, rng
        self.low, self.high = np.array(robot.command.low), np.array(robot.command.high)
        self.noise_std = knobs.noise_frac * (self.high - self.low)
        self.bias = draw_bias(knobs, self.high - self.low, num_envs, rng)
        self._history: np.ndarray | None = None  # [N, delay + 1, n_obs], newest first
        self._fresh = np.ones(num_envs, dtype=bool)
        self._acted = False

    def reset(self, env_ids: np.ndarray) -> None:
        """New episodes in `env_ids`: empty their delay buffers, draw their biases, clear the expert's state."""
        ids = np.asarray(env_ids, dtype=int)
        self._fresh[ids] = True
        self.bias[ids] = draw_bias(self.knobs, self.high - self.low, len(ids), self.rng)
        if self._acted:  # the reference controllers size their state at their first act
            self.expert.reset(ids)

    def delayed(self, obs: np.ndarray) -> np.ndarray:
        """Push observations `[N, n_obs]`; return those of `delay_steps` calls ago (an episode's first repeated)."""
        if self._history is None:
            self._history = np.repeat(obs[:, None, :], self.knobs.delay_steps + 1, axis=1)
        self._history[self._fresh] = obs[self._fresh][:, None, :]
        self._fresh[:] = False
        self._history = np.roll(self._history, 1, axis=1)
        self._history[:, 0] = obs
        return self._history[:, -1].copy()

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Degraded commands `[N, n_cmd]` in robot units for observations `[N, n_obs]`."""
        clean = self.expert.act(self.delayed(np.asarray(obs, dtype=np.float32)))
        self._acted = True
        noise = 0.0
        if self.knobs.noise_frac > 0.0:
            noise = self.noise_std * self.rng.standard_normal(clean.shape)
        return perturb(clean, self.bias, noise, self.low, self.high)


@dataclass(frozen=True)
class OperatorDecision:
    """What the simulated operator does this tick."""

    intervene: bool
    """The operator's command should be used this tick."""
    command: np.ndarray
    """`[n_cmd]` float64, robot units: the operator's command (computed every tick, used when intervening)."""
    onset: bool
    """This tick starts a new intervention."""
    reason: str = ""
    """Why the running intervention started: rlif:worse | rlif:chance | margin:stall | margin:limit | random |
    always; empty when not intervening."""


class SimulatedOperator:
    """An expert plus an intervention rule for one env, driven once per control tick (see the module doc).

    Attributes:
        interventions: onsets since construction (the logs are checked against it).
        steps: ticks since construction.
        operator_steps: ticks on which the operator intervened.

    """

    def __init__(
        self, env_id: str, robot: RobotSpec, config: SimOperatorConfig, seed: int, task_config: object | None = None
    ) -> None:
        """Build the operator for task `env_id` on `robot`; `task_config` defaults to the task's default config."""
        self.env_id, self.config = env_id, config
        self.obs_spec = observation_spec(env_id, robot)
        self.n_cmd = len(robot.command.names)
        self.knobs = config.knobs(env_id)
        expert_seed, rule_seed = np.random.SeedSequence(seed).spawn(2)
        self.expert = SuboptimalExpert(env_id, robot, self.knobs, 1, np.random.default_rng(expert_seed))
        self.rng = np.random.default_rng(rule_seed)
        self.model = TASK_MODELS[robot.kind](robot, self.obs_spec, task_config or entry(env_id).config())
        self.margins = config.margins()
        self._trigger = {"rlif": self._rlif, "margin": self._margin, "random": self._random,
                         "always": lambda obs, judged: "always", "never": lambda obs, judged: ""}[config.rule]
        self.interventions = self.steps = self.operator_steps = 0
        self._remaining, self._reason = 0, ""
        self._errors: deque[float] = deque(maxlen=config.stall_window_steps + 1)
        self._last_command: np.ndarray | None = None

    def reset(self) -> None:
        """A new episode: clear the delay buffer and error history, redraw the bias, end any intervention."""
        self.expert.reset(np.arange(1))
        self._remaining, self._reason = 0, ""
        self._errors.clear()
        self._last_command = None

    def _check(self, name: str, array: np.ndarray, size: int) -> np.ndarray:
        a = np.asarray(array, dtype=np.float64)
        if a.shape != (size,):
            raise ValueError(f"SimulatedOperator.step: {name} has shape {a.shape}, {self.env_id} needs ({size},)")
        return a

    def _rlif(self, obs: np.ndarray, judged: tuple[np.ndarray, np.ndarray] | None) -> str:
        if judged is None or self._last_command is None:
            return ""
        prev = self._check("judged observation", judged[0], self.obs_spec.size)[None]
        action = self._check("judged action", judged[1], self.n_cmd)[None]
        errors = self.model.predicted_error(np.vstack([prev, prev]), np.vstack([action, self._last_command[None]]))
        worse = bool(value_rule_flags(errors[:1], errors[1:], self.config.value_scale_m, self.config.alpha)[0])
        p = self.config.p_high if worse else self.config.p_low
        return ("rlif:worse" if worse else "rlif:chance") if self.rng.random() < p else ""

    def _margin(self, obs: np.ndarray, judged: tuple[np.ndarray, np.ndarray] | None) -> str:
        if bool(self.model.near_limit(obs[None], self.margins)[0]):
            return "margin:limit"
        full = len(self._errors) == self._errors.maxlen
        if full and stalled(np.asarray(self._errors), self.config.stall_eps_m, self.model.done_m):
            return "margin:stall"
        return ""

    def _random(self, obs: np.ndarray, judged: tuple[np.ndarray, np.ndarray] | None) -> str:
        return "random" if self.rng.random() < self.config.p_random else ""

    def step(self, obs: np.ndarray, judged: tuple[np.ndarray, np.ndarray] | None) -> OperatorDecision:
        """One control tick.

        Args:
            obs: current observation `[n_obs]` (the task's spec).
            judged: (previous observation `[n_obs]`, the policy's command proposed at it `[n_cmd]`), or None when
                not available (the episode's first tick, or the previous tick was the operator's).

        Returns:
            The decision; `command` `[n_cmd]` is the operator's command for `obs` in robot units.

        """
        obs = self._check("observation", obs, self.obs_spec.size)
        command = self.expert.act(obs[None])[0]
        self.steps += 1
        self._errors.append(float(self.model.task_error(obs[None])[0]))
        onset = False
        if self._remaining == 0:
            self._reason = self._trigger(obs, judged)
            if self._reason:
                onset = True
                self.interventions += 1
                self._remaining = sys.maxsize if self._reason == "always" else self.config.k_steps
        intervene = self._remaining > 0
        if intervene:
            self._remaining -= 1
            self.operator_steps += 1
        self._last_command = command
        return OperatorDecision(intervene, command, onset, self._reason if intervene else "")

