"""`robot-rl hil`: close the loop against a hidden reality, round after round, the way it runs on a robot.

Each round, starting from a policy that is weak on the hidden reality (physics outside its training ranges):

1. **evaluate** the current policy on the hidden reality (vectorized MuJoCo with the reality's parameters fixed:
   success with its 95 % Wilson interval, mean steps to success = cycle time);
2. **deploy** it with `robot-rl launch launch/<robot>.yaml --middleware dds --operator sim-expert`: controller,
   simulated robot (the hidden reality, `sim_driver.reality_file`), simulated operator and recorder as separate
   processes over CycloneDDS on loopback, in lockstep, recorded to a rosbag2 MCAP bag;
3. **dataset**: `robot_rl.data.dataset.build_dataset` on the bag (intervention labels);
4. **fine-tune**: `robot_rl.policy.finetune.finetune` from the current policy on every dataset so far (HG-DAgger's
   aggregation; the off-policy methods replay it all), exported with ONNX parity and a card with its lineage.

The last round only evaluates. Every round prints success on the hidden reality, the intervention rate and
operator steps of its deployment, the cycle time and wall time; `hil.json` holds them all and `hil.png` plots them.
The deployed simulated robot time and operator steps add up to what the loop cost on a robot.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from robot_rl.data.dataset import DatasetConfig, build_dataset
from robot_rl.deploy.launcher import launch, load_params
from robot_rl.deploy.sim_driver import load_reality
from robot_rl.envs import BatchedRobotEnv, entry
from robot_rl.envs.rollout import EpisodeStats
from robot_rl.evaluate.policy_eval import evaluate_policy, evaluate_shipped, policy_files
from robot_rl.evaluate.stats import wilson_interval
from robot_rl.learn.checkpoint import yaml_plain
from robot_rl.learn.finetune_config import FinetuneConfig
from robot_rl.policy.finetune import finetune
from robot_rl.policy.runner import sha256_file
from robot_rl.robots import load_robot

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_REALITY = {"arm": "sim/arm/realities/weak_actuators.yaml",
                   "mobile_base": "sim/mobile_base/realities/slippery_slow_link.yaml"}
"""Hidden realities shipped per robot (outside the shipped policies' training ranges)."""


@dataclass(frozen=True)
class HilConfig:
    """One `robot-rl hil` run."""

    env_id: str
    out: str
    """Folder for the rounds (round<k>/bag, dataset, policy), hil.json and hil.png."""
    parent: str = ""
    """The starting policy folder; '' = the launch file's `controller.policy`."""
    reality_file: str = ""
    """Hidden physics (YAML of parameter values); '' = `DEFAULT_REALITY` of the robot."""
    rounds: int = 3
    """Fine-tuning rounds (deploy -> dataset -> fine-tune); the policy is evaluated before and after each."""
    episodes: int = 30
    """Deployed episodes per round."""
    quality: str = "expert90"
    """Simulated operator preset (`robot_rl.teleop.sim_operator.QUALITY_PRESETS`)."""
    rule: str = "margin"
    """Simulated operator's intervention rule: margin (takes over when the robot stalls or nears a limit, as a
    person watching does), rlif, random, ..."""
    eval_episodes: int = 64
    """Hidden-reality evaluation episodes per round."""
    export_episodes: int = 16
    """Randomized evaluation episodes per simulator written into each fine-tuned card (0: none)."""
    seed: int = 0
    finetune: FinetuneConfig = field(default_factory=lambda: FinetuneConfig(method="hg-dagger"))


@dataclass
class Round:
    """One round's figures."""

    round: int
    policy: str
    policy_sha256: str
    success: float
    """On the hidden reality, policy alone."""
    success_ci95: tuple[float, float]
    steps_to_success: float | None
    eval_episodes: int
    deploy: dict[str, Any] = field(default_factory=dict)
    """episodes, success (operator helping), ticks, operator_steps, intervention_rate, onsets, robot_time_s."""
    finetune_s: float | None = None
    wall_s: float = 0.0


Submit = Callable[..., Any]
"""`submit(fn, *args, **kwargs)` -> a handle whose `result()` is its value (`robot_rl.evaluate.executor`)."""


def launch_file_for(env_id: str) -> tuple[str, Path]:
    """The robot of `env_id` and its launch file (launch/<robot>.yaml)."""
    robot = entry(env_id).robot
    path = ROOT / "launch" / f"{robot}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no launch file for robot '{robot}' of {env_id}")
    return robot, path


