"""The arm's trajectory_msgs/JointTrajectory command path: checking and decoding as joint_trajectory_controller (JTC)
does, encoding through the jerk-limited generator (the robot gets the samples the simulated plant executes), what a
JTC replaying the messages at 1 kHz commands (within the Panda's limits), the controller's restarts, and a run over
DDS whose recorded trajectories stay within the limits."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from robot_rl.deploy.adapters import Rejected, adapter_for, pose_from_position
from robot_rl.deploy.adapters.joint_trajectory import (
    JOINT_TRAJECTORY,
    RESYNC_RAD,
    TrajectoryOutput,
    TrajectoryTiming,
    every_kth,
    trajectory_message,
    trajectory_points,
)
from robot_rl.deploy.msgs import Duration, JointTrajectory
from robot_rl.deploy.msgs.typestore import typestore
from robot_rl.robots import load_robot

SPEC = load_robot("arm")
NAMES = list(SPEC.command.names)
N = len(NAMES)
LIMITS = {  # rad/s, rad/s², rad/s³ per joint: the Panda's (sim/arm/robot.yaml)
    "velocity": np.array([j.velocity_max_rad_s for j in SPEC.arm.joints]),
    "acceleration": np.array([j.acceleration_max_rad_s2 for j in SPEC.arm.joints]),
    "jerk": np.array([j.jerk_max_rad_s3 for j in SPEC.arm.joints]),
}
STAMP = 7_000_000_000
WHAT = "/cmd (trajectory_msgs/msg/JointTrajectory)"


def three_point_message(names: list[str] = NAMES) -> JointTrajectory:
    """Points at 1, 2, 3 ms; joint i of point k at position 0.1 i + k, velocity i, acceleration -i."""
    i = np.arange(N, dtype=np.float64)
    return trajectory_message(names, STAMP, np.array([0.001, 0.002, 0.003]),
                              np.array([0.1 * i + k for k in range(3)]), np.tile(i, (3, 1)), np.tile(-i, (3, 1)))


def test_every_kth_row_and_always_the_last():
    assert every_kth(26, 4).tolist() == [0, 4, 8, 12, 16, 20, 24, 25]  # 0..25 ms every 4 ms, and the end
    assert every_kth(26, 1).tolist() == list(range(26))
    assert every_kth(25, 4).tolist() == [0, 4, 8, 12, 16, 20, 24]


def test_message_layout_and_round_trip_through_the_checks():
    msg = three_point_message()
    assert msg.joint_names == NAMES and len(msg.points) == 3
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (7, 0)
    assert msg.points[2].time_from_start == Duration(sec=0, nanosec=3_000_000)
    decoded = trajectory_points(JointTrajectory.deserialize(msg.serialize()), NAMES, WHAT)
    assert decoded.stamp_ns == STAMP
    np.testing.assert_array_equal(decoded.times_s, [0.001, 0.002, 0.003])
    np.testing.assert_array_equal(decoded.positions[2], 0.1 * np.arange(N) + 2)
    np.testing.assert_array_equal(decoded.accelerations[0], -np.arange(N))


def test_joints_in_another_order_are_reordered_by_name():
    msg = three_point_message()
    perm = np.arange(N)[::-1]
    msg.joint_names = [NAMES[k] for k in perm]
    for point in msg.points:  # the same values, listed in the message's joint order
        point.positions, point.velocities = [point.positions[k] for k in perm], [point.velocities[k] for k in perm]
        point.accelerations = [point.accelerations[k] for k in perm]
    decoded = trajectory_points(msg, NAMES, WHAT)
    np.testing.assert_array_equal(decoded.positions, trajectory_points(three_point_message(), NAMES, WHAT).positions)
    np.testing.assert_array_equal(decoded.velocities[1], np.arange(N))


def test_positions_only_points_decode_without_velocities():
    msg = three_point_message()
    for point in msg.points:
        point.velocities, point.accelerations = [], []
    decoded = trajectory_points(msg, NAMES, WHAT)
    assert decoded.velocities is None and decoded.accelerations is None


def test_a_bag_message_decodes_the_same():
    msg = three_point_message()
    theirs = typestore().deserialize_cdr(msg.serialize(), JOINT_TRAJECTORY)  # rosbags' class, numpy arrays
    ours = trajectory_points(msg, NAMES, WHAT)
    for field in dataclasses.fields(ours):
        np.testing.assert_array_equal(getattr(trajectory_points(theirs, NAMES, WHAT), field.name),
                                      getattr(ours, field.name))


def _break(change: str) -> JointTrajectory:
    """`three_point_message()` with one defect (keys of BAD)."""
    msg = three_point_message()
    p = msg.points
    match change:
        case "unknown joint":
            msg.joint_names[3] = "elbow"
        case "missing joint":
            msg.joint_names, p[:] = msg.joint_names[:-1], [dataclasses.replace(
                q, positions=q.positions[:-1], velocities=q.velocities[:-1], accelerations=q.accelerations[:-1])
                for q in p]
        case "repeated joint":
            msg.joint_names[1] = msg.joint_names[0]
        case "no points":
            p.clear()
        case "short positions":
            p[1].positions = p[1].positions[:-1]
        case "velocities in some points only":
            p[2].velocities = []
        case "nan acceleration":
            p[1].accelerations[4] = float("nan")
        case "infinite position":
            p[0].positions[0] = float("inf")
        case "effort":
            p[0].effort = [0.0] * N
        case "equal times":
            p[2].time_from_start = Duration(sec=0, nanosec=2_000_000)
        case "decreasing times":
            p[0].time_from_start = Duration(sec=1, nanosec=0)
        case "nanosec overflow":
            p[2].time_from_start = Duration(sec=0, nanosec=1_000_000_000)
    return msg


BAD = {  # defect -> (reason, words the message must contain)
    "unknown joint": ("joint_names", "unknown ['elbow']"),
    "missing joint": ("joint_names", "missing ['joint7']"),
    "repeated joint": ("joint_names", "expected each of"),
    "no points": ("points", "points is empty"),
    "short positions": ("size", "points[1].positions has 6 values for 7"),
    "velocities in some points only": ("size", "points[2].velocities has 0 values"),
    "nan acceleration": ("nonfinite", "points[1].accelerations[4] is not finite"),
    "infinite position": ("nonfinite", "points[0].positions[0] is not finite"),
    "effort": ("effort", "points[].effort is set"),
    "equal times": ("time", "points[2].time_from_start is not after points[1]"),
    "decreasing times": ("time", "points[1].time_from_start is not after points[0]"),
    "nanosec overflow": ("time", "points[2].time_from_start.nanosec"),
}


@pytest.mark.parametrize("defect", sorted(BAD))
def test_bad_trajectories_are_rejected_naming_the_field(defect: str):
    reason, words = BAD[defect]
    with pytest.raises(Rejected) as caught:
        trajectory_points(_break(defect), NAMES, WHAT)
    assert caught.value.reason == reason
    assert words in str(caught.value) and str(caught.value).startswith(WHAT), str(caught.value)


def test_the_arm_adapter_decodes_the_last_points_positions_and_rejects_bad_ones():
    adapter = adapter_for(SPEC, JOINT_TRAJECTORY, "/joint_trajectory_controller/joint_trajectory")
    np.testing.assert_array_equal(adapter.decode_command(three_point_message()), 0.1 * np.arange(N) + 2)
    with pytest.raises(Rejected, match="/joint_trajectory_controller/joint_trajectory .*points is empty"):
        adapter.decode_command(_break("no points"))
    with pytest.raises(ValueError, match="TrajectoryOutput"):
        adapter.encode_command(np.zeros(N))  # stateful: the controller's output stage encodes trajectories


# ---------------------------------------------------------------- encoding: the controller's output stage

HOME = np.array(SPEC.arm.home_rad)
PERIOD_S = 0.02  # 50 Hz control
CYCLE_S = 0.001  # the generator's (and the Panda's servo) cycle
T0_NS = 2_000_000_000


def random_targets(steps: int, seed: int, step_rad: float = 0.066) -> np.ndarray:
    """`[steps, n]` targets: a random walk from HOME, up to `step_rad` per joint and step (the largest target jumps
    measured from the shipped policy, issue 9), inside the command limits."""
    rng = np.random.default_rng(seed)
    walk = HOME + np.cumsum(rng.uniform(-step_rad, step_rad, (steps, N)), axis=0)
    return np.clip(walk, np.array(SPEC.command.low) + 0.1, np.array(SPEC.command.high) - 0.1)


DEFAULT_TIMING = TrajectoryTiming()  # 1 ms points, 5 ms delay, 20 ms look-ahead


def stream(targets: np.ndarray, timing: TrajectoryTiming = DEFAULT_TIMING, start: np.ndarray = HOME,
           jitter_ns: np.ndarray | None = None) -> list:
    """The controller's messages for `targets` `[k, n]`, one per 20 ms tick from T0_NS (plus `jitter_ns` `[k]`)."""
    out = TrajectoryOutput(SPEC, PERIOD_S, timing)
    out.sync({"joint_pos_rad": start, "joint_vel_rad_s": np.zeros(N)}, restart=True)
    jitter = np.zeros(len(targets), np.int64) if jitter_ns is None else jitter_ns
    return [trajectory_points(out.encode(target, T0_NS + k * round(PERIOD_S * 1e9) + int(jitter[k])), NAMES, WHAT)
            for k, target in enumerate(targets)]


