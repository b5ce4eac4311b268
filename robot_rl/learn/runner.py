"""The training loop behind `robot-rl train`: configs, progress bar, TensorBoard, checkpoints, resume, Ctrl-C.

A run directory holds::

    config.yaml     the resolved config: learner, env, runner sections, seed, num_envs, versions, git commit
    checkpoint.pt   `robot_rl.learn.checkpoint` format, written atomically every `checkpoint_every` iterations,
                    at the end, and on Ctrl-C; it also holds the run settings (`run`) that `--resume` reuses
    tb/             TensorBoard scalars: everything `iterate()` returns, per env step
    eval.json       deterministic-policy evaluation over randomized episodes at the end of the run

`--config file.yaml` may hold three sections, each overriding fields of a dataclass: `learner` (the algorithm's
config, e.g. `PPOConfig`), `env` (`EnvConfig`), `runner` (`RunnerConfig`). Unknown keys are an error.

Resume: env physics state mid-episode is not saved. Instead the learner resets all envs from a seed derived from
(seed, iteration) at fixed iterations (PPO: every `env_reset_every`) and after loading a checkpoint, so an
uninterrupted run and a run resumed from a checkpoint written at such an iteration are the same computation
(bit-for-bit on CPU). A checkpoint written elsewhere (Ctrl-C, or a final one off that grid) resumes correctly but
not bit-identically.
"""

from __future__ import annotations

import json
import platform
import signal
import sys
import threading
import time
import types
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import numpy as np
import torch
import yaml
from tqdm import tqdm

from robot_rl.envs import make_vec
from robot_rl.envs.rollout import run_episodes, summarize
from robot_rl.learn.base import Learner
from robot_rl.learn.checkpoint import FORMAT, load_checkpoint, save_atomic, yaml_plain
from robot_rl.learn.networks import DeterministicPolicy
from robot_rl.learn.ppo import PPO, PPOConfig, resolve_device
from robot_rl.learn.sac import SAC, SACConfig

LEARNERS: dict[str, tuple[type, type]] = {"ppo": (PPOConfig, PPO), "sac": (SACConfig, SAC)}
"""algo name -> (config dataclass, learner class). A config class may offer `for_env(env_id)` tuned defaults."""

CHECKPOINT = "checkpoint.pt"


@dataclass(frozen=True)
class EnvConfig:
    """Keyword arguments of the training envs (`robot_rl.envs.make_vec`)."""

    backend: str = "mujoco"
    """Physics engine: "mujoco" | "pybullet"."""
    randomize: bool | str = True
    """Domain randomization from robot.yaml (True), nominal (False), or a ranges YAML path."""
    calibration: str | None = None
    """Calibration YAML that re-centres the randomization ranges, or None."""
    task_config: dict = field(default_factory=dict)
    """Task config field overrides (the env entry's config dataclass)."""
    reward_scales: dict = field(default_factory=dict)
    """Reward term scale overrides."""

    def kwargs(self) -> dict[str, Any]:
        """`make_vec` keyword arguments."""
        return {"backend": self.backend, "randomize": self.randomize, "calibration": self.calibration,
                "task_config": dict(self.task_config), "reward_scales": dict(self.reward_scales)}


TRAIN_ENV_DEFAULTS: dict[str, EnvConfig] = {
    # ArmReach's "reached" term pays +1 per step inside the success radius, but success (5 steps inside) ends the
    # episode: a policy that reached 100 % success after 0.85 M steps then learned to hover at the radius's edge
    # without completing the hold (return -0.4 -> +40, success 100 % -> 10-40 % by 3 M steps). With the term at 0
    # every step costs, so finishing (success) is the best outcome. Success is judged exactly as before.
    "robot_rl/ArmReach-v0": EnvConfig(reward_scales={"reached": 0.0}),
}
"""Training env settings per env id where they differ from `EnvConfig()` (a config file's `env` section overrides)."""


@dataclass(frozen=True)
class RunnerConfig:
    """Loop settings that do not change the learning algorithm."""

    num_envs: int = 64
    """Envs stepped as one batch (the CLI's --num-envs overrides)."""
    checkpoint_every: int = 50
    """Write the checkpoint every this many iterations (keep a multiple of PPO's `env_reset_every`)."""
    eval_episodes: int = 100
    """Randomized episodes of the deterministic policy evaluated at the end (0: none)."""
    eval_num_envs: int = 50
    """Envs stepped as one batch during that evaluation."""


