"""What a simulated operator knows about each task: its error, a one-step value model, stall and safety margins.

Everything here is a pure function of observation and command arrays (batched over a leading `N` axis), read
through the task's named observation quantities, never through hand-written slices.

Value estimate (used by RLIF's rule in `robot_rl.teleop.sim_operator`): the operator predicts the task error
`e(obs, a)` (m) that command `a` leads to with a small model of the robot, and values the command as

    V(obs, a) = exp(-e(obs, a) / scale_m)            (0 < V <= 1; scale_m default 0.1 m)

so `V(a_policy) < alpha * V(a_own)` holds exactly when `e(a_policy) - e(a_own) > -scale_m * ln(alpha)`, i.e. the
policy's command is predicted to leave the robot more than 3.05 mm (alpha 0.97, scale 0.1 m) farther from the goal
than the operator's own command. The models per robot:

- arm (joint position targets, one control step): the servo moves each joint toward its target by at most its
  velocity limit times the control period, `q' = q + clip(a - q, -v_max dt, v_max dt)`; the TCP moves by
  `panda_tcp(q') - panda_tcp(q)` (forward kinematics); `e = |ee_to_target - (panda_tcp(q') - panda_tcp(q))|`.
- quadrotor (thrust N + body rates rad/s, held for 0.25 s): rigid body with the nominal mass, rates tracked
  exactly, thrust along body z, gravity, no drag; integrated with 10 semi-implicit Euler steps;
  `e = |position_error(0.25 s)| + 0.25 s * |velocity(0.25 s)|` (the task wants the setpoint reached AND slow).
- mobile base (twist m/s, rad/s, held for 0.5 s): unicycle from the base frame origin, 10 Euler steps;
  `e = |goal - position(0.5 s)| + 1 m` if any point of the path comes closer than the body radius to a lidar
  return (a predicted collision counts as one extra metre).

The task error without a command (`task_error`) is the distance the task is judged on: arm `|ee_to_target_m|`,
quadrotor `|position_error_m|`, mobile base `goal_distance_m`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from robot_rl.envs.experts.arm_ik import panda_tcp
from robot_rl.robots import RobotSpec
from robot_rl.spaces import VectorSpec

GRAVITY_M_S2 = 9.81
QUADROTOR_HORIZON_S = 0.25
"""How long the quadrotor model holds a command, s."""
QUADROTOR_VELOCITY_WEIGHT_S = 0.25
"""Predicted speed (m/s) times this counts as error (m) for the quadrotor."""
BASE_HORIZON_S = 0.5
"""How long the mobile-base model holds a twist, s."""
BASE_COLLISION_PENALTY_M = 1.0
"""Extra predicted error, m, when the mobile base's predicted path touches a lidar return."""
MODEL_SUBSTEPS = 10
"""Euler steps over the quadrotor and mobile-base horizons."""


@dataclass(frozen=True)
class Margins:
    """Safety margins of the margin rule (each robot reads its own)."""

    joint_margin_rad: float
    """arm: a joint closer than this to a position limit, rad."""
    lidar_margin_m: float
    """mobile base: a lidar range below this, m (from the lidar at the base centre)."""
    tilt_margin_rad: float
    """quadrotor: tilt of body z from world z above this, rad."""
    altitude_margin_m: float
    """quadrotor: altitude (setpoint z minus position error z) below this, m."""


def value_estimate(predicted_error_m: np.ndarray, scale_m: float) -> np.ndarray:
    """Values `[N]` in (0, 1]: `exp(-predicted_error_m / scale_m)` of predicted task errors `[N]` m."""
    return np.exp(-np.asarray(predicted_error_m, dtype=np.float64) / scale_m)


def value_rule_flags(error_policy_m: np.ndarray, error_own_m: np.ndarray, scale_m: float, alpha: float) -> np.ndarray:
    """`[N]` bool: V(policy) < alpha * V(own), evaluated in the log domain (no underflow for large errors).

    `exp(-e_p/s) < alpha exp(-e_o/s)`  <=>  `e_p - e_o > -s ln(alpha)`.
    """
    return np.asarray(error_policy_m) - np.asarray(error_own_m) > -scale_m * np.log(alpha)


def stalled(errors_m: np.ndarray, eps_m: float, done_m: float) -> bool:
    """Progress stalled over a window: errors `[W+1]` m (oldest first) fell by no more than `eps_m`.

    An error already below `done_m` (the task's success tolerance) is holding, not stalling.
    """
    return bool(errors_m[0] - errors_m[-1] <= eps_m and errors_m[-1] > done_m)


def arm_predicted_error(
    q_rad: np.ndarray, ee_to_target_m: np.ndarray, target_rad: np.ndarray, max_step_rad: np.ndarray
) -> np.ndarray:
    """Predicted TCP-to-target distance `[N]` m after one step toward joint targets `[N,7]` (see module doc).

    Args:
        q_rad: measured joint positions `[N,7]` rad.
        ee_to_target_m: target minus TCP `[N,3]` m.
        target_rad: commanded joint targets `[N,7]` rad.
        max_step_rad: `[7]` largest joint motion in one control step, rad (velocity limit times period).

    """
    q_next = q_rad + np.clip(target_rad - q_rad, -max_step_rad, max_step_rad)
    moved = panda_tcp(q_next) - panda_tcp(q_rad)
    return np.linalg.norm(ee_to_target_m - moved, axis=1)


