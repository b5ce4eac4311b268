"""The controller's operator side: Joy and robot-unit command subscriptions, deadman debouncing, marks, freshness.

Two input forms (both optional, see `TakeoverConfig`):
- `sensor_msgs/Joy` on `joy_topic`: the deadman (the Joy map's `enable_button`), success/failure marks, and axes
  mapped per robot into a command (`robot_rl.teleop.joy_map`);
- the robot's own command message on `command_topic`, in robot units (scripted and simulated operators, a leader
  arm, teleop_twist_joy's output): while fresh it is the operator's command instead of the Joy mapping.

Freshness and debouncing use the controller's clock at reception (a device's stamps may come from another clock);
the Joy's header stamp only pairs a simulated operator's answer with the state it answered (`answered`).
A Joy with too few axes or buttons is rejected and counted, never acted on. A non-finite operator command is kept
as NaN so that the safety filter's non-finite guard applies to it, as to a policy's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from robot_rl.deploy.adapters import Rejected
from robot_rl.deploy.arbitration import TakeoverConfig, debounce
from robot_rl.deploy.msgs import Joy, message_type, ns_from_stamp
from robot_rl.deploy.transport import COMMAND_QOS, Transport
from robot_rl.robots import RobotSpec
from robot_rl.teleop.joy_map import JoyMap, load_joy_map


@dataclass
class OperatorSample:
    """What the operator side offers one tick."""

    deadman: bool
    """Debounced deadman (True for a command-only operator when `require_deadman` is off and its command is fresh)."""
    fresh: bool
    """The operator's input, and the command to use, are younger than `max_age_s`."""
    command: np.ndarray | None
    """The operator's command `[n_cmd]` in robot units when one is present, else None."""
    operator_id: str
    mark: str
    """'success' or 'failure' when a mark button was pressed since the last tick, else ''."""


class OperatorInput:
    """Subscribes to the operator topics and turns them into one `OperatorSample` per tick."""

    def __init__(self, transport: Transport, config: TakeoverConfig, spec: RobotSpec, adapter: object,
                 reject: Callable[[str, Rejected], None]) -> None:
        self.transport, self.config, self.adapter, self.reject = transport, config, adapter, reject
        self.joy_map: JoyMap = load_joy_map(spec, config.joy_map or None)
        self.joy: Joy | None = None
        self.joy_received_ns = -1
        self.joy_stamp_ns = -1
        self.raw = np.zeros(1, bool)
        self.raw_since_ns = np.zeros(1, np.int64)
        self.deadman = np.zeros(1, bool)
        self.command: np.ndarray | None = None
        self.command_received_ns = -1
        self.commands = 0
        self.commands_used = 0
        self.marks: list[str] = []
        self.anchor = False
        """The deadman went down: the Joy map re-anchors (`JoyMap.reset`) before its next command."""
        self._buttons_down = {"success": False, "failure": False}
        if config.joy_topic:
            transport.create_subscription(config.joy_topic, Joy, self.on_joy, COMMAND_QOS)
        if config.command_topic:
            transport.create_subscription(config.command_topic, message_type(adapter.command_type), self.on_command,
                                          COMMAND_QOS)

    def on_joy(self, msg: Joy) -> None:
        """Check a Joy, track the raw deadman (and when it changed) and mark-button presses."""
        try:
            self.joy_map.check(np.asarray(msg.axes), np.asarray(msg.buttons), self.config.joy_topic)
        except ValueError as e:
            self.reject(self.config.joy_topic, Rejected("joy_size", str(e)))
            return
        now = self.transport.now_ns()
        raw = bool(msg.buttons[self.joy_map.enable_button])
        if raw != self.raw[0]:
            self.raw[0], self.raw_since_ns[0] = raw, now
            self.anchor |= raw
        for mark, button in (("success", self.joy_map.success_button), ("failure", self.joy_map.failure_button)):
            down = button >= 0 and bool(msg.buttons[button])
            if down and not self._buttons_down[mark]:
                self.marks.append(mark)
            self._buttons_down[mark] = down
        self.joy, self.joy_received_ns, self.joy_stamp_ns = msg, now, ns_from_stamp(msg.header.stamp)

    def on_command(self, msg: object) -> None:
        """Keep the latest operator command (robot units); NaN elements pass on to the filter's guard."""
        try:
            command = self.adapter.decode_command(msg)
        except Rejected as e:
            if e.reason != "nonfinite":
                self.reject(self.config.command_topic, e)
                return
            command = np.full(len(self.adapter.spec.command.names), np.nan)
        self.command, self.command_received_ns = command, self.transport.now_ns()
        self.commands += 1

    def answered(self, state_stamp_ns: int) -> bool:
        """Sync mode: the operator has answered the state stamped `state_stamp_ns`.

        Its Joy carries that stamp and, while its deadman is down, the command it sends just before the Joy has
        arrived too.
        """
        if self.joy is None or self.joy_stamp_ns < state_stamp_ns:
            return False
        return not (self.raw[0] and self.config.command_topic) or self.commands > self.commands_used

    def sample(self, now_ns: int, q: Mapping[str, np.ndarray], observe: Callable[[np.ndarray], np.ndarray],
               dt_s: float) -> OperatorSample:
        """The operator's state for the tick at `now_ns`: debounced deadman, freshness, command, identity, mark."""
        c, max_age = self.config, round(self.config.max_age_s * 1e9)
        self.deadman = debounce(self.deadman, self.raw, self.raw_since_ns, now_ns, round(c.debounce_s * 1e9))
        joy_fresh = self.joy is not None and now_ns - self.joy_received_ns <= max_age
        cmd_fresh = self.command is not None and now_ns - self.command_received_ns <= max_age
        self.commands_used = self.commands
        command = None  # present only while the operator holds its deadman (or needs none)
        if self.raw[0] or not c.require_deadman:
            if cmd_fresh:
                command = self.command
            elif joy_fresh:
                if self.anchor:  # e.g. the quadrotor's setpoint starts at the measured position
                    self.joy_map.reset(q)
                    self.anchor = False
                command = self.joy_map.command(np.asarray(self.joy.axes, np.float64),
                                               np.asarray(self.joy.buttons), q, observe, dt_s)
        deadman = bool(self.deadman[0]) if c.require_deadman else cmd_fresh
        fresh = (joy_fresh if c.require_deadman else cmd_fresh) and (command is not None or not deadman)
        operator_id = (self.joy.header.frame_id if self.joy is not None else "") or "operator"
        mark = self.marks.pop(0) if self.marks else ""
        return OperatorSample(deadman, fresh, command, operator_id, mark)
