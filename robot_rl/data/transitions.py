"""Read `robot-rl dataset` output (Minari datasets with robot_rl metadata) back as flat transition arrays.

`load_transitions(paths)` opens one or more dataset folders (the Minari data folder, or the dataset folder above
it), checks that each is a robot_rl intervention dataset that opens cleanly, and that all of them are from one
robot, task and observation layout, then concatenates their steps in order:

    obs, next_obs        float32 [N, n_obs]  (Minari's observations[k], observations[k + 1])
    applied              float64 [N, n_cmd]  the certified command sent to the robot (Minari's `actions`)
    operator             float64 [N, n_cmd]  the operator's fresh command, NaN where none
    source               int8    [N]         0 policy, 1 operator, ... (`robot_rl.data.ticks.SOURCES`)
    intervention, dagger_mask, onset, terminated, truncated   bool [N]
    rlif_reward, hil_serl_reward                             float32 [N]
    success              bool    [N]         the step's controller episode ended in success
    policy_sha256        list[str] of N      the policy that acted ('' unknown)

Each dataset's sha256 (`dataset_sha256`) is the sha256 of the `sha256sum` listing of its data files, so a copy of
a dataset hashes the same and an edited one does not.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from robot_rl.data import labels as lb
from robot_rl.data.dataset import files_sha256
from robot_rl.data.intervention_log import DatasetError, InterventionLog, tick_arrays
from robot_rl.robots import RobotSpec

__all__ = ["DatasetSource", "Transitions", "dataset_sha256", "load_transitions", "transitions_from_log"]

_BOOL_INFOS = ("intervention", "dagger_mask", "onset")
_FLOAT_INFOS = ("rlif_reward", "hil_serl_reward")


@dataclass(frozen=True)
class DatasetSource:
    """One dataset read: where, its hash, what it held."""

    path: str
    dataset_id: str
    sha256: str
    transitions: int
    interventions: int
    policies: list[str]
    """sha256 of every policy that acted in it."""
    bags: list[str]
    """sha256 of its source bags."""


@dataclass
class Transitions:
    """Steps of one or more datasets, concatenated (see the module docstring for the arrays)."""

    robot: str
    env_id: str
    observation: str
    """The observation layout 'name:size,...'."""
    obs: np.ndarray
    next_obs: np.ndarray
    applied: np.ndarray
    operator: np.ndarray
    source: np.ndarray
    intervention: np.ndarray
    dagger_mask: np.ndarray
    onset: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    rlif_reward: np.ndarray
    hil_serl_reward: np.ndarray
    success: np.ndarray
    policy_sha256: list[str]
    sources: list[DatasetSource] = field(default_factory=list)

    def __len__(self) -> int:
        """Number of steps."""
        return len(self.obs)


def dataset_sha256(data_path: str | Path) -> str:
    """sha256 of the `sha256sum` listing (name order) of the files in a Minari data folder."""
    return files_sha256([f for f in Path(data_path).iterdir() if f.is_file()])


def _data_folder(path: Path) -> Path:
    for candidate in (path, path / "data"):
        if (candidate / "metadata.json").is_file():
            return candidate
    raise DatasetError(f"{path}: not a dataset (no metadata.json here or in {path / 'data'}); "
                       "make one with `robot-rl dataset BAG... --out DIR`")


def _open(path: Path) -> tuple[Path, object, dict]:
    """The data folder at `path`, its MinariDataset and robot_rl metadata; a damaged or foreign one names the file."""
    import minari

    data = _data_folder(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = minari.MinariDataset(str(data))
            meta = ds.storage.metadata.get("robot_rl")
    except Exception as e:  # noqa: BLE001 - h5py/json/minari raise many types for a damaged file
        raise DatasetError(f"{data}: cannot read the dataset ({type(e).__name__}: {e}); truncated or damaged? "
                           "rebuild it from the bags with `robot-rl dataset`") from None
    if not isinstance(meta, dict) or "observation" not in meta:
        raise DatasetError(f"{data / 'metadata.json'}: field 'robot_rl' missing: not a `robot-rl dataset` output")
    return data, ds, meta


def _episode_arrays(ds: object, meta: dict, where: str) -> dict[str, np.ndarray]:
    """Every episode's steps of `ds`, concatenated; a truncated data file is a DatasetError naming `where`."""
    policies = [str(p["sha256"]) for p in meta.get("policies", [])]
    parts: dict[str, list[np.ndarray]] = {}
    try:
        episodes = list(ds.iterate_episodes())
        outcomes = [m.get("outcome", "unknown") for m in ds.storage.get_episode_metadata(range(len(episodes)))]
    except Exception as e:  # noqa: BLE001 - h5py raises OSError/KeyError/ValueError for damaged files
        raise DatasetError(f"{where}: cannot read its episodes ({type(e).__name__}: {e}); truncated or damaged? "
                           "rebuild it from the bags with `robot-rl dataset`") from None
    for ep, outcome in zip(episodes, outcomes, strict=True):
        n, info = len(ep.actions), ep.infos
        obs = np.asarray(ep.observations, dtype=np.float32)
        index = np.asarray(info["policy_index"][:n], dtype=int)
        row = {"obs": obs[:n], "next_obs": obs[1:], "applied": np.asarray(ep.actions, dtype=np.float64),
               "operator": np.asarray(info["operator_action"][:n], dtype=np.float64),
               "source": np.asarray(info["source"][:n], dtype=np.int8),
               "terminated": np.asarray(ep.terminations, bool), "truncated": np.asarray(ep.truncations, bool),
               "success": np.full(n, outcome == "success"),
               "policy": np.array([policies[i] if 0 <= i < len(policies) else "" for i in index], dtype=object)}
        row.update({k: np.asarray(info[k][:n], dtype=bool) for k in _BOOL_INFOS})
        row.update({k: np.asarray(info[k][:n], dtype=np.float32) for k in _FLOAT_INFOS})
        for k, v in row.items():
            parts.setdefault(k, []).append(v)
    if not parts:
        raise DatasetError(f"{where}: the dataset holds no transitions")
    return {k: np.concatenate(v) for k, v in parts.items()}


