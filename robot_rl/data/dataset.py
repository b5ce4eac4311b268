"""Datasets from intervention logs: bags -> one transition per controller tick, labelled -> a Minari dataset.

`build_dataset(bags, out)` reads each bag's `/robot_rl/tick` records (`robot_rl.data.ticks`), its
`/robot_rl/policy` provenance and, when present, the simulator's `/robot_rl/episode` reports, and writes a Minari
dataset (the Farama offline-RL format) under `out`, which is a Minari datasets root::

    out/<dataset_id>/data/main_data.hdf5     episodes `episode_<i>` (HDF5, Minari's default storage)
    out/<dataset_id>/data/metadata.json      Minari's metadata + the key `robot_rl` (lineage, layout, counts)

Open it with `MINARI_DATASETS_PATH=out` and `minari.load_dataset(dataset_id)`, or `minari.MinariDataset(
"out/<dataset_id>/data")`. The default id is `robot_rl/<robot>/interventions-v0`.

Layout. A Minari episode is a segment of one controller episode: its ticks in order, split only where a tick
record is missing. Minari stores `N + 1` observations per `N` steps; step k's observation is rebuilt from tick k's
record with the task's own spec function (`spaces.observe.observe_quantities`), its next observation is tick
k+1's, and the final row repeats the last observation: the log holds no state after the last command of an
episode. That last step is terminal when the episode's outcome is known (success or failure) and truncated when it
is not. `actions` are the applied (certified) commands; `rewards` are HIL-SERL's sparse success reward. The other
per-tick data live in `infos`, one row per observation (Minari's alignment; its Arrow storage requires it): row k
< N belongs to tick k, the last row is padding (NaN actions, source -1, zero labels). See `INFO_KEYS`.

Outcomes come from `/robot_rl/episode` (matched by `labels.match_episode_reports`), else from the operator's
last mark in the episode, else unknown. The dataset's metadata records each bag's sha256 (`bag_sha256`), the
policy hashes and cards seen, the robot, task and observation layout. Bags from another robot, task or observation
layout are refused; a bag whose recorder was killed is recovered on a temporary copy (the user's files are never
modified) and the bytes lost are counted.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rosbags.rosbag2.storage_mcap import McapReader

from robot_rl.data import labels as lb
from robot_rl.data.bag import BagError, bag_info, recover_bag
from robot_rl.data.intervention_log import DatasetError, InterventionLog, Provenance, TickArrays, read_log, tick_arrays
from robot_rl.data.mcap_file import is_finalized
from robot_rl.data.ticks import SOURCES
from robot_rl.robots import RobotSpec, load_robot

__all__ = ["INFO_KEYS", "BagReport", "DatasetConfig", "DatasetError", "DatasetReport", "bag_sha256", "build_dataset"]

INFO_KEYS: dict[str, str] = {
    "tick": "int64: the controller's tick counter (padding row: the last tick's)",
    "stamp_ns": "int64: the tick's node time, ns",
    "episode": "int64: the controller's episode counter",
    "proposed_action": "float64 [n_cmd]: the policy's proposal (NaN where it was not asked)",
    "operator_action": "float64 [n_cmd]: the operator's fresh command, NaN where none; HG-DAgger's label",
    "source": f"int8: who produced the command, {dict(enumerate(SOURCES))} (padding -1)",
    "onset": "bool: the tick starts a takeover",
    "intervention": "bool: source is the operator (HIL-SERL's intervention flag)",
    "rlif_reward": "float32: -1 on the policy step just before an onset, else 0 (RLIF)",
    "hil_serl_reward": "float32: 1 on the final step of a successful episode, else 0 (= rewards)",
    "dagger_mask": "bool: operator_action is this step's HG-DAgger label",
    "mark": "int8: the operator's mark on this tick, -1 none, 0 failure, 1 success",
    "safe_stop": "bool: the controller was in safe-stop (the command is the filter's fallback)",
    "policy_index": "int16: index into metadata robot_rl.policies of the policy that acted, -1 unknown",
}
"""The per-step arrays in each episode's `infos`: key -> dtype, shape and meaning."""