def _evaluate(policy: Path, reality: dict[str, float], config: HilConfig,
              submit: Submit | None) -> Any:  # noqa: ANN401 - a handle with result()
    """The round's hidden-reality evaluation, started.

    Here and now, or as a task of `submit` (Ray) that runs while the round deploys and fine-tunes; its handle's
    `result()` is the `EpisodeStats`.
    """
    kwargs = {"reality": reality, "num_envs": 16, "seed": 10_000 + config.seed}
    if submit is None:
        stats = evaluate_policy(policy, config.eval_episodes, **kwargs)
        return SimpleNamespace(result=lambda: stats)
    return submit(evaluate_shipped, policy_files(policy), config.eval_episodes, **kwargs)


def _round(policy: Path, k: int, stats: EpisodeStats) -> Round:
    """Round `k`'s figures from its evaluation."""
    wins = round(stats.success_rate * stats.episodes)
    return Round(round=k, policy=str(policy), policy_sha256=sha256_file(policy / "policy.onnx"),
                 success=stats.success_rate, success_ci95=wilson_interval(wins, stats.episodes),
                 steps_to_success=stats.mean_steps_to_success, eval_episodes=stats.episodes)


def deploy_round(policy: Path, launch_file: Path, reality_file: Path, folder: Path, config: HilConfig, k: int
                 ) -> dict[str, Any]:
    """One recorded deployment with the simulated operator; its figures from the nodes' summaries."""
    sets = [f"controller.policy={policy.resolve()}", f"sim_driver.episodes={config.episodes}",
            f"sim_driver.reality_file={reality_file.resolve()}", f"sim_driver.reality_seed={config.seed * 1000 + k}",
            f"sim_driver.summary_file={folder / 'sim.json'}", f"operator.summary_file={folder / 'operator.json'}",
            f"operator.seed={config.seed * 1000 + k}", f"operator.sim_expert.quality={config.quality}",
            f"operator.sim_expert.rule={config.rule}"]
    code = launch(launch_file, duration_s=120.0 + 30.0 * config.episodes, record=folder / "bag", middleware="dds",
                  overrides=sets, operator="sim-expert")
    if code != 0 or not (folder / "sim.json").is_file():
        raise RuntimeError(f"{folder}: deployment failed (launch exit code {code}); see the node output above")
    sim, op = json.loads((folder / "sim.json").read_text()), json.loads((folder / "operator.json").read_text())
    dt = 1.0 / load_robot(entry(sim["env_id"]).robot).control_rate_hz
    ticks = int(op["steps"])
    return {"episodes": sim["episodes"], "success": sim["success_rate"], "ticks": ticks,
            "operator_steps": int(op["operator_steps"]), "intervention_rate": op["operator_steps"] / max(1, ticks),
            "onsets": int(op["interventions"]), "robot_time_s": round(ticks * dt, 2)}


def _line(r: Round) -> str:
    lo, hi = r.success_ci95
    cycle = "-" if r.steps_to_success is None else f"{r.steps_to_success:.1f}"
    text = (f"hil: round {r.round}: hidden-reality success {r.success:.0%} [{lo:.2f}, {hi:.2f}], "
            f"steps to success {cycle}")
    if r.deploy:
        d = r.deploy
        text += (f"; deployed {d['episodes']} episodes ({d['success']:.0%} with the operator), interventions "
                 f"{d['intervention_rate']:.1%} of {d['ticks']} ticks ({d['operator_steps']} operator steps, "
                 f"{d['onsets']} onsets)")
    return text + f"; {r.wall_s:.0f} s"


