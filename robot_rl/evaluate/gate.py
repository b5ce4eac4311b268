"""`robot-rl gate`: a policy's release gate in simulation, its report, and the verdict in its card.

Every case of the suite (`robot_rl.evaluate.gate_suite`) is an evaluation of the exported ONNX policy
(`evaluate_policy`) under the case's randomization ranges, with the suite's seed: success rate and its Wilson 95 %
interval, mean return, the share of steps with a command at a limit, task error and its CVaR, the safety filter's
share and events, constraint-violation steps, and the applied commands' smoothness (Sm, rate RMS, energy above
4 Hz: `robot_rl.evaluate.smoothness`). A case with a threshold fails when the
Wilson lower bound is below it; the verdict passes when none fails. The suite and the report are written into the
policy folder (`gate/suite.yaml`, `gate/report.html`) and the verdict into its card, chained to both and to the
ONNX file (`robot_rl.policy.gate`).
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import yaml

from robot_rl.evaluate.executor import make_executor
from robot_rl.evaluate.gate_report import worst_section, write_report
from robot_rl.evaluate.gate_suite import Case, build_cases, load_suite
from robot_rl.evaluate.gate_worst import render_frames, weakest, worst_episodes
from robot_rl.evaluate.policy_eval import evaluate_policy, policy_files, unpacked
from robot_rl.evaluate.stats import cvar, wilson_interval
from robot_rl.policy import load_card
from robot_rl.policy.card import CARD_FILE
from robot_rl.policy.gate import REPORT_FILE, SUITE_FILE, record_verdict
from robot_rl.robots import RobotSpec, load_robot

CASE_COST = {"mujoco": 1.0, "pybullet": 3.0}
"""Relative time of a case per backend: Ray submits the longest first so the last ones do not idle a worker."""


@dataclass(frozen=True)
class CaseResult:
    """One case's outcome."""

    name: str
    kind: str
    parameter: str
    value: float
    episodes: int
    success: float
    success_low: float
    """Wilson 95 % lower bound of the success rate."""
    success_high: float
    threshold: float | None
    passed: bool
    mean_return: float
    command_limit_share: float
    """Mean share of an episode's steps with a command clipped or at a limit."""
    wall_s: float
    task_error: float = float("nan")
    """Mean task error at the episodes' ends (m: fingertip to target, to the setpoint, to the goal)."""
    task_error_cvar: float = float("nan")
    """CVaR at 0.5 of the task error: the mean over the worst half of the episodes."""
    violation_steps: float = 0.0
    """Mean constraint-violation steps per episode (the measured state beyond a limit of robot.yaml)."""
    filter_share: float = 0.0
    """Mean share of an episode's steps whose command the safety filter changed."""
    filter_events: dict[str, int] = field(default_factory=dict)
    """Safety-filter events by kind: steps summed over the case's episodes."""
    sm: float | None = None
    """CAPS smoothness Sm of the applied commands normalized to [-1, 1] (`robot_rl.evaluate.smoothness`)."""
    action_rate_rms: float | None = None
    """RMS of the normalized commands' step-to-step change."""
    high_freq_energy_share: float | None = None
    """Share of the normalized commands' spectral energy above 4 Hz."""


def case_randomize(case: Case, scratch: Path) -> bool | Path:
    """`evaluate_policy`'s `randomize` for `case`: False (nominal) or its ranges written to a YAML in `scratch`."""
    if case.ranges is None:
        return False
    scratch.mkdir(parents=True, exist_ok=True)
    path = scratch / "ranges.yaml"  # read once, when the case's env is built
    path.write_text(yaml.safe_dump({"randomization": {k: v.model_dump() for k, v in case.ranges.items()}}))
    return path


def run_case(policy_dir: Path, case: Case, episodes: int, seed: int, scratch: Path) -> CaseResult:
    """Evaluate `policy_dir` under `case` (its ranges written to a YAML in `scratch`)."""
    details: list[dict] = []
    stats = evaluate_policy(policy_dir, episodes, case.backend, case_randomize(case, scratch), seed=seed,
                            safety_filter=True, details=details, env_options=case.env_options)
    k = round(stats.success_rate * stats.episodes)
    low, high = wilson_interval(k, stats.episodes)
    passed = case.threshold is None or low >= case.threshold
    errors = [d["task_error"] for d in details]
    events = sum((Counter(d["events"]) for d in details), Counter())
    return CaseResult(case.name, case.kind, case.parameter, case.value, stats.episodes, stats.success_rate, low, high,
                      case.threshold, passed, stats.mean_return, stats.command_clip_fraction, stats.wall_time_s,
                      float(np.nanmean(errors)), cvar(errors, 0.5),
                      float(np.mean([d["violation_steps"] for d in details])),
                      float(np.mean([d["filter_share"] for d in details])), dict(sorted(events.items())),
                      stats.sm, stats.action_rate_rms, stats.high_freq_energy_share)


