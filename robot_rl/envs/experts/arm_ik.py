"""Reference arm controller: damped-least-squares inverse kinematics toward the target, as joint targets.

Uses only the observation (measured joints, TCP, target) and the arm's published kinematics, so it runs the
same in sim and as a simulated expert on the robot. Joint steps are limited to 90 % of the velocity limit.
"""

from __future__ import annotations

import numpy as np

from robot_rl.robots import RobotSpec
from robot_rl.spaces.arm import arm_reach_spec

# Joint frame origins of the Panda (xyz m, roll about x rad), as in sim/arm/model.urdf; joints rotate about z.
_ORIGINS = (
    ((0.0, 0.0, 0.333), 0.0),
    ((0.0, 0.0, 0.0), -np.pi / 2),
    ((0.0, -0.316, 0.0), np.pi / 2),
    ((0.0825, 0.0, 0.0), np.pi / 2),
    ((-0.0825, 0.384, 0.0), -np.pi / 2),
    ((0.0, 0.0, 0.0), np.pi / 2),
    ((0.088, 0.0, 0.0), np.pi / 2),
)
_TCP_OFFSET_M = 0.107 + 0.1034  # flange plus hand to the TCP, along joint 7's z axis


def _rot_x(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def panda_tcp(q: np.ndarray) -> np.ndarray:
    """TCP positions `[N,3]` m in the base frame for joint positions `q` `[N,7]` rad (forward kinematics)."""
    n = q.shape[0]
    rot = np.tile(np.eye(3), (n, 1, 1))
    pos = np.zeros((n, 3))
    for i, (xyz, roll) in enumerate(_ORIGINS):
        pos = pos + rot @ np.array(xyz)
        rot = rot @ _rot_x(roll)
        c, s = np.cos(q[:, i]), np.sin(q[:, i])
        rz = np.zeros((n, 3, 3))
        rz[:, 0, 0], rz[:, 0, 1], rz[:, 1, 0], rz[:, 1, 1], rz[:, 2, 2] = c, -s, s, c, 1.0
        rot = rot @ rz
    return pos + rot[:, :, 2] * _TCP_OFFSET_M


def tcp_jacobian(q: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Positional Jacobian `[N,3,7]` m/rad of `panda_tcp` by central differences."""
    cols = []
    for i in range(q.shape[1]):
        dq = np.zeros_like(q)
        dq[:, i] = eps
        cols.append((panda_tcp(q + dq) - panda_tcp(q - dq)) / (2 * eps))
    return np.stack(cols, axis=2)


class ArmReachExpert:
    """Damped-least-squares IK with a null-space pull toward the home pose."""

    def __init__(self, spec: RobotSpec, gain: float = 0.5, damping: float = 0.05, null_gain: float = 0.1) -> None:
        a = spec.arm
        self.spec = arm_reach_spec(len(a.joints))
        self.gain, self.damping, self.null_gain = gain, damping, null_gain
        self.home = np.array(a.home_rad)
        self.max_step = 0.9 * np.array([j.velocity_max_rad_s for j in a.joints]) * spec.control_dt_s
        self.low, self.high = np.array(spec.command.low), np.array(spec.command.high)

    def reset(self, env_ids: np.ndarray) -> None:
        """Stateless: nothing to clear when episodes restart."""

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Joint position targets `[N,7]` rad from observations `[N, n_obs]`."""
        q = obs[:, self.spec.slice("joint_pos_rad")].astype(np.float64)
        error = obs[:, self.spec.slice("ee_to_target_m")].astype(np.float64)
        jac = tcp_jacobian(q)
        jjt = jac @ jac.transpose(0, 2, 1) + self.damping**2 * np.eye(3)
        pinv = jac.transpose(0, 2, 1) @ np.linalg.inv(jjt)
        dq = (pinv @ (self.gain * error)[:, :, None])[:, :, 0]
        null = np.eye(q.shape[1]) - pinv @ jac
        dq += (null @ (self.null_gain * (self.home - q))[:, :, None])[:, :, 0]
        return np.clip(q + np.clip(dq, -self.max_step, self.max_step), self.low, self.high)
