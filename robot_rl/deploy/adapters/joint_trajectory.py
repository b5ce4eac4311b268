"""The arm's `trajectory_msgs/JointTrajectory` commands: encoding (the controller's output stage) and decoding.

A real Panda/FR3 rejects 50 Hz position steps (libfranka's velocity/acceleration discontinuity reflexes), so the
certified 50 Hz target goes through the same 1 kHz jerk-limited generator the simulated plant runs
(`robot_rl.safety.trajectory`), and each control tick publishes what it does next, for ros2_control's
joint_trajectory_controller (JTC; quintic splines: every point has positions, velocities and accelerations).
Message k, stamped t_k (the tick time at (re)start, then one control period T later per tick, so tick jitter does
not move the motion), times after the stamp:

    0 .. D           the last D (`delay_s`) of the motion message k-1 already carried: JTC switches from k-1 to k
                     when k arrives, and where both hold the same samples the switch is seamless (k must arrive
                     within D of its stamp; switching at a point where they differ is a jump libfranka rejects)
    D .. D + T       the generator's 1 kHz samples for this period's target, from its own state: exactly what the
                     simulated plant executes for the same target from the same state (one point every
                     `point_period_s`)
    .. + lookahead   the same jerk-limited motion continued toward the same target (Ruckig, offline), as the
                     simulated plant holds a target while no new one arrives: a late or lost message
    last point       the target itself at rest, when the generator would arrive there: the 50 Hz target is the
                     last point's positions (how the simulated robot decodes it), and a controller that stops leaves
                     the robot moving to its last certified target (between the look-ahead and this point JTC's
                     quintic, not the generator, shapes the motion)

The robot thus runs the generator's motion D later than the simulated plant does (D = 5 ms of a 20 ms period).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from robot_rl.deploy.adapters.base import Rejected
from robot_rl.deploy.msgs import Duration, JointTrajectory, JointTrajectoryPoint, ns_from_stamp, stamp_from_ns
from robot_rl.robots import RobotSpec
from robot_rl.safety.limits import ArmLimits, limits_for

JOINT_TRAJECTORY = "trajectory_msgs/msg/JointTrajectory"
GENERATOR_CYCLE_S = 0.001
"""The generator's cycle, s: the Panda/FR3 servo rate (1 kHz), as in the simulated plant."""
RESYNC_RAD = 0.25
"""A robot this far (rad, any joint) from the generator's position was moved by something else (a new simulated
episode; on hardware libfranka stops far earlier): the generator restarts where it is."""
_NS_PER_S = 1_000_000_000


@dataclass(frozen=True)
class TrajectoryPoints:
    """A checked JointTrajectory in the receiver's joint order; velocities/accelerations None where not given."""

    stamp_ns: int
    """header.stamp, ns (0: start when received)."""
    times_s: np.ndarray
    """`[m]` time_from_start of each point, s, strictly increasing."""
    positions: np.ndarray
    """`[m, n]` rad."""
    velocities: np.ndarray | None
    """`[m, n]` rad/s."""
    accelerations: np.ndarray | None
    """`[m, n]` rad/s²."""


def trajectory_message(joint_names: Sequence[str], stamp_ns: int, times_s: np.ndarray, positions: np.ndarray,
                       velocities: np.ndarray, accelerations: np.ndarray) -> JointTrajectory:
    """A JointTrajectory of `m` points: `times_s` `[m]` after `stamp_ns`, states `[m, n]` in `joint_names` order."""
    times_ns = np.round(np.asarray(times_s) * 1e9).astype(np.int64)
    points = [JointTrajectoryPoint(positions=p.tolist(), velocities=v.tolist(), accelerations=a.tolist(),
                                   time_from_start=Duration(*divmod(int(t), _NS_PER_S)))
              for t, p, v, a in zip(times_ns, positions, velocities, accelerations, strict=True)]
    msg = JointTrajectory(joint_names=list(joint_names), points=points)
    msg.header.stamp = stamp_from_ns(stamp_ns)
    return msg


def _field(points: Sequence[Any], name: str, n: int, what: str, required: bool) -> np.ndarray | None:
    """`[m, n]` of field `name` of every point; None when no point gives it; Rejected if some do and some don't."""
    sizes = {len(getattr(p, name)) for p in points}
    if sizes == {0} and not required:
        return None
    if sizes != {n}:
        bad = next(i for i, p in enumerate(points) if len(getattr(p, name)) != n)
        raise Rejected("size", f"{what}: points[{bad}].{name} has {len(getattr(points[bad], name))} values for {n} "
                               f"joint_names")
    values = np.array([np.asarray(getattr(p, name), dtype=np.float64) for p in points])
    if not np.isfinite(values).all():
        i, j = np.argwhere(~np.isfinite(values))[0]
        raise Rejected("nonfinite", f"{what}: points[{i}].{name}[{j}] is not finite")
    return values