def run_hil(config: HilConfig, progress: Callable[[str], None] = print, submit: Submit | None = None
            ) -> dict[str, Any]:
    """Run the loop (see the module docstring); returns and writes `out/hil.json`.

    `submit(fn, *args)` (a Ray executor's, `robot_rl.evaluate.executor`) runs each round's hidden-reality evaluation
    as a task while the round deploys and fine-tunes, the same numbers as without it.
    """
    robot, launch_file = launch_file_for(config.env_id)
    parent = Path(config.parent or load_params(launch_file)["controller"]["policy"])
    reality_file = Path(config.reality_file or ROOT / DEFAULT_REALITY.get(robot, ""))
    if not reality_file.is_file():
        raise FileNotFoundError(f"{reality_file}: no hidden reality file (pass --reality FILE)")
    env = BatchedRobotEnv(entry(config.env_id), 1, "mujoco", randomize=False)
    nominal = env.nominal
    env.close()
    reality = load_reality(reality_file, nominal)  # checked as the simulated robot checks it
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    policy, datasets, rounds = parent, [], []
    start = time.perf_counter()
    for k in range(config.rounds + 1):
        t0 = time.perf_counter()
        evaluation, evaluated = _evaluate(policy, reality, config, submit), policy
        deploy, finetune_s = {}, None
        if k < config.rounds:
            folder = out / f"round{k}"
            deploy = deploy_round(policy, launch_file, reality_file, folder, config, k)
            build_dataset([folder / "bag"], folder / "dataset", DatasetConfig(), progress)
            datasets.append(folder / "dataset" / f"robot_rl/{robot}/interventions-v0")
            t1 = time.perf_counter()
            child = out / f"round{k + 1}" / "policy"
            finetune(policy, datasets, child, config.finetune, episodes=config.export_episodes, seed=config.seed,
                     overwrite=True, progress=progress)
            finetune_s = round(time.perf_counter() - t1, 1)
            policy = child
        r = _round(evaluated, k, evaluation.result())
        r.deploy, r.finetune_s, r.wall_s = deploy, finetune_s, round(time.perf_counter() - t0, 1)
        rounds.append(r)
        progress(_line(r))
    summary = {"env_id": config.env_id, "robot": robot, "parent": str(parent), "reality_file": str(reality_file),
               "reality": reality, "config": yaml_plain(asdict(config)), "rounds": [asdict(r) for r in rounds],
               "operator_steps": sum(r.deploy.get("operator_steps", 0) for r in rounds),
               "robot_time_s": round(sum(r.deploy.get("robot_time_s", 0.0) for r in rounds), 2),
               "wall_s": round(time.perf_counter() - start, 1), "final_policy": str(policy)}
    (out / "hil.json").write_text(json.dumps(summary, indent=2))
    plot_hil(summary, out / "hil.png")
    return summary


def plot_hil(summary: dict[str, Any], path: str | Path) -> Path:
    """Success (with its interval), intervention rate and cycle time per round, one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rounds = summary["rounds"]
    ks = [r["round"] for r in rounds]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    succ = [r["success"] for r in rounds]
    err = [[s - r["success_ci95"][0] for s, r in zip(succ, rounds, strict=True)],
           [r["success_ci95"][1] - s for s, r in zip(succ, rounds, strict=True)]]
    axes[0].errorbar(ks, succ, yerr=err, marker="o", capsize=3)
    axes[0].set(title="success on the hidden reality (policy alone)", xlabel="round", ylim=(0, 1.02))
    dep = [r for r in rounds if r["deploy"]]
    axes[1].plot([r["round"] for r in dep], [r["deploy"]["intervention_rate"] for r in dep], marker="o", color="C1")
    axes[1].set(title="operator share of deployed ticks", xlabel="round", ylim=(0, None))
    cyc = [(r["round"], r["steps_to_success"]) for r in rounds if r["steps_to_success"] is not None]
    axes[2].plot([c[0] for c in cyc], [c[1] for c in cyc], marker="o", color="C2")
    axes[2].set(title="mean steps to success (cycle time)", xlabel="round")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.set_xticks(ks)
    c = summary["config"]
    fig.suptitle(f"{summary['env_id']}: {c['finetune']['method']}, simulated operator {c['quality']} "
                 f"({c['rule']} rule), hidden reality {Path(summary['reality_file']).name}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
