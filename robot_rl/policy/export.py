"""`robot-rl export runs/NAME --out policies/NAME`: a training checkpoint -> a self-contained policy artifact.

    policies/NAME/policy.onnx     obs float32 [batch, n_obs] raw -> action float32 [batch, n_cmd] command units;
                                  normalization, squash, action map and command clipping inside the graph
    policies/NAME/card.yaml       `PolicyCard`: robot, task, spec, rates, ranges, training, versions, sha256, eval
    policies/NAME/checkpoint.pt   the training checkpoint, for fine-tuning

The ONNX graph must reproduce the torch module within `PARITY_TOLERANCE` on random observations (normal around
the normalizer's statistics) and on observations recorded by running the policy in the randomized env; otherwise
the export fails. Everything is written into a temporary folder beside `out_dir` and renamed at the end, so a
failed export leaves nothing behind.
"""

from __future__ import annotations

import io
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch

import robot_rl
from robot_rl.envs import entry, make_vec
from robot_rl.envs.core import resolve_ranges
from robot_rl.evaluate.policy_eval import evaluate_policy
from robot_rl.learn.checkpoint import FORMAT, CheckpointError, build_policy, load_checkpoint, yaml_plain
from robot_rl.learn.networks import DeterministicPolicy, RunningNorm, mlp
from robot_rl.policy.card import (
    CARD_FILE,
    CARD_VERSION,
    CHECKPOINT_FILE,
    ONNX_FILE,
    EvalResult,
    LatencyCard,
    LineageCard,
    OnnxCard,
    PolicyCard,
    TrainingCard,
    VersionsCard,
    command_card,
    observation_card,
    save_card,
)
from robot_rl.policy.runner import session_options, sha256_file, task_observation_spec
from robot_rl.robots import RangeSpec, RobotSpec, RobotSpecError, load_robot, read_yaml
from robot_rl.spaces import VectorSpec

OPSET = 17
PARITY_TOLERANCE = 1e-5
"""Largest allowed |ONNX Runtime - torch| over all command elements, in command units."""
PARITY_SAMPLES = 1000
CONTROL_FLOW_OPS = frozenset({"If", "Loop", "Scan", "SequenceMap"})
EVAL_BACKENDS = ("mujoco", "pybullet")


class ExportError(ValueError):
    """The export cannot produce a trustworthy artifact (parity, graph, existing output); names what failed."""


@dataclass(frozen=True)
class ExportReport:
    """What `export` wrote and measured."""

    out_dir: Path
    card: PolicyCard
    parity_random: float
    """Max |ONNX - torch| over `PARITY_SAMPLES` random observations, command units."""
    parity_recorded: float
    """Max |ONNX - torch| over `PARITY_SAMPLES` observations recorded in the randomized env, command units."""


def untrained_checkpoint(env_id: str, hidden: tuple[int, ...] = (256, 256), activation: str = "elu",
                         squash: str = "clip", seed: int = 0) -> dict:
    """A `robot_rl.checkpoint/1` dict holding a randomly initialized policy for `env_id`.

    For benchmarks, smoke tests and dry runs of the export/deploy pipeline before training. Weights use PyTorch's
    default init; normalizer statistics are random (mean ~ N(0, 0.5^2), var ~ U(0.5, 2)) so every graph stage works.
    """
    e = entry(env_id)
    robot = load_robot(e.robot)
    spec = task_observation_spec(env_id, robot)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = mlp(spec.size, list(hidden), len(robot.command.names), activation)
        norm = RunningNorm(spec.size)
        norm.mean.copy_(0.5 * torch.randn(spec.size, dtype=torch.float64))
        norm.var.copy_(0.5 + 1.5 * torch.rand(spec.size, dtype=torch.float64))
        norm.count.fill_(1000.0)
    module = DeterministicPolicy(norm, net, e.action_map(robot), spec, squash)
    return {"format": FORMAT, "env_id": env_id, "algo": "untrained", "config": {"seed": seed},
            "policy": {"hidden": list(hidden), "activation": activation, "squash": squash,
                       "state_dict": module.state_dict()},
            "algorithm_state": {}, "progress": {"env_steps": 0, "iterations": 0, "wall_time_s": 0.0}}


