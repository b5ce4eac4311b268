"""The recorder node: subscribes to the listed topics and writes a rosbag2 MCAP bag (`ros2 bag record` equivalent).

    python -m robot_rl.deploy.nodes.recorder --params launch/arm.yaml       (its own OS process)

Reception and disk are decoupled: callbacks (in the spin thread) serialize each message to CDR and put it on a
bounded queue; a writer thread drains the queue into `robot_rl.data.BagWriter`. A disk stall fills the queue instead
of blocking DDS; when the queue is full the message is dropped and counted, and the drops are reported every
`report_period_s` and at exit. The bag is flushed every `flush_period_s`, so a recorder killed with SIGKILL loses
about the last second; `robot_rl.data.recover_bag(output_dir)` then finalizes the bag.

Parameter `topics` lists "TOPIC TYPE [QOS]" strings, QOS one of best_effort (default: matches every publisher),
reliable, transient_local. Message times are the node clock at reception (`/clock` under `use_sim_time`), as
rosbag2 stamps them. The bag records the recorder's subscription QoS as `offered_qos_profiles` (the transport does
not expose the publishers' QoS, which rosbag2 would record).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from robot_rl.data import BagConfig, BagError, BagWriter, qos_profile
from robot_rl.deploy.msgs import message_type
from robot_rl.deploy.nodes.common import ParameterError, checked_config
from robot_rl.deploy.transport import QoS, Transport

RECORDER_DEPTH = 100
"""Subscription history depth: room for bursts between two spins."""
QOS_NAMES = {
    "best_effort": QoS(reliable=False, depth=RECORDER_DEPTH),
    "reliable": QoS(reliable=True, depth=RECORDER_DEPTH),
    "transient_local": QoS(reliable=True, depth=RECORDER_DEPTH, transient_local=True),
}


@dataclass(frozen=True)
class TopicSpec:
    """One recorded topic."""

    topic: str
    msgtype: str
    """ROS 2 type name, e.g. 'sensor_msgs/msg/JointState' (one of `robot_rl.deploy.msgs.MESSAGE_TYPES`)."""
    qos: QoS


@dataclass(frozen=True)
class RecorderConfig:
    """The recorder's parameters (the `recorder` section of launch/<robot>.yaml)."""

    topics: list
    """"TOPIC TYPE [QOS]" strings, e.g. "/joint_states sensor_msgs/msg/JointState best_effort"."""
    output_dir: str
    """The bag directory to create (must not exist, or be empty)."""
    split_duration_s: float = 0.0
    """Start a new `<bag>_<n>.mcap` file after this much message time (s); 0 = one file."""
    split_size_bytes: int = 0
    """Start a new file at this size (bytes); 0 = no size limit."""
    flush_period_s: float = 1.0
    """Flush the bag at least this often (s): the most a killed recorder loses."""
    fsync: bool = True
    """fsync at each flush (a power cut loses at most `flush_period_s` too)."""
    compression: str = ""
    """MCAP chunk compression: '' or 'zstd'."""
    queue_size: int = 10000
    """Messages the writer thread may lag behind reception before messages are dropped."""
    report_period_s: float = 5.0
    """Print messages/s per topic this often (s)."""
    use_sim_time: bool = False
    """Stamp messages with /clock time; handled by the transport."""

    @classmethod
    def from_parameters(cls, params: Mapping[str, Any]) -> RecorderConfig:
        """Checked config; unknown keys and wrong types are a ParameterError naming the key."""
        config = checked_config(cls, params, "recorder", ("topics", "output_dir"))
        config.topic_specs()  # parse now: a bad entry is a parameter error before anything starts
        return config

    def topic_specs(self) -> list[TopicSpec]:
        """The parsed `topics` entries; ParameterError naming the bad entry."""
        specs = [parse_topic(entry) for entry in self.topics]
        if len({s.topic for s in specs}) != len(specs):
            raise ParameterError(f"recorder: parameter 'topics' names a topic twice: {self.topics}")
        return specs


def parse_topic(entry: object) -> TopicSpec:
    """Parse "TOPIC TYPE [QOS]"; ParameterError naming the entry when malformed or of an unknown type."""
    parts = entry.split() if isinstance(entry, str) else []
    if len(parts) not in (2, 3) or not parts[0].startswith("/"):
        raise ParameterError(f"recorder: 'topics' entry {entry!r} should be \"/TOPIC pkg/msg/Type [QOS]\"")
    qos_name = parts[2] if len(parts) == 3 else "best_effort"
    if qos_name not in QOS_NAMES:
        raise ParameterError(f"recorder: 'topics' entry {entry!r}: QoS {qos_name!r} not in {sorted(QOS_NAMES)}")
    try:
        message_type(parts[1])
    except KeyError as err:
        raise ParameterError(f"recorder: 'topics' entry {entry!r}: {err.args[0]}") from None
    return TopicSpec(parts[0], parts[1], QOS_NAMES[qos_name])


