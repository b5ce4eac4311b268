"""One MCAP file (ros2 profile) written chunk by chunk, flushable at any moment, and repairable after a crash.

Layout written (MCAP spec, https://mcap.dev/spec): magic, Header, then in the data section the Schema and
Channel records at top level, each Chunk (the messages of about one flush period) followed by its MessageIndex
records; on `close`: a Metadata record (`rosbag2`/`serialized_metadata`, as rosbag2 writes), DataEnd, the summary
(schemas, channels, chunk indexes, statistics, metadata index, summary offsets), Footer, magic.

Crash safety: a chunk is written in one `write` call and flushed to the OS, so a process killed with SIGKILL leaves
a file whose complete chunks are intact and whose tail is at most one partial chunk. `McapFile.reopen` scans such a
file, drops the partial tail, rebuilds the missing message indexes and returns a writer whose `close` adds the
summary and footer. Chunks carry a CRC-32 of their content, so a torn chunk is detected and dropped.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

try:
    from compression import zstd  # type: ignore[import-not-found]  # Python >= 3.14
except ImportError:
    from backports import zstd  # type: ignore[import-not-found,no-redef]  # installed with rosbags

MAGIC = b"\x89MCAP0\r\n"
LIBRARY = "robot_rl.data"
_OP_HEADER, _OP_FOOTER, _OP_SCHEMA, _OP_CHANNEL, _OP_MESSAGE, _OP_CHUNK = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06
_OP_MESSAGE_INDEX, _OP_CHUNK_INDEX, _OP_STATISTICS, _OP_METADATA = 0x07, 0x08, 0x0B, 0x0C
_OP_METADATA_INDEX, _OP_SUMMARY_OFFSET, _OP_DATA_END = 0x0D, 0x0E, 0x0F
_SUMMARY_OPS = {_OP_FOOTER, _OP_CHUNK_INDEX, _OP_STATISTICS, _OP_METADATA, _OP_METADATA_INDEX, _OP_SUMMARY_OFFSET,
                _OP_DATA_END}
_FOOTER_LEN = 1 + 8 + 20 + len(MAGIC)


def _str(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<I", len(raw)) + raw


def _str_map(items: dict[str, str]) -> bytes:
    body = b"".join(_str(k) + _str(v) for k, v in items.items())
    return struct.pack("<I", len(body)) + body


def _record(op: int, body: bytes) -> bytes:
    return struct.pack("<BQ", op, len(body)) + body


def _read_str(buf: bytes, pos: int) -> tuple[str, int]:
    (n,) = struct.unpack_from("<I", buf, pos)
    return buf[pos + 4 : pos + 4 + n].decode(), pos + 4 + n


def read_str_map(buf: bytes, pos: int) -> dict[str, str]:
    """The MCAP string map (u32 byte length, then u32-length-prefixed key/value strings) at `pos` of `buf`."""
    (n,) = struct.unpack_from("<I", buf, pos)
    end, pos, out = pos + 4 + n, pos + 4, {}
    while pos < end:
        key, pos = _read_str(buf, pos)
        out[key], pos = _read_str(buf, pos)
    return out


@dataclass
class Schema:
    """An MCAP schema: a ROS 2 message type and its `.msg` definition (dependencies appended, rosbag2 style)."""

    schema_id: int
    name: str
    data: str
    encoding: str = "ros2msg"


@dataclass
class Channel:
    """An MCAP channel: one topic of one type; `metadata` holds rosbag2's `offered_qos_profiles`/`topic_type_hash`."""

    channel_id: int
    schema_id: int
    topic: str
    metadata: dict[str, str] = field(default_factory=dict)
    encoding: str = "cdr"


@dataclass
class _Pending:
    bio: BytesIO = field(default_factory=BytesIO)
    msgs: dict[int, list[tuple[int, int]]] = field(default_factory=lambda: defaultdict(list))


