"""The mobile base's windowed replay and simulated identification logs.

A window starts from the measured planar pose (x, y, yaw) and body speeds (forward m/s, yaw rate rad/s), the
wheels spinning as those speeds imply, and runs the recorded twist commands open loop through the plant's wheel
ramp (its state at the window's start reconstructed from the executed commands: `wheel_ramp`) and wheel servos.

The simulated base loses a random fraction U(0, `wheel_slip_fraction`) of each wheel's speed every control step.
The replay runs its expectation (`FixedDraws`: every uniform draw 0.5), so it predicts the mean motion: there
the wheel radius and the slip act as one wheel-to-ground ratio r (1 - slip / 2). `robot_rl.sysid.slip` separates
them from the spread of the per-tick wheel travel.

Signals per tick: x, y (m), yaw (rad, continuous), forward speed (m/s), yaw rate (rad/s), scaled by
`MOBILE_BASE_SCALES`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from robot_rl.envs.plants import PLANTS
from robot_rl.envs.plants.mobile_base import MobileBasePlant, wheel_ramp, wheel_speed_targets
from robot_rl.robots import RobotSpec
from robot_rl.spaces.geometry import quat_from_euler, wrap_angle, yaw_from_quat
from robot_rl.sysid.replay import SysidLog, WindowedReplay, at_latency, delayed

MOBILE_BASE_SCALES = {"position_m": 0.01, "yaw_rad": 0.01, "forward_velocity_m_s": 0.05, "yaw_rate_rad_s": 0.05}
"""Residual scale per signal (m, rad, m/s, rad/s): a residual of one scale weighs 1."""


class FixedDraws:
    """Stands in for the plant's random generator in a replay: its uniform draws are fixed numbers.

    The plant draws only the wheel slip from it, once per control step (`MobileBasePlant.control_step`: each wheel
    loses the fraction draw x `wheel_slip_fraction` of its speed; pushes, which would draw too, are off in a
    replay). The default, 0.5 everywhere, runs the expected
    slip; `robot_rl.sysid.slip` sets every tick's draws per env and wheel.
    """

    def __init__(self, values: np.ndarray | float = 0.5, per_step: bool = False) -> None:
        """Draws `values`, broadcast to every call's `[n_envs, 2]`.

        With `per_step`, `values[i]` is the i-th call's (the last held), counted from the last `rewind`.
        """
        self.values, self.per_step, self.calls = values, per_step, 0

    def rewind(self) -> None:
        """The next call is the first again."""
        self.calls = 0

    def random(self, size: tuple[int, ...]) -> np.ndarray:
        """The fixed draws broadcast to `size`."""
        values = np.asarray(self.values, dtype=np.float64)
        if self.per_step:
            values = values[min(self.calls, len(values) - 1)]
        self.calls += 1
        return np.broadcast_to(values, size).copy()


def scaled_signals(pose: np.ndarray, speeds: np.ndarray) -> np.ndarray:
    """The compared signals `[..., 5]` from pose (x m, y m, yaw rad) `[..., 3]` and speeds (m/s, rad/s) `[..., 2]`."""
    s = MOBILE_BASE_SCALES
    return np.concatenate([pose[..., :2] / s["position_m"], pose[..., 2:3] / s["yaw_rad"],
                           speeds[..., :1] / s["forward_velocity_m_s"], speeds[..., 1:2] / s["yaw_rate_rad_s"]], -1)


def planar_state(plant: MobileBasePlant) -> tuple[np.ndarray, np.ndarray]:
    """Pose (x, y, yaw) `[N, 3]` and speeds (forward m/s, yaw rate rad/s) `[N, 2]` of every env (no lidar cast)."""
    pos, quat, linvel, angvel = plant.backend.base_state()
    yaw = yaw_from_quat(quat)
    forward = linvel[:, 0] * np.cos(yaw) + linvel[:, 1] * np.sin(yaw)
    return np.column_stack([pos[:, :2], yaw]), np.column_stack([forward, angvel[:, 2]])


def place(plant: MobileBasePlant, envs: np.ndarray, pose: np.ndarray, speeds: np.ndarray, height_m: float,
          wheels: np.ndarray | None = None) -> None:
    """Teleport `envs` to planar `pose` `[n, 3]` moving at `speeds` `[n, 2]`, level at `height_m`.

    The wheels spin at `wheels` `[n, 2]` rad/s, by default as rolling without slip implies.
    """
    p = plant.spec.mobile_base
    n, yaw = len(envs), pose[:, 2]
    heading = np.column_stack([np.cos(yaw), np.sin(yaw), np.zeros(n)])
    plant.backend.set_base_state(envs, np.column_stack([pose[:, :2], np.full(n, height_m)]),
                                 quat_from_euler(np.zeros(n), np.zeros(n), yaw), heading * speeds[:, :1],
                                 np.column_stack([np.zeros((n, 2)), speeds[:, 1]]))
    if wheels is None:  # the model's wheels are of the nominal radius: rolling, they turn at ground speed / radius
        half = p.track_width_m / 2
        wheels = np.column_stack([speeds[:, 0] - speeds[:, 1] * half, speeds[:, 0] + speeds[:, 1] * half])
        wheels = wheels / p.wheel_radius_m
    plant.backend.set_joint_state(envs, np.zeros((n, 2)), wheels)


def resting_height(spec: RobotSpec, backend: str = "mujoco") -> float:
    """The base frame's height m once settled on its wheels and casters (contacts sink it slightly below design)."""
    plant = PLANTS[spec.kind](spec, backend, 1)
    plant.backend.step(200)
    return float(plant.backend.base_state()[0][0, 2])