def _rodrigues(rates: np.ndarray, dt: float) -> np.ndarray:
    """Rotations `[N,3,3]` by body rates `[N,3]` rad/s held for `dt` s."""
    angle = np.linalg.norm(rates, axis=1) * dt
    axis = rates / np.maximum(np.linalg.norm(rates, axis=1, keepdims=True), 1e-12)
    k = np.zeros((len(rates), 3, 3))
    k[:, 0, 1], k[:, 0, 2], k[:, 1, 2] = -axis[:, 2], axis[:, 1], -axis[:, 0]
    k = k - k.transpose(0, 2, 1)
    s, c = np.sin(angle)[:, None, None], np.cos(angle)[:, None, None]
    return np.eye(3) + s * k + (1 - c) * (k @ k)


def quadrotor_predicted_error(
    position_error_m: np.ndarray, rotation: np.ndarray, velocity_m_s: np.ndarray, command: np.ndarray, mass_kg: float
) -> np.ndarray:
    """Predicted error `[N]` m after holding `command` for `QUADROTOR_HORIZON_S` (see module doc).

    Args:
        position_error_m: setpoint minus position `[N,3]` m, world frame.
        rotation: body-to-world rotations `[N,3,3]`.
        velocity_m_s: world velocity `[N,3]` m/s.
        command: `[N,4]` thrust N, roll, pitch, yaw rate rad/s.
        mass_kg: nominal mass.

    """
    h = QUADROTOR_HORIZON_S / MODEL_SUBSTEPS
    e, v, rot = position_error_m.astype(np.float64), velocity_m_s.astype(np.float64), rotation.astype(np.float64)
    step = _rodrigues(command[:, 1:4].astype(np.float64), h)
    for _ in range(MODEL_SUBSTEPS):
        acc = rot[:, :, 2] * (command[:, 0:1] / mass_kg) - np.array([0.0, 0.0, GRAVITY_M_S2])
        v = v + acc * h
        e = e - v * h
        rot = rot @ step
    return np.linalg.norm(e, axis=1) + QUADROTOR_VELOCITY_WEIGHT_S * np.linalg.norm(v, axis=1)


def base_predicted_error(
    distance_m: np.ndarray, bearing_sin_cos: np.ndarray, ranges_m: np.ndarray, beam_angles_rad: np.ndarray,
    twist: np.ndarray, body_radius_m: float,
) -> np.ndarray:
    """Predicted goal distance `[N]` m after holding `twist` for `BASE_HORIZON_S`, plus the collision penalty.

    Args:
        distance_m: goal distance `[N]` m.
        bearing_sin_cos: `[N,2]` sin and cos of the goal bearing in the base frame.
        ranges_m: lidar ranges `[N,J]` m, beam j at `beam_angles_rad[j]` (base frame, counter-clockwise).
        beam_angles_rad: `[J]` rad.
        twist: `[N,2]` forward speed m/s, yaw rate rad/s.
        body_radius_m: footprint radius; a path point closer than this to a lidar return is a collision.

    """
    h = BASE_HORIZON_S / MODEL_SUBSTEPS
    goal = distance_m[:, None] * bearing_sin_cos[:, ::-1]  # (d cos b, d sin b)
    obstacles = ranges_m[:, :, None] * np.stack([np.cos(beam_angles_rad), np.sin(beam_angles_rad)], -1)[None]
    xy, heading = np.zeros((len(distance_m), 2)), np.zeros(len(distance_m))
    clearance = np.full(len(distance_m), np.inf)
    for _ in range(MODEL_SUBSTEPS):
        xy = xy + h * twist[:, 0:1] * np.column_stack([np.cos(heading), np.sin(heading)])
        heading = heading + h * twist[:, 1]
        clearance = np.minimum(clearance, np.linalg.norm(obstacles - xy[:, None, :], axis=2).min(axis=1))
    return np.linalg.norm(goal - xy, axis=1) + BASE_COLLISION_PENALTY_M * (clearance < body_radius_m)


class TaskModel(Protocol):
    """One robot's view of its task, as the simulated operator sees it (all arrays batched over `N`)."""

    done_m: float
    """Task error below which the task counts as achieved (no stall), m."""

    def task_error(self, obs: np.ndarray) -> np.ndarray:
        """Task error `[N]` m of observations `[N, n_obs]`."""

    def predicted_error(self, obs: np.ndarray, command: np.ndarray) -> np.ndarray:
        """Predicted task error `[N]` m after command `[N, n_cmd]` (the value model)."""

    def near_limit(self, obs: np.ndarray, margins: Margins) -> np.ndarray:
        """`[N]` bool: a safety margin is near."""