@dataclass(frozen=True)
class TrainResult:
    """What a `train` call did."""

    out_dir: Path
    checkpoint: Path
    env_steps: int
    iterations: int
    wall_time_s: float
    interrupted: bool
    scalars: dict[str, float]
    """The last iteration's scalars."""
    evaluation: dict[str, float] | None
    """`evaluate_policy` summary at the end, or None (interrupted, or `eval_episodes` 0)."""


# ------------------------------------------------------------------------------------------------------ configs


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """`value` read from YAML as the dataclass field type `hint` (tuples from lists, floats from "1e-3")."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for option in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, option, where)
            except ValueError:
                continue
    elif (hint is bool and isinstance(value, bool)) or (hint is int and type(value) is int):
        return value
    elif hint is float and not isinstance(value, bool):
        try:
            return float(value)
        except (TypeError, ValueError):
            pass
    elif hint is str and isinstance(value, str):
        return value
    elif origin is tuple and isinstance(value, (list, tuple)):
        return tuple(_coerce(v, args[0], where) for v in value)
    elif (hint is dict or origin is dict) and isinstance(value, dict):
        return dict(value)
    raise ValueError(f"{where}: expected {getattr(hint, '__name__', hint)}, got {value!r}")


def override(config: Any, values: dict, where: str) -> Any:
    """`config` (a dataclass) with `values` replacing fields; unknown names and wrong types name `where`."""
    known = {f.name for f in fields(config)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"{where}: unknown key '{unknown[0]}' (known: {sorted(known)})")
    hints = get_type_hints(type(config))
    return replace(config, **{k: _coerce(v, hints[k], f"{where}.{k}") for k, v in values.items()})


def read_config_file(path: str | Path) -> dict[str, dict]:
    """Sections `learner`, `env`, `runner` of a YAML file (each a mapping; missing ones are empty)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such config file")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping with sections learner, env, runner")
    sections = ("learner", "env", "runner")
    for key, value in data.items():
        if key not in sections:
            raise ValueError(f"{path}: unknown key '{key}' (sections: {list(sections)})")
        if not isinstance(value, dict):
            raise ValueError(f"{path}: section '{key}' must be a mapping")
    return {s: data.get(s) or {} for s in sections}


@dataclass(frozen=True)
class RunPlan:
    """Everything that defines a run (stored in the checkpoint's `run` block and in config.yaml)."""

    env_id: str
    algo: str
    seed: int
    learner: Any
    env: EnvConfig
    runner: RunnerConfig


def _algo(algo: str) -> tuple[type, type]:
    if algo not in LEARNERS:
        raise ValueError(f"unknown algorithm '{algo}'; choose one of {sorted(LEARNERS)}")
    return LEARNERS[algo]


def plan_fresh(env_id: str, algo: str, seed: int | None, num_envs: int | None, config_path: str | None) -> RunPlan:
    """Defaults (tuned per env: the config class's `for_env`, `TRAIN_ENV_DEFAULTS`), the config file, the CLI."""
    config_cls, _ = _algo(algo)
    for_env = getattr(config_cls, "for_env", None)
    learner = for_env(env_id) if for_env is not None else config_cls()
    env, runner = TRAIN_ENV_DEFAULTS.get(env_id, EnvConfig()), RunnerConfig()
    if config_path is not None:
        sections = read_config_file(config_path)
        learner = override(learner, sections["learner"], f"{config_path}: learner")
        env = override(env, sections["env"], f"{config_path}: env")
        runner = override(runner, sections["runner"], f"{config_path}: runner")
    if num_envs is not None:
        runner = replace(runner, num_envs=num_envs)
    return RunPlan(env_id, algo, 0 if seed is None else seed, learner, env, runner)


def plan_resume(ckpt: dict, path: Path, env_id: str, algo: str, seed: int | None, num_envs: int | None,
                config_path: str | None) -> RunPlan:
    """The run stored in a checkpoint; command-line settings that contradict it are an error."""
    run = ckpt["run"]
    given = {"env_id": env_id, "algo": algo, "seed": seed, "num_envs": num_envs}
    stored = {"env_id": ckpt["env_id"], "algo": ckpt["algo"], "seed": run["seed"],
              "num_envs": run["runner"]["num_envs"]}
    for key, value in given.items():
        if value is not None and value != stored[key]:
            raise ValueError(f"{path}: --resume with {key} {value!r}, but the run was started with {stored[key]!r}")
    if config_path is not None:
        raise ValueError(f"{path}: --config cannot change a run being resumed (it uses the stored config)")
    config_cls, _ = _algo(algo)
    learner = override(config_cls(), ckpt["config"], f"{path}: config")
    return RunPlan(env_id, algo, run["seed"], learner, override(EnvConfig(), run["env"], f"{path}: run.env"),
                   override(RunnerConfig(), run["runner"], f"{path}: run.runner"))