class MobileBaseReplay(WindowedReplay):
    """The mobile base: twist commands through the wheel ramp and servos from the measured pose and speeds.

    The wheels' own speeds are not measured and matter: under load they differ from rolling by the contacts'
    creep and the servos' error (about 2 % of their speed), and a wrong start changes the next tick's travel by as
    much. Every window therefore starts one tick early from the measured state there, runs that tick (the wheels
    settle on their servos within milliseconds), and is placed again at the measured state of its first tick,
    keeping the wheel speeds the warm-up tick left.
    """

    warmup_s = 0.05
    """One control period: a window's warm-up tick lies inside its segment."""

    def __init__(self, spec: RobotSpec, log: SysidLog, window: int, span: tuple[int, int] | None = None,
                 max_windows: int = 0, backend: str = "mujoco") -> None:
        """See `WindowedReplay`."""
        super().__init__(spec, log, window, span, max_windows, backend)
        self.height_m = resting_height(spec, backend)
        self.draws = FixedDraws()
        """The slip draws the replay runs (`FixedDraws`; values broadcast over `[n_envs, 2]`)."""
        self.warmup_draws = FixedDraws()
        """The slip draws of each window's warm-up tick."""
        self._ramps: dict[int, np.ndarray] = {}

    def schedule(self, latency: int) -> np.ndarray:
        """Commands `[T, 2]` as executed `latency` ticks late (each segment holds still before its first)."""
        return self.delayed_commands(latency, hold_first=False)

    def ramp(self, latency: int) -> np.ndarray:
        """The wheel ramp's state `[T, 2]` rad/s at every tick under `latency`.

        Each segment's starts from the measured speeds at its first tick.
        """
        if latency not in self._ramps:
            p, executed = self.spec.mobile_base, self.schedule(latency)
            desired = wheel_speed_targets(executed, p.wheel_radius_m, p.track_width_m, p.wheel_speed_max_rad_s)
            full = np.zeros_like(desired)
            for a, b in self.log.segments:
                v, w = self.log.qd[a]
                start = np.array([v - w * p.track_width_m / 2, v + w * p.track_width_m / 2]) / p.wheel_radius_m
                full[a:b] = wheel_ramp(desired[a:b], start, p.wheel_accel_max_rad_s2 * self.spec.control_dt_s)
            self._ramps[latency] = full
        return self._ramps[latency]

    def measured(self) -> np.ndarray:
        """Measured signals `[n_windows, window, 5]`, scaled."""
        idx = self.starts[:, None] + 1 + np.arange(self.window)[None]
        return scaled_signals(self.log.q[idx], self.log.qd[idx])

    def positions(self, signals: np.ndarray) -> np.ndarray:
        """Positions x, y `[..., 2]` m from scaled signals."""
        return signals[..., :2] * MOBILE_BASE_SCALES["position_m"]

    def start(self, params: Sequence[Mapping[str, float]], sets: int) -> tuple[np.ndarray, np.ndarray]:
        """Warm every env's wheels up on the tick before its window, then place it at the window's measured start.

        Returns (tick index, latency) per env `[n]`.
        """
        plant = self._plant(sets)
        envs = np.arange(plant.num_envs)
        _, latency = self._full(params, sets)
        idx = np.tile(self.starts, sets)
        plant.backend.reset_state(envs)
        place(plant, envs, self.log.q[idx - 1], self.log.qd[idx - 1], self.height_m)
        self._set_ramp(plant, latency, idx - 1)
        plant.control_step(self._executed(latency, idx - 1), self.warmup_draws)
        place(plant, envs, self.log.q[idx], self.log.qd[idx], self.height_m, plant.backend.joint_state()[1])
        self._set_ramp(plant, latency, idx)
        return idx, latency

    def _set_ramp(self, plant: MobileBasePlant, latency: np.ndarray, ticks: np.ndarray) -> None:
        plant.set_wheel_ramp(np.arange(len(ticks)), at_latency(self.ramp, latency, ticks))

    def _predict_batch(self, params: Sequence[Mapping[str, float]], sets: int) -> np.ndarray:
        plant, k = self._plant(sets), len(self.starts)
        self.draws.rewind()
        idx, latency = self.start(params, sets)
        yaw = self.log.q[idx, 2].copy()
        out = np.empty((plant.num_envs, self.window, 5))
        for j in range(self.window):
            plant.control_step(self._executed(latency, idx + j), self.draws)
            pose, speeds = planar_state(plant)
            yaw = yaw + wrap_angle(pose[:, 2] - yaw)  # continuous, as the log's (turns within a tick < pi)
            out[:, j] = scaled_signals(np.column_stack([pose[:, :2], yaw]), speeds)
        return out.reshape(sets, k, self.window, -1)[: len(params)]


