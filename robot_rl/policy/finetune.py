"""`robot-rl finetune`: a deployed policy + intervention datasets -> a new policy artifact with its lineage.

    robot-rl finetune policies/arm-reach --data runs/hil/round1/dataset --method rlif --out policies/arm-reach-ft

1. The parent is loaded as deployment loads it (`OnnxPolicy.load`: card, hash, spec), and its `checkpoint.pt` is
   rebuilt and checked against its ONNX graph (parity), so fine-tuning starts from exactly the deployed actor.
2. The datasets (`robot-rl dataset` output) must be from the parent's robot, task and observation layout, and
   recorded with the parent or one of its ancestors; anything else is refused with the dataset and field named.
3. `robot_rl.learn.finetune.finetune_actor` trains a copy of the actor with the chosen method.
4. The result goes through `robot_rl.policy.export.export` like any trained run (ONNX, parity, card, randomized
   MuJoCo and PyBullet evaluation); its card gains `lineage`: parent hashes, dataset hashes, method, settings,
   the parent's evaluation, label counts.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from robot_rl.data.intervention_log import DatasetError
from robot_rl.data.ticks import observation_layout
from robot_rl.data.transitions import Transitions, load_transitions
from robot_rl.envs import entry
from robot_rl.envs.registry import observation_spec
from robot_rl.learn.checkpoint import FORMAT, CheckpointError, build_policy, load_checkpoint, save_atomic, yaml_plain
from robot_rl.learn.finetune import FinetuneConfig, finetune_actor, samples_from
from robot_rl.learn.networks import DeterministicPolicy
from robot_rl.policy.card import CARD_FILE, CHECKPOINT_FILE, DatasetRef, LineageCard, PolicyCard, PolicyError
from robot_rl.policy.export import (
    PARITY_SAMPLES,
    PARITY_TOLERANCE,
    ExportReport,
    export,
    parity,
    random_observations,
)
from robot_rl.policy.runner import OnnxPolicy, session_options, sha256_file
from robot_rl.robots import load_robot

__all__ = ["FinetuneReport", "Parent", "check_datasets", "export_child", "finetune", "label_counts", "load_parent"]


@dataclass(frozen=True)
class FinetuneReport:
    """What `finetune` wrote."""

    export: ExportReport
    method: str
    transitions: int
    data: dict[str, int]
    wall_time_s: float
    """Loading, training and export (evaluation included)."""


def load_parent(parent_dir: str | Path) -> tuple[PolicyCard, dict, DeterministicPolicy]:
    """The parent's card, checkpoint and actor, after checking that the actor reproduces its ONNX graph."""
    folder = Path(parent_dir)
    policy = OnnxPolicy.load(folder)
    ckpt_path = folder / CHECKPOINT_FILE
    if not ckpt_path.is_file():
        raise PolicyError(f"{ckpt_path}: missing; fine-tuning starts from the deployed actor's checkpoint, which "
                          f"`robot-rl export` copies next to {CARD_FILE}")
    ckpt = load_checkpoint(ckpt_path)
    if ckpt["env_id"] != policy.card.env_id:
        raise PolicyError(f"{ckpt_path}: field 'env_id' is {ckpt['env_id']!r}, the card's is {policy.card.env_id!r}")
    try:
        module = build_policy(ckpt["env_id"], ckpt["policy"])
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{ckpt_path}: cannot rebuild the policy ({type(e).__name__}: {e})") from None
    session = ort.InferenceSession(str(folder / policy.card.onnx.file), session_options(),
                                   providers=["CPUExecutionProvider"])
    diff = parity(module, session, random_observations(module, PARITY_SAMPLES, np.random.default_rng(0)))
    if not diff <= PARITY_TOLERANCE:
        raise PolicyError(f"{ckpt_path}: its actor differs from {policy.card.onnx.file} by {diff:.3g}; the checkpoint "
                          "is not the deployed policy's")
    return policy.card, ckpt, module


def check_datasets(data: Transitions, card: PolicyCard, parent: str) -> None:
    """Refuse data from another robot, task, observation layout or policy lineage (DatasetError names the field)."""
    layout = observation_layout([(q.name, q.size) for q in card.observation.quantities])
    expected = {"robot": card.robot, "env_id": card.env_id, "observation": layout}
    for key, value in expected.items():
        if getattr(data, key) != value:
            raise DatasetError(f"{data.sources[0].path}: field 'robot_rl.{key}' is {getattr(data, key)!r}, but the "
                               f"parent policy {parent} has {value!r}: refused")
    allowed = {card.onnx.sha256, *_ancestors(card)}
    for src in data.sources:
        foreign = [p for p in src.policies if p not in allowed]
        if foreign:
            raise DatasetError(f"{src.path}: field 'robot_rl.policies' names policy {foreign[0]}, which is neither "
                               f"the parent {parent} ({card.onnx.sha256[:12]}) nor one of its ancestors: data recorded "
                               "with another policy is refused")


def _ancestors(card: PolicyCard) -> list[str]:
    """ONNX sha256 of the policies `card`'s policy descends from, nearest first (empty for a trained policy)."""
    return [card.lineage.parent_sha256, *card.lineage.ancestors] if card.lineage else []


def label_counts(data: Transitions) -> dict[str, int]:
    """Transitions and label counts of `data` (recorded in the lineage)."""
    return {"transitions": len(data), "interventions": int(data.intervention.sum()),
            "onsets": int(data.onset.sum()), "rlif_penalties": int((data.rlif_reward < 0).sum()),
            "dagger_labels": int(data.dagger_mask.sum()), "successes": int((data.hil_serl_reward > 0).sum()),
            "success_steps": int(data.success.sum())}