def _git_commit() -> str | None:
    """HEAD commit of the source checkout, read from `.git` files (no git process), or None."""
    for root in Path(__file__).resolve().parents:
        head = root / ".git" / "HEAD"
        if head.is_file():
            ref = head.read_text().strip()
            if not ref.startswith("ref: "):
                return ref
            name = ref[5:]
            loose = root / ".git" / name
            if loose.is_file():
                return loose.read_text().strip()
            packed = root / ".git" / "packed-refs"
            lines = packed.read_text().splitlines() if packed.is_file() else []
            return next((ln.split()[0] for ln in lines if ln.endswith(" " + name)), None)
    return None


def _versions() -> dict[str, str]:
    import gymnasium
    import mujoco

    from robot_rl import __version__

    versions = {"python": platform.python_version(), "robot_rl": __version__, "torch": torch.__version__,
                "numpy": np.__version__, "mujoco": mujoco.__version__, "gymnasium": gymnasium.__version__}
    return {k: str(v) for k, v in versions.items()}


def write_config(plan: RunPlan, steps: int, device: str, out_dir: Path) -> Path:
    """`out_dir/config.yaml`: the resolved run config, versions and git commit."""
    doc = {"env_id": plan.env_id, "algo": plan.algo, "steps": steps, "seed": plan.seed,
           "num_envs": plan.runner.num_envs, "device": device, "learner": asdict(plan.learner),
           "env": asdict(plan.env), "runner": asdict(plan.runner), "versions": _versions(),
           "git_commit": _git_commit()}
    path = out_dir / "config.yaml"
    path.write_text(yaml.safe_dump(yaml_plain(doc), sort_keys=False))
    return path


# ---------------------------------------------------------------------------------------------------- evaluation