class _Writer(threading.Thread):
    """Drains (channel id, t_ns, CDR bytes) items from the queue into the bag; `None` ends it."""

    def __init__(self, bag: BagWriter, items: queue.Queue, poll_s: float) -> None:
        super().__init__(name="bag-writer", daemon=True)
        self.bag, self.items, self.poll_s = bag, items, poll_s
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while True:
                try:
                    item = self.items.get(timeout=self.poll_s)
                except queue.Empty:
                    self.bag.maybe_flush()
                    continue
                if item is None:
                    break
                self.bag.write(*item)
        except BaseException as err:  # noqa: BLE001 - reported by the spin thread, which then stops
            self.error = err
        finally:
            self.bag.close()


class _Counts:
    """Per-topic received and dropped counts, and the periodic rate report."""

    def __init__(self, topics: list[str], period_s: float) -> None:
        self.topics, self.period_s = topics, period_s
        self.received = dict.fromkeys(topics, 0)
        self.dropped = dict.fromkeys(topics, 0)
        self._last = dict(self.received)
        self._last_s = time.monotonic()

    def maybe_report(self, items: queue.Queue) -> None:
        """Print each topic's messages/s since the last report, once `period_s` has passed."""
        now = time.monotonic()
        if now - self._last_s < self.period_s:
            return
        rates = ", ".join(f"{t} {(self.received[t] - self._last[t]) / (now - self._last_s):.1f}/s"
                          for t in self.topics)
        print(f"recorder: {rates}; queue {items.qsize()}; dropped {sum(self.dropped.values())}", flush=True)
        self._last, self._last_s = dict(self.received), now


def bag_directory(output_dir: str) -> Path:
    """`output_dir` with `{time}` replaced by the local time now (YYYYmmdd-HHMMSS)."""
    return Path(output_dir.replace("{time}", time.strftime("%Y%m%d-%H%M%S")))


def _open_bag(config: RecorderConfig, specs: list[TopicSpec]) -> tuple[BagWriter, dict[str, int]]:
    """The opened bag with every topic added; ParameterError when `output_dir` cannot be used."""
    from robot_rl.deploy.msgs.typestore import typestore  # loads rosbags; only the recorder needs it

    bag = BagWriter(bag_directory(config.output_dir), typestore(), BagConfig(
        split_duration_s=config.split_duration_s, split_size_bytes=config.split_size_bytes,
        flush_period_s=config.flush_period_s, fsync=config.fsync, compression=config.compression))
    try:
        bag.open()
    except (BagError, OSError) as err:
        raise ParameterError(f"recorder: parameter 'output_dir': {err}") from None
    channels = {s.topic: bag.add_topic(s.topic, s.msgtype, [qos_profile(s.qos.reliable, s.qos.depth,
                                                                        s.qos.transient_local)]) for s in specs}
    return bag, channels


def _subscriber(transport: Transport, items: queue.Queue, counts: _Counts, topic: str, channel: int
                ) -> Callable[[Any], None]:
    """The callback of one topic: stamp, serialize, enqueue (or count a drop); never blocks."""
    serialize, now_ns, put = transport.serialize, transport.now_ns, items.put_nowait

    def on_message(msg: Any) -> None:  # noqa: ANN401 - the topic's message type
        counts.received[topic] += 1
        try:
            put((channel, now_ns(), serialize(msg)))
        except queue.Full:
            counts.dropped[topic] += 1

    return on_message


def run_recorder(transport: Transport, params: Mapping[str, Any], stop: threading.Event) -> int:
    """The recorder node's body: record until `stop` is set; returns 0, or 1 when the bag writer failed."""
    config = RecorderConfig.from_parameters(params)
    specs = config.topic_specs()
    bag, channels = _open_bag(config, specs)
    items: queue.Queue = queue.Queue(maxsize=config.queue_size)
    counts = _Counts([s.topic for s in specs], config.report_period_s)
    writer = _Writer(bag, items, poll_s=min(0.1, config.flush_period_s / 4))
    writer.start()
    try:
        for spec in specs:
            on_message = _subscriber(transport, items, counts, spec.topic, channels[spec.topic])
            transport.create_subscription(spec.topic, message_type(spec.msgtype), on_message, spec.qos)
        print(f"recorder: recording {len(specs)} topics to {bag.path} on {transport.name}", flush=True)
        while not stop.is_set() and writer.is_alive():
            transport.spin_once(0.05)
            counts.maybe_report(items)
    finally:
        while writer.is_alive():  # the writer drains what was received, then closes the bag
            try:
                items.put(None, timeout=0.1)
                break
            except queue.Full:
                continue
        writer.join()
    print(f"recorder: stopped; received {counts.received}, dropped {counts.dropped}; files "
          f"{[p.name for p in bag.file_paths]}", flush=True)
    if writer.error is not None:
        print(f"recorder: bag writer failed: {writer.error!r}", flush=True)
        return 1
    return 0