def load_transitions(paths: list[str | Path]) -> Transitions:
    """All steps of the datasets at `paths`, in order; raises DatasetError naming the dataset and field at fault."""
    if not paths:
        raise DatasetError("no dataset given")
    arrays: list[dict[str, np.ndarray]] = []
    sources: list[DatasetSource] = []
    first: dict | None = None
    for path in map(Path, paths):
        data, ds, meta = _open(path)
        if first is None:
            first = meta
        for key in ("robot", "env_id", "observation"):
            if meta.get(key) != first.get(key):
                raise DatasetError(f"{data / 'metadata.json'}: field 'robot_rl.{key}' is {meta.get(key)!r}, but "
                                   f"{sources[0].path} has {first.get(key)!r}: datasets of one robot, task and "
                                   "observation spec only")
        a = _episode_arrays(ds, meta, str(data))
        arrays.append(a)
        sources.append(DatasetSource(path=str(data), dataset_id=str(meta.get("dataset_id", "")),
                                     sha256=dataset_sha256(data), transitions=len(a["obs"]),
                                     interventions=int(a["intervention"].sum()),
                                     policies=[str(p["sha256"]) for p in meta.get("policies", [])],
                                     bags=[str(b["sha256"]) for b in meta.get("bags", [])]))
    cat = {k: np.concatenate([a[k] for a in arrays]) for k in arrays[0]}
    return Transitions(
        robot=str(first["robot"]), env_id=str(first["env_id"]), observation=str(first["observation"]),
        obs=cat["obs"], next_obs=cat["next_obs"], applied=cat["applied"], operator=cat["operator"],
        source=cat["source"], intervention=cat["intervention"], dagger_mask=cat["dagger_mask"], onset=cat["onset"],
        terminated=cat["terminated"], truncated=cat["truncated"], rlif_reward=cat["rlif_reward"],
        hil_serl_reward=cat["hil_serl_reward"], success=cat["success"], policy_sha256=list(cat["policy"]),
        sources=sources)


def transitions_from_log(log: InterventionLog, robot: RobotSpec, source: DatasetSource) -> Transitions:
    """The same arrays as `load_transitions`, straight from an intervention log (a bag read, or collected live)."""
    a = tick_arrays(log, robot)
    prov = log.provenance
    return Transitions(
        robot=prov.robot, env_id=prov.env_id, observation=prov.observation, obs=a.obs,
        next_obs=lb.next_observations(a.obs, a.segment_end), applied=a.applied, operator=a.operator,
        source=a.source, intervention=a.intervention, dagger_mask=a.dagger_mask, onset=a.onset,
        terminated=a.terminated, truncated=a.truncated, rlif_reward=a.rlif_reward, hil_serl_reward=a.hil_serl_reward,
        success=a.outcome == lb.OUTCOME_CODES["success"], policy_sha256=[r.policy_sha256 for r in log.records],
        sources=[source])