class McapFile:
    """Writer of one MCAP file; messages go to an in-memory chunk until `flush` (or the chunk size) writes it.

    Args:
        path: the `.mcap` file to create (must not exist).
        compression: chunk compression, '' (none) or 'zstd'.
        chunk_size_bytes: a chunk is written once its uncompressed size reaches this (bytes).
        fsync: `flush` also fsyncs (survives power loss, not just a killed process).

    """

    def __init__(self, path: Path, compression: str = "", chunk_size_bytes: int = 1 << 20, fsync: bool = True) -> None:
        self._init_state(path, compression, chunk_size_bytes, fsync)
        self._bio: BinaryIO = self.path.open("xb")
        self._bio.write(MAGIC + _record(_OP_HEADER, _str("ros2") + _str(LIBRARY)))

    def _init_state(self, path: Path, compression: str, chunk_size_bytes: int, fsync: bool) -> None:
        if compression not in ("", "zstd"):
            raise ValueError(f"{path}: MCAP chunk compression must be '' or 'zstd', got {compression!r}")
        self.path, self.compression, self.fsync = Path(path), compression, fsync
        self.chunk_size_bytes = chunk_size_bytes
        self.schemas: dict[int, Schema] = {}
        self.channels: dict[int, Channel] = {}
        self.channel_counts: dict[int, int] = defaultdict(int)
        self.start_ns, self.end_ns = 2**63 - 1, 0
        self._chunk_indexes: list[bytes] = []
        self._pending = _Pending()
        self._seq = 0

    @property
    def message_count(self) -> int:
        """Messages in flushed chunks."""
        return sum(self.channel_counts.values())

    @property
    def size_bytes(self) -> int:
        """Bytes written to the file so far plus the pending chunk (uncompressed), bytes."""
        return self._bio.tell() + self._pending.bio.tell()

    def add_schema(self, schema: Schema) -> None:
        """Write a Schema record (flushes the pending chunk first so records stay in order)."""
        self._close_chunk()
        self.schemas[schema.schema_id] = schema
        self._bio.write(self._schema_record(schema))

    def add_channel(self, channel: Channel) -> None:
        """Write a Channel record; its schema must have been added."""
        if channel.schema_id not in self.schemas:
            raise ValueError(f"{self.path}: channel {channel.topic!r} names unknown schema {channel.schema_id}")
        self._close_chunk()
        self.channels[channel.channel_id] = channel
        self._bio.write(self._channel_record(channel))

    def write(self, channel_id: int, t_ns: int, data: bytes) -> None:
        """Append one message (log time = publish time = `t_ns`, ns since the epoch) to the pending chunk."""
        pending = self._pending
        pending.msgs[channel_id].append((t_ns, pending.bio.tell()))
        pending.bio.write(struct.pack("<BQHIQQ", _OP_MESSAGE, 22 + len(data), channel_id, self._seq, t_ns, t_ns))
        pending.bio.write(data)
        self._seq = (self._seq + 1) & 0xFFFFFFFF
        if pending.bio.tell() >= self.chunk_size_bytes:
            self._close_chunk()

    def flush(self) -> None:
        """Write the pending chunk and hand everything to the OS (and to the disk when `fsync`)."""
        self._close_chunk()
        self._bio.flush()
        if self.fsync:
            os.fsync(self._bio.fileno())

    def _close_chunk(self) -> None:
        pending = self._pending
        if not pending.msgs:
            return
        content = pending.bio.getvalue()
        records = zstd.compress(content) if self.compression else content
        times = [t for msgs in pending.msgs.values() for t, _ in msgs]
        header = struct.pack("<QQQI", min(times), max(times), len(content), zlib.crc32(content))
        chunk_start = self._bio.tell()
        self._bio.write(_record(_OP_CHUNK, header + _str(self.compression) + struct.pack("<Q", len(records)) + records))
        self._finish_chunk(chunk_start, self._bio.tell(), pending.msgs, len(records), len(content))
        self._pending = _Pending()

    def _finish_chunk(
        self, chunk_start: int, chunk_end: int, msgs: dict[int, list[tuple[int, int]]], csize: int, usize: int
    ) -> None:
        """Write the MessageIndex records of the chunk at [chunk_start, chunk_end) and remember its ChunkIndex."""
        offsets = {}
        for cid, entries in msgs.items():
            offsets[cid] = self._bio.tell()
            pairs = b"".join(struct.pack("<QQ", t, off) for t, off in entries)
            self._bio.write(_record(_OP_MESSAGE_INDEX, struct.pack("<HI", cid, len(pairs)) + pairs))
        self._remember_chunk((chunk_start, chunk_end, self._bio.tell()), msgs, offsets, csize, usize)

    def _remember_chunk(
        self, spans: tuple[int, int, int], msgs: dict[int, list[tuple[int, int]]], offsets: dict[int, int],
        csize: int, usize: int,
    ) -> None:
        """Count the chunk's messages and keep its ChunkIndex; `spans` = (chunk start, chunk end, indexes end)."""
        chunk_start, chunk_end, index_end = spans
        for cid, entries in msgs.items():
            self.channel_counts[cid] += len(entries)
        times = [t for entries in msgs.values() for t, _ in entries]
        start, end = min(times), max(times)
        self.start_ns, self.end_ns = min(self.start_ns, start), max(self.end_ns, end)
        index = b"".join(struct.pack("<HQ", cid, off) for cid, off in offsets.items())
        self._chunk_indexes.append(
            struct.pack("<QQQQI", start, end, chunk_start, chunk_end - chunk_start, len(index)) + index
            + struct.pack("<Q", index_end - chunk_end) + _str(self.compression) + struct.pack("<QQ", csize, usize)
        )

    def close(self, bag_metadata_yaml: str = "") -> None:
        """Write the last chunk, the summary and the footer, and close the file.

        Args:
            bag_metadata_yaml: rosbag2's bag metadata (the body of `metadata.yaml`), stored as MCAP metadata.

        """
        self._close_chunk()
        out = self._bio
        meta_start = out.tell()
        out.write(_record(_OP_METADATA, _str("rosbag2") + _str_map({"serialized_metadata": bag_metadata_yaml})))
        meta_end = out.tell()
        out.write(_record(_OP_DATA_END, struct.pack("<I", 0)))
        groups: list[tuple[int, int, int]] = []  # (opcode, start, length)
        for op, records in (
            (_OP_SCHEMA, [self._schema_record(s) for s in self.schemas.values()]),
            (_OP_CHANNEL, [self._channel_record(c) for c in self.channels.values()]),
            (_OP_CHUNK_INDEX, [_record(_OP_CHUNK_INDEX, body) for body in self._chunk_indexes]),
            (_OP_METADATA_INDEX, [_record(_OP_METADATA_INDEX, struct.pack("<QQ", meta_start, meta_end - meta_start)
                                          + _str("rosbag2"))]),
            (_OP_STATISTICS, [_record(_OP_STATISTICS, self._statistics())]),
        ):
            if records:
                start = out.tell()
                out.write(b"".join(records))
                groups.append((op, start, out.tell() - start))
        summary_start = groups[0][1]
        offsets_start = out.tell()
        out.write(b"".join(_record(_OP_SUMMARY_OFFSET, struct.pack("<BQQ", *g)) for g in groups))
        out.write(_record(_OP_FOOTER, struct.pack("<QQI", summary_start, offsets_start, 0)) + MAGIC)
        self.flush()
        out.close()

    def abort(self) -> None:
        """Close the file as it is (no summary): what a crash would leave, repairable with `reopen`."""
        self._bio.close()

    def _schema_record(self, schema: Schema) -> bytes:
        data = schema.data.encode()
        body = struct.pack("<H", schema.schema_id) + _str(schema.name) + _str(schema.encoding)
        return _record(_OP_SCHEMA, body + struct.pack("<I", len(data)) + data)

    def _channel_record(self, channel: Channel) -> bytes:
        body = struct.pack("<HH", channel.channel_id, channel.schema_id) + _str(channel.topic) + _str(channel.encoding)
        return _record(_OP_CHANNEL, body + _str_map(channel.metadata))

    def _statistics(self) -> bytes:
        count = self.message_count
        start, end = (self.start_ns, self.end_ns) if count else (0, 0)
        per_channel = b"".join(struct.pack("<HQ", cid, n) for cid, n in sorted(self.channel_counts.items()))
        head = struct.pack("<QHIIII", count, len(self.schemas), len(self.channels), 0, 1, len(self._chunk_indexes))
        return head + struct.pack("<QQI", start, end, len(per_channel)) + per_channel

    @classmethod
    def reopen(cls, path: Path) -> McapFile:
        """Open an unfinished MCAP file (its writer was killed) for `close`: keep every complete chunk, drop the rest.

        Raises:
            ValueError: the file does not start with the MCAP magic and a Header record.

        """
        self = cls.__new__(cls)
        self._init_state(path, "", 1 << 20, True)
        self._bio = Path(path).open("r+b")  # noqa: SIM115 - stays open until close()
        buf = self._bio.read()
        if not buf.startswith(MAGIC) or len(buf) < 17 or buf[8] != _OP_HEADER:
            self._bio.close()
            raise ValueError(f"{path}: not an MCAP file (bad magic or header)")
        _Scan(self, buf).run()
        return self


