"""The online learner node: reads transitions live from the robot's topics, trains, offers checked-to-be versions.

It subscribes to `/robot_rl/tick`, `/robot_rl/policy` and `/robot_rl/episode` (the same messages the recorder logs
and `robot-rl dataset` reads, through the same `LogCollector`), and publishes on `/robot_rl/online`:

- `heartbeat` every `heartbeat_period_s` (wall time), and at once after each episode report: version, ticks
  received, data cut, episode reports processed, busy (training), schedule;
- `offer` when a version is exported: version, folder, ONNX sha256, the data cut it was trained on;
- `no_offer` when a version was due but could not be trained (e.g. no intervention yet), with the reason.

A version is due (`robot_rl.learn.online.schedule_due`) when an episode report arrives and the ticks of the
completed episodes have grown enough. A controller in lockstep simulation waits at each episode boundary until a
heartbeat says the learner has processed that episode's report and is not training (or the learner is stale).
Versions are exported with `robot_rl.policy.finetune.export_child`
(ONNX parity, card with lineage) to `out_dir/versions/vNNNN`; the learner's state goes to `out_dir/learner.pt`
(atomically) after each version. With `resume`, the state is reloaded and the ticks are rebuilt from the bags in
`resume_bags` (the MCAP log is the source of truth; unfinished bags are read from recovered copies).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import queue
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from robot_rl.data.dataset import readable_bag
from robot_rl.data.intervention_log import DatasetError, InterventionLog, LogCollector, read_log
from robot_rl.data.ticks import POLICY_TOPIC, TICK_TOPIC
from robot_rl.data.transitions import DatasetSource, transitions_from_log
from robot_rl.deploy.diagnostics import status_array
from robot_rl.deploy.msgs import DiagnosticArray, DiagnosticStatus
from robot_rl.deploy.nodes.common import checked_config
from robot_rl.deploy.transport import COMMAND_QOS, LOG_QOS, Transport

EPISODE_TOPIC = "/robot_rl/episode"
ONLINE_TOPIC, ONLINE_STATUS = "/robot_rl/online", "robot_rl/online"


@dataclass(frozen=True)
class LearnerNodeConfig:
    """The learner node's parameters (the `learner` section of launch/<robot>.yaml)."""

    robot: str
    policy: str = ""
    """The deployed (starting) policy folder; '' = the controller's (the launcher fills it in)."""
    out_dir: str = "runs/online"
    """Versions (versions/vNNNN) and the learner state (learner.pt)."""
    method: str = "hg-dagger"
    warmup_ticks: int = 5000
    """Ticks the deployed policy acts, frozen, before the first version (WSRL)."""
    train_every_ticks: int = 2000
    updates: int = 1000
    """Gradient updates per version."""
    critic_warmup: int = 500
    """Critic-only updates before the first version (RL methods)."""
    resume: bool = False
    """Reload out_dir/learner.pt and rebuild the ticks from `resume_bags`."""
    resume_bags: list = field(default_factory=list)
    heartbeat_period_s: float = 0.5
    grace_s: float = 0.2
    """After an episode report, keep receiving this long before cutting the data (the episode's last ticks)."""
    summary_file: str = ""
    """Write the learner's counts as JSON here at exit ('' = don't)."""
    use_sim_time: bool = True

    @classmethod
    def from_parameters(cls, params: Mapping[str, Any]) -> LearnerNodeConfig:
        """Checked config; unknown keys and wrong types are a ParameterError naming the key."""
        return checked_config(cls, params, "learner", ("robot",))


def online_message(kind: str, values: Mapping[str, object], stamp: int) -> DiagnosticArray:
    """`/robot_rl/online`: a learner heartbeat, offer or no_offer."""
    return status_array(ONLINE_STATUS, DiagnosticStatus.OK, kind, {"kind": kind, **values}, stamp)


