"""The operator device node: a gamepad, keyboard or SpaceMouse published as `sensor_msgs/Joy` for the controller.

    robot-rl teleop joy|keyboard|spacemouse [--device D] [--network system]        (standalone)
    the `operator` node of `robot-rl launch ... --operator joy|keyboard`             (robot_rl.deploy.nodes.operator)

Publishes on `topic` (default /robot_rl/operator/joy) with COMMAND_QOS: every button change at once, axis changes
after `coalesce_interval_ms`, and the last state again at `rate_hz` without changes (joy's autorepeat; 0 = only on
change). `header.stamp` is the transport's time at publishing; `header.frame_id` is the operator's identity
(`operator_id`, default `<kind>:<device>`). When the input ends (the device is unplugged, the keyboard's quit key,
the end of a recording) or the node is stopped, one last Joy with every button released and every axis at rest
goes out, so the controller's deadman drops at once instead of waiting for its staleness timeout.
Exit codes: 0 stopped, quit or end of stream; 1 device lost mid-run; 3 the device could not be opened.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from robot_rl.deploy.msgs import Header, Joy, stamp_from_ns
from robot_rl.deploy.nodes.common import ParameterError, checked_config
from robot_rl.deploy.transport import COMMAND_QOS, Publisher, Transport
from robot_rl.teleop.devices import SOURCES, DeviceEnded, DeviceError, DeviceOptions, JoyEmitter, JoyFrame, JoySource

MAX_WAIT_S = 0.05
"""Longest wait for device input between checks of the stop event, s."""


@dataclass(frozen=True)
class TeleopConfig:
    """The device node's parameters."""

    kind: str = "joy"
    """Device kind: 'joy' (evdev gamepad or recording), 'keyboard' (this terminal) or 'spacemouse'."""
    device: str = ""
    """joy: /dev/input/eventN or a recording file ('' = first gamepad); keyboard: a tty ('' = this terminal);
    spacemouse: a model name or /dev/hidrawN ('' = first found)."""
    topic: str = "/robot_rl/operator/joy"
    """sensor_msgs/Joy output topic."""
    rate_hz: float = 50.0
    """Republish the last state at this rate (joy's autorepeat_rate); 0 = only on change."""
    coalesce_interval_ms: float = 1.0
    """Publish an axis-only change this long after it (joy's coalesce_interval_ms); 0 = at once."""
    deadzone: float = 0.05
    """Axis deadzone, fraction of the normalized range, 0 <= deadzone < 1 (joy's deadzone)."""
    operator_id: str = ""
    """header.frame_id of every Joy: who operates ('' = '<kind>:<device>')."""
    layout: str = ""
    """Named layout for a recorded event stream ('xbox360'); '' for a live device."""
    hold_s: float = 0.3
    """Keyboard: a key holds its axis this long after its last byte (terminals send no key-up), s."""
    duration_s: float = 0.0
    """Stop after this many seconds (smoke runs); 0 = until stopped or the input ends."""

    def __post_init__(self) -> None:
        if self.kind not in SOURCES:
            raise ParameterError(f"teleop: parameter 'kind' = {self.kind!r}: choose one of {sorted(SOURCES)}")
        for name in ("rate_hz", "coalesce_interval_ms", "duration_s"):
            if not getattr(self, name) >= 0:
                raise ParameterError(f"teleop: parameter '{name}' = {getattr(self, name)} must be >= 0")
        if not 0 <= self.deadzone < 1:
            raise ParameterError(f"teleop: parameter 'deadzone' = {self.deadzone} must be in [0, 1)")
        if not self.hold_s > 0:
            raise ParameterError(f"teleop: parameter 'hold_s' = {self.hold_s} must be > 0")

    @classmethod
    def from_parameters(cls, params: Mapping[str, Any]) -> TeleopConfig:
        """Checked config; unknown keys and wrong types are a ParameterError naming the key."""
        return checked_config(cls, params, "teleop", ())


def joy_message(frame: JoyFrame, stamp_ns: int, frame_id: str) -> Joy:
    """The sensor_msgs/Joy of `frame`, stamped `stamp_ns` (transport time) with `frame_id` = operator identity."""
    return Joy(header=Header(stamp=stamp_from_ns(stamp_ns), frame_id=frame_id), axes=list(frame.axes),
               buttons=list(frame.buttons))


