"""The quadrotor's windowed replay and simulated identification logs.

A window starts from the measured pose, world velocity and body rates and runs the recorded thrust + rate commands
open loop through the onboard rate loop, mixer and motors (`robot_rl.envs.plants.quadrotor`). Rotor speeds are
not measured: at a window's start they come from `motor_speeds`, the first-order motor model run along the log
(at the physics rate, from the commands and the measured body rates) under the candidate time constant, so
`motor_time_constant_s` shows in the transient instead of being masked by a guessed start.

Signals per tick: position (m), world velocity (m/s), body rates (rad/s), scaled by `QUADROTOR_SCALES`.

Identifiability (docs/sysid.md): the onboard controller uses nominal values, so thrust and torques scale with
kf / kf_nominal while the body's response scales with 1 / mass (the inertia scales with the mass): the commands
act through their ratio. Only the body drag (-c v, c known) separates the mass from the thrust coefficient.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from robot_rl.envs.experts.quadrotor_cascade import QuadrotorHoverExpert
from robot_rl.envs.plants import PLANTS
from robot_rl.envs.plants.quadrotor import GRAVITY_M_S2, QuadrotorPlant
from robot_rl.robots import RobotSpec
from robot_rl.spaces.geometry import quat_to_rotmat
from robot_rl.spaces.quadrotor import quadrotor_hover_observation
from robot_rl.sysid.replay import SysidLog, WindowedReplay

QUADROTOR_SCALES = {"position_m": 0.01, "linear_velocity_m_s": 0.05, "angular_velocity_rad_s": 0.2}
"""Residual scale per signal (m, m/s, rad/s): a residual of one scale weighs 1."""


def scaled_signals(position: np.ndarray, velocity: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """The compared signals `[..., 9]`: position m, world velocity m/s, body rates rad/s `[..., 3]` each, scaled."""
    return np.concatenate([position / QUADROTOR_SCALES["position_m"],
                           velocity / QUADROTOR_SCALES["linear_velocity_m_s"],
                           rates / QUADROTOR_SCALES["angular_velocity_rad_s"]], -1)


def hover_command(spec: RobotSpec) -> np.ndarray:
    """The nominal hover command `[4]`: thrust m g (N), zero rates."""
    return np.array([spec.quadrotor.mass_kg * GRAVITY_M_S2, 0.0, 0.0, 0.0])


def rotor_commands(plant: QuadrotorPlant, executed: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """The rate loop's rotor-speed commands `[T * substeps, 4]` rpm at every physics step of a log.

    `executed` `[T, 4]` are the commands the rate loop runs (thrust N, body rates rad/s), `rates` `[T, 3]` the
    body rates measured at each tick, interpolated linearly inside the tick (held after the last), through the
    plant's own rate loop and mixer (`QuadrotorPlant.rotor_commands`: nominal values only).
    """
    n = plant.spec.substeps
    frac = np.arange(n)[None, :, None] / n
    following = np.concatenate([rates[1:], rates[-1:]])
    inner = (rates[:, None] + (following - rates)[:, None] * frac).reshape(-1, 3)  # [T * n, 3]
    return plant.rotor_commands(np.repeat(executed, n, axis=0), inner)


def motor_speeds(spec: RobotSpec, commands: np.ndarray, time_constant_s: np.ndarray) -> np.ndarray:
    """Rotor speeds `[S, T, 4]` rpm at the start of every tick for `S` motor time constants `[S]` s.

    Each rotor follows its command `commands` `[T * substeps, 4]` (`rotor_commands`) as the plant's exact
    first-order lag per physics step, w[k+1] = a w[k] + (1 - a) u[k] with a = exp(-dt / tau), a linear filter
    (`scipy.signal.lfilter`); the log's first step starts at its command.
    """
    from scipy.signal import lfilter  # noqa: PLC0415 - the controller imports this module; .venv-ros has no scipy

    dt, n = spec.physics_dt_s, spec.substeps
    out = np.empty((len(time_constant_s), len(commands) // n, 4))
    for i, tau in enumerate(np.asarray(time_constant_s, dtype=np.float64)):
        a = float(np.exp(-dt / max(tau, 1e-12)))
        z, _ = lfilter([1 - a], [1, -a], commands, axis=0, zi=a * commands[:1])  # z[k] = w[k + 1]
        out[i] = np.concatenate([commands[:1], z[:-1]])[::n]
    return out


class QuadrotorReplay(WindowedReplay):
    """The quadrotor: thrust + rate commands open loop from the measured state; position, velocity, body rates."""

    warmup_s = 0.5
    """The rotor speeds at a segment's start are unknown (`motor_speeds` starts them at the first command); after
    0.5 s (3.6 of the slowest time constants the search box allows, 0.14 s) the guess has decayed below 3 %."""

    def __init__(self, spec: RobotSpec, log: SysidLog, window: int, span: tuple[int, int] | None = None,
                 max_windows: int = 0, backend: str = "mujoco") -> None:
        """See `WindowedReplay`."""
        super().__init__(spec, log, window, span, max_windows, backend)
        self._rotor: dict[int, np.ndarray] = {}

    def schedule(self, latency: int) -> np.ndarray:
        """Commands `[T, 4]` as executed `latency` ticks late (each segment holds its first command before)."""
        return self.delayed_commands(latency, hold_first=True)

    def measured(self) -> np.ndarray:
        """Measured signals `[n_windows, window, 9]`: position, velocity, body rates, scaled."""
        idx = self.starts[:, None] + 1 + np.arange(self.window)[None]
        return scaled_signals(self.log.q[idx, :3], self.log.qd[idx, :3], self.log.qd[idx, 3:6])

    def positions(self, signals: np.ndarray) -> np.ndarray:
        """Positions `[..., 3]` m from scaled signals."""
        return signals[..., :3] * QUADROTOR_SCALES["position_m"]

    def _rotor_commands(self, latency: int) -> np.ndarray:
        """`rotor_commands` of the log at `latency` (cached: it depends on no identified parameter)."""
        if latency not in self._rotor:
            self._rotor[latency] = rotor_commands(self._plant(1), self.schedule(latency), self.log.qd[:, 3:6])
        return self._rotor[latency]

    def _start_rpm(self, full: Sequence[Mapping[str, float]], latency: np.ndarray) -> np.ndarray:
        """Rotor speeds `[n_envs, 4]` at every env's window start (`motor_speeds` per latency and time constant)."""
        k = len(self.starts)
        tau = np.array([p["motor_time_constant_s"] for p in full])
        rpm = np.empty((len(full) * k, 4))
        for lat in np.unique(latency):
            sets = np.flatnonzero(latency[::k] == lat)
            speeds = motor_speeds(self.spec, self._rotor_commands(int(lat)), tau[sets])
            for row, s in enumerate(sets):
                rpm[s * k : (s + 1) * k] = speeds[row, self.starts]
        return rpm

    def _predict_batch(self, params: Sequence[Mapping[str, float]], sets: int) -> np.ndarray:
        plant, k = self._plant(sets), len(self.starts)
        n, envs = plant.num_envs, np.arange(plant.num_envs)
        full, latency = self._full(params, sets)
        idx = np.tile(self.starts, sets)
        rng = np.random.default_rng(0)  # the replay has no gusts (gust_force_n is not fitted): rng draws are unused
        plant.backend.reset_state(envs)
        quat = self.log.q[idx, 3:7]
        plant.backend.set_base_state(envs, self.log.q[idx, :3], quat, self.log.qd[idx, :3],
                                     np.einsum("nij,nj->ni", quat_to_rotmat(quat), self.log.qd[idx, 3:6]))
        plant.reset(envs, self.log.command[idx], rng)
        plant.rpm[:] = self._start_rpm(full, latency)
        out = np.empty((n, self.window, 9))
        for j in range(self.window):
            plant.control_step(self._executed(latency, idx + j), rng)
            s = plant.read_state(rng)
            out[:, j] = scaled_signals(s["position_m"], s["linear_velocity_m_s"], s["angular_velocity_rad_s"])
        return out.reshape(sets, k, self.window, -1)[: len(params)]