def test_the_robot_gets_the_samples_the_simulated_plant_executes():
    """Same targets, same start state: the period's points of every message are the generator's own 1 kHz
    samples, as a generator built the way the plant builds it (its batch of 3 here, ours is env 1) produces them."""
    from robot_rl.safety.trajectory import JerkLimitedGenerator

    targets, delay = random_targets(12, seed=1), TrajectoryTiming().delay_s
    plant = JerkLimitedGenerator(LIMITS["velocity"], LIMITS["acceleration"], LIMITS["jerk"], 3)
    plant.reset(np.arange(3), np.tile(HOME, (3, 1)))
    for k, msg in enumerate(stream(targets)):
        samples = plant.advance(np.stack([HOME, targets[k], HOME]), PERIOD_S)
        period = (msg.times_s > delay + 1e-9) & (msg.times_s < delay + PERIOD_S + 1e-9)
        np.testing.assert_allclose(msg.times_s[period] - delay, samples.times, atol=1e-9)
        for ours, theirs in ((msg.positions, samples.positions), (msg.velocities, samples.velocities),
                             (msg.accelerations, samples.accelerations)):
            np.testing.assert_allclose(ours[period], theirs[1], rtol=0, atol=1e-12)


def test_the_look_ahead_is_what_the_simulated_arm_does_when_no_new_target_comes():
    """After the period, each message goes on as the plant's generator does while it holds the same target."""
    from robot_rl.safety.trajectory import JerkLimitedGenerator

    targets, timing = random_targets(5, seed=6), TrajectoryTiming()
    start = timing.delay_s + PERIOD_S
    for k, msg in enumerate(stream(targets)):
        plant = JerkLimitedGenerator(LIMITS["velocity"], LIMITS["acceleration"], LIMITS["jerk"], 1)
        plant.reset(np.array([0]), HOME[None])
        for target in targets[: k + 1]:
            plant.advance(target[None], PERIOD_S)
        held = plant.advance(targets[k][None], timing.lookahead_s)  # no new target: the plant holds this one
        ahead = (msg.times_s > start + 1e-9) & (msg.times_s < start + timing.lookahead_s + 1e-9)
        ahead[-1] = False  # the target at rest, not a sample
        np.testing.assert_allclose(msg.times_s[ahead] - start, held.times[: ahead.sum()], atol=1e-9)
        np.testing.assert_allclose(msg.positions[ahead], held.positions[0, : ahead.sum()], rtol=0, atol=1e-9)
        np.testing.assert_allclose(msg.velocities[ahead], held.velocities[0, : ahead.sum()], rtol=0, atol=1e-7)


