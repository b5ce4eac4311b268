"""Reference quadrotor controller: cascaded position -> acceleration -> thrust + body rates.

Position PID gives a desired acceleration (the integral, active near the setpoint only, absorbs wind and mass or
thrust errors); collective thrust is its projection on the body z axis times the nominal mass; the tilt error
between body z and the desired thrust direction becomes roll/pitch rate commands; yaw rate is held at zero.
Uses only the observation and nominal parameters.
"""

from __future__ import annotations

import numpy as np

from robot_rl.robots import RobotSpec
from robot_rl.spaces.quadrotor import QUADROTOR_HOVER_SPEC

GRAVITY = np.array([0.0, 0.0, 9.81])


class QuadrotorHoverExpert:
    """Cascaded PID position control with geometric attitude-to-rate conversion."""

    def __init__(
        self, spec: RobotSpec, kp_pos: float = 6.0, kd_pos: float = 4.0, ki_pos: float = 4.0, k_att: float = 10.0
    ) -> None:
        self.spec = QUADROTOR_HOVER_SPEC
        self.mass = spec.quadrotor.mass_kg
        self.kp, self.kd, self.ki, self.k_att = kp_pos, kd_pos, ki_pos, k_att
        self.dt = spec.control_dt_s
        self.low, self.high = np.array(spec.command.low), np.array(spec.command.high)
        self.integral = np.zeros((0, 3))

    def reset(self, env_ids: np.ndarray) -> None:
        """Clear the position integral of envs that start a new episode."""
        self.integral[env_ids] = 0.0

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Commands `[N,4]` (thrust N, roll, pitch, yaw rate rad/s) from observations `[N, 22]`."""
        error = obs[:, self.spec.slice("position_error_m")].astype(np.float64)
        vel = obs[:, self.spec.slice("linear_velocity_m_s")].astype(np.float64)
        rot = obs[:, self.spec.slice("rotation_matrix")].astype(np.float64).reshape(-1, 3, 3)
        if self.integral.shape[0] != len(obs):
            self.integral = np.zeros((len(obs), 3))
        near = np.linalg.norm(error, axis=1, keepdims=True) < 0.25  # integrate near the setpoint only (no windup)
        self.integral = np.clip(self.integral + near * error * self.dt, -0.3, 0.3)
        acc = self.kp * error - self.kd * vel + self.ki * self.integral + GRAVITY
        acc[:, 2] = np.maximum(acc[:, 2], 0.3 * GRAVITY[2])  # never command a dive past free fall
        body_z = rot[:, :, 2]
        thrust = self.mass * np.einsum("ni,ni->n", acc, body_z)
        desired_z = acc / np.linalg.norm(acc, axis=1, keepdims=True)
        tilt_error_body = np.einsum("nji,nj->ni", rot, np.cross(body_z, desired_z))
        rates = self.k_att * tilt_error_body
        rates[:, 2] = 0.0
        return np.clip(np.column_stack([thrust, rates]), self.low, self.high)