@dataclass(frozen=True)
class DatasetConfig:
    """How `build_dataset` names the dataset and treats damaged bags."""

    dataset_id: str = ""
    """Minari id `namespace/name/dataset-vN`; '' = `robot_rl/<robot>/interventions-v0`."""
    recover: bool = True
    """Recover a bag whose recorder was killed (on a temporary copy); False refuses it."""
    author: str = ""
    """Recorded as Minari's `author` when given."""


@dataclass
class BagReport:
    """One source bag: its hash, what it held, and the damage recovered."""

    path: str
    sha256: str
    """`bag_sha256` of the bag as given (before any recovery)."""
    ticks: int
    """Tick records read = transitions written from this bag."""
    episodes: int
    """Controller episodes (a new goal starts one)."""
    segments: int
    """Minari episodes written (episodes split at missing ticks)."""
    onsets: int
    """Intervention onsets in the tick records."""
    operator_steps: int
    episode_reports: int
    """`/robot_rl/episode` messages (0 when the topic is absent: outcomes come from operator marks)."""
    unmatched_reports: int
    """Reports that matched no controller episode (a second one for the same episode, or before the first tick)."""
    missing_ticks: int
    """Tick counter values absent between the first and last record."""
    intervention_events: int
    """Messages on `/robot_rl/intervention` (takeover onsets/ends, marks)."""
    recovered: bool = False
    """The bag was unfinished and was read from a recovered temporary copy."""
    repaired_files: list[str] = field(default_factory=list)
    removed_files: list[str] = field(default_factory=list)
    bytes_dropped: int = 0
    """Bytes of the unfinished files after their last complete chunk (the damaged part, skipped)."""


