"""Simulated differential-drive base: Twist command -> wheel speeds with saturation and acceleration limits.

As in ros2 `diff_drive_controller`: wheel speeds `(v -+ w * track / 2) / r` with the nominal radius; when a wheel
exceeds its limit both are scaled down together (the path's curvature is kept); targets ramp at the wheel
acceleration limit at the physics rate. Randomized wheel radius acts on the wheel-speed-to-ground-speed ratio
(collision geometry stays nominal); wheel slip removes a random fraction of each wheel's speed every control step.
The lidar is a planar fan of ray casts with Gaussian range noise, clipped to its range limits.

Pushes on the chassis (`pushes.RandomPushes`, `push_force_n` per episode) are off in training (robot.yaml holds
the parameter `constant` at 0); the release gate's push stress cases turn them on. While no env of the batch is
pushed the plant draws nothing for them, so the random stream of every other episode is the one it always was.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from robot_rl.envs.backends import ModelBinding, make_backend
from robot_rl.envs.plants.pushes import RandomPushes
from robot_rl.robots import RobotSpec
from robot_rl.spaces.geometry import quat_to_rotmat, yaw_from_quat

OBSTACLE_BODIES = tuple(f"obstacle{i}" for i in range(6))
PUSH_RATE_HZ = 0.5  # expected pushes per second when push_force_n > 0
PUSH_DURATION_S = 0.2  # four control periods


def wheel_speed_targets(
    command: np.ndarray, wheel_radius_m: float, track_width_m: float, max_speed_rad_s: float
) -> np.ndarray:
    """Left/right wheel speeds `[N,2]` rad/s for `[N,2]` (linear m/s, angular rad/s), scaled to the limit."""
    v, w = command[:, 0], command[:, 1]
    half = track_width_m / 2
    wheels = np.stack([(v - w * half) / wheel_radius_m, (v + w * half) / wheel_radius_m], -1)
    scale = np.maximum(1.0, np.abs(wheels).max(axis=1) / max_speed_rad_s)
    return wheels / scale[:, None]


def wheel_ramp(desired: np.ndarray, start: np.ndarray, max_step: float) -> np.ndarray:
    """The wheel-speed ramp's state `[T, 2]` rad/s at the start of every control period.

    `desired` `[T, 2]` are each period's wheel-speed targets (`wheel_speed_targets`), `start` `[2]` the ramp's state
    before the first, `max_step` the most it moves in one period (acceleration limit x period, rad/s): the plant's
    per-physics-step ramp ends every period at state + clip(desired - state, -max_step, max_step).

    >>> wheel_ramp(np.array([[1.0, -1.0], [1.0, -1.0]]), np.zeros(2), 0.6).tolist()
    [[0.0, 0.0], [0.6, -0.6]]
    """
    out = np.empty((len(desired), 2))
    state = np.asarray(start, dtype=np.float64).copy()
    for t, target in enumerate(desired):
        out[t] = state
        state = state + np.clip(target - state, -max_step, max_step)
    return out


def lidar_directions(yaw_rad: np.ndarray, num_beams: int, fov_rad: float) -> np.ndarray:
    """Unit world-frame beam directions `[N, num_beams, 3]`; beam 0 along the heading, counter-clockwise."""
    step = fov_rad / num_beams
    angles = yaw_rad[:, None] + step * np.arange(num_beams)[None, :]
    return np.stack([np.cos(angles), np.sin(angles), np.zeros_like(angles)], -1)


class MobileBasePlant:
    """Batched differential-drive base; commands are `[N, 2]`: linear x m/s, angular z rad/s."""

    def __init__(self, spec: RobotSpec, backend: str, num_envs: int) -> None:
        if spec.mobile_base is None:
            raise ValueError(f"robot '{spec.name}' is not a mobile base")
        self.spec, p = spec, spec.mobile_base
        self.num_envs = num_envs
        self.binding = ModelBinding(
            joints=tuple(p.wheel_joints),
            velocity_servos=tuple((j, p.wheel_kd_nm_s_per_rad, p.wheel_torque_max_nm) for j in p.wheel_joints),
            base_body=p.base_body,
            bodies=(p.base_body,),
            sites=(p.lidar.site,),
            obstacles=OBSTACLE_BODIES,
            extra={"obstacle_urdf": str(spec.path("obstacle.urdf"))},
        )
        self.backend = make_backend(backend, spec, self.binding, num_envs)
        self._params = {k: np.full(num_envs, v) for k, v in self.nominal_parameters().items()}
        self._wheel_target = np.zeros((num_envs, 2))
        self.pushes = RandomPushes(num_envs, PUSH_RATE_HZ, PUSH_DURATION_S)
        self._pushing = False  # the backend holds a non-zero push

    def nominal_parameters(self) -> dict[str, float]:
        """Nominal base: design wheel radius and mass, good floor friction, no slip, push, latency or noise."""
        return {
            "wheel_radius_m": self.spec.mobile_base.wheel_radius_m,
            "ground_friction": 0.8,
            "chassis_mass_kg": float(self.backend.nominal_body_masses()[0]),
            "wheel_slip_fraction": 0.0,
            "push_force_n": 0.0,
            "action_latency_steps": 0.0,
            "observation_noise_scale": 0.0,
        }

    def apply_parameters(self, env_ids: np.ndarray, params: Mapping[str, np.ndarray]) -> None:
        """Set ground friction and chassis mass; keep wheel radius, slip and push force for the control loop."""
        for name in ("wheel_radius_m", "wheel_slip_fraction", "observation_noise_scale"):
            self._params[name][env_ids] = params[name]
        self.pushes.force_n[env_ids] = params["push_force_n"]
        self.backend.set_ground_friction(env_ids, np.asarray(params["ground_friction"]))
        self.backend.set_body_masses(env_ids, np.asarray(params["chassis_mass_kg"])[:, None])

    def reset(self, env_ids: np.ndarray, command: np.ndarray, rng: np.random.Generator) -> None:
        """Wheels at rest, no push."""
        self._wheel_target[env_ids] = 0.0
        self.pushes.stop(env_ids)

    def set_wheel_ramp(self, env_ids: np.ndarray, wheel_speeds: np.ndarray) -> None:
        """Set the wheel-speed ramp's state `[len(env_ids), 2]` rad/s (replays start mid-motion: `wheel_ramp`)."""
        self._wheel_target[env_ids] = wheel_speeds

    def control_step(self, command: np.ndarray, rng: np.random.Generator) -> None:
        """Ramp wheel speeds toward the command at the acceleration limit, with slip, for one control period."""
        p = self.spec.mobile_base
        desired = wheel_speed_targets(command, p.wheel_radius_m, p.track_width_m, p.wheel_speed_max_rad_s)
        slip = 1.0 - self._params["wheel_slip_fraction"][:, None] * rng.random((self.num_envs, 2))
        radius_ratio = (self._params["wheel_radius_m"] / p.wheel_radius_m)[:, None]
        max_delta = p.wheel_accel_max_rad_s2 * self.spec.physics_dt_s
        if self._pushing or self.pushes.force_n.any():
            push = self.pushes.step(rng, self.spec.control_dt_s)
            self.backend.set_external_wrench(p.base_body, push, np.zeros_like(push))
            self._pushing = bool(push.any())
        for _ in range(self.spec.substeps):
            self._wheel_target += np.clip(desired - self._wheel_target, -max_delta, max_delta)
            self.backend.set_velocity_targets(self._wheel_target * slip * radius_ratio)
            self.backend.step(1)

    def read_state(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Pose, body-frame speeds, wheel speeds and a noisy lidar scan `[N, num_beams]` m."""
        p = self.spec.mobile_base
        pos, quat, linvel, angvel = self.backend.base_state()
        yaw = yaw_from_quat(quat)
        heading = np.stack([np.cos(yaw), np.sin(yaw)], -1)
        origins = self.backend.site_positions()[:, 0]
        dirs = lidar_directions(yaw, p.lidar.num_beams, p.lidar.fov_rad)
        ranges = self.backend.ray_cast(origins, dirs, p.lidar.range_max_m)
        noise = p.lidar.noise_std_m * self._params["observation_noise_scale"][:, None]
        ranges = np.clip(ranges + noise * rng.standard_normal(ranges.shape), p.lidar.range_min_m, p.lidar.range_max_m)
        _, wheel_vel = self.backend.joint_state()
        return {
            "base_xy_m": pos[:, :2],
            "base_z_m": pos[:, 2],
            "base_yaw_rad": yaw,
            "base_up_z": quat_to_rotmat(quat)[:, 2, 2],
            "forward_velocity_m_s": np.einsum("ni,ni->n", linvel[:, :2], heading),
            "yaw_rate_rad_s": angvel[:, 2],
            "lidar_ranges_m": ranges,
            "wheel_velocity_rad_s": wheel_vel,
        }
