"""Choosing an excitation: D-optimal over a family of candidates, from finite-difference sensitivities.

The sensitivities are averaged over the randomization prior (ASID's Fisher-information idea, scored by log det
instead of the trace).

For a candidate u and parameters theta (normalized by their prior range widths w, z = theta / w), the windowed
replay's scaled signals y(u, theta) `[m]` give the sensitivity J = dy/dz `[m, p]` (forward differences of step
`FD_STEP` range widths), and the Fisher information for unit-variance residuals F = J^T J `[p, p]`. A design's
score is the mean over `draws` prior samples of log det F (D-optimality: the volume of the confidence ellipsoid
shrinks as exp(-log det F / 2)); the trace (ASID's A-like criterion) is reported beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from robot_rl.envs.randomization import sample_parameters
from robot_rl.robots import RangeSpec, RobotSpec
from robot_rl.sysid.excitation import Excitation
from robot_rl.sysid.logs import simulate_log
from robot_rl.sysid.replay import make_replay
from robot_rl.sysid.schedule import design_commands

FD_STEP = 0.01
"""Finite-difference step, fraction of each parameter's prior range width."""


def information(jac: np.ndarray) -> tuple[float, float]:
    """(log det, trace) of F = J^T J for a sensitivity matrix `jac` `[m, p]`; log det is -inf when F is singular.

    >>> information(np.array([[2.0, 0.0], [0.0, 1.0]]))
    (1.3862943611198906, 5.0)
    """
    f = jac.T @ jac
    sign, logdet = np.linalg.slogdet(f)
    return (float(logdet) if sign > 0 else float("-inf")), float(np.trace(f))


def sensitivity(spec: RobotSpec, commands: np.ndarray, theta: Mapping[str, float],
                widths: Mapping[str, float], window: int) -> np.ndarray:
    """dy/dz `[m, p]` of the windowed replay of `commands` run under `theta`, z = theta / widths (noise-free)."""
    log = simulate_log(spec, commands, theta)
    replay = make_replay(spec, log, window)
    names = list(widths)
    points = [dict(theta)] + [dict(theta) | {n: theta[n] + FD_STEP * widths[n]} for n in names]
    pred = replay.predict(points).reshape(len(points), -1)
    return ((pred[1:] - pred[0]) / FD_STEP).T


@dataclass
class DesignScore:
    """One candidate's information, averaged over prior draws."""

    design: Excitation
    logdet: float
    trace: float

    def row(self) -> dict[str, object]:
        """JSON-ready."""
        return {"design": asdict(self.design), "label": self.design.label(), "logdet": self.logdet,
                "trace": self.trace}


def score_designs(spec: RobotSpec, candidates: Sequence[Excitation], ranges: Mapping[str, RangeSpec],
                  names: Sequence[str], duration_s: float, draws: int = 3, window: int = 25, seed: int = 0,
                  progress: Callable[[str], None] = print) -> list[DesignScore]:
    """Mean log det and trace of the Fisher information of every candidate over `draws` prior samples."""
    prior = sample_parameters(ranges, np.random.default_rng(seed), draws)
    widths = {n: ranges[n].high - ranges[n].low for n in names}
    scores = []
    for design in candidates:
        infos = []
        for i in range(draws):
            theta = {k: float(v[i]) for k, v in prior.items() if k in names or k == "action_latency_steps"}
            infos.append(information(sensitivity(spec, design_commands(spec, design, duration_s), theta,
                                                 widths, window)))
        score = DesignScore(design, float(np.mean([x[0] for x in infos])), float(np.mean([x[1] for x in infos])))
        progress(f"  {design.label():34s} log det F {score.logdet:8.2f}   trace F {score.trace:10.4g}")
        scores.append(score)
    return scores


def choose(scores: Sequence[DesignScore]) -> DesignScore:
    """The D-optimal candidate: largest mean log det."""
    return max(scores, key=lambda s: s.logdet)
