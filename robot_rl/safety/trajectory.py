"""Jerk-limited online trajectory generation at 1 kHz (Ruckig), as the arm's real command path runs it.

A Panda behind libfranka accepts joint positions only as a 1 kHz stream whose velocity, acceleration and jerk stay
inside the published limits; 50 Hz position targets sent as steps abort the motion
(`joint_motion_generator_acceleration_discontinuity`). Between two control steps, a generator therefore turns the
latest target into that stream. `JerkLimitedGenerator` is a batch of `num` independent Ruckig generators (one per
env or robot, `n` joints each, Ruckig's default time synchronization of the joints within a robot):

* each `advance(target, duration_s)` plans the time-optimal jerk-limited trajectory from the generator's own state
  (position, velocity, acceleration: open loop, the continuity franka motion generators require) to the target at
  rest (target velocity and acceleration 0, unless a target velocity is given) and samples it every `cycle_s`;
* the state after the call is the last sample, so consecutive calls join without a jump in any derivative.

Ruckig's online API (`update` once per cycle, then `pass_to_input`) replans only when the input changes, which here
is only at `advance` boundaries; `calculate` once per call plus `Trajectory.at_time` at the cycle times gives the
same samples (a test compares them) and is cheaper in Python, so that is what runs.

Guarantee (Ruckig's, tested): from a state inside the limits, every sample's velocity, acceleration and jerk (the
finite difference of consecutive accelerations over one cycle) stay within `velocity_max`, `acceleration_max`,
`jerk_max`. Positions are not limited here: a target inside the joint limits is approached without overshoot when
targets move monotonically; a reversing target can be overshot by at most the braking distance.

Units: rad, rad/s, rad/s^2, rad/s^3 for joints (any consistent unit works); times in s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
from ruckig import InputParameter, Ruckig, RuckigError, Trajectory

from robot_rl.robots.spec import JointSpec

CYCLE_S = 0.001  # libfranka's command period (1 kHz)
_chain = chain.from_iterable


@dataclass(frozen=True)
class TrajectorySamples:
    """Generator output over one `advance`: `m` samples per row at `times` after the call.

    Attributes:
        positions: `[N, m, n]` rad.
        velocities: `[N, m, n]` rad/s.
        accelerations: `[N, m, n]` rad/s^2.
        times: `[m]` s after the call, `cycle_s * (1..m)`; the last sample is the generator's new state.

    """

    positions: np.ndarray
    velocities: np.ndarray
    accelerations: np.ndarray
    times: np.ndarray


class TrajectoryError(RuntimeError):
    """Ruckig rejected a row's input (non-finite numbers, a target velocity beyond the limit, an infeasible plan)."""


def _limit(values: np.ndarray | list[float], name: str) -> np.ndarray:
    out = np.asarray(values, dtype=np.float64)
    if out.ndim != 1 or not np.all(np.isfinite(out)) or np.any(out <= 0):
        raise ValueError(f"{name} must be a 1-D array of positive finite numbers, got {out}")
    return out


