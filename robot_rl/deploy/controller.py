"""The controller node: policy artifact + safety filter in a fixed-rate loop between state and command topics.

    python -m robot_rl.deploy.nodes.controller --params launch/arm.yaml          (or `robot-rl launch`)

Modes: idle (publishes nothing; the robot's own controller holds) -> active (policy -> filter -> command) ->
safe-stop (the filter's fallback: hold / hover-descend / stop), entered on the e-stop, on persistent rejection of
an input topic, and left only by an explicit reset. `enable` (or `auto_enable`) moves idle <-> active.
Topics besides the robot's own: the goal (geometry_msgs/Pose), `/robot_rl/{enable,estop,reset}` (std_msgs/Bool),
`/robot_rl/proposed_action` and `/robot_rl/applied_action` (Float64MultiArray), `/robot_rl/safety_events` and
`/diagnostics` (diagnostic_msgs/DiagnosticArray); the operator's `/robot_rl/operator/joy` (sensor_msgs/Joy) and
`/robot_rl/operator/command` (the robot's command type), arbitrated inside the tick (`deploy.arbitration`); and the
log records of `robot_rl.data.ticks`: `/robot_rl/tick` every published tick, `/robot_rl/intervention` at takeover
onsets and ends and operator marks, and `/robot_rl/policy` (transient local) once at start: the policy's provenance
never depends on a timer.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from robot_rl.data.ticks import INTERVENTION_TOPIC, POLICY_TOPIC, SOURCES, TICK_TOPIC, TickRecord
from robot_rl.deploy.adapters import Rejected, adapter_for, command_output, goal_from_pose
from robot_rl.deploy.adapters.joint_trajectory import TrajectoryTiming
from robot_rl.deploy.arbitration import END_REASONS, HOLD, OPERATOR, ArbiterState, TakeoverConfig, arbitrate
from robot_rl.deploy.diagnostics import (
    controller_status,
    events_message,
    intervention_message,
    policy_message,
    tick_message,
    vector_message,
)
from robot_rl.deploy.excitation_source import ExcitationSource
from robot_rl.deploy.gate_check import hardware_gate
from robot_rl.deploy.loop import RateLoop
from robot_rl.deploy.msgs import Bool, DiagnosticArray, Float64MultiArray, Pose, message_type
from robot_rl.deploy.nodes.common import checked_config
from robot_rl.deploy.operator_input import OperatorInput, OperatorSample
from robot_rl.deploy.policy_swap import OnlineConfig, SwapManager
from robot_rl.deploy.transport import COMMAND_QOS, LATCHED_QOS, LOG_QOS, SENSOR_QOS, Transport
from robot_rl.policy import OnnxPolicy, PolicyError
from robot_rl.robots import load_robot
from robot_rl.safety import SafetyFilter, estop_latch

IDLE, ACTIVE, SAFE_STOP = "idle", "active", "safe-stop"


@dataclass(frozen=True)
class ControllerConfig:
    """The controller's parameters (the `controller` section of launch/<robot>.yaml)."""

    robot: str
    """Robot name under sim/ (or a robot.yaml path): topics, limits, command type."""
    policy: str
    """Policy artifact folder (policy.onnx + card.yaml), verified against the robot before anything runs."""
    goal_topic: str = "/goal"
    """geometry_msgs/Pose: the task's goal (reach target, hover setpoint, goal point) in the robot's frame."""
    enable_topic: str = "/robot_rl/enable"
    estop_topic: str = "/robot_rl/estop"
    reset_topic: str = "/robot_rl/reset"
    auto_enable: bool = False
    """Go active as soon as inputs and a goal are there (simulation); on hardware, publish to enable_topic."""
    use_sim_time: bool = False
    """Run on /clock (a simulated robot); handled by the transport."""
    loop_mode: str = "state"
    """'state': tick on fresh state with a one-period deadline; 'timer': fixed schedule (see deploy.loop)."""
    watchdog_periods: float = 3.0
    """Inputs older than this many control periods are stale: their messages are rejected and the filter falls back."""
    reject_limit: int = 10
    """Consecutive malformed messages on one topic that put the controller in safe-stop. Stale messages are
    rejected and counted but do not count here: a scheduling stall delivers a burst of them, and the watchdog
    already falls back (without latching) until fresh state returns."""
    diagnostics_period_s: float = 1.0
    rate_hz: float = 0.0
    """0 = the card's control rate. Anything else is for timing tests only (the policy was trained at the card's
    rate); it is announced at start-up."""
    command_type: str = ""
    """Override robot.yaml's command message type (e.g. mavros_msgs/msg/AttitudeTarget); '' keeps it."""
    command_topic: str = ""
    """Override robot.yaml's command topic (e.g. /joint_trajectory_controller/joint_trajectory); '' keeps it."""
    require_gate: bool = False
    """Refuse a policy without an intact, passed release gate for this robot (`robot-rl launch --no-sim` sets it)."""
    gate_override: bool = False
    """Run such a policy anyway, warning loudly; recorded in the bag (`--override-gate`)."""
    safety: dict = field(default_factory=dict)
    """Per-deployment safety overrides (may only tighten robot.yaml's limits)."""
    takeover: dict = field(default_factory=dict)
    """Operator takeover (`deploy.arbitration.TakeoverConfig`): topics, Joy map, debounce, staleness, release."""
    trajectory: dict = field(default_factory=dict)
    """JointTrajectory commands (`adapters.joint_trajectory.TrajectoryTiming`): point period, delay, look-ahead."""
    online: dict = field(default_factory=dict)
    """Online learning (`deploy.policy_swap.OnlineConfig`): offered versions, checks, swaps, rollbacks."""
    excitation: str = ""
    """Excitation file (`robot-rl sysid excite`) whose targets replace the policy's proposals ('' = the policy)."""

    @classmethod
    def from_parameters(cls, params: Mapping[str, Any]) -> ControllerConfig:
        """Checked config; unknown keys and wrong types are a ParameterError naming the key."""
        return checked_config(cls, params, "controller", ("robot", "policy"))


