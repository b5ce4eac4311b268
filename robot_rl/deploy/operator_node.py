"""The operator node: a person's device (gamepad, keyboard, SpaceMouse) or a simulated operator, on the operator topics.

    python -m robot_rl.deploy.nodes.operator --params launch/arm.yaml     (or `robot-rl launch ... --operator KIND`)

`kind` picks what publishes: `joy`, `keyboard`, `spacemouse` run the device reader of `robot_rl.teleop.devices`
(`deploy.teleop_node`); `sim-expert` runs a `robot_rl.teleop.sim_operator.SimulatedOperator` here, on the same topics
a person's input takes (the same code path in the controller): for every state of the simulated robot it publishes
its command in robot units on `command_topic` while it intervenes, then a Joy on `joy_topic` whose enable button is
its deadman, stamped with the state's stamp (so a controller with `takeover.sync` pairs them deterministically).

It judges the policy as RLIF's operator does, one tick late: the controller's `/robot_rl/tick` record of the
previous state gives the policy's proposal there. It reports its own count of interventions (presses of its
deadman; two interventions of its rule with no tick between are one press) on `/robot_rl/operator/status` at each
press and in `summary_file`, so the log can be checked against it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from robot_rl.data.ticks import TICK_STATUS, TickRecord, parse_tick
from robot_rl.deploy.adapters import Rejected, adapter_for, goal_from_pose
from robot_rl.deploy.diagnostics import status_array
from robot_rl.deploy.msgs import DiagnosticArray, DiagnosticStatus, Joy, Pose, message_type, ns_from_stamp
from robot_rl.deploy.msgs import stamp_from_ns as to_stamp
from robot_rl.deploy.nodes.common import OPERATOR_KINDS, ParameterError, checked_config
from robot_rl.deploy.transport import COMMAND_QOS, LATCHED_QOS, SENSOR_QOS, Transport
from robot_rl.robots import load_robot
from robot_rl.spaces.observe import observe_quantities
from robot_rl.teleop.joy_map import load_joy_map
from robot_rl.teleop.sim_operator import SimOperatorConfig, SimulatedOperator

STATUS_TOPIC = "/robot_rl/operator/status"


@dataclass(frozen=True)
class OperatorNodeConfig:
    """The operator node's parameters (the `operator` section of launch/<robot>.yaml)."""

    robot: str
    kind: str = "none"
    """none | joy | keyboard | spacemouse | sim-expert."""
    env_id: str = ""
    """sim-expert: the task whose reference controller acts (robot_rl/ArmReach-v0, ...)."""
    operator_id: str = ""
    """Who the operator is, sent as the Joy's frame_id ('' = '<kind>' plus the rule and quality for sim-expert)."""
    joy_topic: str = "/robot_rl/operator/joy"
    command_topic: str = "/robot_rl/operator/command"
    goal_topic: str = "/goal"
    joy_map: str = ""
    """Joy mapping YAML ('' = sim/<robot>/teleop.yaml): its enable button is the deadman the node presses."""
    seed: int = 0
    """sim-expert: seed of the expert's noise and bias and of the rule's draws."""
    sim_expert: dict = field(default_factory=dict)
    """sim-expert: `SimOperatorConfig` (quality, rule, alpha, p_high, p_low, k_steps, ...)."""
    device: dict = field(default_factory=dict)
    """joy | keyboard | spacemouse: the device reader's parameters (`deploy.teleop_node`)."""
    tick_timeout_s: float = 0.25
    """sim-expert: wall time to wait for the controller's record of the previous tick before judging without it."""
    summary_file: str = ""
    """Write the operator's own counts as JSON here at exit ('' = don't)."""
    use_sim_time: bool = True

    @classmethod
    def from_parameters(cls, params: Mapping[str, Any]) -> OperatorNodeConfig:
        """Checked config; unknown keys, wrong types and an unknown kind are a ParameterError naming the key."""
        config = checked_config(cls, params, "operator", ("robot",))
        if config.kind not in OPERATOR_KINDS:
            raise ParameterError(f"operator: parameter 'kind' = {config.kind!r} should be one of {OPERATOR_KINDS}")
        if config.kind == "sim-expert" and not config.env_id:
            raise ParameterError("operator: kind 'sim-expert' needs parameter 'env_id'")
        return config