class LearnerNode:
    """Collects ticks, trains versions when due, offers them."""

    def __init__(self, transport: Transport, config: LearnerNodeConfig) -> None:
        from robot_rl.envs import entry
        from robot_rl.envs.registry import observation_spec
        from robot_rl.learn.finetune_config import FinetuneConfig
        from robot_rl.learn.online import OnlineLearner, OnlineSchedule
        from robot_rl.policy.finetune import Parent, load_parent
        from robot_rl.robots import load_robot

        self.transport, self.config = transport, config
        card, ckpt, module = load_parent(config.policy)
        self.parent = Parent(Path(config.policy), card, ckpt)
        self.robot = load_robot(card.robot)
        self.action_map, self.obs_spec = entry(card.env_id).action_map(self.robot), observation_spec(card.env_id,
                                                                                                     self.robot)
        self.learner = OnlineLearner(module, FinetuneConfig(method=config.method, updates=config.updates,
                                                            critic_warmup=config.critic_warmup),
                                     OnlineSchedule(config.warmup_ticks, config.train_every_ticks))
        self.out = Path(config.out_dir)
        self.collector = LogCollector("online", skip_repeated_ticks=True)
        self.rejected = 0
        self.resumed_ticks = 0
        if config.resume:
            self._resume()
        self.pub = transport.create_publisher(ONLINE_TOPIC, DiagnosticArray, LOG_QOS)
        for topic, qos in ((TICK_TOPIC, LOG_QOS), (POLICY_TOPIC, LOG_QOS), (EPISODE_TOPIC, COMMAND_QOS)):
            transport.create_subscription(topic, DiagnosticArray, lambda m, t=topic: self.on_message(t, m), qos)
        self.reports_seen = len(self.collector.reports)
        self.busy = False
        """A version is being trained; cleared by the main thread once the thread's messages are published."""
        self.outbox: queue.Queue = queue.Queue()
        """(kind, values) the training thread wants published, then ('done', {}) (the main thread owns the
        transport)."""

    def _resume(self) -> None:
        state = self.out / "learner.pt"
        if state.is_file():
            self.learner.load(state)
            self.parent = self._version_parent(self.learner.version) or self.parent
        for bag in self.config.resume_bags:
            with readable_bag(Path(bag), True) as (readable, _damage):
                log = read_log(readable, str(bag))
            self.collector.merge(log)
        self.resumed_ticks = len(self.collector.records)
        print(f"learner: resumed version {self.learner.version} (data cut {self.learner.cut}), "
              f"{self.resumed_ticks} ticks rebuilt from {len(self.config.resume_bags)} bag(s)", flush=True)

    def _version_parent(self, version: int) -> Any:  # noqa: ANN401 - a Parent
        from robot_rl.policy.card import load_card
        from robot_rl.policy.finetune import Parent

        folder = self.out / "versions" / f"v{version:04d}"
        return Parent(folder, load_card(folder / "card.yaml"), self.parent.ckpt) if version and folder.is_dir() \
            else None

    def on_message(self, topic: str, msg: Any) -> None:  # noqa: ANN401 - DiagnosticArray
        """Collect one message; a malformed one is counted and skipped (the recorder keeps it)."""
        try:
            self.collector.add(topic, msg, self.transport.now_ns())
        except DatasetError as e:
            self.rejected += 1
            print(f"learner: skipped a message: {e}", flush=True)

    def heartbeat(self) -> None:
        """Publish the learner's state."""
        s = self.learner.schedule
        self.pub.publish(online_message("heartbeat", {
            "version": self.learner.version, "ticks": len(self.collector.records), "cut": self.learner.cut,
            "reports": self.reports_seen, "busy": self.busy, "warmup_ticks": s.warmup_ticks,
            "train_every_ticks": s.train_every_ticks},
            self.transport.now_ns()))

    def maybe_train(self, stop: threading.Event) -> None:
        """At a new episode report: cut the data and train a version when one is due."""
        reports = len(self.collector.reports)
        if self.busy or reports == self.reports_seen or not self.collector.policies:
            return
        deadline = time.monotonic() + self.config.grace_s
        while time.monotonic() < deadline and not stop.is_set():
            self.transport.spin_once(0.01)
        self.reports_seen = reports
        log = self.collector.log()  # here, not in the thread: the collector keeps growing meanwhile
        # the episodes with a report (the controller numbers episodes from 1, as the reports are counted)
        log = dataclasses.replace(log, records=[r for r in log.records if 1 <= r.episode <= reports])
        self.busy = self.learner.due(len(log.records))
        self.heartbeat()  # at once: a controller in lockstep waits for it at the episode boundary
        if self.busy:
            threading.Thread(target=self._train_in_thread, args=(log,), daemon=True).start()

    def _train_in_thread(self, log: InterventionLog) -> None:
        try:
            self._train(log)
        except Exception as e:  # noqa: BLE001 - a failed version must not kill the learner: report it
            self.outbox.put(("no_offer", {"cut": len(log.records), "reason": f"{type(e).__name__}: {e}"}))
            print(f"learner: training failed: {type(e).__name__}: {e}", flush=True)
        finally:
            self.outbox.put(("done", {}))

    def flush(self) -> None:
        """Publish what the training thread left in the outbox; its 'done' clears `busy` after its messages."""
        while not self.outbox.empty():
            kind, values = self.outbox.get()
            if kind == "done":
                self.busy = False
            else:
                self.pub.publish(online_message(kind, values, self.transport.now_ns()))

    def _train(self, log: InterventionLog) -> None:
        """Train a version on `log` (the completed episodes' ticks, in tick order) and offer it."""
        from robot_rl.learn.finetune import samples_from

        records = log.records
        cut, t0 = len(records), time.perf_counter()
        digest = hashlib.sha256()
        for r in log.records:
            digest.update(np.ascontiguousarray(r.applied).tobytes() + str(r.tick).encode())
        source = DatasetSource(path=",".join(self.config.resume_bags) or "live", dataset_id=f"online ticks 1-{cut}",
                               sha256=digest.hexdigest(), transitions=cut,
                               interventions=sum(r.source == "operator" for r in records), policies=[], bags=[])
        data = transitions_from_log(log, self.robot, source)
        samples = samples_from(data, self.action_map, self.obs_spec)
        try:
            actor = self.learner.train(samples, cut)
        except ValueError as e:
            self.learner.cut = cut
            self.outbox.put(("no_offer", {"cut": cut, "reason": str(e)}))
            print(f"learner: no version at {cut} ticks: {e}", flush=True)
            return
        self._offer(actor, data, source, cut, time.perf_counter() - t0)

    def _offer(self, actor: Any, data: Any, source: DatasetSource, cut: int, train_s: float) -> None:  # noqa: ANN401
        from robot_rl.policy.card import DatasetRef, load_card
        from robot_rl.policy.finetune import Parent, export_child, label_counts

        version = self.learner.version
        folder = self.out / "versions" / f"v{version:04d}"
        ref = DatasetRef(path=source.path, dataset_id=source.dataset_id, sha256=source.sha256, transitions=cut,
                         interventions=source.interventions)
        report = export_child(self.parent, actor, self.learner.train_state or {}, self.learner.config, [ref],
                              label_counts(data), folder, train_s, overwrite=True)
        self.learner.save(self.out / "learner.pt")
        self.parent = Parent(folder, load_card(folder / "card.yaml"), self.parent.ckpt)
        sha = report.card.onnx.sha256
        self.outbox.put(("offer", {"version": version, "path": str(folder.resolve()), "sha256": sha, "cut": cut}))
        print(f"learner: offered version {version} ({sha[:12]}) trained on {cut} ticks in {train_s:.1f} s", flush=True)


def run_learner(transport: Transport, params: Mapping[str, Any], stop: threading.Event) -> int:
    """The learner node's body: collect, train when due, heartbeat, until `stop`."""
    config = LearnerNodeConfig.from_parameters(params)
    node = LearnerNode(transport, config)
    print(f"learner: {config.method} from {config.policy}, first version after {config.warmup_ticks} ticks, then "
          f"every {config.train_every_ticks}; versions in {node.out / 'versions'}", flush=True)
    next_beat = 0.0
    while not stop.is_set():
        transport.spin_once(0.01)
        node.flush()  # before the heartbeat: an offer arrives before the heartbeat that says the learner is idle
        if time.monotonic() >= next_beat:
            node.heartbeat()
            next_beat = time.monotonic() + config.heartbeat_period_s
        node.maybe_train(stop)
    summary = {"version": node.learner.version, "cut": node.learner.cut, "ticks": len(node.collector.records),
               "resumed_ticks": node.resumed_ticks, "rejected_messages": node.rejected}
    print(f"learner: stopped at version {summary['version']}, {summary['ticks']} ticks", flush=True)
    if config.summary_file:
        Path(config.summary_file).write_text(json.dumps(summary, indent=2))
    return 0
