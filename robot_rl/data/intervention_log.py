"""One bag's intervention log: its tick records, provenance and episode reports, checked, as labelled arrays.

`read_log` reads `/robot_rl/tick` (required), `/robot_rl/policy` (required), `/robot_rl/episode` (the simulated
robot's outcomes, optional) and counts `/robot_rl/intervention` events; `tick_arrays` rebuilds every tick's
observation with the task's own spec function and computes the labels of `robot_rl.data.labels`. Every error is a
`DatasetError` naming the bag, the topic, the tick and the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from robot_rl.data import labels as lb
from robot_rl.data.bag import BagMessage, bag_info, read_bag
from robot_rl.data.ticks import (
    INTERVENTION_TOPIC,
    POLICY_STATUS,
    POLICY_TOPIC,
    TICK_STATUS,
    TICK_TOPIC,
    TickRecord,
    parse_tick,
)
from robot_rl.robots import RobotSpec
from robot_rl.spaces.observe import observe_quantities

EPISODE_TOPIC, EPISODE_STATUS = "/robot_rl/episode", "robot_rl/episode"
"""diagnostic_msgs/msg/DiagnosticArray from the simulated robot, one per finished episode (values index, success
'True'/'False', steps, return; header stamp = the robot's time at the episode's end)."""
_DIAGNOSTIC_ARRAY = "diagnostic_msgs/msg/DiagnosticArray"
_PROVENANCE_KEYS = ("robot", "env_id", "observation", "policy_sha256")


class DatasetError(ValueError):
    """A log that cannot become a dataset; the message names the bag, topic, tick and field at fault."""


@dataclass(frozen=True)
class Provenance:
    """What `/robot_rl/policy` says: robot, task, observation layout, and every policy announced."""

    robot: str
    env_id: str
    observation: str
    """Observation layout 'name:size,...'."""
    policies: dict[str, dict[str, str]]
    """Policy sha256 -> its `/robot_rl/policy` values (policy folder, card YAML, ...)."""


@dataclass
class InterventionLog:
    """One bag's records, read and checked (see `read_log`)."""

    name: str
    """The bag as the user named it (used in messages)."""
    provenance: Provenance
    records: list[TickRecord]
    """Tick records in tick order (unique ticks)."""
    reports: list[tuple[int, bool]]
    """`/robot_rl/episode` reports in log order: (header stamp ns, success)."""
    intervention_events: int
    """Messages on `/robot_rl/intervention` (takeover onsets/ends and marks; informational)."""


class LogCollector:
    """Builds an `InterventionLog` message by message: from a bag (`read_log`) or live (the online learner).

    `add` checks each message as it comes; `log` checks that the required topics were heard.
    """

    TOPICS = (TICK_TOPIC, POLICY_TOPIC, EPISODE_TOPIC, INTERVENTION_TOPIC)

    def __init__(self, name: str, skip_repeated_ticks: bool = False) -> None:
        self.name, self.skip_repeated_ticks = name, skip_repeated_ticks
        self.records: list[TickRecord] = []
        self.policies: list[dict[str, str]] = []
        self.reports: list[tuple[int, bool]] = []
        self.events = 0
        self._ticks: set[int] = set()

    def add(self, topic: str, msg: Any, t_ns: int = 0) -> None:  # noqa: ANN401 - a DiagnosticArray
        """One DiagnosticArray of `topic` (received at `t_ns`); a malformed one is a DatasetError."""
        m = BagMessage(topic, _DIAGNOSTIC_ARRAY, t_ns, msg) if not isinstance(msg, BagMessage) else msg
        if m.topic == TICK_TOPIC:
            self._add_record(_tick(m, self.name))
        elif m.topic == POLICY_TOPIC:
            self.policies.append(_status_values(m, POLICY_STATUS, self.name)[0])
        elif m.topic == EPISODE_TOPIC:
            self.reports.append(_episode_report(m, self.name))
        else:
            self.events += 1

    def merge(self, log: InterventionLog) -> None:
        """Add a log read earlier (a bag): records (repeated ticks skipped if so configured), provenance, reports."""
        for record in log.records:
            self._add_record(record)
        self.policies.extend(log.provenance.policies.values())
        self.reports.extend(log.reports)

    def _add_record(self, record: TickRecord) -> None:
        if not (self.skip_repeated_ticks and record.tick in self._ticks):
            self._ticks.add(record.tick)
            self.records.append(record)

    def log(self) -> InterventionLog:
        """The log so far (records in tick order); DatasetError without tick records or policy provenance."""
        for topic, found in ((TICK_TOPIC, self.records), (POLICY_TOPIC, self.policies)):
            if not found:
                raise DatasetError(f"{self.name}: topic {topic} holds no messages")
        return InterventionLog(self.name, _provenance(self.policies, self.name),
                               _in_tick_order(self.records, self.name), list(self.reports), self.events)