HOVER_SETPOINT_M = (0.0, 0.0, 1.0)
"""Where a simulated excitation hovers, m (the hover task's setpoint)."""


def excitation_command(expert: QuadrotorHoverExpert, spec: RobotSpec, obs: np.ndarray, offset: np.ndarray
                       ) -> np.ndarray:
    """The excitation's command `[N, 4]`: the reference hover controller's for `obs` `[N, n_obs]` plus `offset`.

    A quadrotor cannot be excited open loop (a 1 % thrust error is 0.1 m/s^2, metres within seconds): the
    excitation is a perturbation `offset` `[4]` (thrust N, body rates rad/s) on top of the position controller,
    clipped to the command limits.
    """
    return np.clip(expert.act(obs) + offset[None], spec.command.low, spec.command.high)


def simulate_quadrotor_log(spec: RobotSpec, offsets: np.ndarray, reality: Mapping[str, float],
                           noise_std: tuple[float, float, float] = (0.0, 0.0, 0.0), seed: int = 0,
                           backend: str = "mujoco") -> SysidLog:
    """Hover at `HOVER_SETPOINT_M` under `reality` with `offsets` `[T, 4]` added to the hover controller.

    The controller sees what is logged: the state plus white noise of `noise_std` (position m, velocity m/s, body
    rates rad/s); commands act `reality['action_latency_steps']` ticks late, as the env applies latency. Independent
    of `QuadrotorReplay`: the plant's own control path (rotor speeds, gusts and wind as `reality` sets them).
    """
    plant = PLANTS[spec.kind](spec, backend, 1)
    params = dict(plant.nominal_parameters(), **reality)
    one = np.zeros(1, dtype=int)
    plant.apply_parameters(one, {k: np.array([v], dtype=np.float64) for k, v in params.items()})
    setpoint = np.asarray(HOVER_SETPOINT_M, dtype=np.float64)[None]
    plant.backend.set_base_state(one, setpoint, np.array([[1.0, 0, 0, 0]]), np.zeros((1, 3)), np.zeros((1, 3)))
    rng = np.random.default_rng(seed)
    hover = hover_command(spec)
    plant.reset(one, hover[None], rng)
    expert = QuadrotorHoverExpert(spec)
    latency = int(params["action_latency_steps"])
    pending = [hover] * latency
    q, qd, applied = np.empty((len(offsets), 7)), np.empty((len(offsets), 6)), np.empty((len(offsets), 4))
    last = hover
    for t, offset in enumerate(np.asarray(offsets, dtype=np.float64)):
        s = plant.read_state(rng)
        pos = s["position_m"][0] + noise_std[0] * rng.standard_normal(3)
        vel = s["linear_velocity_m_s"][0] + noise_std[1] * rng.standard_normal(3)
        rate = s["angular_velocity_rad_s"][0] + noise_std[2] * rng.standard_normal(3)
        q[t], qd[t] = np.concatenate([pos, s["quat_wxyz"][0]]), np.concatenate([vel, rate])
        obs = quadrotor_hover_observation(pos[None], s["quat_wxyz"], vel[None], rate[None], setpoint, last[None])
        last = applied[t] = excitation_command(expert, spec, obs, offset)[0]
        pending.append(last)
        plant.control_step(pending.pop(0)[None], rng)
    return SysidLog(spec.name, spec.control_dt_s, q, qd, applied, [(0, len(q))],
                    [{"path": "simulated", "sha256": ""}])