class _Scan:
    """Replays the data section of an unfinished file into a `McapFile` and truncates the torn tail."""

    def __init__(self, mcap: McapFile, buf: bytes) -> None:
        self.mcap, self.buf = mcap, buf
        self.good_end = 8 + 9 + struct.unpack_from("<Q", buf, 9)[0]
        self.chunk: tuple[int, int, dict[int, list[tuple[int, int]]], int, int] | None = None
        self.index_offsets: dict[int, int] = {}

    def run(self) -> None:
        buf, pos = self.buf, self.good_end
        while pos + 9 <= len(buf):
            op, length = struct.unpack_from("<BQ", buf, pos)
            end = pos + 9 + length
            if end > len(buf) or op in _SUMMARY_OPS or not self._replay(op, pos + 9, end):
                break
            pos = end
        self._finish_open_chunk()
        self.mcap._bio.seek(self.good_end)
        self.mcap._bio.truncate()

    def _replay(self, op: int, body: int, end: int) -> bool:
        """Apply one complete record; returns False where the data section ends (a torn chunk)."""
        buf, mcap = self.buf, self.mcap
        if op == _OP_MESSAGE_INDEX and self.chunk is not None:
            self.index_offsets[struct.unpack_from("<H", buf, body)[0]] = body - 9
            chunk_start, chunk_end, msgs, csize, usize = self.chunk
            if set(self.index_offsets) >= set(msgs):  # all indexes of the chunk are there: adopt them
                mcap._remember_chunk((chunk_start, chunk_end, end), msgs, self.index_offsets, csize, usize)
                self.chunk, self.good_end = None, end
            return True
        if self.chunk is not None:  # a chunk whose indexes never came: our writer leaves this only at the tail
            return False
        if op == _OP_SCHEMA:
            (sid,) = struct.unpack_from("<H", buf, body)
            name, pos = _read_str(buf, body + 2)
            encoding, pos = _read_str(buf, pos)
            data, _ = _read_str(buf, pos)
            mcap.schemas[sid] = Schema(sid, name, data, encoding)
        elif op == _OP_CHANNEL:
            cid, sid = struct.unpack_from("<HH", buf, body)
            topic, pos = _read_str(buf, body + 4)
            encoding, pos = _read_str(buf, pos)
            mcap.channels[cid] = Channel(cid, sid, topic, read_str_map(buf, pos), encoding)
        elif op == _OP_CHUNK:
            return self._open_chunk(body, end)
        self.good_end = end
        return True

    def _open_chunk(self, body: int, end: int) -> bool:
        _, _, usize, crc = struct.unpack_from("<QQQI", self.buf, body)
        compression, pos = _read_str(self.buf, body + 28)
        (csize,) = struct.unpack_from("<Q", self.buf, pos)
        records = self.buf[pos + 8 : pos + 8 + csize]
        try:
            content = zstd.decompress(records) if compression else records
        except Exception:  # noqa: BLE001 - any decompression failure means a torn chunk
            return False
        if len(content) != usize or (crc and zlib.crc32(content) != crc):
            return False
        msgs: dict[int, list[tuple[int, int]]] = defaultdict(list)
        at = 0
        while at + 9 <= len(content):
            op, length = struct.unpack_from("<BQ", content, at)
            if op == _OP_MESSAGE:
                cid, _, t_ns = struct.unpack_from("<HIQ", content, at + 9)
                msgs[cid].append((t_ns, at))
            at += 9 + length
        if not msgs:
            return False
        self.mcap.compression = compression
        self.chunk, self.index_offsets = (body - 9, end, msgs, csize, usize), {}
        self.good_end = end
        return True

    def _finish_open_chunk(self) -> None:
        """A chunk whose message indexes are missing or torn: write them anew right after the chunk."""
        if self.chunk is None:
            return
        chunk_start, chunk_end, msgs, csize, usize = self.chunk
        self.chunk = None
        self.mcap._bio.seek(chunk_end)
        self.mcap._bio.truncate()
        self.mcap._finish_chunk(chunk_start, chunk_end, msgs, csize, usize)
        self.good_end = self.mcap._bio.tell()


def is_finalized(path: Path) -> bool:
    """Whether an MCAP file ends with a Footer record and the magic (its writer closed it)."""
    with Path(path).open("rb") as bio:
        size = bio.seek(0, os.SEEK_END)
        if size < 8 + _FOOTER_LEN:
            return False
        bio.seek(size - _FOOTER_LEN)
        tail = bio.read()
    return tail.endswith(MAGIC) and tail[0] == _OP_FOOTER
