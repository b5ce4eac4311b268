"""Release-gate suites: which cases `robot-rl gate` runs for a robot and the thresholds a policy must meet.

A suite is YAML (`sim/<robot>/gate.yaml` is the robot's default):

    robot: arm
    episodes: 32                  # per case
    seed: 0
    cross_sim: true               # the randomized case again in PyBullet
    sweep_points: 5               # per randomized physical parameter: values over twice its trained range
    latency_steps: [1, 2]         # stress: the trained latency range shifted by these control steps
    noise_factors: [2.0, 3.0]     # stress: the observation-noise scale range times these
    drop_probabilities: [0.2, 0.5] # stress: each state message lost with this probability
    push_forces_n: []             # stress: random horizontal pushes of this force, N (robots whose push_force_n
                                  # robot.yaml holds constant; a randomized one is swept instead)
    thresholds:                   # on the Wilson 95 % lower bound of the success rate
      nominal: 0.8
      randomized: 0.7             # also cross-sim and sweep points inside the trained range
      stress: 0.5                 # latency and noise stress cases

`build_cases` turns it into cases, each an evaluation under its own randomization ranges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import Field, ValidationError, field_validator

from robot_rl.robots import RangeSpec, RobotSpec
from robot_rl.robots.spec import RobotSpecError, StrictModel, format_validation_error, read_yaml

STRESS_PARAMETERS = ("action_latency_steps", "observation_noise_scale")
"""Randomized parameters the stress cases vary (not swept)."""
PUSH = "push_force_n"


class Thresholds(StrictModel):
    """Minimum Wilson 95 % lower bound of the success rate per kind of case."""

    nominal: float = Field(ge=0, le=1)
    randomized: float = Field(ge=0, le=1)
    stress: float = Field(ge=0, le=1)


class GateSuite(StrictModel):
    """Contents of a gate suite file."""

    robot: str
    episodes: int = Field(default=32, ge=1)
    seed: int = 0
    cross_sim: bool = True
    sweep_points: int = Field(default=5, ge=0)
    latency_steps: list[int] = Field(default_factory=lambda: [1, 2])
    noise_factors: list[float] = Field(default_factory=lambda: [2.0, 3.0])
    drop_probabilities: list[float] = Field(default_factory=lambda: [0.2, 0.5])
    """Stress: each step's state message is lost with this probability (the controller keeps the last one; after
    the watchdog's periods the safety filter's fallback acts)."""
    push_forces_n: list[float] = Field(default_factory=list)
    """Stress: random horizontal pushes (`robot_rl.envs.plants.pushes`) of this force, N, on a robot whose
    `push_force_n` robot.yaml holds constant (off in training)."""
    thresholds: Thresholds

    @field_validator("push_forces_n")
    @classmethod
    def _forces(cls, v: list[float]) -> list[float]:
        if any(not f > 0 for f in v):
            raise ValueError(f"each must be > 0 N, got {v}")
        return v

    @field_validator("drop_probabilities")
    @classmethod
    def _probabilities(cls, v: list[float]) -> list[float]:
        if any(not 0 <= p < 1 for p in v):
            raise ValueError(f"each must be in [0, 1), got {v}")
        return v


def load_suite(path: str | Path, spec: RobotSpec) -> GateSuite:
    """Read and check a suite for `spec`; RobotSpecError names the file and the field at fault."""
    path = Path(path)
    try:
        suite = GateSuite.model_validate(read_yaml(path))
    except ValidationError as e:
        raise RobotSpecError(format_validation_error(path, e)) from None
    if suite.robot != spec.name:
        raise RobotSpecError(f"{path}: field 'robot': the suite is for '{suite.robot}', the policy for '{spec.name}'")
    push = spec.randomization.get(PUSH)
    if suite.push_forces_n and (push is None or push.distribution != "constant"):
        why = "has no pushes" if push is None else "randomizes them in training (they are swept)"
        raise RobotSpecError(f"{path}: field 'push_forces_n': robot '{spec.name}' {why}")
    return suite


@dataclass(frozen=True)
class Case:
    """One evaluation of the gate."""

    name: str
    kind: str
    """'nominal', 'randomized', 'cross_sim', 'sweep' or 'stress'."""
    backend: str
    ranges: dict[str, RangeSpec] | None
    """Randomization ranges of the case (None: the nominal robot)."""
    threshold: float | None
    """Minimum Wilson lower bound of the success rate; None: reported only (sweep points beyond training)."""
    parameter: str = ""
    value: float = float("nan")
    env_options: dict[str, float] = field(default_factory=dict)
    """Keyword arguments of the case's env beyond its ranges (`state_drop_prob`)."""


