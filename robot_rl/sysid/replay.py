"""Replaying recorded commands in MuJoCo under candidate physical parameters, in windows from measured states.

Each window re-starts from the measured state, so drift of a long open-loop replay does not dominate the fit.

`SysidLog` is what identification needs from a run: per control tick the measured joint state and the command
applied at that tick, cut into contiguous segments. `ArmReplay` turns a log into predictions: the command path
(jerk-limited generator, `ArmPlant.servo_schedule`) is replayed once per latency (it depends on no physical
parameter), then every window of `window` ticks starts from the measured state at its first tick and runs the
servo targets forward; parameter sets and windows run side by side as the backend's batched envs.

Signals compared (per tick, per joint): position (rad) and velocity (rad/s), each divided by its scale in
`SIGNAL_SCALES` so positions and velocities weigh alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from robot_rl.envs.plants import PLANTS
from robot_rl.robots import RobotSpec, load_robot

SIGNALS = ("joint_pos_rad", "joint_vel_rad_s")
SIGNAL_SCALES = {"joint_pos_rad": 0.01, "joint_vel_rad_s": 0.1}
"""Residual scale per signal (rad, rad/s): a residual of one scale weighs 1."""


@dataclass
class SysidLog:
    """Measured states and applied commands of one robot, per control tick.

    The state is in generalized coordinates, as MuJoCo's qpos/qvel: the arm's joints; the quadrotor's position and
    attitude (`q` = position m `[3]` + quaternion wxyz `[4]`) and velocities (`qd` = world velocity m/s `[3]` + body
    rates rad/s `[3]`).
    """

    robot: str
    dt_s: float
    """Control period, s."""
    q: np.ndarray
    """Measured positions `[T, nq]` at each tick (before its command acts): joint angles rad, or pose."""
    qd: np.ndarray
    """Measured velocities `[T, nv]`: joint velocities rad/s, or world velocity and body rates."""
    command: np.ndarray
    """Command applied at each tick `[T, n_cmd]` in the robot's command units."""
    segments: list[tuple[int, int]]
    """Contiguous tick ranges [start, end): a replay never crosses a segment boundary."""
    sources: list[dict[str, str]] = field(default_factory=list)
    """The logs it came from: {path, sha256}."""

    def __post_init__(self) -> None:
        n = len(self.q)
        for name in ("qd", "command"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"sysid log: '{name}' has {len(getattr(self, name))} ticks, 'q' has {n}")
        if not all(np.isfinite(getattr(self, k)).all() for k in ("q", "qd", "command")):
            raise ValueError("sysid log: non-finite joint state or command")

    @property
    def duration_s(self) -> float:
        """Ticks times the control period, s."""
        return len(self.q) * self.dt_s


def clip_segments(segments: Sequence[tuple[int, int]], span: tuple[int, int]) -> list[tuple[int, int]]:
    """The parts of `segments` inside ticks `span` [start, end), empty parts dropped.

    >>> clip_segments([(0, 10), (10, 20)], (5, 12))
    [(5, 10), (10, 12)]
    """
    a, b = span
    return [(max(s, a), min(e, b)) for s, e in segments if min(e, b) > max(s, a)]


def warm_segments(log: SysidLog, warmup_s: float) -> list[tuple[int, int]]:
    """`log`'s segments without their first `warmup_s` (where no window starts: `WindowedReplay.warmup_s`)."""
    warm = round(warmup_s / log.dt_s)
    return [(a + warm, b) for a, b in log.segments]


def at_latency(table: Callable[[int], np.ndarray], latency: np.ndarray, ticks: np.ndarray) -> np.ndarray:
    """`table(latency[i])[ticks[i]]` for every env i `[n, ...]` (`table`: a per-latency array over the log's ticks)."""
    out = np.empty((len(ticks), *table(int(latency[0])).shape[1:]))
    for lat in np.unique(latency):
        rows = latency == lat
        out[rows] = table(int(lat))[ticks[rows]]
    return out


def window_starts(segments: Sequence[tuple[int, int]], window: int) -> np.ndarray:
    """First ticks of the windows: back to back inside each segment, a window needs `window` + 1 ticks.

    >>> window_starts([(0, 10), (10, 14)], 4).tolist()
    [0, 4]
    """
    starts = [range(a, b - window, window) for a, b in segments]
    return np.array([s for r in starts for s in r], dtype=int)


