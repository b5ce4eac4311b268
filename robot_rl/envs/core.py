"""`BatchedRobotEnv`: a task on a plant in a backend, `num_envs` at once, with randomization and latency.

One control step: sanitize the proposed command (`robot_rl.safety`), delay it by the env's sampled latency,
let the plant execute it, read the measured state, build the observation (plus noise), evaluate the task.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from robot_rl.envs.plants import PLANTS
from robot_rl.envs.randomization import recentre_ranges, sample_parameters
from robot_rl.envs.registry import EnvEntry
from robot_rl.robots import RangeSpec, RobotSpec, load_calibration, load_range_override, load_robot
from robot_rl.safety import sanitize_action
from robot_rl.safety.filter import SafetyFilter


def resolve_ranges(
    spec: RobotSpec, randomize: bool | str | Path, calibration: str | Path | None
) -> dict[str, RangeSpec] | None:
    """Randomization ranges: robot.yaml's, an override file's, re-centred on a calibration; None = nominal."""
    if randomize is False:
        return None
    ranges = dict(spec.randomization) if randomize is True else load_range_override(randomize, spec)
    if calibration is not None:
        cal = load_calibration(calibration, spec)
        ranges = recentre_ranges(ranges, {k: (v.mean, v.std) for k, v in cal.parameters.items()}, cal.range_sigma,
                                 cal.min_range_fraction)
    return ranges


def build_config(
    entry: EnvEntry, task_config: Mapping[str, Any] | None, reward_scales: Mapping[str, float] | None
) -> Any:  # noqa: ANN401 - the entry's own config dataclass
    """The entry's config dataclass with `task_config` fields and `reward_scales` entries replaced (checked)."""
    config = entry.config()
    names = {f.name for f in fields(config)}
    unknown = sorted(set(task_config or {}) - names)
    if unknown:
        raise TypeError(f"{entry.env_id}: unknown task_config fields {unknown}; known: {sorted(names)}")
    config = replace(config, **(task_config or {}))
    unknown = sorted(set(reward_scales or {}) - set(config.reward_scales))
    if unknown:
        raise TypeError(f"{entry.env_id}: unknown reward terms {unknown}; known: {sorted(config.reward_scales)}")
    return replace(config, reward_scales={**config.reward_scales, **(reward_scales or {})})