class Controller:
    """The node's state and callbacks; `tick()` is one control step."""

    def __init__(self, transport: Transport, config: ControllerConfig) -> None:
        self.transport, self.config = transport, config
        self.spec = load_robot(config.robot)
        self.policy = OnnxPolicy.load(config.policy, self.spec)
        # an excitation drives the robot instead of the policy (robot-rl sysid excite): the policy's gate is moot
        self.gate = hardware_gate(config.policy, self.policy.card, config.require_gate and not config.excitation,
                                  config.gate_override)
        self.adapter = adapter_for(self.spec, config.command_type or None, config.command_topic or None)
        self.safety = SafetyFilter.for_robot(self.spec, config.safety)
        self.rate_hz = config.rate_hz or self.policy.card.control_rate_hz
        self.period_ns = round(1e9 / self.rate_hz)
        self.output = command_output(self.adapter, self.period_ns / 1e9,
                                     TrajectoryTiming.from_parameters(config.trajectory), self.safety.limits)
        """The output stage after the filter (JointTrajectory: the arm's jerk-limited generator)."""
        self.max_age_ns = int(config.watchdog_periods * self.period_ns)
        self.mode, self.enabled, self.estop_input, self.estop_latched = IDLE, config.auto_enable, False, False
        self.inputs: dict[str, tuple[int, dict[str, np.ndarray]]] = {}
        self.used_stamps: dict[str, int] = {}
        self.goal: np.ndarray | None = None
        self.last_action: np.ndarray | None = None
        self.rejections: Counter[str] = Counter()
        self.consecutive: Counter[str] = Counter()
        self.interventions: Counter[str] = Counter()
        self.ticks = 0
        self.published = 0
        """Ticks that published a command (the tick records' counter)."""
        self.episode = 0
        """Episode counter: every new goal starts one."""
        self.takeover = TakeoverConfig.from_parameters(config.takeover)
        self.arbiter = ArbiterState.initial()
        self.reenabled = False
        self.onsets = 0
        self.sync_wait_since: float | None = None
        self.sync_lost = False  # the synced operator missed `sync_timeout_s`: ticks do not wait until it answers
        self.events_pending = False
        """A goal, enable or reset arrived since the last tick (see `urgent`)."""
        self.answered = False
        """The last tick published a command (it was not idle)."""
        self.policy_folder = config.policy
        """The folder of the policy acting now (online learning swaps it)."""
        self.boundary = False
        """A new goal arrived: the next tick starts an episode (where a new policy version may take over)."""
        self._wire()
        online = checked_config(OnlineConfig, config.online, "controller.online", ())
        self.online = SwapManager(transport, online, config.policy, self.policy, self.spec) if online.enabled else None
        self.excitation = ExcitationSource(transport, config.excitation, self.spec) if config.excitation else None

    def _wire(self) -> None:
        t, c = self.transport, self.config
        for key, (topic, type_name) in self.adapter.state_topics.items():
            t.create_subscription(topic, message_type(type_name), lambda m, k=key: self.on_state(k, m), SENSOR_QOS)
        t.create_subscription(c.goal_topic, Pose, self.on_goal, LATCHED_QOS)
        t.create_subscription(c.enable_topic, Bool, self.on_enable, COMMAND_QOS)
        t.create_subscription(c.estop_topic, Bool, self.on_estop, LATCHED_QOS)
        t.create_subscription(c.reset_topic, Bool, self.on_reset, COMMAND_QOS)
        self.pub_command = t.create_publisher(self.adapter.command_topic, message_type(self.adapter.command_type),
                                              COMMAND_QOS)
        self.pub_proposed = t.create_publisher("/robot_rl/proposed_action", Float64MultiArray, COMMAND_QOS)
        self.pub_applied = t.create_publisher("/robot_rl/applied_action", Float64MultiArray, COMMAND_QOS)
        self.pub_events = t.create_publisher("/robot_rl/safety_events", DiagnosticArray, COMMAND_QOS)
        self.pub_diag = t.create_publisher("/diagnostics", DiagnosticArray, COMMAND_QOS)
        self.pub_tick = t.create_publisher(TICK_TOPIC, DiagnosticArray, LOG_QOS)
        self.pub_intervention = t.create_publisher(INTERVENTION_TOPIC, DiagnosticArray, LOG_QOS)
        self.operator = OperatorInput(t, self.takeover, self.spec, self.adapter, self._reject_operator) \
            if self.takeover.enabled else None
        self.pub_policy = t.create_publisher(POLICY_TOPIC, DiagnosticArray, LATCHED_QOS)
        self.pub_policy.publish(policy_message(self.config.policy, self.policy, self.spec.name, t.now_ns(),
                                               self.gate))

    def _reject(self, topic: str, error: Rejected) -> None:
        if self.rejections[error.reason] == 0:
            print(f"controller: rejected {topic}: {error} (further '{error.reason}' rejections are counted)",
                  flush=True)
        self.rejections[error.reason] += 1
        if error.reason == "stale":  # late, not malformed: the watchdog falls back until fresh state returns
            return
        self.consecutive[topic] += 1
        if self.consecutive[topic] >= self.config.reject_limit and self.mode != SAFE_STOP:
            print(f"controller: {self.consecutive[topic]} consecutive rejections on {topic}: safe-stop", flush=True)
            self.mode = SAFE_STOP

    def _reject_operator(self, topic: str, error: Rejected) -> None:
        """An operator message failed a check: counted, never acted on, and never a reason for safe-stop."""
        if self.rejections[error.reason] == 0:
            print(f"controller: rejected {topic}: {error} (further '{error.reason}' rejections are counted)",
                  flush=True)
        self.rejections[error.reason] += 1

    def on_state(self, key: str, msg: Any) -> None:  # noqa: ANN401 - the topic's message type
        """Decode and check one state message; keep it, or count its rejection."""
        topic = self.adapter.state_topics[key][0]
        try:
            stamp, values = self.adapter.decode(key, msg)
            age = self.transport.now_ns() - stamp
            if age > self.max_age_ns:
                raise Rejected("stale", f"{topic}: stamp is {age / 1e6:.1f} ms old (limit {self.max_age_ns / 1e6} ms)")
        except Rejected as e:
            self._reject(topic, e)
            return
        self.consecutive[topic] = 0
        self.inputs[key] = (stamp, values)

    def on_goal(self, msg: Pose) -> None:
        """A new goal starts a new episode: the last action restarts from the hold command."""
        try:
            goal = goal_from_pose(msg, self.adapter.goal_size, self.config.goal_topic)
        except Rejected as e:
            self._reject(self.config.goal_topic, e)
            return
        if self.goal is None or not np.array_equal(goal, self.goal):
            self.goal, self.last_action, self.events_pending, self.boundary = goal, None, True, True
            self.episode += 1

    def on_enable(self, msg: Bool) -> None:
        """Enable (true) or disable (false) the policy."""
        self.events_pending |= self.enabled != bool(msg.data)
        self.reenabled |= bool(msg.data)
        self.enabled = bool(msg.data)

    def on_estop(self, msg: Bool) -> None:
        """E-stop input; true latches until an explicit reset."""
        self.estop_input = bool(msg.data)
        self.estop_latched = bool(estop_latch(self.estop_latched, self.estop_input, False))

    def on_reset(self, msg: Bool) -> None:
        """Clear the latched e-stop and safe-stop (only while the e-stop input is released)."""
        if msg.data and not self.estop_input:
            self.estop_latched = bool(estop_latch(self.estop_latched, self.estop_input, True))
            self.consecutive.clear()
            if self.mode == SAFE_STOP:
                self.mode, self.events_pending = IDLE, True
                print("controller: reset: safe-stop cleared, idle", flush=True)

    def fresh(self) -> bool:
        """Every state input has a newer stamp than at the previous tick.

        With `takeover.sync`, the simulated operator must also have answered that state, or `sync_timeout_s` of wall
        time has passed: a dead operator never stalls the controller. After such a timeout the ticks stop waiting
        until the operator answers again (a dead one does not slow every tick down by the timeout).
        """
        ready = len(self.inputs) == len(self.adapter.state_topics) and all(
            stamp > self.used_stamps.get(k, -1) for k, (stamp, _) in self.inputs.items())
        if not (ready and self.operator is not None and self.takeover.sync and self.mode == ACTIVE):
            return ready
        if self.operator.answered(max(stamp for stamp, _ in self.inputs.values())):
            self.sync_wait_since, self.sync_lost = None, False
            return True
        if self.sync_lost:
            return True
        now = time.monotonic()
        self.sync_wait_since = self.sync_wait_since or now
        if now - self.sync_wait_since < self.takeover.sync_timeout_s:
            return False
        print("controller: the synced operator did not answer within takeover.sync_timeout_s; going on without "
              "waiting until it answers again", flush=True)
        self.sync_wait_since, self.sync_lost = None, True
        return True

    def urgent(self) -> bool:
        """An event (goal, enable, reset) is waiting, and the state at hand has not been answered with a command.

        After an answered tick the next tick waits for fresh state as usual: a simulated robot publishes a new
        episode's goal just before its first state, and answering the old state would put every later command one
        step late.
        """
        return self.events_pending and not self.answered and len(self.inputs) == len(self.adapter.state_topics)

    def _update_mode(self) -> None:
        if self.estop_latched and self.mode != SAFE_STOP:
            print("controller: e-stop: safe-stop", flush=True)
            self.mode = SAFE_STOP
        elif self.mode == IDLE and self.enabled and self.goal is not None:
            self.mode, self.last_action = ACTIVE, None
        elif self.mode == ACTIVE and not self.enabled:
            self.mode = IDLE

    def tick(self) -> None:
        """One control step: inputs -> observation -> policy -> arbitration -> safety filter -> command (not idle)."""
        self.events_pending = False
        if self.online is not None:
            self._online_step()
        self._update_mode()
        if len(self.inputs) < len(self.adapter.state_topics):
            return  # nothing to act on yet: even the fallback needs the robot's state
        self.ticks += 1
        self.used_stamps = {k: stamp for k, (stamp, _) in self.inputs.items()}
        restart = not self.answered  # the last tick published nothing (start, idle): the output stage restarts
        self.answered = self.mode != IDLE
        now = self.transport.now_ns()
        if not self.answered:
            self._end_takeover(now, "disabled")
            return  # idle: the robot's own controller holds; nothing to compute or publish
        q = {k: v for _, values in self.inputs.values() for k, v in values.items()}
        self.output.sync(q, restart)
        if self.last_action is None:
            self.last_action = self.adapter.hold_command(q)
        goal = self.goal if self.goal is not None else np.full(self.adapter.goal_size, np.nan)
        obs = self.adapter.observation(q, goal, self.last_action)
        finite = bool(np.isfinite(obs).all())
        nan = np.full(len(self.last_action), np.nan)
        proposed = self._propose(obs) if finite and self.mode == ACTIVE else nan
        state = self.adapter.safety_state(q) | {
            "inputs_finite": np.array([finite]),
            "input_age_s": np.array([(now - min(self.used_stamps.values())) / 1e9]),
            "estop": np.array([self.mode == SAFE_STOP]), "last_applied": self.last_action[None]}
        source, sample, onset = self._arbitrate(now, q, goal)
        candidate = {OPERATOR: sample.command if sample else nan,
                     HOLD: self.safety.fallback(state)[0] if self.mode == ACTIVE else nan}.get(source, proposed)
        applied, events = self.safety.certify(state, candidate[None])
        active = self._publish(proposed, applied[0], events, now)
        self._record(now, q, goal, proposed, applied[0], source, sample, onset, active)
        self.last_action = applied[0]

    def _online_step(self) -> None:
        """Poll the swap manager; at an episode boundary, act with the version it hands over (logged and announced)."""
        self.online.poll()
        if not self.boundary:
            return
        self.boundary = False
        swapped = self.online.at_boundary(self.published, self.transport.spin_once)
        if swapped is not None:
            self.policy_folder, self.policy = swapped
            self.pub_policy.publish(policy_message(self.policy_folder, self.policy, self.spec.name,
                                                   self.transport.now_ns()))

    def _record(self, now: int, q: Mapping[str, np.ndarray], goal: np.ndarray, proposed: np.ndarray,
                applied: np.ndarray, source: int, sample: OperatorSample | None, onset: bool,
                events: list[str]) -> None:
        """Publish this tick's `TickRecord` on /robot_rl/tick (before `last_action` moves on)."""
        self.published += 1
        if self.online is not None:
            self.online.note_tick(SOURCES[source])
        present = sample is not None and sample.command is not None
        self.pub_tick.publish(tick_message(TickRecord(
            tick=self.published, stamp_ns=now, episode=self.episode, mode=self.mode, source=SOURCES[source],
            onset=onset, state_stamps_ns=dict(self.used_stamps), quantities=q, goal=goal,
            last_action=self.last_action, proposed=proposed, operator=sample.command if present else None,
            applied=applied, operator_id=sample.operator_id if present else "", mark=sample.mark if sample else "",
            policy_sha256=self.excitation.tag if self.excitation else self.policy.card.onnx.sha256,
            events=tuple(events))))

    def _propose(self, obs: np.ndarray) -> np.ndarray:
        """The policy's proposal for `obs` `[1, n_obs]`, or the excitation's next target in excitation mode."""
        return self.excitation.propose(obs) if self.excitation else self.policy.act(obs[0]).astype(np.float64)

    def _arbitrate(self, now: int, q: Mapping[str, np.ndarray], goal: np.ndarray
                   ) -> tuple[int, OperatorSample | None, bool]:
        """Who commands this tick: (source code, the operator's sample or None, takeover onset)."""
        if self.operator is None:
            return (HOLD if self.mode == SAFE_STOP else 0), None, False
        sample = self.operator.sample(now, q, lambda g: self.adapter.observation(q, g, self.last_action),
                                      1.0 / self.rate_hz)
        self.arbiter, source, onset, end = arbitrate(
            self.arbiter, np.array([sample.deadman]), np.array([sample.fresh]), np.array([self.mode == SAFE_STOP]),
            np.array([self.reenabled]), self.takeover.on_release == "hold")
        self.reenabled = False
        if end[0]:
            self._intervention_event("end", END_REASONS[end[0]], sample.operator_id, now)
        if onset[0]:
            self.onsets += 1
            self._intervention_event("onset", "deadman" if self.takeover.require_deadman else "command",
                                     sample.operator_id, now)
        if sample.mark:
            self._intervention_event("mark", sample.mark, sample.operator_id, now)
        return int(source[0]), sample, bool(onset[0])

    def _end_takeover(self, now: int, reason: str) -> None:
        """The controller went idle: an active takeover ends (a new one needs a new deadman press)."""
        if self.arbiter.active[0]:
            self.arbiter = ArbiterState(np.zeros(1, bool), np.zeros(1, bool), np.ones(1, bool))
            self._intervention_event("end", reason, "", now)

    def _intervention_event(self, kind: str, reason: str, operator_id: str, now: int) -> None:
        self.pub_intervention.publish(intervention_message(kind, reason, operator_id, self.episode, self.onsets, now))

    def _publish(self, proposed: np.ndarray, applied: np.ndarray, events: Mapping[str, np.ndarray],
                 now: int) -> list[str]:
        """Command first (least latency), then the proposed/applied vectors and safety events.

        Returns the names of the safety events that fired.
        """
        self.pub_command.publish(self.output.encode(applied, now))
        names = self.spec.command.names
        self.pub_proposed.publish(vector_message(proposed, names))
        self.pub_applied.publish(vector_message(applied, names))
        active = [name for name, flag in events.items() if flag[0]]
        self.interventions.update(active)
        if active:
            self.pub_events.publish(events_message(active, self.mode, now))
        return active

    def publish_diagnostics(self, loop: RateLoop) -> None:
        """`/diagnostics`: mode, loop timing, input ages, filter interventions, rejections."""
        now = self.transport.now_ns()
        ages = {self.adapter.state_topics[k][0]: (now - s) / 1e9 for k, (s, _) in self.inputs.items()}
        policy = {"policy": self.policy_folder, "policy_sha256": self.policy.card.onnx.sha256}
        self.pub_diag.publish(controller_status(self.mode, loop.stats.summary(), ages, self.interventions,
                                                self.rejections, now, policy))
        loop.stats.reset()