class JerkLimitedGenerator:
    """A batch of `num` Ruckig generators with `n` DoF each and per-joint limits `[n]`, sampled every `cycle_s`."""

    def __init__(
        self,
        velocity_max: np.ndarray | list[float],
        acceleration_max: np.ndarray | list[float],
        jerk_max: np.ndarray | list[float],
        num: int,
        cycle_s: float = CYCLE_S,
    ) -> None:
        """Limits `[n]` (rad/s, rad/s^2, rad/s^3); all `num` rows start at rest at position 0."""
        self.velocity_max = _limit(velocity_max, "velocity_max")
        self.acceleration_max = _limit(acceleration_max, "acceleration_max")
        self.jerk_max = _limit(jerk_max, "jerk_max")
        self.dofs = len(self.velocity_max)
        if len(self.acceleration_max) != self.dofs or len(self.jerk_max) != self.dofs:
            raise ValueError("velocity_max, acceleration_max and jerk_max must have one value per joint")
        if num < 1 or not cycle_s > 0:
            raise ValueError(f"need num >= 1 and cycle_s > 0, got num={num}, cycle_s={cycle_s}")
        self.num, self.cycle_s = num, float(cycle_s)
        self._ruckig = [Ruckig(self.dofs) for _ in range(num)]  # calculators; the state lives in the inputs
        self._inputs = [self._input() for _ in range(num)]
        self._trajectories = [Trajectory(self.dofs) for _ in range(num)]
        self._state = np.zeros((num, 3, self.dofs))  # position, velocity, acceleration per row

    @classmethod
    def for_joints(cls, joints: Sequence[JointSpec], num: int, cycle_s: float = CYCLE_S) -> JerkLimitedGenerator:
        """`num` generators with the velocity, acceleration and jerk limits of robot.yaml's `joints`."""
        return cls([j.velocity_max_rad_s for j in joints], [j.acceleration_max_rad_s2 for j in joints],
                   [j.jerk_max_rad_s3 for j in joints], num, cycle_s)

    def _input(self) -> InputParameter:
        inp = InputParameter(self.dofs)
        inp.max_velocity = self.velocity_max.tolist()
        inp.max_acceleration = self.acceleration_max.tolist()
        inp.max_jerk = self.jerk_max.tolist()
        inp.current_position = inp.current_velocity = inp.current_acceleration = [0.0] * self.dofs
        inp.target_position = inp.target_velocity = inp.target_acceleration = [0.0] * self.dofs
        return inp

    @property
    def position(self) -> np.ndarray:
        """Generator positions `[N, n]` rad (a copy)."""
        return self._state[:, 0].copy()

    @property
    def velocity(self) -> np.ndarray:
        """Generator velocities `[N, n]` rad/s (a copy)."""
        return self._state[:, 1].copy()

    @property
    def acceleration(self) -> np.ndarray:
        """Generator accelerations `[N, n]` rad/s^2 (a copy)."""
        return self._state[:, 2].copy()

    def reset(self, ids: np.ndarray, position: np.ndarray, velocity: np.ndarray | None = None) -> None:
        """Set rows `ids` `[k]` to `position` `[k, n]` rad, `velocity` `[k, n]` rad/s (default 0), acceleration 0."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        pos = self._rows(position, len(ids), "position")
        vel = np.zeros_like(pos) if velocity is None else self._rows(velocity, len(ids), "velocity")
        for row, i in enumerate(ids.tolist()):
            inp = self._inputs[i]
            inp.current_position, inp.current_velocity = pos[row].tolist(), vel[row].tolist()
            inp.current_acceleration = [0.0] * self.dofs
        self._state[ids, 0], self._state[ids, 1], self._state[ids, 2] = pos, vel, 0.0

    def advance(
        self, target: np.ndarray, duration_s: float, target_velocity: np.ndarray | None = None, stride: int = 1
    ) -> TrajectorySamples:
        """Move every row toward `target` `[N, n]` rad for `round(duration_s / cycle_s)` cycles; return the samples.

        `target_velocity` `[N, n]` rad/s (default 0, arriving at rest) is the velocity to pass the target with; it
        must lie within `velocity_max`. `stride` > 1 returns only every `stride`-th cycle's sample (the motion is
        the same 1 kHz one; a 500 Hz physics loop needs every second sample): `m = cycles / stride`, which must be
        whole. Raises `TrajectoryError` naming the row and its inputs if Ruckig fails; the generator's state is
        then unchanged.
        """
        cycles = int(round(duration_s / self.cycle_s))
        if stride < 1 or cycles % stride:
            raise ValueError(f"stride {stride} must be >= 1 and divide the {cycles} cycles of {duration_s} s")
        m = cycles // stride
        times = [self.cycle_s * stride * (k + 1) for k in range(m)]
        tgt = self._rows(target, self.num, "target").tolist()
        zero = [0.0] * self.dofs
        tvel = [zero] * self.num if target_velocity is None else self._rows(
            target_velocity, self.num, "target_velocity").tolist()
        if m == 0:
            empty = np.zeros((self.num, 0, self.dofs))
            return TrajectorySamples(empty, empty.copy(), empty.copy(), np.zeros(0))
        out = np.empty((self.num, m * 3 * self.dofs))
        last = []
        for i, (inp, traj) in enumerate(zip(self._inputs, self._trajectories, strict=True)):
            inp.target_position, inp.target_velocity = tgt[i], tvel[i]
            self._plan(i, inp, traj)
            at_time = traj.at_time
            row = [at_time(t) for t in times]  # each (position, velocity, acceleration) lists [n]
            out[i] = np.fromiter(_chain(_chain(row)), np.float64, out.shape[1])
            last.append(row[-1])
        for inp, state in zip(self._inputs, last, strict=True):  # commit only once every row has succeeded
            inp.current_position, inp.current_velocity, inp.current_acceleration = state
        out = out.reshape(self.num, m, 3, self.dofs)
        self._state[:] = out[:, -1]
        return TrajectorySamples(out[:, :, 0], out[:, :, 1], out[:, :, 2], np.array(times))

    def plan(self, row: int, target: np.ndarray) -> Trajectory:
        """Row `row`'s jerk-limited trajectory from its current state to `target` `[n]` rad at rest (not committed).

        The motion `advance` would follow toward `target` if no other target came (`Trajectory.at_time`,
        `.duration`); the generator's state is unchanged. Raises `TrajectoryError` like `advance`.
        """
        inp, traj = self._input(), Trajectory(self.dofs)
        inp.current_position, inp.current_velocity, inp.current_acceleration = self._state[row].tolist()
        inp.target_position = self._rows(np.asarray(target)[None], 1, "target")[0].tolist()
        self._plan(row, inp, traj)
        return traj

    def _plan(self, row: int, inp: InputParameter, traj: Trajectory) -> None:
        try:
            result = int(self._ruckig[row].calculate(inp, traj))
        except (RuckigError, ValueError) as err:  # ValueError: a Result code the binding's enum does not know
            raise TrajectoryError(f"Ruckig failed for row {row}: {str(err).strip()}\n{inp}") from err
        if result < 0:
            raise TrajectoryError(f"Ruckig failed for row {row} with result {result}:\n{inp}")

    def _rows(self, values: np.ndarray, k: int, name: str) -> np.ndarray:
        out = np.asarray(values, dtype=np.float64)
        if out.shape != (k, self.dofs):
            raise ValueError(f"{name} must have shape {(k, self.dofs)}, got {out.shape}")
        if not np.all(np.isfinite(out)):
            raise TrajectoryError(f"{name} has non-finite values in rows {np.flatnonzero(~np.isfinite(out).all(1))}")
        return out