def test_each_message_repeats_the_last_delay_of_the_previous_one_and_ends_at_its_target_at_rest():
    targets = random_targets(6, seed=2)
    messages = stream(targets)
    delay, first = TrajectoryTiming().delay_s, messages[0]
    head = first.times_s <= delay + 1e-9  # 0..5 ms: the start state, held (at rest, acceleration 0)
    assert head.sum() == 6 and (first.positions[head] == HOME).all() and not first.velocities[head].any()
    for previous, msg, target in zip(messages, messages[1:], targets[1:], strict=False):
        assert msg.stamp_ns - previous.stamp_ns == 20_000_000
        overlap = (previous.times_s >= PERIOD_S - 1e-9) & (previous.times_s <= PERIOD_S + delay + 1e-9)
        np.testing.assert_array_equal(msg.positions[: overlap.sum()], previous.positions[overlap])
        np.testing.assert_array_equal(msg.accelerations[: overlap.sum()], previous.accelerations[overlap])
        np.testing.assert_array_equal(msg.positions[-1], target)  # the 50 Hz target is the last point
        assert not msg.velocities[-1].any() and not msg.accelerations[-1].any()
        assert (np.diff(msg.times_s) > 0).all() and msg.times_s[-1] > PERIOD_S + delay + 0.02 - 1e-9