@dataclass
class DatasetReport:
    """What `build_dataset` wrote."""

    dataset_id: str
    data_path: str
    """The Minari data folder (`minari.MinariDataset(data_path)` opens it)."""
    robot: str
    env_id: str
    observation: str
    """The observation layout 'name:size,...'."""
    transitions: int
    """Steps in the dataset = tick records read (one transition per controller tick)."""
    episodes: int
    """Minari episodes (segments)."""
    outcomes: dict[str, int]
    """Controller episodes per outcome."""
    labels: dict[str, int]
    """rlif_penalties, hil_serl_successes, interventions, dagger_labels."""
    policies: list[dict[str, object]]
    bags: list[BagReport]

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready dict (policy cards left out)."""
        d = asdict(self)
        d["policies"] = [{k: v for k, v in p.items() if k != "card"} for p in self.policies]
        return d


def bag_sha256(path: str | Path) -> str:
    """The sha256 of a bag: of the `sha256sum` listing of its metadata.yaml and .mcap files, sorted by name.

    Equals `(cd BAG && sha256sum metadata.yaml *.mcap | LC_ALL=C sort -k2 | sha256sum)`.
    """
    path = Path(path)
    if not path.is_dir():
        raise BagError(f"{path}: no such bag directory")
    return files_sha256([f for f in path.iterdir() if f.is_file() and (f.suffix == ".mcap" or
                                                                       f.name == "metadata.yaml")])


def files_sha256(files: Sequence[Path]) -> str:
    """The sha256 of the `sha256sum` listing of `files`, sorted by name (a copy hashes the same, an edit does not)."""
    listing = hashlib.sha256()
    for file in sorted(files, key=lambda f: f.name):
        digest = hashlib.sha256()
        with file.open("rb") as f:
            while block := f.read(1 << 20):
                digest.update(block)
        listing.update(f"{digest.hexdigest()}  {file.name}\n".encode())
    return listing.hexdigest()


@dataclass
class _Bag:
    """One bag on its way into the dataset."""

    log: InterventionLog
    arrays: TickArrays
    report: BagReport


def build_dataset(bags: Sequence[str | Path], out: str | Path, config: DatasetConfig | None = None,
                  progress: Callable[[str], None] | None = None) -> DatasetReport:
    """Turn intervention logs into a labelled Minari dataset under `out` (see the module docstring).

    Args:
        bags: rosbag2 MCAP bag directories, all from one robot, task and observation layout.
        out: the Minari datasets root to write into (created if needed).
        config: naming and recovery (defaults: `DatasetConfig()`).
        progress: called with one line per bag read and one when written (None: silent).

    Returns:
        The report: counts per bag and overall, lineage.

    Raises:
        BagError: a bag is missing, unreadable or (with recover=False) unfinished.
        DatasetError: a topic is missing, a record is malformed, bags disagree on robot/task/layout, or the
            dataset exists already; the message names the bag, topic, tick and field at fault.

    """
    config, say = config or DatasetConfig(), progress or (lambda _line: None)
    if not bags:
        raise DatasetError("no bags given")
    out = Path(out)
    done: list[_Bag] = []
    robot: RobotSpec | None = None
    for path in map(Path, bags):
        sha = bag_sha256(path)
        with readable_bag(path, config.recover) as (readable, damage):
            log = read_log(readable, str(path))
        if robot is None:
            robot = _robot_of(log)
            _refuse_existing(out, config.dataset_id or f"robot_rl/{robot.name}/interventions-v0")
        else:
            _check_same(log.provenance, done[0].log.provenance, done[0].log.name, log.name)
        arrays = tick_arrays(log, robot)
        bag = _Bag(log, arrays, _bag_report(str(path), sha, log, arrays, damage))
        r = bag.report
        say(f"dataset: {path}: {r.ticks} ticks, {r.episodes} episodes ({r.segments} segments), {r.onsets} onsets, "
            f"{r.operator_steps} operator steps" + (f"; recovered, {r.bytes_dropped} damaged bytes skipped "
                                                    f"({r.repaired_files + r.removed_files})" if r.recovered else ""))
        done.append(bag)
    return _write(done, robot, out, config, say)


def _robot_of(log: InterventionLog) -> RobotSpec:
    try:
        return load_robot(log.provenance.robot)
    except (OSError, ValueError) as err:
        raise DatasetError(f"{log.name}: /robot_rl/policy names robot '{log.provenance.robot}', which cannot be "
                           f"loaded: {err}") from None


def _check_same(prov: Provenance, first: Provenance, first_name: str, name: str) -> None:
    diffs = [f"{key} {getattr(prov, key)!r} (first bag {first_name}: {getattr(first, key)!r})"
             for key in ("robot", "env_id", "observation") if getattr(prov, key) != getattr(first, key)]
    if diffs:
        raise DatasetError(f"{name}: refused, it is from another robot, task or observation spec: " + "; ".join(diffs))


@dataclass
class _Damage:
    repaired: list[str]
    removed: list[str]
    bytes_dropped: int


def _needs_recovery(path: Path) -> bool:
    mcaps = [f for f in path.glob("*.mcap") if f.is_file()]
    return bool(mcaps) and (not (path / "metadata.yaml").exists() or not all(map(is_finalized, mcaps)))


@contextlib.contextmanager
def readable_bag(path: Path, recover: bool) -> Iterator[tuple[Path, _Damage | None]]:
    """The bag itself when it is complete, else a recovered copy in a temporary directory (removed on exit)."""
    if not path.is_dir() or not _needs_recovery(path):
        bag_info(path)  # raises BagError naming what is wrong
        yield path, None
        return
    if not recover:
        raise BagError(f"{path}: unfinished (recorder killed?); recovery was turned off")
    with tempfile.TemporaryDirectory(prefix="robot_rl_dataset_") as tmp:
        copy, sizes = Path(tmp) / path.name, {}
        copy.mkdir()
        for f in path.glob("*.mcap"):
            if is_finalized(f):  # read only: a link is enough
                (copy / f.name).symlink_to(f.resolve())
            else:
                sizes[f.name] = f.stat().st_size
                shutil.copyfile(f, copy / f.name)
        rec = recover_bag(copy)
        dropped = sum(sizes[f.name] for f in rec.removed) + sum(sizes[f.name] - _data_end(f) for f in rec.repaired)
        yield copy, _Damage([f.name for f in rec.repaired], [f.name for f in rec.removed], dropped)


def _data_end(file: Path) -> int:
    """Offset just past the last complete chunk and its message indexes (0 when there is none)."""
    reader = McapReader(file)
    reader.open()
    try:
        return max((c.chunk_start_offset + c.chunk_length + c.message_index_length for c in reader.chunks), default=0)
    finally:
        reader.close()


def _bag_report(path: str, sha: str, log: InterventionLog, a: TickArrays, damage: _Damage | None) -> BagReport:
    report = BagReport(
        path=path, sha256=sha, ticks=len(a.tick), episodes=int(a.episode_end.sum()),
        segments=int(a.segment_end.sum()), onsets=int(a.onset.sum()),
        operator_steps=int((a.source == lb.OPERATOR).sum()), episode_reports=len(log.reports),
        unmatched_reports=a.unmatched_reports, missing_ticks=int(a.tick[-1] - a.tick[0] + 1 - len(a.tick)),
        intervention_events=log.intervention_events)
    if damage is not None:
        report.recovered, report.repaired_files, report.removed_files = True, damage.repaired, damage.removed
        report.bytes_dropped = damage.bytes_dropped
    return report


def _refuse_existing(out: Path, dataset_id: str) -> None:
    if (out / dataset_id).exists():
        raise DatasetError(f"{out / dataset_id}: the dataset exists already; choose another --out or dataset id")


@contextlib.contextmanager
def _datasets_root(out: Path) -> Iterator[None]:
    """Point Minari's local datasets root (MINARI_DATASETS_PATH) at `out` for the duration."""
    before = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(out.resolve())
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("MINARI_DATASETS_PATH", None)
        else:
            os.environ["MINARI_DATASETS_PATH"] = before


