"""Simulated Crazyflie-class quadrotor: body-rate controller, X mixer and first-order motors at 500 Hz.

The command is collective thrust (N) + body rates (rad/s), as a PX4/Crazyflie rate setpoint. The onboard
controller knows only nominal parameters; the physics uses the randomized ones (mass, thrust coefficient, motor
time constant), plus linear body drag, a steady wind and random gusts.

Rotor order and geometry (X configuration, d = arm_length / sqrt(2)):
    0 front-left (+d, +d), 1 front-right (+d, -d), 2 rear-right (-d, -d), 3 rear-left (-d, +d)
Rotors 0 and 2 produce +yaw reaction torque, 1 and 3 -yaw.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from robot_rl.envs.backends import ModelBinding, make_backend
from robot_rl.robots import RobotSpec
from robot_rl.spaces.geometry import quat_to_rotmat

GRAVITY_M_S2 = 9.81
GUST_TIME_CONSTANT_S = 0.5  # gusts are an Ornstein-Uhlenbeck process with this correlation time


def mixer_matrix(arm_length_m: float, torque_to_thrust_m: float) -> np.ndarray:
    """Matrix `A` `[4,4]` with `[T, tau_x, tau_y, tau_z] = A @ f` for rotor thrusts `f` (N)."""
    d = arm_length_m / np.sqrt(2.0)
    k = torque_to_thrust_m
    return np.array([[1, 1, 1, 1], [d, -d, -d, d], [-d, -d, d, d], [k, -k, k, -k]], dtype=np.float64)


def rate_controller(
    rate_cmd: np.ndarray, rate: np.ndarray, inertia: np.ndarray, kp_per_s: np.ndarray
) -> np.ndarray:
    """Body torque `[N,3]` N*m: `J kp (w_cmd - w) + w x J w`, body frame, `inertia` diagonal `[3]` kg*m^2."""
    jw = rate * inertia
    gyroscopic = np.column_stack([rate[:, 1] * jw[:, 2] - rate[:, 2] * jw[:, 1],
                                  rate[:, 2] * jw[:, 0] - rate[:, 0] * jw[:, 2],
                                  rate[:, 0] * jw[:, 1] - rate[:, 1] * jw[:, 0]])  # w x Jw
    return inertia * kp_per_s * (rate_cmd - rate) + gyroscopic


def mix(thrust_n: np.ndarray, torque_nm: np.ndarray, mixer_inv: np.ndarray, max_rotor_thrust_n: float) -> np.ndarray:
    """Rotor thrusts `[N,4]` N for collective thrust `[N]` and body torque `[N,3]`, clipped to `[0, max]`."""
    wrench = np.concatenate([thrust_n[:, None], torque_nm], axis=1)
    return np.clip(wrench @ mixer_inv.T, 0.0, max_rotor_thrust_n)


def motor_step(rpm: np.ndarray, rpm_cmd: np.ndarray, time_constant_s: np.ndarray, dt_s: float) -> np.ndarray:
    """Exact first-order motor response over `dt_s`: `rpm_cmd + (rpm - rpm_cmd) exp(-dt / tau)`."""
    decay = np.exp(-dt_s / np.maximum(np.asarray(time_constant_s), 1e-12))  # tau 0: the motor follows at once
    return rpm_cmd + (rpm - rpm_cmd) * np.reshape(decay, (-1, 1))


class QuadrotorPlant:
    """Batched quadrotor; commands are `[N, 4]`: thrust N, roll, pitch, yaw rate rad/s."""

    def __init__(self, spec: RobotSpec, backend: str, num_envs: int) -> None:
        if spec.quadrotor is None:
            raise ValueError(f"robot '{spec.name}' is not a quadrotor")
        self.spec, p = spec, spec.quadrotor
        self.num_envs = num_envs
        self.binding = ModelBinding(base_body=p.base_body, bodies=(p.base_body,))
        self.backend = make_backend(backend, spec, self.binding, num_envs)
        self._inertia = np.array(p.inertia_kg_m2)
        self._kp = np.array(p.rate_kp_per_s)
        k = p.torque_coefficient_nm_per_rpm2 / p.thrust_coefficient_n_per_rpm2
        self._mixer = mixer_matrix(p.arm_length_m, k)
        self._mixer_inv = np.linalg.inv(self._mixer)
        self._max_rotor_thrust = p.thrust_coefficient_n_per_rpm2 * p.max_rpm**2
        self._hover_rpm = np.sqrt(p.mass_kg * GRAVITY_M_S2 / 4 / p.thrust_coefficient_n_per_rpm2)
        self.rpm = np.full((num_envs, 4), self._hover_rpm)
        self._params = {k: np.full(num_envs, v) for k, v in self.nominal_parameters().items()}
        self._gust = np.zeros((num_envs, 3))
        self._wind_dir = np.zeros((num_envs, 3))

    def nominal_parameters(self) -> dict[str, float]:
        """Nominal Crazyflie: published mass, thrust coefficient and motor constant, no wind."""
        p = self.spec.quadrotor
        return {
            "mass_kg": p.mass_kg,
            "thrust_coefficient_n_per_rpm2": p.thrust_coefficient_n_per_rpm2,
            "motor_time_constant_s": p.motor_time_constant_s,
            "wind_force_n": 0.0,
            "gust_force_n": 0.0,
            "action_latency_steps": 0.0,
            "observation_noise_scale": 0.0,
        }

    def apply_parameters(self, env_ids: np.ndarray, params: Mapping[str, np.ndarray]) -> None:
        """Set mass (inertia scales with it), thrust coefficient, motor time constant, wind and gusts."""
        for name in ("mass_kg", "thrust_coefficient_n_per_rpm2", "motor_time_constant_s", "wind_force_n",
                     "gust_force_n"):
            self._params[name][env_ids] = params[name]
        self.backend.set_body_masses(env_ids, np.asarray(params["mass_kg"])[:, None])

    def reset(self, env_ids: np.ndarray, command: np.ndarray, rng: np.random.Generator) -> None:
        """Motors spin at the rpm that gives `command`'s thrust; gusts calm; new wind direction ~ U(-pi, pi)."""
        kf = self._params["thrust_coefficient_n_per_rpm2"][env_ids]
        self.rpm[env_ids] = np.sqrt(np.maximum(command[:, :1], 0) / 4 / kf[:, None])
        self._gust[env_ids] = 0.0
        angle = rng.uniform(-np.pi, np.pi, len(env_ids))
        self._wind_dir[env_ids] = np.stack([np.cos(angle), np.sin(angle), np.zeros_like(angle)], -1)

    def rotor_commands(self, command: np.ndarray, rate: np.ndarray) -> np.ndarray:
        """The onboard rate loop's rotor-speed commands `[N,4]` rpm for commands `[N,4]` and body rates `[N,3]`.

        Rate controller and mixer run on nominal values only (the firmware's), so this depends on no randomized
        parameter.
        """
        torque = rate_controller(command[:, 1:4], rate, self._inertia, self._kp)
        thrusts = mix(command[:, 0], torque, self._mixer_inv, self._max_rotor_thrust)
        return np.sqrt(thrusts / self.spec.quadrotor.thrust_coefficient_n_per_rpm2)

    def control_step(self, command: np.ndarray, rng: np.random.Generator) -> None:
        """Run the rate loop, mixer and motors at the physics rate for one control period."""
        dt = self.spec.physics_dt_s
        p = self.spec.quadrotor
        for _ in range(self.spec.substeps):
            _, quat, linvel, angvel_world = self.backend.base_state()
            rot = quat_to_rotmat(quat)
            rate = np.einsum("nji,nj->ni", rot, angvel_world)
            rpm_cmd = self.rotor_commands(command, rate)
            self.rpm = motor_step(self.rpm, rpm_cmd, self._params["motor_time_constant_s"], dt)
            force_body, torque_body = self._rotor_wrench()
            force = np.einsum("nij,nj->ni", rot, force_body) + self._air_force(linvel, rng, dt)
            self.backend.set_external_wrench(p.base_body, force, np.einsum("nij,nj->ni", rot, torque_body))
            self.backend.step(1)

    def _rotor_wrench(self) -> tuple[np.ndarray, np.ndarray]:
        """Body-frame force and torque `[N,3]` from the current rotor speeds and the true thrust coefficient."""
        f = self._params["thrust_coefficient_n_per_rpm2"][:, None] * self.rpm**2
        wrench = f @ self._mixer.T
        force = np.zeros((self.num_envs, 3))
        force[:, 2] = wrench[:, 0]
        return force, wrench[:, 1:4]

    def _air_force(self, linvel: np.ndarray, rng: np.random.Generator, dt: float) -> np.ndarray:
        """World-frame drag, steady wind and Ornstein-Uhlenbeck gusts `[N,3]` N."""
        sigma = self._params["gust_force_n"][:, None]
        a = np.exp(-dt / GUST_TIME_CONSTANT_S)
        self._gust = a * self._gust + sigma * np.sqrt(1 - a * a) * rng.standard_normal((self.num_envs, 3))
        wind = self._params["wind_force_n"][:, None] * self._wind_dir
        return -self.spec.quadrotor.drag_coefficient_n_s_per_m * linvel + wind + self._gust

    def read_state(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Position `[N,3]` m, quaternion `[N,4]`, world velocity `[N,3]`, body rates `[N,3]`, rpm `[N,4]`."""
        pos, quat, linvel, angvel_world = self.backend.base_state()
        rate = np.einsum("nji,nj->ni", quat_to_rotmat(quat), angvel_world)
        return {"position_m": pos, "quat_wxyz": quat, "linear_velocity_m_s": linvel,
                "angular_velocity_rad_s": rate, "rotor_rpm": self.rpm.copy()}