def quintic(t0: float, s0: tuple, t1: float, s1: tuple, t: float) -> np.ndarray:
    """JTC's spline between two points with positions, velocities and accelerations: the quintic through both."""
    (p0, v0, a0), (p1, v1, a1), d, s = s0, s1, t1 - t0, t - t0
    c3 = (-20 * p0 + 20 * p1 - 3 * a0 * d**2 + a1 * d**2 - 12 * v0 * d - 8 * v1 * d) / (2 * d**3)
    c4 = (30 * p0 - 30 * p1 + 3 * a0 * d**2 - 2 * a1 * d**2 + 16 * v0 * d + 14 * v1 * d) / (2 * d**4)
    c5 = (-12 * p0 + 12 * p1 - a0 * d**2 + a1 * d**2 - 6 * v0 * d - 6 * v1 * d) / (2 * d**5)
    return p0 + v0 * s + a0 / 2 * s**2 + c3 * s**3 + c4 * s**4 + c5 * s**5


def jtc_replay(messages: list, arrival_delay_s: np.ndarray, phase_s: float) -> np.ndarray:
    """Position commands `[k, n]` of a JTC updating every 1 ms (at `phase_s` after a tick) that takes each message
    `arrival_delay_s` `[m]` after its stamp: the newest arrived message, sampled at (now - stamp) with quintics
    between its points, its last point held after its end (Jazzy's joint_trajectory_controller)."""
    stamps = np.array([m.stamp_ns for m in messages]) / 1e9
    arrivals = stamps + arrival_delay_s
    clock = stamps[0] + phase_s + np.arange(round(len(messages) * PERIOD_S / CYCLE_S)) * CYCLE_S
    commands = []
    for now in clock[clock >= arrivals[0]]:
        msg = messages[np.searchsorted(arrivals, now, side="right") - 1]
        tau = now - msg.stamp_ns / 1e9
        i = min(np.searchsorted(msg.times_s, tau, side="right") - 1, len(msg.times_s) - 1)
        if i == len(msg.times_s) - 1:
            commands.append(msg.positions[-1])
            continue
        state = [(msg.positions[j], msg.velocities[j], msg.accelerations[j]) for j in (i, i + 1)]
        commands.append(quintic(msg.times_s[i], state[0], msg.times_s[i + 1], state[1], tau))
    return np.array(commands)