class ArmModel:
    """Arm reach: TCP distance, one-step forward-kinematics model, joints near their position limits."""

    def __init__(self, robot: RobotSpec, spec: VectorSpec, task_config: object) -> None:
        joints = robot.arm.joints
        self.spec, self.done_m = spec, float(task_config.success_radius_m)
        self.max_step = np.array([j.velocity_max_rad_s for j in joints]) * robot.control_dt_s
        self.q_min = np.array([j.position_min_rad for j in joints])
        self.q_max = np.array([j.position_max_rad for j in joints])

    def task_error(self, obs: np.ndarray) -> np.ndarray:
        """`|ee_to_target_m|` `[N]` m."""
        return np.linalg.norm(obs[:, self.spec.slice("ee_to_target_m")].astype(np.float64), axis=1)

    def predicted_error(self, obs: np.ndarray, command: np.ndarray) -> np.ndarray:
        """`arm_predicted_error` of joint targets `[N,7]` rad."""
        q = obs[:, self.spec.slice("joint_pos_rad")].astype(np.float64)
        error = obs[:, self.spec.slice("ee_to_target_m")].astype(np.float64)
        return arm_predicted_error(q, error, np.asarray(command, dtype=np.float64), self.max_step)

    def near_limit(self, obs: np.ndarray, margins: Margins) -> np.ndarray:
        """A measured joint within `joint_margin_rad` of its position limit."""
        q = obs[:, self.spec.slice("joint_pos_rad")].astype(np.float64)
        gap = np.minimum(q - self.q_min, self.q_max - q)
        return (gap < margins.joint_margin_rad).any(axis=1)


class QuadrotorModel:
    """Quadrotor hover: position error, rigid-body model, tilt and altitude margins."""

    def __init__(self, robot: RobotSpec, spec: VectorSpec, task_config: object) -> None:
        self.spec, self.done_m = spec, float(task_config.success_position_m)
        self.mass = robot.quadrotor.mass_kg
        self.setpoint_z_m = float(task_config.setpoint_m[2])

    def task_error(self, obs: np.ndarray) -> np.ndarray:
        """`|position_error_m|` `[N]` m."""
        return np.linalg.norm(obs[:, self.spec.slice("position_error_m")].astype(np.float64), axis=1)

    def predicted_error(self, obs: np.ndarray, command: np.ndarray) -> np.ndarray:
        """`quadrotor_predicted_error` of commands `[N,4]`."""
        e = obs[:, self.spec.slice("position_error_m")]
        rot = obs[:, self.spec.slice("rotation_matrix")].reshape(-1, 3, 3)
        v = obs[:, self.spec.slice("linear_velocity_m_s")]
        return quadrotor_predicted_error(e, rot, v, np.asarray(command, dtype=np.float64), self.mass)

    def near_limit(self, obs: np.ndarray, margins: Margins) -> np.ndarray:
        """Tilt above `tilt_margin_rad` or altitude below `altitude_margin_m`."""
        up = obs[:, self.spec.slice("rotation_matrix")].astype(np.float64)[:, 8]  # R[2,2] = cos(tilt)
        tilt = np.arccos(np.clip(up, -1.0, 1.0))
        altitude = self.setpoint_z_m - obs[:, self.spec.slice("position_error_m")].astype(np.float64)[:, 2]
        return (tilt > margins.tilt_margin_rad) | (altitude < margins.altitude_margin_m)


class MobileBaseModel:
    """Mobile base go-to-goal: goal distance, unicycle model with lidar collision check, lidar margin."""

    def __init__(self, robot: RobotSpec, spec: VectorSpec, task_config: object) -> None:
        p = robot.mobile_base
        self.spec, self.done_m = spec, float(task_config.goal_radius_m)
        self.beam_angles = p.lidar.fov_rad / p.lidar.num_beams * np.arange(p.lidar.num_beams)
        self.body_radius_m = p.body_radius_m

    def task_error(self, obs: np.ndarray) -> np.ndarray:
        """`goal_distance_m` `[N]` m."""
        return obs[:, self.spec.slice("goal_distance_m")][:, 0].astype(np.float64)

    def predicted_error(self, obs: np.ndarray, command: np.ndarray) -> np.ndarray:
        """`base_predicted_error` of twists `[N,2]`."""
        return base_predicted_error(
            self.task_error(obs), obs[:, self.spec.slice("goal_bearing")].astype(np.float64),
            obs[:, self.spec.slice("lidar_ranges_m")].astype(np.float64), self.beam_angles,
            np.asarray(command, dtype=np.float64), self.body_radius_m,
        )

    def near_limit(self, obs: np.ndarray, margins: Margins) -> np.ndarray:
        """The shortest lidar range below `lidar_margin_m`."""
        return obs[:, self.spec.slice("lidar_ranges_m")].min(axis=1) < margins.lidar_margin_m


TASK_MODELS: dict[str, type] = {"arm": ArmModel, "quadrotor": QuadrotorModel, "mobile_base": MobileBaseModel}
"""Robot kind -> its `TaskModel` class, built as `cls(robot, observation_spec, task_config)`."""