def _write(bags: list[_Bag], robot: RobotSpec, out: Path, config: DatasetConfig, say: Callable[[str], None]
           ) -> DatasetReport:
    """Write the Minari dataset and its metadata; returns the report."""
    import gymnasium as gym  # imported here: `robot_rl.data` stays light for the deploy nodes
    import minari

    prov = bags[0].log.provenance
    dataset_id = config.dataset_id or f"robot_rl/{robot.name}/interventions-v0"
    _refuse_existing(out, dataset_id)
    policies = _policies(bags)
    buffers, metas = _episode_buffers(bags, [str(p["sha256"]) for p in policies])
    n_obs = bags[0].arrays.obs.shape[1]
    obs_space = gym.spaces.Box(-np.inf, np.inf, (n_obs,), np.float32)
    act_space = gym.spaces.Box(np.array(robot.command.low), np.array(robot.command.high), dtype=np.float64)
    out.mkdir(parents=True, exist_ok=True)
    with _datasets_root(out), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*(is set to None|env_spec is None)", category=UserWarning)
        ds = minari.create_dataset_from_buffers(
            dataset_id, buffers, observation_space=obs_space, action_space=act_space,
            algorithm_name="robot-rl dataset", author=config.author or None,
            description=f"{prov.env_id} on {robot.name}: one transition per controller tick of {len(bags)} bag(s), "
                        "with RLIF, HIL-SERL and HG-DAgger labels (metadata robot_rl.infos describes the infos)")
    ds.storage.update_episode_metadata(metas)
    report = _dataset_report(bags, dataset_id, out / dataset_id / "data", policies)
    if ds.total_steps != report.transitions:
        raise DatasetError(f"{report.data_path}: wrote {ds.total_steps} steps for {report.transitions} ticks")
    operators = sorted({r.operator_id for b in bags for r in b.log.records if r.operator_id})
    ds.storage.update_metadata({"robot_rl": {
        "format": 1, **report.as_dict(), "policies": policies, "observation_size": n_obs,
        "action_names": list(robot.command.names), "action_units": list(robot.command.units),
        "sources": list(SOURCES), "outcome_codes": lb.OUTCOME_CODES, "infos": INFO_KEYS, "operators": operators}})
    say(f"dataset: wrote {report.transitions} transitions in {report.episodes} episodes to {report.data_path}")
    return report