def worst_over_limits(commands: np.ndarray) -> dict[str, float]:
    """Largest |finite-difference velocity, acceleration, jerk| of 1 kHz position commands `[k, n]` over the
    joint's limit, as libfranka checks its commands (1.0: at the limit)."""
    v = np.diff(commands, axis=0) / CYCLE_S
    a = np.diff(v, axis=0) / CYCLE_S
    j = np.diff(a, axis=0) / CYCLE_S
    return {name: float((np.abs(x) / LIMITS[name]).max()) for name, x in
            (("velocity", v), ("acceleration", a), ("jerk", j))}


# JTC's 1 kHz clock relative to the ticks, s -> the most its commands may exceed a limit (fraction of it). On the
# ticks' 1 ms grid JTC samples the generator's own points: exactly within. Between them its quintic stands in for
# the generator's piecewise-cubic motion; measured worst case for these targets: jerk 1.0015, acceleration 1.0005.
PHASES = {0.0: 1e-6, 0.00037: 0.003, 0.0008: 0.003}


@pytest.mark.parametrize("phase_s", sorted(PHASES))
def test_what_jtc_commands_at_1khz_stays_within_the_panda_limits(phase_s: float):
    """Random-walk targets at the largest measured jumps; messages arriving 0.3 to 4.9 ms after their stamp (any
    transport delay under `delay_s`)."""
    messages = stream(random_targets(40, seed=3))
    arrival = np.random.default_rng(4).uniform(0.0003, 0.0049, len(messages))
    worst = worst_over_limits(jtc_replay(messages, arrival, phase_s))
    assert max(worst.values()) <= 1 + PHASES[phase_s], worst
    assert worst["jerk"] > 0.9  # the targets do push the generator to its jerk limit


def test_without_the_delay_a_message_arriving_3_ms_late_is_a_jump():
    """Why each message repeats the previous one's last 5 ms: switching where two messages differ breaks the
    jerk limit many times over (and the acceleration limit), which libfranka aborts on."""
    messages = stream(random_targets(40, seed=3), TrajectoryTiming(delay_s=0.0))
    worst = worst_over_limits(jtc_replay(messages, np.full(len(messages), 0.003), 0.0))
    assert worst["jerk"] > 5 and worst["acceleration"] > 2, worst


def test_sync_restarts_at_rest_where_the_robot_is_and_only_then():
    out = TrajectoryOutput(SPEC, PERIOD_S, TrajectoryTiming())
    out.sync({"joint_pos_rad": HOME, "joint_vel_rad_s": np.zeros(N)}, restart=True)
    out.encode(HOME + 0.05, T0_NS)
    moving = out.generator.position[0].copy()
    near = moving + (RESYNC_RAD - 0.01)  # tracking error, not a different place: the motion goes on
    out.sync({"joint_pos_rad": near, "joint_vel_rad_s": np.ones(N)}, restart=False)
    np.testing.assert_array_equal(out.generator.position[0], moving)
    far = moving + np.eye(N)[2] * (RESYNC_RAD + 0.01)  # a new simulated episode: restart there, at rest
    out.sync({"joint_pos_rad": far, "joint_vel_rad_s": np.ones(N)}, restart=False)
    assert out.resyncs == 1
    msg = trajectory_points(out.encode(far, T0_NS + 20_000_000), NAMES, WHAT)
    np.testing.assert_array_equal(msg.positions[0], far)
    assert not msg.velocities[0].any() and msg.stamp_ns == T0_NS + 20_000_000


def test_stamps_follow_the_generator_clock_not_the_ticks_jitter():
    jitter = np.array([0, 900_000, -700_000, 300_000, 25_000_000, 25_000_000])  # ns; a 25 ms stall at the fifth
    stamps = [m.stamp_ns - T0_NS for m in stream(random_targets(6, seed=5), jitter_ns=jitter)]
    # 0, 20, 40, 60 ms whatever the jitter; 105 ms (80 + 25) is more than a period off: re-anchored there
    assert stamps == [0, 20_000_000, 40_000_000, 60_000_000, 105_000_000, 125_000_000]


