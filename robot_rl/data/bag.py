"""rosbag2 MCAP bags: reading, checking, and repairing one whose recorder was killed (writing: `bag_writer`).

This module is the bag API: it re-exports `BagWriter`, `BagConfig`, `BagError` and `qos_profile`.

`read_bag` checks the bag first and raises `BagError` naming the path and the problem (no directory, no
`metadata.yaml`, a file listed but missing or left unfinished by a killed recorder, a topic that is not in the bag,
a type it cannot decode). Messages are decoded with the definitions stored in the bag itself, so no typestore is
needed; they come back as rosbags message objects with the ROS 2 field names.

`recover_bag` finalizes every split file that lacks its footer (keeping all complete chunks, i.e. everything up to
the writer's last flush) and rewrites `metadata.yaml` from the files, which is what `ros2 bag reindex` does for
rosbag2's own recorder.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from rosbags.highlevel import AnyReader
from rosbags.rosbag2.metadata import parse_qos
from rosbags.rosbag2.storage_mcap import McapReader
from rosbags.typesys.store import Typestore

from robot_rl.data.bag_writer import (
    BagConfig,
    BagError,
    BagState,
    BagWriter,
    FileStats,
    TopicStats,
    qos_profile,
    write_metadata,
)
from robot_rl.data.mcap_file import McapFile, is_finalized, read_str_map

__all__ = ["BagConfig", "BagError", "BagMessage", "BagWriter", "RecoveryReport", "bag_info", "check_bag",
           "qos_profile", "read_bag", "recover_bag"]

_SPLIT_RE = re.compile(r"_(\d+)\.mcap$")


class BagMessage(NamedTuple):
    """One recorded message."""

    topic: str
    msgtype: str
    """ROS 2 type name, e.g. 'sensor_msgs/msg/JointState'."""
    t_ns: int
    """Receive (log) time, ns since the epoch."""
    msg: Any
    """The decoded message (a rosbags message dataclass with ROS 2 field names)."""


def _listed_files(path: Path) -> list[Path]:
    """The files `metadata.yaml` lists; BagError when the bag or its metadata is missing or unreadable."""
    if not path.is_dir():
        raise BagError(f"{path}: no such bag directory")
    meta = path / "metadata.yaml"
    if not meta.exists():
        raise BagError(f"{path}: no metadata.yaml: not a rosbag2 bag, or its recorder died before writing it "
                       "(robot_rl.data.recover_bag repairs it)")
    try:
        info = yaml.safe_load(meta.read_text())["rosbag2_bagfile_information"]
        names = [str(n) for n in info["relative_file_paths"]]
    except (yaml.YAMLError, KeyError, TypeError) as err:
        raise BagError(f"{meta}: not rosbag2 metadata ({type(err).__name__}: {err})") from None
    if info.get("storage_identifier") != "mcap":
        raise BagError(f"{meta}: storage_identifier {info.get('storage_identifier')!r}; only 'mcap' is read here")
    return [path / Path(n).name for n in names]


def check_bag(path: str | Path) -> list[Path]:
    """Check that a bag is complete and readable; returns its split files in order.

    Raises:
        BagError: naming the bag or file and what is wrong.

    """
    path = Path(path)
    files = _listed_files(path)
    for file in files:
        if not file.exists():
            raise BagError(f"{path}: metadata.yaml lists {file.name}, which does not exist")
        if not is_finalized(file):
            raise BagError(f"{file}: MCAP file was not closed (recorder killed?); run "
                           f"robot_rl.data.recover_bag({str(path)!r}) first")
    return files


def bag_info(path: str | Path) -> dict[str, Any]:
    """What `ros2 bag info` shows, from the bag's metadata.yaml: files, duration (s), start (ns), per-topic counts.

    Raises:
        BagError: the bag is missing, incomplete or unreadable (see `check_bag`).

    """
    path = Path(path)
    files = check_bag(path)
    info = yaml.safe_load((path / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    topics = {t["topic_metadata"]["name"]: {"type": t["topic_metadata"]["type"], "count": t["message_count"]}
              for t in info["topics_with_message_count"]}
    return {"path": str(path), "files": [f.name for f in files], "messages": info["message_count"],
            "duration_s": info["duration"]["nanoseconds"] / 1e9,
            "start_ns": info["starting_time"]["nanoseconds_since_epoch"], "topics": topics}


def read_bag(
    path: str | Path, topics: Sequence[str] | None = None, typestore: Typestore | None = None
) -> Iterator[BagMessage]:
    """Messages of a bag in time order, decoded.

    Args:
        path: the bag directory (with metadata.yaml).
        topics: only these topics (all when None); naming a topic the bag lacks is an error.
        typestore: decodes types when the bag carries no definitions (bags from other tools).

    Returns:
        An iterator of `BagMessage(topic, msgtype, t_ns, msg)`.

    Raises:
        BagError: the bag is missing, incomplete or unreadable, or lacks a requested topic.

    """
    path = Path(path)
    check_bag(path)
    with _open_reader(path, typestore) as reader:
        present = {c.topic for c in reader.connections}
        if topics is not None and (missing := sorted(set(topics) - present)):
            raise BagError(f"{path}: topics {missing} are not in the bag (it has {sorted(present)})")
    return _messages(path, typestore, None if topics is None else set(topics))


@contextmanager
def _open_reader(path: Path, typestore: Typestore | None) -> Iterator[AnyReader]:
    reader = AnyReader([path], default_typestore=typestore)
    try:
        reader.open()
    except Exception as err:  # noqa: BLE001 - rosbags raises several error types; all mean an unreadable bag
        raise BagError(f"{path}: cannot open bag: {err}") from None
    try:
        yield reader
    finally:
        reader.close()


def _messages(path: Path, typestore: Typestore | None, topics: set[str] | None) -> Iterator[BagMessage]:
    with _open_reader(path, typestore) as reader:
        conns = [c for c in reader.connections if topics is None or c.topic in topics]
        for conn, t_ns, raw in reader.messages(connections=conns):
            try:
                msg = reader.deserialize(raw, conn.msgtype)
            except Exception as err:  # noqa: BLE001 - unknown type or malformed CDR
                raise BagError(f"{path}: topic {conn.topic!r}: cannot decode {conn.msgtype!r} at t={t_ns} ns: "
                               f"{err}") from None
            yield BagMessage(conn.topic, conn.msgtype, t_ns, msg)


@dataclass
class RecoveryReport:
    """What `recover_bag` did."""

    repaired: list[Path] = field(default_factory=list)
    """Files that had no footer and were finalized from their complete chunks."""
    removed: list[Path] = field(default_factory=list)
    """Files too short to hold even an MCAP header (deleted; they held no messages)."""
    message_count: int = 0
    """Messages in the recovered bag."""


def recover_bag(path: str | Path) -> RecoveryReport:
    """Finalize the unfinished split files of a bag whose writer was killed, and rewrite its metadata.yaml.

    Every chunk that reached the file is kept (the writer flushes one per `flush_period_s`); the torn tail is
    dropped. Finished files are left as they are. Idempotent.

    Raises:
        BagError: `path` is not a directory or holds no `.mcap` files.

    """
    path, report = Path(path), RecoveryReport()
    if not path.is_dir():
        raise BagError(f"{path}: no such bag directory")
    files = sorted(path.glob("*.mcap"), key=lambda f: (int(m.group(1)) if (m := _SPLIT_RE.search(f.name)) else -1,
                                                       f.name))
    if not files:
        raise BagError(f"{path}: no .mcap files to recover")
    for file in files:
        if is_finalized(file):
            continue
        try:
            McapFile.reopen(file).close()
            report.repaired.append(file)
        except ValueError:
            file.unlink()
            report.removed.append(file)
    state = BagState()
    for file in (f for f in files if f.exists()):
        _add_file_stats(state, file)
    write_metadata(path, state)
    report.message_count = sum(f.count for f in state.files)
    return report


def _add_file_stats(state: BagState, file: Path) -> None:
    """Append `file`'s topics (new ones) and per-file statistics, read from its MCAP summary, to `state`."""
    reader = McapReader(file)
    try:
        reader.open()
    except Exception as err:  # noqa: BLE001 - rosbags ReaderError and struct errors
        raise BagError(f"{file}: unreadable after repair: {err}") from None
    try:
        topics = {t.topic: t for t in state.topics}
        for conn in reader.connections:
            if conn.topic not in topics:
                meta = _channel_metadata(reader.channels[conn.id].metadata)
                topics[conn.topic] = TopicStats(conn.topic, conn.msgtype, parse_qos(meta.get("offered_qos_profiles",
                                                                                            "")),
                                                meta.get("topic_type_hash", ""))
                state.topics.append(topics[conn.topic])
            topics[conn.topic].count += conn.msgcount
        n, start = reader.metadata.message_count, reader.metadata.start_time
        state.files.append(FileStats(file.name, start, reader.metadata.end_time - 1, n) if n else FileStats(file.name))
    finally:
        reader.close()


def _channel_metadata(raw: bytes) -> dict[str, str]:
    """Decode an MCAP channel's metadata map body (pairs of u32-length-prefixed strings, no outer length)."""
    return read_str_map(struct.pack("<I", len(raw)) + raw, 0)
