"""Writing rosbag2 bags in MCAP storage: split into files, flushed every period, tolerant of a killed writer.

A bag is a directory `<name>/` holding `metadata.yaml` (rosbag2 format version 9, as Jazzy writes it) and the
split files `<name>_0.mcap, <name>_1.mcap, ...`, every one of them self-contained (all schemas and channels). This
is what `ros2 bag record --max-bag-duration/--max-bag-size` leaves, so `ros2 bag info/play`, Foxglove and
`rosbags` read it.

rosbags' own `Writer` cannot split and keeps messages in memory until a 1 MiB chunk is full, so the file layer is
`robot_rl.data.mcap_file` (one chunk per flush period, flushed to the OS, optionally fsynced). Type definitions and
hashes come from a rosbags `Typestore` passed in by the caller (the deploy layer passes
`robot_rl.deploy.msgs.typestore`), which keeps `data` free of `deploy` imports.

A writer killed mid-recording leaves complete chunks up to its last flush and a stale `metadata.yaml`;
`robot_rl.data.bag.recover_bag` finalizes the unfinished file and rewrites `metadata.yaml`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml
from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime
from rosbags.rosbag2.metadata import dump_qos_v9
from rosbags.typesys.store import Typestore

from robot_rl.data.mcap_file import Channel, McapFile, Schema

BAG_VERSION = 9
"""rosbag2 metadata version written (Jazzy and later)."""
_INFINITE = QosTime(9223372036, 854775807)  # RMW_DURATION_INFINITE as rosbag2 writes it


class BagError(Exception):
    """A bag that cannot be written, read or recovered; the message names the bag (or file) and the problem."""


def qos_profile(reliable: bool, depth: int, transient_local: bool = False) -> Qos:
    """A rosbag2 QoS profile (history KEEP_LAST of `depth`, automatic liveliness, infinite deadlines)."""
    return Qos(
        QosHistory.KEEP_LAST, depth, QosReliability.RELIABLE if reliable else QosReliability.BEST_EFFORT,
        QosDurability.TRANSIENT_LOCAL if transient_local else QosDurability.VOLATILE,
        _INFINITE, _INFINITE, QosLiveliness.AUTOMATIC, _INFINITE, False,
    )


@dataclass(frozen=True)
class BagConfig:
    """How a `BagWriter` splits and flushes."""

    split_duration_s: float = 0.0
    """Start a new file once a file spans this much message time (s); 0 = never (rosbag2 max_bagfile_duration)."""
    split_size_bytes: int = 0
    """Start a new file once a file reaches this size (bytes); 0 = never (rosbag2 max_bagfile_size)."""
    flush_period_s: float = 1.0
    """Write the pending chunk at least this often (s): a killed recorder loses at most about this much."""
    fsync: bool = True
    """fsync at each flush, so a power cut (not only a killed process) loses at most `flush_period_s`."""
    compression: str = ""
    """Chunk compression: '' or 'zstd' (rosbag2's storage_preset 'zstd_fast' equivalent)."""
    chunk_size_bytes: int = 1 << 20
    """Write a chunk early once it holds this many bytes (the size rosbag2's MCAP plugin uses)."""


@dataclass
class TopicStats:
    """One topic of a bag: name, ROS type, offered QoS, RIHS01 type hash and messages written so far."""

    topic: str
    msgtype: str
    qos: list[Qos]
    type_hash: str
    count: int = 0


@dataclass
class FileStats:
    """One split file: name relative to the bag, first/last message time (ns since the epoch), message count."""

    name: str
    start_ns: int = 0
    end_ns: int = 0
    count: int = 0


@dataclass
class BagState:
    """What `metadata.yaml` describes: the topics and the split files, in order."""

    topics: list[TopicStats] = field(default_factory=list)
    files: list[FileStats] = field(default_factory=list)


class BagWriter:
    """Writes a split rosbag2 MCAP bag; use as a context manager, or call `open` and `close`.

    Args:
        path: the bag directory to create; an existing empty directory is used, a non-empty one is an error.
        typestore: rosbags typestore that knows every message type to be written (definitions and RIHS01 hashes).
        config: splitting and flushing.

    """

    def __init__(self, path: str | Path, typestore: Typestore, config: BagConfig | None = None) -> None:
        self.path, self.typestore, self.config = Path(path), typestore, config or BagConfig()
        self._state = BagState()
        self._schemas: dict[str, Schema] = {}
        self._channels: list[Channel] = []
        self._mcap: McapFile | None = None
        self._file_start_ns: int | None = None
        self._unflushed = 0
        self._last_flush_s = time.monotonic()

    def open(self) -> None:
        """Create the directory, the first file and a `metadata.yaml` listing it.

        Raises:
            BagError: the path exists and is not an empty directory.

        """
        if self.path.exists() and (not self.path.is_dir() or any(self.path.iterdir())):
            raise BagError(f"{self.path}: bag output directory exists and is not empty; choose a new output_dir")
        self.path.mkdir(parents=True, exist_ok=True)
        self._open_file()

    def add_topic(self, topic: str, msgtype: str, offered_qos: Sequence[Qos] = ()) -> int:
        """Register a topic; returns the channel id to pass to `write`.

        Args:
            topic: ROS topic name, e.g. '/joint_states'.
            msgtype: ROS 2 type name, e.g. 'sensor_msgs/msg/JointState'.
            offered_qos: the QoS profiles recorded as `offered_qos_profiles` (see `qos_profile`).

        Raises:
            BagError: the bag is not open, the topic is already registered, or the typestore lacks `msgtype`.

        """
        if self._mcap is None:
            raise BagError(f"{self.path}: add_topic({topic!r}) on a bag that is not open")
        if any(t.topic == topic for t in self._state.topics):
            raise BagError(f"{self.path}: topic {topic!r} registered twice")
        try:
            msgdef, _ = self.typestore.generate_msgdef(msgtype, ros_version=2)
            type_hash = self.typestore.hash_rihs01(msgtype)
        except Exception as err:  # noqa: BLE001 - TypesysError or KeyError, depending on the lookup
            raise BagError(f"{self.path}: topic {topic!r}: unknown message type {msgtype!r} ({err})") from None
        if msgtype not in self._schemas:
            self._schemas[msgtype] = Schema(len(self._schemas) + 1, msgtype, msgdef)
            self._mcap.add_schema(self._schemas[msgtype])
        qos_yaml = yaml.safe_dump(dump_qos_v9(list(offered_qos)), sort_keys=False).strip() if offered_qos else ""
        channel = Channel(len(self._channels) + 1, self._schemas[msgtype].schema_id, topic,
                          {"offered_qos_profiles": qos_yaml, "topic_type_hash": type_hash})
        self._channels.append(channel)
        self._mcap.add_channel(channel)
        self._state.topics.append(TopicStats(topic, msgtype, list(offered_qos), type_hash))
        return channel.channel_id

    def write(self, channel_id: int, t_ns: int, data: bytes) -> None:
        """Record one CDR-serialized message (with its 4-byte encapsulation header) received at `t_ns` (ns)."""
        if self._mcap is None:
            raise BagError(f"{self.path}: write on a bag that is not open")
        if not 1 <= channel_id <= len(self._channels):
            raise BagError(f"{self.path}: write to unknown channel id {channel_id}")
        if self._file_start_ns is not None and self._split_due(t_ns):
            self._rotate()
        if self._file_start_ns is None:
            self._file_start_ns = t_ns
        self._mcap.write(channel_id, t_ns, data)
        self._unflushed += 1
        self.maybe_flush()

    def maybe_flush(self) -> None:
        """Flush if messages are pending and `flush_period_s` has passed since the last flush; call it when idle."""
        if self._unflushed and time.monotonic() - self._last_flush_s >= self.config.flush_period_s:
            self.flush()

    def flush(self) -> None:
        """Write the pending chunk to the file and the OS now."""
        if self._mcap is not None:
            self._mcap.flush()
        self._unflushed, self._last_flush_s = 0, time.monotonic()

    @property
    def file_paths(self) -> list[Path]:
        """The split files so far, in order."""
        return [self.path / f.name for f in self._state.files]

    def close(self) -> None:
        """Finalize the current file and write the final `metadata.yaml`."""
        if self._mcap is not None:
            self._close_file()
            write_metadata(self.path, self._state)

    def _split_due(self, t_ns: int) -> bool:
        cfg, start = self.config, self._file_start_ns or 0
        too_long = cfg.split_duration_s > 0 and t_ns - start >= int(cfg.split_duration_s * 1e9)
        return too_long or (cfg.split_size_bytes > 0 and self._mcap is not None
                            and self._mcap.size_bytes >= cfg.split_size_bytes)

    def _open_file(self) -> None:
        name = f"{self.path.name}_{len(self._state.files)}.mcap"
        cfg = self.config
        self._mcap = McapFile(self.path / name, cfg.compression, cfg.chunk_size_bytes, cfg.fsync)
        for schema in self._schemas.values():
            self._mcap.add_schema(schema)
        for channel in self._channels:
            self._mcap.add_channel(channel)
        self._state.files.append(FileStats(name))
        self._file_start_ns = None
        self.flush()
        write_metadata(self.path, self._state)

    def _close_file(self) -> None:
        mcap, self._mcap = self._mcap, None
        assert mcap is not None
        mcap.close(yaml.safe_dump(metadata_dict(self._state)["rosbag2_bagfile_information"], sort_keys=False))
        _account(self._state, mcap.channel_counts, mcap.start_ns, mcap.end_ns)

    def _rotate(self) -> None:
        self._close_file()
        self._open_file()

    def __enter__(self) -> BagWriter:
        self.open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _account(state: BagState, counts: dict[int, int], start_ns: int, end_ns: int) -> None:
    """Add a finished file's per-channel counts (channel id = topic index + 1) and time span to `state`."""
    for cid, n in counts.items():
        state.topics[cid - 1].count += n
    n = sum(counts.values())
    state.files[-1].start_ns, state.files[-1].end_ns, state.files[-1].count = (start_ns, end_ns, n) if n else (0, 0, 0)


def metadata_dict(state: BagState) -> dict[str, Any]:
    """The content of `metadata.yaml` (rosbag2 version 9) for the files and topics in `state`."""
    used = [f for f in state.files if f.count]
    start = min((f.start_ns for f in used), default=0)
    end = max((f.end_ns for f in used), default=0)
    return {"rosbag2_bagfile_information": {
        "version": BAG_VERSION,
        "storage_identifier": "mcap",
        "duration": {"nanoseconds": end - start},
        "starting_time": {"nanoseconds_since_epoch": start},
        "message_count": sum(f.count for f in state.files),
        "topics_with_message_count": [
            {"topic_metadata": {"name": t.topic, "type": t.msgtype, "serialization_format": "cdr",
                                "offered_qos_profiles": dump_qos_v9(t.qos), "type_description_hash": t.type_hash},
             "message_count": t.count}
            for t in state.topics
        ],
        "compression_format": "",
        "compression_mode": "",
        "relative_file_paths": [f.name for f in state.files],
        "files": [
            {"path": f.name, "starting_time": {"nanoseconds_since_epoch": f.start_ns},
             "duration": {"nanoseconds": f.end_ns - f.start_ns}, "message_count": f.count}
            for f in state.files
        ],
        "custom_data": {},
        "ros_distro": "robot_rl",
    }}


def write_metadata(path: Path, state: BagState) -> None:
    """Atomically (write + rename) replace `<path>/metadata.yaml`."""
    tmp = path / "metadata.yaml.tmp"
    tmp.write_text(yaml.safe_dump(metadata_dict(state), sort_keys=False))
    tmp.replace(path / "metadata.yaml")