def run_controller(transport: Transport, params: Mapping[str, Any], stop: threading.Event) -> int:
    """The controller node's body: wire, then tick at the card's rate until `stop` is set."""
    config = ControllerConfig.from_parameters(params)
    try:
        node = Controller(transport, config)
    except PolicyError as e:
        print(f"controller: {e}", flush=True)
        return 3
    if node.online is not None:
        node.online.should_stop = stop.is_set
    loop = RateLoop(node.period_ns, transport.now_ns, transport.spin_once, config.loop_mode)
    start_mode = "auto-enabled" if config.auto_enable else "idle until enabled"
    print(f"controller: {node.spec.name} policy {config.policy} ({node.policy.card.env_id}) at "
          f"{node.rate_hz:g} Hz on {transport.name}; {start_mode}", flush=True)
    if config.rate_hz:
        print(f"controller: WARNING: rate_hz {config.rate_hz:g} overrides the card's "
              f"{node.policy.card.control_rate_hz:g} Hz (timing tests only)", flush=True)
    next_diag = time.monotonic() + config.diagnostics_period_s
    while not stop.is_set():
        loop.wait(node.fresh, stop.is_set, node.urgent)
        if stop.is_set():
            break
        start = time.perf_counter_ns()
        node.tick()
        loop.record_compute(start)
        if time.monotonic() >= next_diag:
            node.publish_diagnostics(loop)
            next_diag += config.diagnostics_period_s
    if node.online is not None:
        node.online.close()
    print(f"controller: stopped after {node.ticks} ticks; interventions {dict(node.interventions)}; "
          f"rejections {dict(node.rejections)}", flush=True)
    return 0