@pytest.mark.parametrize(("params", "words"), [
    ({"point_period_s": 0.0025}, "'point_period_s' = 0.0025 must be a multiple"),
    ({"point_period_s": 0.0}, "at least 0.001 s"),
    ({"delay_s": -0.001}, "'delay_s' = -0.001"),
    ({"lookahead": 0.02}, "unknown parameters ['lookahead']"),
])
def test_timing_parameters_are_checked(params: dict, words: str):
    from robot_rl.deploy.nodes.common import ParameterError

    with pytest.raises(ParameterError, match="controller.trajectory") as caught:
        TrajectoryTiming.from_parameters(params)
    assert words in str(caught.value)


# ---------------------------------------------------------------- the controller's output stage, tick by tick

class ArmRig:
    """The real controller (policy, filter, JointTrajectory output) on an in-process bus; the test plays the arm,
    which ends each tick where the generator's period ends."""

    TOPIC = "/joint_trajectory_controller/joint_trajectory"

    def __init__(self) -> None:
        from robot_rl.deploy.controller import Controller, ControllerConfig
        from tests.deploy.memory_transport import MemoryBus, MemoryTransport

        self.bus = MemoryBus()
        self.t = MemoryTransport(self.bus)
        params = {"robot": "arm", "policy": str(Path(__file__).resolve().parents[2] / "policies" / "arm-reach"),
                  "auto_enable": True, "use_sim_time": True, "command_type": JOINT_TRAJECTORY,
                  "command_topic": self.TOPIC}
        self.c = Controller(self.t, ControllerConfig.from_parameters(params))
        self.publish("/goal", pose_from_position([0.5, 0.1, 0.4]))
        self.q = HOME.copy()

    def publish(self, topic: str, msg: object) -> None:
        from robot_rl.deploy.transport import COMMAND_QOS

        self.t.create_publisher(topic, type(msg), COMMAND_QOS).publish(msg)

    def step(self) -> object | None:
        """Advance 20 ms, publish the arm's state, tick; the tick's JointTrajectory (checked), or None if idle."""
        self.bus.now_ns += 20_000_000
        state = adapter_for(SPEC).encode_state({"joint_pos_rad": self.q[None], "joint_vel_rad_s": np.zeros((1, N))},
                                               self.bus.now_ns)
        self.publish(SPEC.ros.state_topics["joint_states"].name, state["joint_states"])
        sent = len(self.bus.messages(self.TOPIC))
        self.c.tick()
        if len(self.bus.messages(self.TOPIC)) == sent:
            return None
        msg = trajectory_points(self.bus.messages(self.TOPIC)[-1], NAMES, WHAT)
        self.q = msg.positions[np.argmin(np.abs(msg.times_s - 0.025))]  # the state at the period's end (5 + 20 ms)
        return msg


def test_the_controller_streams_trajectories_and_restarts_them_where_the_arm_stands():
    from robot_rl.deploy.msgs import Bool

    rig = ArmRig()
    first = rig.step()
    assert first.stamp_ns == rig.bus.now_ns and (first.positions[0] == HOME).all()  # started at the measured state
    moving = [rig.step() for _ in range(5)]
    assert all(m.stamp_ns - p.stamp_ns == 20_000_000 for p, m in zip([first, *moving], moving, strict=False))
    applied = rig.bus.messages("/robot_rl/applied_action")[-1].data
    np.testing.assert_array_equal(moving[-1].positions[-1], applied)  # the certified target is the last point
    rig.publish("/robot_rl/enable", Bool(data=False))
    assert rig.step() is None  # idle: nothing published, the robot's own controller holds
    rig.q = moved = rig.q + 0.1  # meanwhile the arm was moved (less than RESYNC_RAD: only the restart notices)
    rig.publish("/robot_rl/enable", Bool(data=True))
    restarted = rig.step()
    np.testing.assert_array_equal(restarted.positions[0], moved)  # from where it stands, at rest, stamped now
    assert not restarted.velocities[0].any() and restarted.stamp_ns == rig.bus.now_ns
    rig.publish("/robot_rl/estop", Bool(data=True))  # safe-stop: the hold target goes through the same generator
    held = rig.step()
    overlap = (restarted.times_s >= 0.02 - 1e-9) & (restarted.times_s <= 0.025 + 1e-9)
    np.testing.assert_array_equal(held.positions[: overlap.sum()], restarted.positions[overlap])