def read_log(path: Path, name: str) -> InterventionLog:
    """Read and check one bag's intervention log.

    Args:
        path: the (complete) bag directory to read.
        name: how messages name the bag (the path the user gave; `path` may be a recovered copy).

    Raises:
        DatasetError: a required topic is missing or empty, a message is malformed, `/robot_rl/policy` messages
            disagree, or a tick is recorded twice.

    """
    topics = bag_info(path)["topics"]
    if missing := [t for t in (TICK_TOPIC, POLICY_TOPIC) if t not in topics]:
        raise DatasetError(f"{name}: missing topic(s) {missing}: a dataset needs the controller's tick records "
                           f"({TICK_TOPIC}) and policy provenance ({POLICY_TOPIC}); the bag has {sorted(topics)}")
    collector = LogCollector(name)
    for m in read_bag(path, [t for t in LogCollector.TOPICS if t in topics]):
        if m.msgtype != _DIAGNOSTIC_ARRAY:
            raise DatasetError(f"{name}: topic {m.topic} has type {m.msgtype}, expected {_DIAGNOSTIC_ARRAY}")
        collector.add(m.topic, m)
    return collector.log()


def _status_values(m: BagMessage, status: str, name: str) -> tuple[dict[str, str], int]:
    """The key/values of the status named `status` in a DiagnosticArray, and the array's header stamp (ns)."""
    found = [s for s in m.msg.status if s.name == status]
    if not found:
        raise DatasetError(f"{name}: topic {m.topic}, message at t={m.t_ns} ns: no status named {status!r} "
                           f"(has {[s.name for s in m.msg.status]})")
    stamp = m.msg.header.stamp
    return {kv.key: kv.value for kv in found[0].values}, int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def _tick(m: BagMessage, name: str) -> TickRecord:
    values, stamp = _status_values(m, TICK_STATUS, name)
    try:
        return parse_tick(values, stamp)
    except ValueError as err:
        raise DatasetError(f"{name}: topic {TICK_TOPIC}, tick {values.get('tick', '?')}: {err}") from None


def _episode_report(m: BagMessage, name: str) -> tuple[int, bool]:
    values, stamp = _status_values(m, EPISODE_STATUS, name)
    if values.get("success") not in ("True", "False"):
        raise DatasetError(f"{name}: topic {EPISODE_TOPIC}, message at t={m.t_ns} ns: field 'success' is "
                           f"{values.get('success')!r}, expected 'True' or 'False'")
    return stamp, values["success"] == "True"


def _provenance(policies: list[dict[str, str]], name: str) -> Provenance:
    for values in policies:
        if missing := [k for k in _PROVENANCE_KEYS if k not in values]:
            raise DatasetError(f"{name}: topic {POLICY_TOPIC}: fields {missing} are missing")
        for key in ("robot", "env_id", "observation"):
            if values[key] != policies[0][key]:
                raise DatasetError(f"{name}: topic {POLICY_TOPIC}: field '{key}' changes within the bag "
                                   f"({policies[0][key]!r} then {values[key]!r})")
    layout_size(policies[0]["observation"], f"{name}: topic {POLICY_TOPIC}")
    first = policies[0]
    return Provenance(first["robot"], first["env_id"], first["observation"],
                      {v["policy_sha256"]: v for v in policies})


def layout_size(layout: str, where: str) -> int:
    """The number of elements of an observation layout 'name:size,...'.

    Raises:
        DatasetError: the layout is malformed (the message starts with `where`).

    """
    try:
        sizes = [int(item.rsplit(":", 1)[1]) for item in layout.split(",")]
    except (IndexError, ValueError):
        raise DatasetError(f"{where}: field 'observation' {layout!r} is not a 'name:size,...' layout") from None
    return sum(sizes)


def _in_tick_order(records: list[TickRecord], name: str) -> list[TickRecord]:
    records = sorted(records, key=lambda r: r.tick)
    for a, b in zip(records, records[1:], strict=False):
        if a.tick == b.tick:
            raise DatasetError(f"{name}: topic {TICK_TOPIC}: tick {a.tick} is recorded twice")
        if b.stamp_ns < a.stamp_ns:
            raise DatasetError(f"{name}: topic {TICK_TOPIC}, tick {b.tick}: stamp {b.stamp_ns} ns is before tick "
                               f"{a.tick}'s {a.stamp_ns} ns")
    return records