def delayed(command: np.ndarray, latency: int, hold: np.ndarray) -> np.ndarray:
    """Commands as executed `latency` ticks late `[T, n]`: the first `latency` ticks execute `hold`.

    >>> delayed(np.array([[1.0], [2.0], [3.0]]), 1, np.array([0.0])).ravel().tolist()
    [0.0, 1.0, 2.0]
    """
    if latency == 0:
        return command.copy()
    return np.concatenate([np.repeat(hold[None], min(latency, len(command)), 0), command[:-latency]])[: len(command)]


class WindowedReplay:
    """Batched windowed replay of one log; `predict` maps parameter sets to predicted signals.

    Subclasses (one per robot kind) define `schedule`, `measured`, `_predict_batch` and `positions`, the signals
    the reality-gap report compares.
    """

    warmup_s: float = 0.0
    """No window starts in a segment's first `warmup_s`: internal state reconstructed from the log (the
    quadrotor's rotor speeds) has not converged there yet."""

    def __init__(self, spec: RobotSpec, log: SysidLog, window: int, span: tuple[int, int] | None = None,
                 max_windows: int = 0, backend: str = "mujoco") -> None:
        """Replay `window`-tick windows of `log` lying inside ticks `span` [start, end) (default: all).

        `max_windows` > 0 keeps that many windows, evenly spread. The command path is always replayed from the
        start of each segment, so a span that starts mid-motion still sees the generator's true state.
        """
        if log.robot != spec.name:
            raise ValueError(f"sysid log is of robot '{log.robot}', not '{spec.name}'")
        self.spec, self.log, self.window, self.backend = spec, log, window, backend
        self.recipe = (spec.name, log, window, span, max_windows, backend)
        """What `rebuild` needs to make this replay again (in another process)."""
        self.starts = window_starts(clip_segments(warm_segments(log, self.warmup_s), span or (0, len(log.q))), window)
        if len(self.starts) == 0:
            raise ValueError(f"sysid log: no segment holds {window + 1} ticks ({window * log.dt_s:.2f} s windows)")
        if 0 < max_windows < len(self.starts):
            self.starts = self.starts[np.linspace(0, len(self.starts) - 1, max_windows).round().astype(int)]
        self._plants: dict[int, Any] = {}
        self.nominal = self._plant(1).nominal_parameters()
        self._schedules: dict[int, np.ndarray] = {}

    def _plant(self, sets: int) -> Any:  # noqa: ANN401 - the robot kind's plant
        """A plant of `sets` x windows envs (built once per size: a batch steps exactly the envs it needs)."""
        if sets not in self._plants:
            self._plants[sets] = PLANTS[self.spec.kind](self.spec, self.backend, sets * len(self.starts))
        return self._plants[sets]

    def predict(self, params: Sequence[Mapping[str, float]], batch: int = 0) -> np.ndarray:
        """Predicted signals `[len(params), n_windows, window, n_signals]`, scaled like `measured`.

        Each entry of `params` names physical parameters (the others nominal) plus `action_latency_steps`;
        `batch` parameter sets run side by side (0: all at once).
        """
        size = batch or len(params)
        return np.concatenate([self._predict_batch(params[i : i + size], size) for i in range(0, len(params), size)])

    def _full(self, params: Sequence[Mapping[str, float]], sets: int) -> tuple[list[dict[str, float]], np.ndarray]:
        """Parameter sets padded to `sets` with nominal ones, applied to the plant; the latency per env `[n]`."""
        plant, k = self._plant(sets), len(self.starts)
        full = [dict(self.nominal, **p) for p in params] + [dict(self.nominal)] * (sets - len(params))
        plant.apply_parameters(np.arange(plant.num_envs),
                               {name: np.repeat([p[name] for p in full], k) for name in self.nominal})
        return full, np.repeat([int(round(p["action_latency_steps"])) for p in full], k)

    def schedule(self, latency: int) -> np.ndarray:
        """The executed command path at `latency` ticks late, per tick (cached by subclasses)."""
        raise NotImplementedError

    def delayed_commands(self, latency: int, hold_first: bool) -> np.ndarray:
        """The log's commands `[T, n_cmd]` executed `latency` ticks late, per segment (cached).

        Before its first command a segment holds that command (`hold_first`) or zeros.
        """
        if latency not in self._schedules:
            full = np.zeros_like(self.log.command)
            for a, b in self.log.segments:
                hold = self.log.command[a] if hold_first else np.zeros(self.log.command.shape[1])
                full[a:b] = delayed(self.log.command[a:b], latency, hold)
            self._schedules[latency] = full
        return self._schedules[latency]

    def _executed(self, latency: np.ndarray, ticks: np.ndarray) -> np.ndarray:
        """Each env's `schedule(latency[i])[ticks[i]]`: what env i executes at its tick."""
        return at_latency(self.schedule, latency, ticks)

    def measured(self) -> np.ndarray:
        """Measured signals over the windows `[n_windows, window, n_signals]`, scaled."""
        raise NotImplementedError

    def positions(self, signals: np.ndarray) -> np.ndarray:
        """The position signals `[..., n]` (joints rad, or x y z m) in their units from scaled signals."""
        raise NotImplementedError

    def _predict_batch(self, params: Sequence[Mapping[str, float]], sets: int) -> np.ndarray:
        raise NotImplementedError


