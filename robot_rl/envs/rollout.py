"""Episodes of any controller in a batched env: the per-env quota loop and its summary.

Used by reference controllers (`robot-rl baseline`), exported policies (`robot-rl eval`) and the learners'
evaluations, so that every success rate in this project is counted the same way.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from robot_rl.envs.gym_env import RobotVectorEnv

EpisodeResult = tuple[float, bool, bool, int, float]
"""One finished episode: return, success, failure, length (steps), fraction of steps with a command at a limit."""


@dataclass(frozen=True)
class EpisodeStats:
    """Summary of finished episodes."""

    env_id: str
    controller: str
    backend: str
    randomized: bool
    episodes: int
    success_rate: float
    failure_rate: float
    mean_return: float
    std_return: float
    mean_episode_length: float
    command_clip_fraction: float
    """Mean over episodes of the fraction of steps whose command was clipped by the env or sat at a limit."""
    wall_time_s: float
    sm: float | None = None
    """CAPS smoothness Sm of the applied commands normalized to [-1, 1] (`robot_rl.evaluate.smoothness`); None =
    not measured (or no episode long enough)."""
    action_rate_rms: float | None = None
    """RMS command change per control step as a fraction of the command range; None = not measured."""
    high_freq_energy_share: float | None = None
    """Share of the commands' variance above 4 Hz, in [0, 1]; None = not measured."""
    mean_steps_to_success: float | None = None
    """Mean length of the successful episodes, control steps (the cycle time); None = no success."""

    def as_dict(self) -> dict:
        """Plain dict for JSON."""
        return asdict(self)

    def with_smoothness(self, sm: float | None, action_rate_rms: float | None,
                        high_freq_energy_share: float | None) -> EpisodeStats:
        """A copy with the smoothness figures filled (measured by `robot_rl.evaluate.smoothness`)."""
        return replace(self, sm=sm, action_rate_rms=action_rate_rms, high_freq_energy_share=high_freq_energy_share)