def _write_run(run_dir: Path, card: PolicyCard, ckpt: dict, actor: DeterministicPolicy, state: dict,
               config: FinetuneConfig, transitions: int, wall_time_s: float) -> None:
    """A run folder `export` reads: checkpoint.pt (the fine-tuned actor) and config.yaml (parent's + finetune)."""
    import yaml

    policy_block = {**ckpt["policy"], "state_dict": actor.state_dict()}
    save_atomic({"format": FORMAT, "env_id": card.env_id, "algo": f"finetune-{config.method}",
                 "config": asdict(config), "policy": policy_block, "algorithm_state": state,
                 "progress": {"env_steps": transitions, "iterations": config.updates, "wall_time_s": wall_time_s}},
                run_dir / CHECKPOINT_FILE)
    run_config = {**card.training.config, "finetune": asdict(config), "algo": f"finetune-{config.method}"}
    (run_dir / "config.yaml").write_text(yaml.safe_dump(yaml_plain(run_config), sort_keys=False))


@dataclass(frozen=True)
class Parent:
    """A loaded parent policy: its folder, card and checkpoint."""

    folder: Path
    card: PolicyCard
    ckpt: dict


def export_child(parent: Parent, actor: DeterministicPolicy, state: dict, config: FinetuneConfig,
                 datasets: list[DatasetRef], counts: dict[str, int], out_dir: str | Path, train_time_s: float,
                 episodes: int = 0, num_envs: int = 16, seed: int = 0, overwrite: bool = False) -> ExportReport:
    """Export a fine-tuned `actor` of `parent` like any trained run, with its lineage in the card."""
    card = parent.card
    lineage = LineageCard(
        parent=str(parent.folder), parent_sha256=card.onnx.sha256,
        parent_card_sha256=sha256_file(parent.folder / CARD_FILE), ancestors=_ancestors(card), datasets=datasets,
        method=config.method, settings=yaml_plain(asdict(config)), parent_evaluation=card.evaluation, data=counts,
        wall_time_s=round(train_time_s, 3))
    with tempfile.TemporaryDirectory(prefix="robot_rl_finetune_") as tmp:
        _write_run(Path(tmp), card, parent.ckpt, actor, state, config, counts.get("transitions", 0), train_time_s)
        return export(tmp, out_dir, episodes=episodes, num_envs=num_envs, seed=seed, overwrite=overwrite,
                      lineage=lineage)


def finetune(parent_dir: str | Path, datasets: Sequence[str | Path], out_dir: str | Path,
             config: FinetuneConfig | None = None, episodes: int = 50, num_envs: int = 16, seed: int = 0,
             overwrite: bool = False, progress: Callable[[str], None] | None = None) -> FinetuneReport:
    """Fine-tune the policy in `parent_dir` on `datasets` and export the result to `out_dir`.

    Args:
        parent_dir: a policy folder with policy.onnx, card.yaml and checkpoint.pt.
        datasets: `robot-rl dataset` outputs (Minari dataset or data folders), aggregated in order.
        out_dir: the new policy folder (refused if it exists, unless `overwrite`).
        config: method and settings (default `FinetuneConfig()`, RLIF).
        episodes: randomized evaluation episodes per simulator at export (0: none).
        num_envs: envs stepped as one batch in that evaluation.
        seed: evaluation seed (the parent's card evaluation is quoted for comparison).
        overwrite: replace an existing `out_dir`.
        progress: called with progress lines (None: silent).

    Raises:
        PolicyError, CheckpointError: the parent is unusable. DatasetError: a dataset is unreadable, foreign or
        lacks the labels the method needs. ExportError: the result failed parity or the folder exists.

    """
    start, say = time.perf_counter(), progress or (lambda _line: None)
    config = config or FinetuneConfig()
    if Path(out_dir).exists() and not overwrite:
        raise PolicyError(f"{out_dir}: already exists; remove it or pass --force")
    card, ckpt, module = load_parent(parent_dir)
    data = load_transitions(list(datasets))
    check_datasets(data, card, str(parent_dir))
    robot = load_robot(card.robot)
    e = entry(card.env_id)
    samples = samples_from(data, e.action_map(robot), observation_spec(card.env_id, robot))
    counts = label_counts(data)
    say(f"finetune: {card.env_id} from {parent_dir} ({card.onnx.sha256[:12]}), {config.method} on "
        f"{len(data)} transitions of {len(data.sources)} dataset(s): " + ", ".join(f"{k} {v}" for k, v in
                                                                                  counts.items()))
    try:
        actor, state = finetune_actor(module, samples, config, say)
    except ValueError as err:
        raise DatasetError(f"{', '.join(s.path for s in data.sources)}: {err}") from None
    refs = [DatasetRef(path=s.path, dataset_id=s.dataset_id, sha256=s.sha256, transitions=s.transitions,
                       interventions=s.interventions, bags=s.bags) for s in data.sources]
    say(f"finetune: exporting to {out_dir} (ONNX parity, card, {episodes} randomized episodes per simulator)")
    report = export_child(Parent(Path(parent_dir), card, ckpt), actor, state, config, refs, counts, out_dir,
                          time.perf_counter() - start, episodes=episodes, num_envs=num_envs, seed=seed,
                          overwrite=overwrite)
    return FinetuneReport(report, config.method, len(data), counts, time.perf_counter() - start)