def _policies(bags: list[_Bag]) -> list[dict[str, object]]:
    """Every policy seen (on `/robot_rl/policy` or in a tick record), first seen first, with its tick count."""
    seen: dict[str, dict[str, object]] = {}
    for bag in bags:
        for sha, values in bag.log.provenance.policies.items():
            seen.setdefault(sha, {"sha256": sha, "policy": values.get("policy", ""), "card": values.get("card", ""),
                                  "ticks": 0})
        for rec in bag.log.records:
            if rec.policy_sha256:
                entry = seen.setdefault(rec.policy_sha256, {"sha256": rec.policy_sha256, "policy": "", "card": "",
                                                            "ticks": 0})
                entry["ticks"] = int(entry["ticks"]) + 1
    return list(seen.values())


def _episode_buffers(bags: list[_Bag], policy_hashes: list[str]) -> tuple[list[Any], list[dict[str, object]]]:
    """One Minari `EpisodeBuffer` per segment, in bag then tick order, and each one's episode metadata."""
    from minari.data_collector import EpisodeBuffer

    index = {sha: i for i, sha in enumerate(policy_hashes)}
    names = {code: name for name, code in lb.OUTCOME_CODES.items()}
    buffers, metas = [], []
    for b, bag in enumerate(bags):
        a = bag.arrays
        infos = a.infos(np.array([index.get(r.policy_sha256, -1) for r in bag.log.records], dtype=np.int16))
        nxt = lb.next_observations(a.obs, a.segment_end)
        ends = np.flatnonzero(a.segment_end)
        for s, e in zip(np.r_[0, ends[:-1] + 1], ends, strict=True):
            steps = slice(s, e + 1)
            buffers.append(EpisodeBuffer(
                id=len(buffers), observations=np.concatenate([a.obs[steps], nxt[e:e + 1]]),
                actions=a.applied[steps], rewards=a.hil_serl_reward[steps], terminations=a.terminated[steps],
                truncations=a.truncated[steps], infos={k: _pad(k, v[steps]) for k, v in infos.items()}))
            metas.append({"bag": b, "controller_episode": int(a.episode[e]), "first_tick": int(a.tick[s]),
                          "last_tick": int(a.tick[e]), "outcome": names[int(a.outcome[e])],
                          "ends_episode": bool(a.episode_end[e])})
    return buffers, metas


_PAD: dict[str, object] = {"proposed_action": np.nan, "operator_action": np.nan, "source": -1, "onset": False,
                           "intervention": False, "rlif_reward": 0.0, "hil_serl_reward": 0.0, "dagger_mask": False,
                           "mark": -1, "safe_stop": False}


def _pad(key: str, values: np.ndarray) -> np.ndarray:
    """`values` `[n, ...]` plus the final observation's padding row (`_PAD[key]`, else the last row again)."""
    row = values[-1:].copy()
    if key in _PAD:
        row[...] = _PAD[key]
    return np.concatenate([values, row])


def _dataset_report(bags: list[_Bag], dataset_id: str, data_path: Path, policies: list[dict[str, object]]
                    ) -> DatasetReport:
    arrays, prov = [b.arrays for b in bags], bags[0].log.provenance
    outcomes = np.concatenate([a.outcome[a.episode_end] for a in arrays])
    return DatasetReport(
        dataset_id=dataset_id, data_path=str(data_path), robot=prov.robot, env_id=prov.env_id,
        observation=prov.observation, transitions=sum(len(a.tick) for a in arrays),
        episodes=sum(int(a.segment_end.sum()) for a in arrays),
        outcomes={name: int((outcomes == code).sum()) for name, code in lb.OUTCOME_CODES.items()},
        labels={"rlif_penalties": sum(int((a.rlif_reward < 0).sum()) for a in arrays),
                "hil_serl_successes": sum(int(a.hil_serl_reward.sum()) for a in arrays),
                "interventions": sum(int(a.intervention.sum()) for a in arrays),
                "dagger_labels": sum(int(a.dagger_mask.sum()) for a in arrays)},
        policies=policies, bags=[b.report for b in bags])