def pump(source: JoySource, emitter: JoyEmitter, send: Callable[[JoyFrame], None], stop: threading.Event,
         clock: Callable[[], int], end_ns: float = float("inf")) -> None:
    """Poll `source` and `send` each state `emitter` makes due, until `stop` is set or `clock()` reaches `end_ns`.

    The state found at the start goes out first. When the input ends, a change still coalescing goes out before
    `DeviceEnded` is re-raised.
    """
    emitter.update(source.current(), clock())
    try:
        while not stop.is_set() and clock() < end_ns:
            if (frame := emitter.due(clock())) is not None:
                send(frame)
            wait_s = min(emitter.wait_ns(clock()) / 1e9, (end_ns - clock()) / 1e9, MAX_WAIT_S)
            for frame in source.poll(wait_s):
                emitter.update(frame, clock())
                if (due := emitter.due(clock())) is not None:
                    send(due)
    except DeviceEnded:
        if (last := emitter.flush(clock())) is not None:
            send(last)
        raise


def run_teleop(transport: Transport, params: Mapping[str, Any], stop: threading.Event, *,
               source: JoySource | None = None, clock: Callable[[], int] = time.monotonic_ns) -> int:
    """The device node's body: open the device, publish Joy until `stop`, the duration or the input's end.

    Args:
        transport: the node's transport.
        params: the node's parameters (see `TeleopConfig`).
        stop: set to stop (SIGINT/SIGTERM under `node_main`).
        source: an already open Joy source (tests, recordings) instead of opening `kind`/`device`; closed here.
        clock: monotonic clock for the publishing schedule, ns.

    Returns:
        0 stopped, quit or end of stream; 1 the device was lost mid-run; 3 the device could not be opened.

    """
    try:
        config = TeleopConfig.from_parameters(params)
    except ParameterError:
        if source is not None:
            source.close()
        raise
    if source is None:
        try:
            source = SOURCES[config.kind](config.device, DeviceOptions(config.deadzone, config.layout, config.hold_s))
        except DeviceError as e:
            print(f"teleop: {e}", flush=True)
            return 3
    try:
        return _publish_until_end(transport, config, stop, source, clock)
    finally:
        source.close()  # also after an exception: a keyboard's terminal gets its mode back


def _publish_until_end(transport: Transport, config: TeleopConfig, stop: threading.Event, source: JoySource,
                       clock: Callable[[], int]) -> int:
    identity = config.operator_id or f"{config.kind}:{source.identity}"
    publisher: Publisher = transport.create_publisher(config.topic, Joy, COMMAND_QOS)
    emitter = JoyEmitter(config.rate_hz, config.coalesce_interval_ms / 1e3)

    def send(frame: JoyFrame) -> None:
        publisher.publish(joy_message(frame, transport.now_ns(), identity))

    print(f"teleop: {identity} -> {config.topic} (sensor_msgs/Joy) at {config.rate_hz:g} Hz on {transport.name}",
          flush=True)
    end_ns = clock() + config.duration_s * 1e9 if config.duration_s else float("inf")
    code, reason = 0, "stopped"
    try:
        pump(source, emitter, send, stop, clock, end_ns)
    except DeviceEnded as e:
        code, reason = (0 if e.clean else 1), str(e)
    finally:
        send(source.rest())
    print(f"teleop: {identity}: {reason}; published {emitter.published + 1} Joy messages (the last one released)",
          flush=True)
    return code


def run_standalone(params: Mapping[str, Any], middleware: str = "dds", node_name: str = "robot_rl_teleop") -> int:
    """`robot-rl teleop`: open the transport, run `run_teleop` until Ctrl-C/SIGTERM or the input ends, shut down.

    The caller confines the network first (as `node_main` does for launched nodes). Exit codes as `run_teleop`.
    """
    from robot_rl.deploy.transport import make_transport  # after the caller's network confinement

    TeleopConfig.from_parameters(params)  # a parameter error before any participant is created
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    transport = make_transport(middleware, node_name, params)
    try:
        return run_teleop(transport, params, stop)
    finally:
        transport.shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