def simulate_mobile_base_log(spec: RobotSpec, commands: np.ndarray, reality: Mapping[str, float],
                             noise_std: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0), seed: int = 0,
                             backend: str = "mujoco") -> SysidLog:
    """Run twist `commands` `[T, 2]` (m/s, rad/s) on the simulated base under `reality` from rest at the origin.

    Independent of `MobileBaseReplay`: the plant's own control path with random slip draws, latency applied as the
    env applies it. `noise_std` (position m, yaw rad, forward speed m/s, yaw rate rad/s) is white sensor noise on
    what is logged.
    """
    plant = PLANTS[spec.kind](spec, backend, 1)
    params = dict(plant.nominal_parameters(), **reality)
    one = np.zeros(1, dtype=int)
    plant.apply_parameters(one, {k: np.array([v], dtype=np.float64) for k, v in params.items()})
    place(plant, one, np.zeros((1, 3)), np.zeros((1, 2)), resting_height(spec, backend))
    rng = np.random.default_rng(seed)
    plant.reset(one, np.zeros((1, 2)), rng)
    commands = np.asarray(commands, dtype=np.float64)
    executed = delayed(commands, int(params["action_latency_steps"]), np.zeros(2))
    q, qd = np.empty((len(commands), 3)), np.empty((len(commands), 2))
    for t, command in enumerate(executed):
        pose, speeds = planar_state(plant)
        q[t], qd[t] = pose[0], speeds[0]
        plant.control_step(command[None], rng)
    q[:, 2] = np.unwrap(q[:, 2])
    std = np.asarray(noise_std, dtype=np.float64)
    q += std[[0, 0, 1]] * rng.standard_normal(q.shape)
    qd += std[2:] * rng.standard_normal(qd.shape)
    return SysidLog(spec.name, spec.control_dt_s, q, qd, commands, [(0, len(q))], [{"path": "simulated", "sha256": ""}])