def sweep_values(r: RangeSpec, points: int) -> np.ndarray:
    """`points` values spread over twice the trained range [low, high] around its centre.

    Not below 0 when low >= 0; values that clip to the same one are swept once.

    >>> sweep_values(RangeSpec(distribution="uniform", low=1.0, high=3.0, unit="x"), 5).tolist()
    [0.0, 1.0, 2.0, 3.0, 4.0]
    >>> sweep_values(RangeSpec(distribution="uniform", low=0.0, high=10.0, unit="N"), 5).tolist()
    [0.0, 5.0, 10.0, 15.0]
    """
    centre, width = (r.low + r.high) / 2, r.high - r.low
    values = np.linspace(centre - width, centre + width, points)
    return np.unique(np.maximum(values, 0.0)) if r.low >= 0 else values


def _fixed(ranges: dict[str, RangeSpec], name: str, value: float) -> dict[str, RangeSpec]:
    return ranges | {name: RangeSpec(distribution="uniform", low=value, high=value, unit=ranges[name].unit)}


def build_cases(suite: GateSuite, spec: RobotSpec) -> list[Case]:
    """The suite's cases for `spec`, in report order."""
    ranges, t = dict(spec.randomization), suite.thresholds
    cases = [Case("nominal", "nominal", "mujoco", None, t.nominal),
             Case("randomized", "randomized", "mujoco", ranges, t.randomized)]
    if suite.cross_sim:
        cases.append(Case("randomized, PyBullet", "cross_sim", "pybullet", ranges, t.randomized))
    for name, r in ranges.items():
        if name in STRESS_PARAMETERS or r.low == r.high:
            continue
        for v in sweep_values(r, suite.sweep_points):
            inside = r.low <= v <= r.high
            cases.append(Case(f"{name} = {v:.4g}", "sweep", "mujoco", _fixed(ranges, name, float(v)),
                              t.randomized if inside else None, name, float(v)))
    lat = ranges.get("action_latency_steps")
    for k in suite.latency_steps if lat else []:
        shifted = RangeSpec(distribution="uniform_int", low=lat.low + k, high=lat.high + k, unit=lat.unit)
        cases.append(Case(f"latency +{k} steps", "stress", "mujoco", ranges | {"action_latency_steps": shifted},
                          t.stress, "action_latency_steps", float(k)))
    noise = ranges.get("observation_noise_scale")
    for f in suite.noise_factors if noise else []:
        scaled = RangeSpec(distribution=noise.distribution, low=noise.low * f, high=noise.high * f, unit=noise.unit)
        cases.append(Case(f"observation noise x{f:g}", "stress", "mujoco",
                          ranges | {"observation_noise_scale": scaled}, t.stress, "observation_noise_scale", f))
    for p in suite.drop_probabilities:
        cases.append(Case(f"state messages dropped {p:.0%}", "stress", "mujoco", ranges, t.stress,
                          "state_drop_prob", p, {"state_drop_prob": p}))
    for f in suite.push_forces_n:
        pushes = RangeSpec(distribution="constant", low=f, high=f, unit=ranges[PUSH].unit)
        cases.append(Case(f"pushes of {f:g} N", "stress", "mujoco", ranges | {PUSH: pushes}, t.stress, PUSH, f))
    return cases