def replay_class(spec: RobotSpec) -> type[WindowedReplay]:
    """The replay of `spec`'s kind (arm, quadrotor, mobile base); ValueError for a kind without one."""
    if spec.kind == "arm":
        return ArmReplay
    if spec.kind == "quadrotor":
        from robot_rl.sysid.replay_quadrotor import QuadrotorReplay  # noqa: PLC0415 - it builds on this module

        return QuadrotorReplay
    if spec.kind == "mobile_base":
        from robot_rl.sysid.replay_mobile_base import MobileBaseReplay  # noqa: PLC0415 - it builds on this module

        return MobileBaseReplay
    raise ValueError(f"robot '{spec.name}' ({spec.kind}): no identification replay for this kind yet")


def rebuild(recipe: tuple) -> WindowedReplay:
    """The replay of a `WindowedReplay.recipe` (a Ray worker rebuilds its MuJoCo plants from the log)."""
    name, log, window, span, max_windows, backend = recipe
    return make_replay(load_robot(name), log, window, span, max_windows, backend)


def make_replay(spec: RobotSpec, log: SysidLog, window: int, span: tuple[int, int] | None = None,
                max_windows: int = 0, backend: str = "mujoco") -> WindowedReplay:
    """The replay of `spec`'s kind over `log` (see `WindowedReplay`)."""
    return replay_class(spec)(spec, log, window, span, max_windows, backend)


class ArmReplay(WindowedReplay):
    """The arm: joint targets through the jerk-limited generator and the joint servos; joint positions/velocities.

    Signals per tick: joint positions then joint velocities, scaled by `SIGNAL_SCALES`.
    """

    def schedule(self, latency: int) -> np.ndarray:
        """Servo targets `[T, substeps, n]` rad of the log's commands executed `latency` ticks late (cached)."""
        if latency not in self._schedules:
            parts = []
            for a, b in self.log.segments:
                executed = delayed(self.log.command[a:b], latency, self.log.q[a])
                parts.append(self._plant(1).servo_schedule(executed, self.log.q[a]))
            full = np.zeros((len(self.log.q), self.spec.substeps, self.log.q.shape[1]))
            for (a, b), part in zip(self.log.segments, parts, strict=True):
                full[a:b] = part
            self._schedules[latency] = full
        return self._schedules[latency]

    def measured(self) -> np.ndarray:
        """Measured signals over the windows `[n_windows, window, n_signals * n]`, scaled (`SIGNAL_SCALES`)."""
        idx = self.starts[:, None] + 1 + np.arange(self.window)[None]
        return np.concatenate([self.log.q[idx] / SIGNAL_SCALES[SIGNALS[0]],
                               self.log.qd[idx] / SIGNAL_SCALES[SIGNALS[1]]], -1)

    def positions(self, signals: np.ndarray) -> np.ndarray:
        """Joint positions `[..., n]` rad from scaled signals."""
        return signals[..., : self.log.q.shape[1]] * SIGNAL_SCALES[SIGNALS[0]]

    def _predict_batch(self, params: Sequence[Mapping[str, float]], sets: int) -> np.ndarray:
        plant, k = self._plant(sets), len(self.starts)
        n, n_joints = plant.num_envs, self.log.q.shape[1]
        _, latency = self._full(params, sets)
        idx = np.tile(self.starts, sets)
        # every window from the model's initial state (solver warm start, fingers) plus the measured joints, so a
        # prediction does not depend on what the env ran before or on the batch it runs in
        plant.backend.reset_state(np.arange(n))
        plant.backend.set_joint_state(np.arange(n), self.log.q[idx], self.log.qd[idx])
        q_out, qd_out = np.empty((n, self.window, n_joints)), np.empty((n, self.window, n_joints))
        for j in range(self.window):
            plant.track(self._executed(latency, idx + j))
            q_out[:, j], qd_out[:, j] = plant.backend.joint_state()
        pred = np.concatenate([q_out / SIGNAL_SCALES[SIGNALS[0]], qd_out / SIGNAL_SCALES[SIGNALS[1]]], -1)
        return pred.reshape(sets, k, self.window, -1)[: len(params)]