# ---------------------------------------------------------------- end to end over DDS

def continuous_runs(messages: list) -> list[list]:
    """`messages` split where the stream restarted: a stamp not one period after the last, or a start that is not
    the last message's motion (the generator restarted: a new episode put the arm elsewhere)."""
    runs = [[messages[0]]]
    for previous, msg in zip(messages, messages[1:], strict=False):
        at = np.argmin(np.abs(previous.times_s - PERIOD_S))
        same = msg.stamp_ns - previous.stamp_ns == 20_000_000 and (msg.positions[0] == previous.positions[at]).all()
        runs[-1].append(msg) if same else runs.append([msg])
    return runs


def test_over_dds_the_arm_runs_on_joint_trajectories_within_the_panda_limits(tmp_path: Path, ros_domain_id: str):
    """`robot-rl launch launch/arm.yaml` with the controller publishing JointTrajectory to the simulated arm, which
    takes each message's last point as its target: the episodes run, and what the bag holds, replayed by a JTC at
    1 kHz, is within the limits (restarts aside: each new episode starts where the simulated arm was put)."""
    from robot_rl.data.bag import read_bag
    from tests.deploy.test_end_to_end import launch

    sets = [f"{node}.{key}={value}" for node in ("controller", "sim_driver")
            for key, value in (("command_type", JOINT_TRAJECTORY), ("command_topic", ArmRig.TOPIC))]
    result, summary, bag = launch("arm", tmp_path, 2, *(a for s in sets for a in ("--set", s)))
    assert summary["episodes"] == 2 and summary["bad_commands"] == 0, (summary, result.stdout[-3000:])
    assert summary["success_rate"] >= 0.5, summary
    messages = [trajectory_points(msg, NAMES, "bag") for _, _, _, msg in read_bag(bag, topics=[ArmRig.TOPIC])]
    assert len(messages) >= summary["commands_received"] * 0.95 and len(messages) > 20
    for msg in messages:  # the generator's own states: within the velocity and acceleration limits
        assert (np.abs(msg.velocities) <= LIMITS["velocity"] + 1e-9).all()
        assert (np.abs(msg.accelerations) <= LIMITS["acceleration"] + 1e-9).all()
    runs = continuous_runs(messages)
    print(f"{len(messages)} trajectories in {len(runs)} continuous runs, {summary}")
    assert len(runs) <= 3, [len(r) for r in runs]  # the start, and at most one restart per new episode
    for run in (r for r in runs if len(r) > 1):
        worst = worst_over_limits(jtc_replay(run, np.full(len(run), 0.001), 0.00037))
        assert max(worst.values()) <= 1 + PHASES[0.00037], worst


def test_a_deployments_tightened_limits_reach_the_generator():
    from robot_rl.deploy.adapters import command_output
    from robot_rl.safety import SafetyFilter

    tight = SafetyFilter.for_robot(SPEC, {"acceleration_max_rad_s2": 5.0, "jerk_max_rad_s3": 1000.0}).limits
    adapter = adapter_for(SPEC, "trajectory_msgs/msg/JointTrajectory")
    out = command_output(adapter, 0.02, TrajectoryTiming(), tight)
    assert out.generator.acceleration_max.tolist() == [5.0] * 7 and out.generator.jerk_max.tolist() == [1000.0] * 7
    out.sync({"joint_pos_rad": np.array(SPEC.arm.home_rad)}, restart=True)
    msg = out.encode(np.array(SPEC.arm.home_rad) + 0.3, 0)
    acc = np.array([p.accelerations for p in msg.points])
    assert np.abs(acc).max() <= 5.0 + 1e-9  # every point, look-ahead included, within the tightened bound
    default = command_output(adapter, 0.02, TrajectoryTiming())  # no limits given: the hardware's
    assert default.generator.acceleration_max.tolist() == [j.acceleration_max_rad_s2 for j in SPEC.arm.joints]