class SimExpertNode:
    """A simulated operator answering every state of the robot on the operator topics."""

    def __init__(self, transport: Transport, config: OperatorNodeConfig) -> None:
        self.transport, self.config = transport, config
        self.spec = load_robot(config.robot)
        self.adapter = adapter_for(self.spec)
        try:
            sim_config = SimOperatorConfig.from_mapping(config.sim_expert, "operator.sim_expert")
        except ValueError as e:
            raise ParameterError(str(e)) from None
        self.operator = SimulatedOperator(config.env_id, self.spec, sim_config, config.seed)
        self.joy_map = load_joy_map(self.spec, config.joy_map or None)
        self.operator_id = config.operator_id or f"sim-expert:{sim_config.rule}:{sim_config.quality}"
        self.inputs: dict[str, tuple[int, dict[str, np.ndarray]]] = {}
        self.goal: np.ndarray | None = None
        self.new_episode = False
        self.records: dict[int, TickRecord] = {}
        self.answered_stamp = -1
        self.previous: tuple[int, np.ndarray] | None = None
        """(state stamp, observation) of the last state answered, for judging the policy's proposal there."""
        self.last_applied: np.ndarray | None = None
        self.pressed, self.presses = False, 0
        """The deadman as last published, and its presses: back-to-back interventions of the rule (no tick
        between) are one press, one takeover for the controller, and count once."""
        t = transport
        for key, (topic, type_name) in self.adapter.state_topics.items():
            t.create_subscription(topic, message_type(type_name), lambda m, k=key: self.on_state(k, m), SENSOR_QOS)
        t.create_subscription(config.goal_topic, Pose, self.on_goal, LATCHED_QOS)
        t.create_subscription("/robot_rl/tick", DiagnosticArray, self.on_tick, COMMAND_QOS)
        self.pub_joy = t.create_publisher(config.joy_topic, Joy, COMMAND_QOS)
        self.pub_command = t.create_publisher(config.command_topic, message_type(self.adapter.command_type),
                                              COMMAND_QOS)
        self.pub_status = t.create_publisher(STATUS_TOPIC, DiagnosticArray, COMMAND_QOS)

    def on_state(self, key: str, msg: Any) -> None:  # noqa: ANN401 - the topic's message type
        """Keep the latest decoded state per topic (a malformed one is skipped: the controller rejects it too)."""
        try:
            self.inputs[key] = self.adapter.decode(key, msg)
        except Rejected:
            return

    def on_goal(self, msg: Pose) -> None:
        """A new goal: a new episode (the operator resets; any intervention ends)."""
        goal = goal_from_pose(msg, self.adapter.goal_size, self.config.goal_topic)
        if self.goal is None or not np.array_equal(goal, self.goal):
            self.goal, self.new_episode = goal, True

    def on_tick(self, msg: Any) -> None:  # noqa: ANN401 - DiagnosticArray
        """Keep the controller's tick records by the newest state stamp they acted on."""
        for status in msg.status:
            if status.name == TICK_STATUS:
                record = parse_tick({kv.key: kv.value for kv in status.values}, ns_from_stamp(msg.header.stamp))
                self.records[max(record.state_stamps_ns.values())] = record

    def pending(self) -> int | None:
        """The stamp of a complete, unanswered state (every state topic at the same stamp), else None."""
        if len(self.inputs) < len(self.adapter.state_topics) or self.goal is None:
            return None
        stamps = {stamp for stamp, _ in self.inputs.values()}
        stamp = max(stamps)
        return stamp if len(stamps) == 1 and stamp > self.answered_stamp else None

    def judged(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(observation, the policy's proposal) at the previous state, when the policy commanded there.

        The controller's tick record of that state says who commanded and gives the applied command.
        """
        if self.previous is None:
            return None
        record = self.records.pop(self.previous[0], None)
        self.records = {s: r for s, r in self.records.items() if s > self.previous[0]}
        if record is None:
            return None
        self.last_applied = record.applied
        return (self.previous[1], record.proposed) if record.source == "policy" else None

    def answer(self, stamp: int) -> None:
        """Decide for the state at `stamp` and publish: the command (when intervening), then the Joy."""
        q = {k: v for _, values in self.inputs.values() for k, v in values.items()}
        judged = self.judged()
        if self.new_episode or self.last_applied is None:
            self.operator.reset()
            self.new_episode, judged = False, None
            self.last_applied = self.adapter.hold_command(q)
        obs = observe_quantities(self.spec, q, self.goal, self.last_applied)[0]
        decision = self.operator.step(obs, judged)
        if decision.intervene:
            self.pub_command.publish(self.adapter.encode_command(decision.command))
        if decision.intervene and not self.pressed:  # a new press of the deadman: one intervention
            self.presses += 1
            self.pub_status.publish(status_array(
                "robot_rl/operator", DiagnosticStatus.OK, "onset",
                {"operator_id": self.operator_id, "interventions": self.presses, "reason": decision.reason}, stamp))
        self.pressed = decision.intervene
        buttons = [0] * self.joy_map.min_buttons
        buttons[self.joy_map.enable_button] = int(decision.intervene)
        joy = Joy(axes=[0.0] * self.joy_map.min_axes, buttons=buttons)
        joy.header.stamp, joy.header.frame_id = to_stamp(stamp), self.operator_id
        self.pub_joy.publish(joy)
        self.answered_stamp, self.previous = stamp, (stamp, obs)

    def wait_for_record(self, stop: threading.Event) -> None:
        """Spin until the controller's record of the previous answered state is in (or `tick_timeout_s` passes)."""
        deadline = time.monotonic() + self.config.tick_timeout_s
        while (self.previous is not None and self.previous[0] not in self.records and not stop.is_set()
               and time.monotonic() < deadline):
            self.transport.spin_once(0.002)

    def summary(self) -> dict[str, Any]:
        """The operator's own counts."""
        o = self.operator
        return {"operator_id": self.operator_id, "interventions": self.presses, "rule_onsets": o.interventions,
                "steps": o.steps, "operator_steps": o.operator_steps}


def run_sim_expert(transport: Transport, config: OperatorNodeConfig, stop: threading.Event) -> int:
    """The simulated operator's loop: answer every new state until `stop` is set."""
    node = SimExpertNode(transport, config)
    print(f"operator: {node.operator_id} on {config.env_id} ({transport.name}); Joy on {config.joy_topic}, "
          f"commands on {config.command_topic}", flush=True)
    while not stop.is_set():
        transport.spin_once(0.01)
        stamp = node.pending()
        if stamp is None:
            continue
        node.wait_for_record(stop)
        node.answer(stamp)
    summary = node.summary()
    print(f"operator: stopped: {summary['interventions']} interventions, {summary['operator_steps']} of "
          f"{summary['steps']} steps", flush=True)
    if config.summary_file:
        Path(config.summary_file).write_text(json.dumps(summary, indent=2))
    return 0


def run_operator(transport: Transport, params: Mapping[str, Any], stop: threading.Event) -> int:
    """The operator node's body: dispatch on `kind`."""
    config = OperatorNodeConfig.from_parameters(params)
    if config.kind == "none":
        print("operator: kind 'none': nothing to run", flush=True)
        stop.wait()
        return 0
    if config.kind == "sim-expert":
        return run_sim_expert(transport, config, stop)
    from robot_rl.deploy.teleop_node import run_teleop

    device = {"kind": config.kind, "topic": config.joy_topic, **config.device}
    if config.operator_id:
        device.setdefault("operator_id", config.operator_id)
    return run_teleop(transport, device, stop)