def episode_quota(episodes: int, num_envs: int) -> np.ndarray:
    """Episodes per env `[num_envs]` int: `episodes` split as evenly as possible (the first envs take the rest)."""
    return np.full(num_envs, episodes // num_envs) + (np.arange(num_envs) < episodes % num_envs)


def limit_hits(info: dict, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Envs `[N]` bool whose command hit a limit this step: clipped by the env, or applied exactly at a bound.

    A policy that clips inside its own graph never triggers the env's clipping; its commands sit at the bound, up
    to float32 rounding of the bound (an ONNX policy computes in float32), hence the relative margin of 1e-6.
    """
    applied = info["applied_action"]
    margin = 1e-6 * np.maximum(1.0, np.maximum(np.abs(low), np.abs(high)))
    at_bound = (applied <= low + margin) | (applied >= high - margin)
    return np.asarray(info["action_clipped"]) | at_bound.any(axis=1)


class EpisodeDetails:
    """Per-env counts of the running episodes beyond the return: safety-filter changes, events, violations."""

    def __init__(self, num_envs: int, trace: str | None = None) -> None:
        """`trace`: a state quantity (e.g. 'position_m') kept step by step, with MuJoCo's qpos where `info` has it."""
        self.changed = np.zeros(num_envs, dtype=int)
        self.violations = np.zeros(num_envs, dtype=int)
        self.events: dict[str, np.ndarray] = {}
        self.trace = trace
        self.steps: list[list[tuple[np.ndarray, np.ndarray | None]]] = [[] for _ in range(num_envs)]

    def add(self, info: dict[str, Any]) -> None:
        """Count one step's `safety_changed`, `safety_events` and `constraint_violated` (when the env has them)."""
        if self.trace is not None:
            qpos = info.get("qpos")
            for i, row in enumerate(np.asarray(info["state"][self.trace])):
                self.steps[i].append((row.copy(), None if qpos is None else qpos[i]))
        if "safety_changed" not in info:
            return
        self.changed += info["safety_changed"]
        self.violations += info["constraint_violated"]
        for name, fired in info["safety_events"].items():
            self.events.setdefault(name, np.zeros_like(self.changed))[:] += fired

    def episode(self, i: int, info: dict[str, Any], length: int) -> dict[str, Any]:
        """Env `i`'s finished episode as a dict.

        `task_error` at its end, `filter_share` of its steps the filter changed, `events` {name: steps},
        `violation_steps` (the last three only with the filter on). With a trace: `trace`, the task's goal
        quantities `task` {name: value} (`Task.task_info`), and where the env records them `qpos` `[length, nq]` and
        the mocap bodies' positions `mocap_pos` `[nmocap, 3]` m (fixed within an episode).
        """
        out: dict[str, Any] = {"task_error": float(info["task_error"][i])}
        if self.trace is not None:
            out["trace"] = np.stack([p for p, _ in self.steps[i]])
            out["task"] = {k: np.asarray(v[i]).copy() for k, v in info["task"].items()}
            if self.steps[i][0][1] is not None:
                out["qpos"] = np.stack([q for _, q in self.steps[i]])
                out["mocap_pos"] = info["mocap_pos"][i].copy()
        if "safety_changed" in info:
            out |= {"filter_share": float(self.changed[i] / length), "violation_steps": int(self.violations[i]),
                    "events": {k: int(v[i]) for k, v in self.events.items() if v[i]}}
        return out

    def clear(self, i: int) -> None:
        """Env `i` starts a new episode."""
        self.changed[i] = self.violations[i] = 0
        for v in self.events.values():
            v[i] = 0
        self.steps[i] = []


def run_episodes(
    env: RobotVectorEnv,
    act: Callable[[np.ndarray], np.ndarray],
    episodes: int,
    seed: int = 0,
    on_done: Callable[[np.ndarray], None] | None = None,
    label: str | None = None,
    commands: list[np.ndarray] | None = None,
    details: list[dict[str, Any]] | None = None,
    trace_key: str | None = None,
) -> list[EpisodeResult]:
    """Run `act` (observations `[N, n_obs]` -> commands `[N, n_cmd]`) until each env finished its quota.

    Each env runs a fixed quota of episodes, so short (early-terminating) episodes are not over-counted.
    `on_done(env_ids)` is told which envs finished (and were reset) after each step; `label` prints progress.
    `commands`, when given, receives one array `[length + 1, n_cmd]` per counted episode, in the order of the
    results: row 0 the command in force when the episode started (the task's reset command), then the command
    applied at each step (after the env's sanitizing), in robot units. `details`, when given, receives one dict per
    counted episode, in the order of the results (`EpisodeDetails`): the task error at its end and, with the env's
    safety filter on, the share of steps it changed, its events by name and the constraint-violation steps; with
    `trace_key` (a state quantity), its value at every step (`trace` `[length, ...]`) and MuJoCo's qpos (`qpos`) where
    the env records it.

    Returns:
        One `(return, success, failure, length, limit-hit fraction)` tuple per episode.

    """
    quota = episode_quota(episodes, env.num_envs)
    low, high = env.core.action_low, env.core.action_high
    obs, _ = env.reset(seed=seed)
    ret, length, hits = np.zeros(env.num_envs), np.zeros(env.num_envs, dtype=int), np.zeros(env.num_envs)
    done_count = np.zeros(env.num_envs, dtype=int)
    rows = np.arange(env.num_envs)
    trace = np.zeros((env.num_envs, env.core.task.max_episode_steps + 1, len(low)))
    trace[:, 0] = env.core.last_action
    results: list[EpisodeResult] = []
    tally = EpisodeDetails(env.num_envs, trace_key)
    while (done_count < quota).any():
        obs, reward, term, trunc, info = env.step(act(obs))
        ret += reward
        length += 1
        hits += limit_hits(info, low, high)
        trace[rows, length] = info["applied_action"]
        tally.add(info)
        finished = np.flatnonzero(term | trunc)
        for i in finished:
            if done_count[i] < quota[i]:
                results.append((ret[i], bool(info["is_success"][i]), bool(info["failure"][i]), length[i],
                                hits[i] / length[i]))
                if commands is not None:
                    commands.append(trace[i, : length[i] + 1].copy())
                if details is not None:
                    details.append(tally.episode(i, info, length[i]))
                done_count[i] += 1
            ret[i], length[i], hits[i] = 0.0, 0, 0.0
            tally.clear(i)
            trace[i, 0] = env.core.last_action[i]  # the reset command of the episode that starts now
        if on_done is not None:
            on_done(finished)
        if label is not None and len(finished):
            print(f"\r{label} episodes {len(results)}/{episodes}", end="", file=sys.stderr, flush=True)
    if label is not None:
        print(file=sys.stderr)
    return results


def summarize(
    results: list[EpisodeResult],
    env_id: str,
    controller: str,
    backend: str,
    randomized: bool,
    wall_time_s: float,
) -> EpisodeStats:
    """Stats from per-episode `(return, success, failure, length, limit-hit fraction)` tuples."""
    returns = np.array([r[0] for r in results])
    successes = [r[3] for r in results if r[1]]
    return EpisodeStats(
        env_id=env_id,
        controller=controller,
        backend=backend,
        randomized=randomized,
        episodes=len(results),
        success_rate=float(np.mean([r[1] for r in results])),
        failure_rate=float(np.mean([r[2] for r in results])),
        mean_return=float(returns.mean()),
        std_return=float(returns.std()),
        mean_episode_length=float(np.mean([r[3] for r in results])),
        command_clip_fraction=float(np.mean([r[4] for r in results])),
        wall_time_s=wall_time_s,
        mean_steps_to_success=float(np.mean(successes)) if successes else None,
    )