class BatchedRobotEnv:
    """`num_envs` independent episodes of one registered task; arrays carry a leading `num_envs` axis."""

    def __init__(
        self,
        entry: EnvEntry,
        num_envs: int = 1,
        backend: str = "mujoco",
        randomize: bool | str | Path = True,
        calibration: str | Path | None = None,
        task_config: Mapping[str, Any] | None = None,
        reward_scales: Mapping[str, float] | None = None,
        safety_filter: bool = False,
        state_drop_prob: float = 0.0,
        record_qpos: bool = False,
    ) -> None:
        """Build the envs; with `safety_filter`, every proposed command is certified by the robot's filter first.

        As the deployed controller does (fresh, finite inputs, no e-stop); `info` then carries `safety_changed` `[N]`
        bool, `safety_events` `{name: [N] bool}` and `constraint_violated` `[N]` bool (the state beyond a limit).
        `state_drop_prob`: each step, each env's state message is lost with this probability: the controller keeps
        the last observation and state it received, whose age grows (the filter's watchdog falls back after
        robot.yaml's `watchdog_periods`); `info["state_dropped"]` `[N]` bool. `record_qpos`: `info["qpos"]` `[N, nq]`,
        MuJoCo's generalized positions after the step, and `info["mocap_pos"]` `[N, nmocap, 3]` m, where its mocap
        bodies (the mobile base's obstacles) are (to render episodes afterwards; MuJoCo backend only).
        """
        if not 0 <= state_drop_prob < 1:
            raise ValueError(f"state_drop_prob must be in [0, 1), got {state_drop_prob}")
        if not isinstance(randomize, (bool, str, Path)):
            raise TypeError(f"randomize must be True, False or a path to a ranges YAML, got {randomize!r}")
        self.entry, self.num_envs, self.backend_name = entry, num_envs, backend
        self.spec = spec = load_robot(entry.robot)
        self.safety = SafetyFilter.for_robot(spec) if safety_filter else None
        self.state_drop_prob, self.record_qpos = state_drop_prob, record_qpos and backend == "mujoco"
        self.ranges = resolve_ranges(spec, randomize, calibration)
        self.plant = PLANTS[spec.kind](spec, backend, num_envs)
        self.nominal = self.plant.nominal_parameters()
        self._check_parameter_names()
        self.task = entry.task(spec, num_envs, build_config(entry, task_config, reward_scales))
        self._noise = self._noise_table()
        self.action_low = np.array(spec.command.low)
        self.action_high = np.array(spec.command.high)
        self.control_dt_s, self.physics_dt_s = spec.control_dt_s, spec.physics_dt_s
        max_latency = int(self.ranges["action_latency_steps"].high) if self.ranges else 0
        self._queue = np.zeros((num_envs, max_latency + 1, len(self.action_low)))
        self.params = {k: np.full(num_envs, v, dtype=np.float64) for k, v in self.nominal.items()}
        self.last_action = np.zeros((num_envs, len(self.action_low)))
        self.steps = np.zeros(num_envs, dtype=int)
        self.state: dict[str, np.ndarray] = {}
        """The latest measured state the controller received (`state_drop_prob`), what the safety filter sees."""
        self.last_obs: np.ndarray | None = None
        self.input_age_s = np.zeros(num_envs)
        """Age of the state the controller holds, s (0 unless messages are dropped)."""
        self.rng = np.random.default_rng()
        self.state_at_reset: dict[str, np.ndarray] = {}
        """The measured state the last `reset` observed (the plant's named arrays)."""

    def _check_parameter_names(self) -> None:
        expected, given = set(self.nominal), set(self.spec.randomization)
        if expected != given:
            raise ValueError(
                f"{self.spec.path('robot.yaml')}: field 'randomization': missing {sorted(expected - given)}, "
                f"unknown {sorted(given - expected)}"
            )

    def _noise_table(self) -> list[tuple[slice, float]]:
        names = self.task.observation_spec.names
        table = []
        for name, std in self.spec.observation_noise_std.items():
            if name not in names:
                raise ValueError(
                    f"{self.spec.path('robot.yaml')}: field 'observation_noise_std.{name}': not an observation "
                    f"quantity of {self.entry.env_id} (quantities: {list(names)})"
                )
            table.append((self.task.observation_spec.slice(name), std))
        return table

    def fix_parameters(self, values: Mapping[str, float]) -> None:
        """Stop randomizing: every env gets `values` (by parameter name; the others nominal) from the next reset.

        Raises:
            KeyError: a name that is not one of the plant's parameters (the known ones are listed).

        """
        unknown = sorted(set(values) - set(self.nominal))
        if unknown:
            raise KeyError(f"unknown physical parameters {unknown}; known: {sorted(self.nominal)}")
        self.ranges = None
        for key, nominal in self.nominal.items():
            self.params[key][:] = values.get(key, nominal)
        max_latency = int(self.params["action_latency_steps"].max())
        self._queue = np.zeros((self.num_envs, max_latency + 1, len(self.action_low)))

    def seed(self, seed: int | None) -> None:
        """Re-seed the generator that draws parameters, starts, noise and disturbances."""
        self.rng = np.random.default_rng(seed)

    def reset(self, env_ids: np.ndarray | None = None) -> np.ndarray:
        """Start new episodes in `env_ids` (all by default); return the observation `[num_envs, n_obs]`."""
        ids = np.arange(self.num_envs) if env_ids is None else np.asarray(env_ids, dtype=int)
        if self.ranges is not None:
            sampled = sample_parameters(self.ranges, self.rng, len(ids))
            for k, v in sampled.items():
                self.params[k][ids] = v
        chosen = {k: v[ids] for k, v in self.params.items()}
        self.plant.backend.reset_state(ids)
        self.plant.apply_parameters(ids, chosen)
        command = self.task.reset(self.plant, ids, self.rng)
        self.plant.reset(ids, command, self.rng)
        self._queue[ids] = command[:, None, :]
        self.last_action[ids] = command
        self.steps[ids] = 0
        self.state_at_reset = self.plant.read_state(self.rng)
        obs = self._observe(self.state_at_reset)
        self.input_age_s[ids] = 0.0
        if not self.state_drop_prob:
            self.state = self.state_at_reset
        elif self.last_obs is None:
            self.state, self.last_obs = self.state_at_reset, obs.copy()
        else:  # the others keep what they last received
            self.state = _merge(self.state, _rows(self.state_at_reset, ids), ids)
            self.last_obs[ids] = obs[ids]
        return obs

    def _observe(self, state: Mapping[str, np.ndarray]) -> np.ndarray:
        obs = self.task.observe(state, self.last_action)
        scale = self.params["observation_noise_scale"]
        for sl, std in self._noise:
            width = sl.stop - sl.start
            obs[:, sl] += (std * scale[:, None] * self.rng.standard_normal((self.num_envs, width))).astype(np.float32)
        return obs

    def step(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """One control step for all envs (no auto-reset): obs, reward, terminated, truncated, info."""
        proposed = np.asarray(action, dtype=np.float64).reshape(self.num_envs, -1)
        if proposed.shape[1] != len(self.action_low):
            raise ValueError(f"action has {proposed.shape[1]} elements, {self.entry.env_id} expects "
                             f"{len(self.action_low)} ({self.spec.command.names})")
        filtered = self._certify(proposed) if self.safety is not None else {}
        applied, events = sanitize_action(filtered.get("certified", proposed), self.action_low, self.action_high,
                                          self.last_action)
        self._queue = np.roll(self._queue, 1, axis=1)
        self._queue[:, 0] = applied
        latency = self.params["action_latency_steps"].astype(int)
        executed = self._queue[np.arange(self.num_envs), latency]
        self.plant.control_step(executed, self.rng)
        state = self.plant.read_state(self.rng)
        outcome = self.task.evaluate(state, applied, self.last_action)
        self.last_action = applied
        self.steps += 1
        obs, dropped = self._receive(state, self._observe(state))
        scaled = {k: self.task.reward_scales[k] * v for k, v in outcome.terms.items()}
        reward = np.sum(list(scaled.values()), axis=0)
        terminated = outcome.terminal.copy()
        truncated = (self.steps >= self.task.max_episode_steps) & ~terminated
        info = {
            "reward_terms": scaled,
            "is_success": outcome.success & (terminated | truncated),
            "failure": outcome.failure,
            "proposed_action": proposed.copy(),
            "applied_action": applied.copy(),
            "executed_action": executed,
            "action_nonfinite": events["nonfinite"],
            "action_clipped": events["clipped"],
            "params": {k: v.copy() for k, v in self.params.items()},
            "task": self.task.task_info(),
            "state": state,
            "state_dropped": dropped,
            "task_error": np.array(outcome.error if outcome.error is not None else np.full(self.num_envs, np.nan)),
        }
        if self.record_qpos:
            info["qpos"] = np.stack([d.qpos.copy() for d in self.plant.backend.datas])
            info["mocap_pos"] = np.stack([d.mocap_pos.copy() for d in self.plant.backend.datas])
        if self.safety is not None:
            info |= {"safety_changed": filtered["changed"], "safety_events": filtered["events"],
                     "constraint_violated": self.safety.violated(state)}
        return obs, reward, terminated, truncated, info

    def _receive(self, state: dict[str, np.ndarray], obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """What the controller receives of this step's `state` and `obs`: the observation, and the lost mask `[N]`.

        All of it, or with `state_drop_prob` the last of each env whose message is lost (its age grows).
        """
        if not self.state_drop_prob:
            self.state = state
            return obs, np.zeros(self.num_envs, dtype=bool)
        dropped = self.rng.random(self.num_envs) < self.state_drop_prob
        received = np.flatnonzero(~dropped)
        self.state = _merge(self.state, _rows(state, received), received)
        self.input_age_s = np.where(dropped, self.input_age_s + self.control_dt_s, 0.0)
        self.last_obs[received] = obs[received]
        return self.last_obs.copy(), dropped

    def _certify(self, proposed: np.ndarray) -> dict[str, Any]:
        """The safety filter on `proposed` `[N, n_cmd]` against the latest measured state."""
        n = self.num_envs
        guards = {"inputs_finite": np.ones(n, dtype=bool), "input_age_s": self.input_age_s.copy(),
                  "estop": np.zeros(n, bool), "last_applied": self.last_action}
        certified, events = self.safety.certify({**self.state, **guards}, proposed)
        changed = ~np.isclose(certified, proposed, rtol=0.0, atol=1e-9).all(axis=1)
        return {"certified": certified, "changed": changed, "events": events}

    def close(self) -> None:
        """Release the physics engine."""
        self.plant.backend.close()


def _rows(state: Mapping[str, np.ndarray], ids: np.ndarray) -> dict[str, np.ndarray]:
    """Rows `ids` of every `[N, ...]` array of a state."""
    return {k: np.asarray(v)[ids] for k, v in state.items()}


def _merge(state: Mapping[str, np.ndarray], rows: Mapping[str, np.ndarray], ids: np.ndarray) -> dict[str, np.ndarray]:
    """`state` with rows `ids` replaced by `rows` (copies; the full arrays of `state` when `ids` covers all)."""
    out = {k: np.array(v, copy=True) for k, v in state.items()}
    for k, v in rows.items():
        out[k][ids] = v
    return out