@dataclass(frozen=True)
class TickArrays:
    """One bag's ticks as arrays `[N, ...]` in tick order, with the labels (see `robot_rl.data.labels`)."""

    tick: np.ndarray
    stamp_ns: np.ndarray
    episode: np.ndarray
    obs: np.ndarray
    """float32 `[N, n_obs]`, rebuilt with the task's spec function."""
    applied: np.ndarray
    proposed: np.ndarray
    operator: np.ndarray
    """float64 `[N, n_cmd]`, NaN where the operator sent nothing."""
    source: np.ndarray
    onset: np.ndarray
    mark: np.ndarray
    safe_stop: np.ndarray
    segment_end: np.ndarray
    episode_end: np.ndarray
    outcome: np.ndarray
    """int64 `[N]`: the outcome code of the step's controller episode."""
    terminated: np.ndarray
    truncated: np.ndarray
    rlif_reward: np.ndarray
    hil_serl_reward: np.ndarray
    intervention: np.ndarray
    dagger_mask: np.ndarray
    unmatched_reports: int

    def infos(self, policy_index: np.ndarray) -> dict[str, np.ndarray]:
        """The per-step info arrays `[N, ...]` of `robot_rl.data.dataset.INFO_KEYS` (`policy_index` `[N]` int16)."""
        return {"tick": self.tick, "stamp_ns": self.stamp_ns, "episode": self.episode,
                "proposed_action": self.proposed, "operator_action": self.operator, "source": self.source,
                "onset": self.onset, "intervention": self.intervention, "rlif_reward": self.rlif_reward,
                "hil_serl_reward": self.hil_serl_reward, "dagger_mask": self.dagger_mask, "mark": self.mark,
                "safe_stop": self.safe_stop, "policy_index": policy_index}


def tick_arrays(log: InterventionLog, robot: RobotSpec) -> TickArrays:
    """Observations, actions, boundaries, outcomes and labels of `log`'s ticks for `robot`.

    Raises:
        DatasetError: a record does not fit the robot (command size, quantities) or the observation layout of
            `/robot_rl/policy` does not match what the robot's spec function builds.

    """
    n_cmd, r = len(robot.command.names), log.records
    obs = np.stack([_observe(robot, rec, n_cmd, log.name) for rec in r])
    expected = layout_size(log.provenance.observation, f"{log.name}: topic {POLICY_TOPIC}")
    if obs.shape[1] != expected:
        raise DatasetError(f"{log.name}: topic {POLICY_TOPIC}: field 'observation' {log.provenance.observation!r} "
                           f"has {expected} elements, robot '{robot.name}''s spec function builds {obs.shape[1]}")
    tick, stamp = np.array([x.tick for x in r], dtype=np.int64), np.array([x.stamp_ns for x in r], dtype=np.int64)
    episode = np.array([x.episode for x in r], dtype=np.int64)
    source = np.array([lb.SOURCE_CODES[x.source] for x in r], dtype=np.int8)
    onset = np.array([x.onset for x in r], dtype=bool)
    mark = np.array([lb.MARK_CODES[x.mark] for x in r], dtype=np.int8)
    operator = np.stack([np.full(n_cmd, np.nan) if x.operator is None else x.operator for x in r])
    segment_end, episode_end = lb.segment_ends(episode, tick)
    ends = np.flatnonzero(episode_end)
    match = lb.match_episode_reports(stamp[ends], np.array([t for t, _ in log.reports], dtype=np.int64))
    reported = np.full(len(ends), lb.UNKNOWN, dtype=np.int64)
    ok = match >= 0
    reported[match[ok]] = np.array([s for _, s in log.reports], dtype=np.int64)[ok]
    outcome = np.repeat(lb.episode_outcomes(reported, lb.episode_marks(mark, episode_end)), np.diff(np.r_[-1, ends]))
    terminated, truncated = lb.terminal_flags(segment_end, episode_end, outcome)
    hil_serl_reward, intervention = lb.hil_serl_labels(source, episode_end, outcome)
    return TickArrays(
        tick=tick, stamp_ns=stamp, episode=episode, obs=obs, applied=np.stack([x.applied for x in r]),
        proposed=np.stack([x.proposed for x in r]), operator=operator, source=source, onset=onset, mark=mark,
        safe_stop=np.array([x.mode == "safe-stop" for x in r], dtype=bool), segment_end=segment_end,
        episode_end=episode_end, outcome=outcome, terminated=terminated, truncated=truncated,
        rlif_reward=lb.rlif_rewards(source, onset, segment_end), hil_serl_reward=hil_serl_reward,
        intervention=intervention, dagger_mask=lb.dagger_labels(source, operator),
        unmatched_reports=int((~ok).sum()))


def _observe(robot: RobotSpec, rec: TickRecord, n_cmd: int, name: str) -> np.ndarray:
    """The observation `[n_obs]` of one record, after checking its command-sized fields."""
    where = f"{name}: topic {TICK_TOPIC}, tick {rec.tick}"
    fields = {"applied": rec.applied, "proposed": rec.proposed, "last_action": rec.last_action}
    if rec.operator is not None:
        fields["operator"] = rec.operator
    for key, value in fields.items():
        if value.shape != (n_cmd,):
            raise DatasetError(f"{where}: field '{key}' has {value.size} elements, robot '{robot.name}' commands "
                               f"{n_cmd}")
    if not np.isfinite(rec.applied).all():
        raise DatasetError(f"{where}: field 'applied' is not finite: {rec.applied.tolist()}")
    try:
        return observe_quantities(robot, rec.quantities, rec.goal, rec.last_action)[0]
    except (KeyError, ValueError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        raise DatasetError(f"{where}: the observation cannot be rebuilt: {message}") from None