def evaluate_policy(env_id: str, policy: DeterministicPolicy, episodes: int = 100, num_envs: int = 50,
                    seed: int = 12345, env_kwargs: dict | None = None) -> dict[str, float]:
    """Success of the deterministic `policy` over `episodes` episodes, randomized unless `env_kwargs` says not.

    Counted by `robot_rl.envs.rollout.run_episodes` (a fixed episode quota per env), as baselines and exported
    policies are. Returns episodes, success_rate, failure_rate, mean_return, mean_length, and wall_time_s.
    """
    venv = make_vec(env_id, max(1, min(num_envs, episodes)), **{"randomize": True, **(env_kwargs or {})})

    def act(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return policy(torch.as_tensor(obs, dtype=torch.float32)).numpy()

    start = time.perf_counter()
    try:
        results = run_episodes(venv, act, episodes, seed)
    finally:
        venv.close()
    stats = summarize(results, env_id, "torch", venv.core.backend_name, True, time.perf_counter() - start)
    return {"episodes": float(stats.episodes), "success_rate": stats.success_rate,
            "failure_rate": stats.failure_rate, "mean_return": stats.mean_return,
            "mean_length": stats.mean_episode_length, "wall_time_s": stats.wall_time_s}


# -------------------------------------------------------------------------------------------------------- loop


class _StopOnSigint:
    """While active, the first SIGINT asks the loop to stop after the current iteration; a second one raises."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def _handle(self, signum: int, frame: types.FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> _StopOnSigint:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


@contextmanager
def _writer(out_dir: Path) -> Iterator[Any]:
    """TensorBoard `SummaryWriter` on `out_dir/tb`, flushed and closed on exit."""
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(out_dir / "tb"))
    try:
        yield writer
    finally:
        writer.close()


def save_checkpoint(path: Path, plan: RunPlan, learner: Learner, iterations: int, wall_time_s: float) -> Path:
    """Write the checkpoint (documented format plus the `run` block) atomically."""
    run = {"seed": plan.seed, "env": asdict(plan.env), "runner": asdict(plan.runner)}
    return save_atomic({"format": FORMAT, "env_id": plan.env_id, "algo": plan.algo, "config": asdict(plan.learner),
                        "policy": learner.policy_block(), "algorithm_state": learner.state_dict(),
                        "progress": {"env_steps": learner.env_steps, "iterations": iterations,
                                     "wall_time_s": wall_time_s},
                        "run": run}, path)


def _loop(learner: Learner, plan: RunPlan, steps: int, ckpt: Path, progress: dict, writer: Any, show: bool
          ) -> tuple[dict[str, float], bool]:
    """Iterate until `steps` env steps or Ctrl-C; log, checkpoint; return the latest scalars and `interrupted`.

    The scalars hold the latest value of each key (episode statistics are absent from iterations in which no
    episode ended).

    `progress` (`iterations`, `wall_time_s`) is updated in place. The final checkpoint is written on normal exit
    and on Ctrl-C, never after another exception (the last periodic checkpoint stays intact).
    """
    bar = tqdm(total=steps, initial=min(learner.env_steps, steps), unit="step", unit_scale=True, file=sys.stderr,
               disable=not show, desc=plan.env_id.split("/")[-1])
    scalars: dict[str, float] = {}
    start, base_time = time.perf_counter(), progress["wall_time_s"]
    try:
        with _StopOnSigint() as stop:
            while learner.env_steps < steps and not stop.requested:
                before = learner.env_steps
                new = learner.iterate()
                scalars.update(new)
                progress["iterations"] += 1
                progress["wall_time_s"] = base_time + time.perf_counter() - start
                for key, value in new.items():  # only this iteration's: episode/* is absent when none ended
                    writer.add_scalar(key, value, learner.env_steps)
                bar.update(min(learner.env_steps, steps) - min(before, steps))
                if "episode/success_rate" in scalars:
                    bar.set_postfix(success=f"{scalars['episode/success_rate']:.2f}", refresh=False)
                if progress["iterations"] % plan.runner.checkpoint_every == 0:
                    save_checkpoint(ckpt, plan, learner, progress["iterations"], progress["wall_time_s"])
            interrupted = stop.requested
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    progress["wall_time_s"] = base_time + time.perf_counter() - start
    save_checkpoint(ckpt, plan, learner, progress["iterations"], progress["wall_time_s"])
    return scalars, interrupted


def train(env_id: str, algo: str, steps: int, out_dir: str | Path, seed: int | None = None,
          num_envs: int | None = None, device: str = "auto", config_path: str | None = None, resume: bool = False,
          progress: bool = True, calibration: str | None = None) -> TrainResult:
    """Train `algo` on `env_id` until `steps` env steps in total (resumed runs count earlier steps).

    Seeds, env settings and learner config of a resumed run come from its checkpoint; `seed`/`num_envs` left
    None take the run's (resume) or the defaults 0 / `RunnerConfig.num_envs` (fresh run). `calibration` (a
    calibration YAML of `robot-rl sysid fit`) re-centres the randomization ranges on it (fresh runs only).
    """
    out, dev = Path(out_dir), str(resolve_device(device))
    ckpt_path = out / CHECKPOINT
    if resume:
        if not ckpt_path.is_file():
            raise FileNotFoundError(f"{out}: no {CHECKPOINT} to resume from")
        ckpt = load_checkpoint(ckpt_path)
        plan = plan_resume(ckpt, ckpt_path, env_id, algo, seed, num_envs, config_path)
    else:
        if ckpt_path.exists():
            raise ValueError(f"{out}: already holds a {CHECKPOINT}; pass --resume or choose another --out")
        plan = plan_fresh(env_id, algo, seed, num_envs, config_path)
    if calibration is not None:
        if resume:
            raise ValueError(f"{out}: --calibration cannot change a run being resumed (it uses the stored ranges)")
        plan = replace(plan, env=replace(plan.env, calibration=str(calibration)))
    venv = make_vec(env_id, plan.runner.num_envs, **plan.env.kwargs())
    threads = torch.get_num_threads()
    if dev == "cpu":
        torch.set_num_threads(1)  # MuJoCo's rollout threads use the cores; two spinning pools stalled 2-core runs
    try:
        learner = LEARNERS[algo][1](venv, plan.learner, seed=plan.seed, device=dev)
        if resume:
            learner.load_state_dict(ckpt["algorithm_state"])
            state = {k: ckpt["progress"][k] for k in ("iterations", "wall_time_s")}
        else:
            out.mkdir(parents=True, exist_ok=True)
            write_config(plan, steps, dev, out)
            state = {"iterations": 0, "wall_time_s": 0.0}
        with _writer(out) as writer:
            scalars, interrupted = _loop(learner, plan, steps, ckpt_path, state, writer, progress)
            evaluation = None
            if not interrupted and plan.runner.eval_episodes > 0:
                evaluation = evaluate_policy(env_id, learner.policy(), plan.runner.eval_episodes,
                                             plan.runner.eval_num_envs, seed=plan.seed + 10_000,
                                             env_kwargs=plan.env.kwargs())
                for key, value in evaluation.items():
                    writer.add_scalar(f"eval/{key}", value, learner.env_steps)
                (out / "eval.json").write_text(json.dumps(evaluation, indent=2))
    finally:
        venv.close()
        torch.set_num_threads(threads)
    return TrainResult(out, ckpt_path, learner.env_steps, state["iterations"], state["wall_time_s"], interrupted,
                       scalars, evaluation)