def trajectory_points(msg: Any, joint_names: Sequence[str], what: str) -> TrajectoryPoints:  # noqa: ANN401
    """Check a JointTrajectory as joint_trajectory_controller does and reorder it to `joint_names` (by name).

    Rejected, naming the field, on: joint names that are not exactly `joint_names` in some order (unknown, missing
    or repeated), no points, a point whose positions (required), velocities or accelerations (each empty in every
    point or sized like joint_names in every point) do not fit, effort (not a command interface here), non-finite
    values, or time_from_start not strictly increasing. Works on our message class and on rosbags' (bags).
    """
    names = list(msg.joint_names)
    unknown = [n for n in names if n not in joint_names]
    missing = [n for n in joint_names if n not in names]
    if unknown or missing or len(set(names)) != len(names):
        raise Rejected("joint_names", f"{what}: joint_names {names}: unknown {unknown}, missing {missing}, "
                                      f"expected each of {list(joint_names)} once")
    points = list(msg.points)
    if not points:
        raise Rejected("points", f"{what}: points is empty")
    if any(len(p.effort) for p in points):
        raise Rejected("effort", f"{what}: points[].effort is set; the arm takes positions, velocities and "
                                 f"accelerations")
    nanosec = np.array([p.time_from_start.nanosec for p in points], dtype=np.int64)
    if (nanosec >= _NS_PER_S).any():
        raise Rejected("time", f"{what}: points[{int(np.argmax(nanosec >= _NS_PER_S))}].time_from_start.nanosec "
                               f"is not below 1e9")
    times_ns = np.array([p.time_from_start.sec for p in points], dtype=np.int64) * _NS_PER_S + nanosec
    if (np.diff(times_ns) <= 0).any():
        bad = int(np.argmax(np.diff(times_ns) <= 0)) + 1
        raise Rejected("time", f"{what}: points[{bad}].time_from_start is not after points[{bad - 1}]'s "
                               f"(times must strictly increase)")
    order = [names.index(n) for n in joint_names]
    fields = [_field(points, name, len(names), what, name == "positions")
              for name in ("positions", "velocities", "accelerations")]
    pos, vel, acc = (None if f is None else f[:, order] for f in fields)
    return TrajectoryPoints(ns_from_stamp(msg.header.stamp), times_ns / 1e9, pos, vel, acc)


def trajectory_target(msg: Any, joint_names: Sequence[str], what: str) -> np.ndarray:  # noqa: ANN401
    """The 50 Hz target `[n]` rad a checked JointTrajectory carries: its last point's positions."""
    return trajectory_points(msg, joint_names, what).positions[-1]


@dataclass(frozen=True)
class TrajectoryTiming:
    """How the controller's JointTrajectory messages are laid out in time (all s, multiples of the 1 ms cycle)."""

    point_period_s: float = 0.001
    """Time between points (default: every sample; docs/deployment.md)."""
    delay_s: float = 0.005
    """Each message starts with the last `delay_s` of the previous motion: the robot switches between two messages
    seamlessly as long as a message arrives within `delay_s` of its stamp."""
    lookahead_s: float = 0.02
    """Each message continues this far past its control period toward its target (a late or lost message)."""

    @classmethod
    def from_parameters(cls, params: Mapping[str, Any]) -> TrajectoryTiming:
        """Checked timing (the controller's `trajectory` parameters); ParameterError naming the key otherwise."""
        from robot_rl.deploy.nodes.common import ParameterError, checked_config

        timing = checked_config(cls, params, "controller.trajectory", ())
        if error := timing.error():
            raise ParameterError(f"controller.trajectory: {error}")
        return timing

    def error(self) -> str | None:
        """Why these values are unusable, or None when they are fine."""
        for name, least in (("point_period_s", 1), ("delay_s", 0), ("lookahead_s", 0)):
            value = getattr(self, name)
            cycles = value / GENERATOR_CYCLE_S
            if cycles < least - 1e-9 or abs(cycles - round(cycles)) > 1e-9:
                return (f"parameter '{name}' = {value} must be a multiple of the generator's {GENERATOR_CYCLE_S} s "
                        f"cycle, at least {least * GENERATOR_CYCLE_S} s")
        return None

    def cycles(self, name: str) -> int:
        """Field `name` in generator cycles."""
        return round(getattr(self, name) / GENERATOR_CYCLE_S)


def every_kth(num: int, k: int) -> np.ndarray:
    """Indices 0, k, 2k, ... of `num` rows, always ending with the last one: `[m]` int.

    E.g. 26 rows (0..25 ms of a 1 ms cycle) every 4 -> [0, 4, 8, 12, 16, 20, 24, 25].
    """
    return np.unique(np.append(np.arange(0, num, k), num - 1))