def case_job(files: dict[str, bytes], case: Case, episodes: int, seed: int) -> CaseResult:
    """`run_case` on a policy shipped as its files (name -> bytes), in a scratch folder of its own.

    What a Ray worker runs: it needs no file system shared with the machine that started the gate.
    """
    with unpacked(files) as folder, tempfile.TemporaryDirectory() as scratch:
        return run_case(folder, case, episodes, seed, Path(scratch))


def worst_of(folder: Path, spec: RobotSpec, cases: list[Case], results: list[CaseResult], episodes: int, seed: int,
             progress: Callable[[str], None]) -> str:
    """The report's worst-episodes section: the weakest case run again here, its worst episodes rendered."""
    i = weakest(results)
    progress(f"  worst episodes: {results[i].name} again with trajectories, frames rendered offscreen")
    with tempfile.TemporaryDirectory() as tmp:
        worst = worst_episodes(folder, spec, cases[i], case_randomize(cases[i], Path(tmp)), episodes, seed)
    frames, note = [], ""
    for ep in worst:
        try:
            frames.append(render_frames(spec, ep) if "qpos" in ep else None)
        except RuntimeError as e:
            frames.append(None)
            note = str(e)
    return worst_section(results[i].name, worst, frames, note or ("" if all(f is not None for f in frames) else
                         "the case ran in PyBullet, whose states MuJoCo cannot draw"), spec.control_dt_s)


def reasons(results: list[CaseResult]) -> list[str]:
    """Why the gate fails: one line per case under its threshold (empty: it passes)."""
    return [f"{r.name}: success lower bound {r.success_low:.3f} < {r.threshold:g} ({r.success:.0%} of {r.episodes})"
            for r in results if not r.passed]


def default_suite(spec: RobotSpec) -> Path:
    """The robot's default suite, `sim/<robot>/gate.yaml`."""
    return spec.path("gate.yaml")


def run_gate(policy_dir: str | Path, suite_path: str | Path | None = None, episodes: int | None = None,
             progress: Callable[[str], None] = print, ray: str | None = None, workers: int | None = None) -> dict:
    """Run the gate on `policy_dir`, write its suite, report and verdict; returns {passed, reasons, cases, ...}.

    `ray`: None runs the cases here one after the other; 'auto' (a local Ray instance of `workers` CPUs) or
    'HOST:PORT' (a cluster) runs each case as a Ray task, with the same seeds and so the same results.

    Raises:
        PolicyError: no such policy; RobotSpecError: a missing or bad suite, or a suite for another robot;
        ExecutorError: Ray missing or unreachable.

    """
    folder = Path(policy_dir)
    card = load_card(folder / CARD_FILE)
    spec = load_robot(card.robot)
    suite_path = Path(suite_path) if suite_path else default_suite(spec)
    suite = load_suite(suite_path, spec)
    n = episodes or suite.episodes
    cases = build_cases(suite, spec)
    t0, finished = time.perf_counter(), []
    executor = make_executor(ray, workers)
    progress(f"robot-rl gate: {folder} ({card.robot}), {len(cases)} cases x {n} episodes, suite {suite_path}, "
             f"{'here' if ray is None else f'as Ray tasks on {executor.workers} CPUs ({ray})'}")

    def done(_i: int, r: CaseResult) -> None:
        finished.append(r)
        progress(f"  [{len(finished)}/{len(cases)}] {r.name:36s} success {r.success:6.1%} (lower "
                 f"{r.success_low:.2f}{'' if r.threshold is None else f' vs {r.threshold:g}'}) "
                 f"{'ok' if r.passed else 'FAIL'}")

    files = policy_files(folder)
    try:
        results = executor.map(case_job, [(files, case, n, suite.seed) for case in cases],
                               [CASE_COST.get(case.backend, 1.0) for case in cases], done)
    finally:
        executor.close()
    why = reasons(results)
    (folder / SUITE_FILE).parent.mkdir(exist_ok=True)
    (folder / SUITE_FILE).write_text(Path(suite_path).read_text())
    write_report(folder / REPORT_FILE, folder, card.robot, results, not why, why, n,
                 worst_of(folder, spec, cases, results, n, suite.seed, progress))
    verdict = record_verdict(folder, not why, why)
    progress(f"robot-rl gate: {'PASSED' if verdict.passed else 'FAILED'} in {time.perf_counter() - t0:.0f} s; "
             f"report {folder / REPORT_FILE}")
    return {"policy": str(folder), "passed": verdict.passed, "reasons": why, "date": verdict.date,
            "suite": str(suite_path), "report": str(folder / REPORT_FILE), "cases": [asdict(r) for r in results]}