def to_onnx(module: DeterministicPolicy, n_obs: int) -> bytes:
    """The module as an ONNX model (legacy TorchScript tracer, opset `OPSET`, dynamic batch axis)."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The legacy (TorchScript) exporter is chosen on purpose: it warns about its own deprecation.
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        torch.onnx.export(module, (torch.zeros(1, n_obs),), buffer, input_names=["obs"], output_names=["action"],
                          dynamic_axes={"obs": {0: "batch"}, "action": {0: "batch"}}, opset_version=OPSET,
                          do_constant_folding=True, dynamo=False)
    data = buffer.getvalue()
    model = onnx.load_from_string(data)
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as e:
        raise ExportError(f"the exported ONNX graph is invalid: {e}") from None
    branches = sorted({n.op_type for n in model.graph.node} & CONTROL_FLOW_OPS)
    if branches:
        raise ExportError(f"the exported graph contains control flow {branches}; the policy must be a plain graph")
    return data


def random_observations(module: DeterministicPolicy, n: int, rng: np.random.Generator) -> np.ndarray:
    """`[n, n_obs]` float32 ~ N(normalizer mean, normalizer std) per element (N(0, 1) for fresh statistics)."""
    mean = module.normalizer.mean.numpy()
    std = np.sqrt(module.normalizer.var.numpy() + module.normalizer.eps)
    return (mean + std * rng.standard_normal((n, len(mean)))).astype(np.float32)


def recorded_observations(module: DeterministicPolicy, env_id: str, n: int, seed: int, num_envs: int = 20
                          ) -> np.ndarray:
    """`[n, n_obs]` float32 observations met by the policy itself acting in the randomized MuJoCo env."""
    env = make_vec(env_id, num_envs, backend="mujoco", randomize=True)
    try:
        obs, _ = env.reset(seed=seed)
        rows = []
        while sum(len(r) for r in rows) < n:
            rows.append(obs.copy())
            with torch.no_grad():
                command = module(torch.from_numpy(obs)).numpy()
            obs, *_ = env.step(command)
    finally:
        env.close()
    return np.concatenate(rows)[:n]


def parity(module: DeterministicPolicy, session: ort.InferenceSession, obs: np.ndarray) -> float:
    """Max |ONNX Runtime - torch| over all commands for observations `[N, n_obs]`, command units."""
    with torch.no_grad():
        expected = module(torch.from_numpy(obs)).numpy()
    got = session.run(["action"], {"obs": obs})[0]
    return float(np.max(np.abs(got.astype(np.float64) - expected)))


def library_versions() -> VersionsCard:
    """Versions of the libraries that produced and checked the artifact."""
    import mujoco

    return VersionsCard(robot_rl=robot_rl.__version__, torch=torch.__version__, onnx=onnx.__version__,
                        onnxruntime=ort.__version__, mujoco=mujoco.__version__, numpy=np.__version__)


def read_run_config(run_dir: Path) -> dict[str, Any]:
    """`run_dir/config.yaml` written by the training runner (empty when absent)."""
    path = run_dir / "config.yaml"
    if not path.is_file():
        return {}
    try:
        return read_yaml(path)
    except RobotSpecError as e:
        raise ExportError(str(e)) from None


def _setting(run_config: dict[str, Any], key: str, default: Any) -> Any:
    """A training setting at the top level of the run config or in its `env` block."""
    env_block = run_config.get("env")
    if isinstance(env_block, dict) and key in env_block:
        return env_block[key]
    return run_config.get(key, default)


def trained_ranges(run_config: dict[str, Any], robot: RobotSpec, run_dir: Path) -> dict[str, RangeSpec] | None:
    """The randomization ranges training used: `randomize` (default True) and `calibration` of the run config."""
    randomize, calibration = _setting(run_config, "randomize", True), _setting(run_config, "calibration", None)
    if not isinstance(randomize, bool):
        randomize = _locate(str(randomize), run_dir)
    return resolve_ranges(robot, randomize, None if calibration is None else _locate(str(calibration), run_dir))


def _locate(name: str, run_dir: Path) -> Path:
    """A file named in the run config: as given (relative to the working folder), else relative to the run."""
    return Path(name) if Path(name).is_file() or not (run_dir / name).is_file() else run_dir / name


def training_card(ckpt: dict, run_config: dict[str, Any]) -> TrainingCard:
    """Algorithm, resolved config (the run's config.yaml, else the learner's), commit, progress."""
    progress = ckpt.get("progress") or {}
    config = run_config or ckpt["config"]
    commit = run_config.get("git_commit") or (ckpt["config"] or {}).get("git_commit")
    return TrainingCard(algo=str(ckpt["algo"]), config=yaml_plain(config), git_commit=commit,
                        env_steps=progress.get("env_steps"), iterations=progress.get("iterations"),
                        wall_time_s=progress.get("wall_time_s"))


def latency_card(ranges: dict[str, RangeSpec] | None) -> LatencyCard:
    """Action latency trained for: the `action_latency_steps` range, or none for a nominal (unrandomized) run."""
    if not ranges or "action_latency_steps" not in ranges:
        return LatencyCard(low=0, high=0)
    r = ranges["action_latency_steps"]
    return LatencyCard(low=int(r.low), high=int(r.high))


def build_card(env_id: str, robot: RobotSpec, obs_spec: VectorSpec, ckpt: dict, run_config: dict,
               ranges: dict[str, RangeSpec] | None, onnx_sha256: str) -> PolicyCard:
    """The card of a freshly exported policy (no evaluation yet, no gate verdict)."""
    return PolicyCard(
        version=CARD_VERSION, robot=robot.name, env_id=env_id, control_rate_hz=robot.control_rate_hz,
        observation=observation_card(obs_spec), command=command_card(robot), action_latency_steps=latency_card(ranges),
        randomization=ranges, training=training_card(ckpt, run_config), versions=library_versions(),
        onnx=OnnxCard(sha256=onnx_sha256, opset=OPSET),
    )


def evaluate_artifact(folder: Path, episodes: int, seed: int, num_envs: int) -> list[EvalResult]:
    """Evaluate the ONNX policy in `folder`, randomized, on every backend (the cross-simulator check)."""
    results = []
    for backend in EVAL_BACKENDS:
        stats = evaluate_policy(folder, episodes, backend, randomize=True, num_envs=num_envs, seed=seed)
        results.append(EvalResult(backend=backend, randomized=True, episodes=stats.episodes, seed=seed,
                                  success_rate=stats.success_rate, mean_return=stats.mean_return,
                                  mean_episode_length=stats.mean_episode_length,
                                  command_limit_fraction=stats.command_clip_fraction, sm=stats.sm,
                                  action_rate_rms=stats.action_rate_rms,
                                  high_freq_energy_share=stats.high_freq_energy_share))
    return results


def load_module(run_dir: Path) -> tuple[dict, DeterministicPolicy]:
    """The checkpoint in `run_dir` and its rebuilt policy module; a `CheckpointError` names the file."""
    path = run_dir / CHECKPOINT_FILE
    ckpt = load_checkpoint(path)
    try:
        return ckpt, build_policy(ckpt["env_id"], ckpt["policy"])
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{path}: cannot rebuild the policy ({type(e).__name__}: {e})") from None


def check_parity(module: DeterministicPolicy, onnx_path: Path, env_id: str, seed: int) -> tuple[float, float]:
    """Max |ONNX - torch| on random and on recorded observations; `ExportError` above `PARITY_TOLERANCE`."""
    session = ort.InferenceSession(str(onnx_path), session_options(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    figures = (parity(module, session, random_observations(module, PARITY_SAMPLES, rng)),
               parity(module, session, recorded_observations(module, env_id, PARITY_SAMPLES, seed)))
    for what, diff in zip(("random", "recorded"), figures, strict=True):
        if not diff <= PARITY_TOLERANCE:
            raise ExportError(f"{onnx_path}: ONNX Runtime and torch differ by {diff:.3g} (> {PARITY_TOLERANCE:g}) "
                              f"on {PARITY_SAMPLES} {what} observations; not exported")
    return figures


def export(run_dir: str | Path, out_dir: str | Path, episodes: int = 50, num_envs: int = 16, seed: int = 0,
           overwrite: bool = False, lineage: LineageCard | None = None) -> ExportReport:
    """Export `run_dir/checkpoint.pt` to the policy folder `out_dir`; `episodes=0` skips the evaluation.

    `lineage` (fine-tuned policies) goes into the card as it is.
    """
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    ckpt, module = load_module(run_dir)
    if out_dir.exists() and not overwrite:
        raise ExportError(f"{out_dir}: already exists; remove it or export with overwrite (--force)")
    env_id = ckpt["env_id"]
    robot = load_robot(entry(env_id).robot)
    obs_spec = task_observation_spec(env_id, robot)
    run_config = read_run_config(run_dir)
    ranges = trained_ranges(run_config, robot, run_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; the released folder is readable like any other
        onnx_path = tmp / ONNX_FILE
        onnx_path.write_bytes(to_onnx(module, obs_spec.size))
        figures = check_parity(module, onnx_path, env_id, seed)
        shutil.copy2(run_dir / CHECKPOINT_FILE, tmp / CHECKPOINT_FILE)
        card = build_card(env_id, robot, obs_spec, ckpt, run_config, ranges, sha256_file(onnx_path))
        card = card.model_copy(update={"lineage": lineage})
        save_card(card, tmp / CARD_FILE)
        if episodes > 0:
            card = card.model_copy(update={"evaluation": evaluate_artifact(tmp, episodes, seed, num_envs)})
            save_card(card, tmp / CARD_FILE)
        _replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ExportReport(out_dir, card, *figures)


def _replace_dir(src: Path, dst: Path) -> None:
    """Rename `src` to `dst`; an existing `dst` is moved aside first and deleted only after the rename."""
    old = None
    if dst.exists():
        old = dst.with_name(f".{dst.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        dst.rename(old)
    src.rename(dst)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