class TrajectoryOutput:
    """The controller's output stage for JointTrajectory commands (module docstring).

    One jerk-limited generator (N=1) fed with every certified target. `sync` restarts it at the measured position
    (at rest) when the stream restarts (start, enable, leaving safe-stop) or when the robot is more than
    `RESYNC_RAD` from the generator's position on some joint (it was moved: a new simulated episode).
    """

    def __init__(self, spec: RobotSpec, period_s: float, timing: TrajectoryTiming,
                 limits: ArmLimits | None = None) -> None:
        """Stream `spec`'s arm within `limits` (default its hardware limits; the controller passes its filter's)."""
        from robot_rl.safety.trajectory import JerkLimitedGenerator

        if error := timing.error():
            raise ValueError(error)
        joints = spec.arm.joints
        limits = limits if limits is not None else limits_for(spec)
        self.joint_names = [j.name for j in joints]
        self.generator = JerkLimitedGenerator(limits.velocity_max_rad_s, limits.acceleration_max_rad_s2,
                                              limits.jerk_max_rad_s3, 1, cycle_s=GENERATOR_CYCLE_S)
        self.period_s, self.timing = period_s, timing
        self.period_ns = round(period_s * 1e9)
        self.past = np.zeros((3, 0, len(joints)))
        """`[3, h, n]` positions, velocities, accelerations of the last `delay_s` of motion, the current state last."""
        self.clock_ns: int | None = None
        """Time of the generator's state (None: anchor at the next tick)."""
        self.resyncs = 0
        """Restarts forced by the robot being elsewhere, or by the tick clock being more than a period off."""

    def sync(self, q: Mapping[str, np.ndarray], restart: bool) -> None:
        """Restart from the measured `joint_pos_rad` `[n]` (at rest) if `restart` or the robot was moved."""
        moved = self.past.shape[1] and np.abs(q["joint_pos_rad"] - self.past[0, -1]).max() > RESYNC_RAD
        if not (restart or moved):
            return
        self.resyncs += bool(moved and not restart)
        self.generator.reset(np.array([0]), q["joint_pos_rad"][None])
        rest = np.stack([q["joint_pos_rad"], np.zeros_like(q["joint_pos_rad"]), np.zeros_like(q["joint_pos_rad"])])
        self.past = np.repeat(rest[:, None], self.timing.cycles("delay_s") + 1, axis=1)
        self.clock_ns = None

    def encode(self, target: np.ndarray, now_ns: int) -> JointTrajectory:
        """Advance the generator one control period toward `target` `[n]` rad; the JointTrajectory of that motion.

        Points at 0 .. delay: the last `delay_s` of the previous motion; then this period's samples; then the
        look-ahead and the target (module docstring).
        """
        if not self.past.shape[1]:
            raise RuntimeError("TrajectoryOutput.encode before sync: the generator has no start state")
        if self.clock_ns is not None and abs(now_ns - self.clock_ns) > self.period_ns:
            self.resyncs += 1
            self.clock_ns = None
        stamp = now_ns if self.clock_ns is None else self.clock_ns
        target = np.asarray(target, dtype=np.float64)
        s = self.generator.advance(target[None], self.period_s)
        rows = np.concatenate([self.past, np.stack([s.positions[0], s.velocities[0], s.accelerations[0]])], axis=1)
        i = every_kth(rows.shape[1], self.timing.cycles("point_period_s"))
        end_s = (rows.shape[1] - 1) * GENERATOR_CYCLE_S
        ahead = self._lookahead(target, end_s)
        times = np.concatenate([i * GENERATOR_CYCLE_S, ahead[0]])
        pos, vel, acc = (np.concatenate([rows[k, i], ahead[k + 1]]) for k in range(3))
        self.past = rows[:, -(self.timing.cycles("delay_s") + 1):]
        self.clock_ns = stamp + self.period_ns
        return trajectory_message(self.joint_names, stamp, times, pos, vel, acc)

    def _lookahead(self, target: np.ndarray, end_s: float) -> tuple[np.ndarray, ...]:
        """Points after the period: times from `end_s` `[k]` s, then positions, velocities, accelerations `[k, n]`.

        The generator's trajectory toward `target` continued every point period up to `lookahead_s` (what the
        simulated arm does while no new target arrives), then the target at rest when the generator would reach it.
        """
        n = len(target)
        trajectory = self.generator.plan(0, target)
        step = self.timing.point_period_s
        ts = np.arange(1, self.timing.cycles("lookahead_s") // self.timing.cycles("point_period_s") + 1) * step
        ts = ts[ts < trajectory.duration]
        states = np.array([trajectory.at_time(float(t)) for t in ts]).reshape(len(ts), 3, n)
        final_t = max(trajectory.duration, (ts[-1] if len(ts) else 0.0) + step)  # strictly after the last
        zeros = np.zeros((1, n))
        return (end_s + np.append(ts, final_t), np.concatenate([states[:, 0], target[None]]),
                np.concatenate([states[:, 1], zeros]), np.concatenate([states[:, 2], zeros]))
