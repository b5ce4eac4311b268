"""The backend interface: what task and plant code may ask of a physics engine, batched over `num_envs`.

Every array has a leading `num_envs` axis (or `len(env_ids)` for per-env setters). Engine differences (MuJoCo's
actuators vs PyBullet's explicit torques, frame conventions) stay inside the adapters. Quaternions are
`[w, x, y, z]`, positions and velocities are in the world frame (m, m/s, rad/s) unless stated otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class ModelBinding:
    """Names in the model that a backend exposes; taken from `robot.yaml` by the plant.

    Attributes:
        joints: joints read by `joint_state`, in order.
        position_servos: joints tracked by position servos, `(name, kp, kd, effort_max)` per joint.
        velocity_servos: joints tracked by velocity servos, `(name, kd, effort_max)` per joint.
        base_body: the floating base for `base_state` (quadrotor, mobile base), or "".
        bodies: bodies whose mass is set by `set_body_masses` or whose position is read by `body_positions`.
        sites: frames read by `site_positions` (MuJoCo sites; links with the same name in the URDF).
        obstacles: static bodies moved by `set_obstacle_positions` (MuJoCo mocap bodies).
        gravity_compensation: cancel gravity of the nominal link masses of the fixed-base chain.

    """

    joints: tuple[str, ...] = ()
    position_servos: tuple[tuple[str, float, float, float], ...] = ()
    velocity_servos: tuple[tuple[str, float, float], ...] = ()
    base_body: str = ""
    bodies: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    obstacles: tuple[str, ...] = ()
    gravity_compensation: bool = False
    extra: dict = field(default_factory=dict)


class Backend(Protocol):
    """A batch of `num_envs` independent copies of one robot model in one physics engine."""

    name: str
    num_envs: int
    physics_dt_s: float

    def step(self, num_steps: int, position_targets: np.ndarray | None = None) -> None:
        """Advance every env `num_steps` physics steps with the current targets and external wrenches.

        `position_targets` `[num_envs, num_steps, n_position_servos]`, if given, are the position-servo targets of
        each physics step in turn (a trajectory streamed within one call); the last one stays set.
        """

    def reset_state(self, env_ids: np.ndarray) -> None:
        """Return the given envs to the state they were loaded in (positions, velocities, contacts, warm starts).

        Parameters changed through the setters (masses, gains, friction) are kept.
        """

    def joint_state(self) -> tuple[np.ndarray, np.ndarray]:
        """Positions and velocities of `binding.joints`: two arrays `[num_envs, n_joints]` (rad, rad/s or m, m/s)."""

    def set_joint_state(self, env_ids: np.ndarray, qpos: np.ndarray, qvel: np.ndarray) -> None:
        """Teleport `binding.joints` of the given envs to `qpos`, `qvel` `[len(env_ids), n_joints]`."""

    def base_state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Floating base: position `[N,3]` m, quaternion `[N,4]` wxyz, velocities `[N,3]` m/s and rad/s.

        Velocities are in the world frame.
        """

    def set_base_state(
        self, env_ids: np.ndarray, pos: np.ndarray, quat: np.ndarray, linvel: np.ndarray, angvel: np.ndarray
    ) -> None:
        """Teleport the floating base of the given envs (shapes as `base_state`, rows for `env_ids`)."""

    def set_position_targets(self, targets: np.ndarray) -> None:
        """Targets `[num_envs, n_position_servos]` for the position servos (rad or m)."""

    def set_velocity_targets(self, targets: np.ndarray) -> None:
        """Targets `[num_envs, n_velocity_servos]` for the velocity servos (rad/s)."""

    def set_servo_gains(self, env_ids: np.ndarray, kp: np.ndarray, kd: np.ndarray) -> None:
        """Position-servo gains `[len(env_ids), n_position_servos]` (N*m/rad, N*m*s/rad)."""

    def set_external_wrench(self, body: str, force: np.ndarray, torque: np.ndarray) -> None:
        """World-frame force `[N,3]` (N) and torque `[N,3]` (N*m) at `body`'s centre of mass, held until changed."""

    def body_positions(self) -> np.ndarray:
        """World positions of `binding.bodies`' frames: `[num_envs, n_bodies, 3]` m."""

    def site_positions(self) -> np.ndarray:
        """World positions of `binding.sites`: `[num_envs, n_sites, 3]` m."""

    def nominal_body_masses(self) -> np.ndarray:
        """Masses of `binding.bodies` as loaded: `[n_bodies]` kg."""

    def set_body_masses(self, env_ids: np.ndarray, masses: np.ndarray) -> None:
        """Masses `[len(env_ids), n_bodies]` kg; inertias scale with them. Gravity compensation stays nominal."""

    def set_joint_dynamics(self, env_ids: np.ndarray, damping: np.ndarray, friction: np.ndarray) -> None:
        """Passive damping (N*m*s/rad) and Coulomb friction (N*m) of `binding.joints`, `[len(env_ids), n_joints]`."""

    def set_ground_friction(self, env_ids: np.ndarray, friction: np.ndarray) -> None:
        """Sliding friction coefficient of the floor `[len(env_ids)]`."""

    def set_obstacle_positions(self, env_ids: np.ndarray, xy: np.ndarray) -> None:
        """Move `binding.obstacles` to planar positions `[len(env_ids), n_obstacles, 2]` m."""

    def ray_cast(self, origins: np.ndarray, directions: np.ndarray, max_range_m: float) -> np.ndarray:
        """Distances `[N, n_rays]` m along unit `directions` `[N, n_rays, 3]` from `origins` `[N,3]`.

        Rays ignore the robot's own bodies; a ray that hits nothing within `max_range_m` returns `max_range_m`.
        """

    def close(self) -> None:
        """Release engine resources."""
