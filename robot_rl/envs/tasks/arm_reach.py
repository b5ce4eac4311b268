"""`robot_rl/ArmReach-v0`: bring the arm's TCP to a random target in the workspace and hold it there."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from robot_rl.envs.plants import Plant
from robot_rl.envs.tasks.base import Outcome, hold_counter
from robot_rl.robots import RobotSpec
from robot_rl.spaces.arm import arm_reach_observation, arm_reach_spec


@dataclass(frozen=True)
class ArmReachConfig:
    """Arm reach task parameters; distances in m in the robot base frame."""

    target_low_m: tuple[float, float, float] = (0.3, -0.35, 0.15)
    """Target box lower corner; target ~ U(target_low_m, target_high_m) per episode."""
    target_high_m: tuple[float, float, float] = (0.65, 0.35, 0.6)
    """Target box upper corner."""
    start_noise_rad: float = 0.1
    """Start joint positions ~ home + U(-start_noise_rad, start_noise_rad), clipped to limits."""
    success_radius_m: float = 0.03
    """TCP within this distance of the target counts as reached."""
    hold_steps: int = 5
    """Control steps the target must stay reached for success (ends the episode)."""
    max_episode_steps: int = 150
    """Episode length limit at 50 Hz (3 s)."""
    floor_clearance_m: float = 0.05
    """Any link frame lower than this is a crash."""
    velocity_breach_factor: float = 1.5
    """Joint speed above this multiple of its limit is a limit breach."""
    reward_scales: dict[str, float] = field(
        default_factory=lambda: {"distance": -1.0, "reached": 1.0, "action_rate": -0.1, "joint_velocity": -0.001,
                                 "joint_acceleration": -1e-5, "failure": -10.0}
    )
    """distance: m to target; reached: 1 inside success_radius_m; action_rate: sum of squared target changes per
    step, rad^2; joint_velocity: (rad/s)^2; joint_acceleration: sum of squared measured joint accelerations over
    the step ((qd_t - qd_(t-1)) / dt), (rad/s^2)^2 (legged_gym's dof_acc term, here per control step); failure: 1 at
    a crash or limit breach (ends the episode). Every step costs (distance), so without the failure term ending an
    episode early by crashing was cheaper than a slower reach: with targets stepping at most the joint speed per
    step (the action map), a policy trained without it crashed in 46 % of episodes."""


class ArmReachTask:
    """Batched reach task."""

    robot = "arm"

    def __init__(self, spec: RobotSpec, num_envs: int, config: ArmReachConfig) -> None:
        self.spec, self.config = spec, config
        a = spec.arm
        self.observation_spec = arm_reach_spec(len(a.joints))
        self.max_episode_steps = config.max_episode_steps
        self.reward_scales = config.reward_scales
        self._home = np.array(a.home_rad)
        self._low = np.array(spec.command.low)
        self._high = np.array(spec.command.high)
        self._vmax = np.array([j.velocity_max_rad_s for j in a.joints])
        self.target = np.zeros((num_envs, 3))
        self._hold = np.zeros(num_envs, dtype=int)
        self._last_qd = np.zeros((num_envs, len(a.joints)))
        self._rate_hz = float(spec.control_rate_hz)

    def reset(self, plant: Plant, env_ids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Home pose plus noise, a new target; returns the start pose as the held command."""
        c = self.config
        n = len(env_ids)
        q = np.clip(self._home + rng.uniform(-c.start_noise_rad, c.start_noise_rad, (n, len(self._home))),
                    self._low, self._high)
        self.target[env_ids] = rng.uniform(c.target_low_m, c.target_high_m, (n, 3))
        self._hold[env_ids] = 0
        self._last_qd[env_ids] = 0.0
        plant.backend.set_joint_state(env_ids, q, np.zeros_like(q))
        return q

    def observe(self, state: Mapping[str, np.ndarray], last_action: np.ndarray) -> np.ndarray:
        """Observation `[N, 30]` (see `robot_rl.spaces.arm.arm_reach_spec`)."""
        return arm_reach_observation(
            state["joint_pos_rad"], state["joint_vel_rad_s"], state["ee_pos_m"], self.target, last_action
        )

    def evaluate(self, state: Mapping[str, np.ndarray], action: np.ndarray, last_action: np.ndarray) -> Outcome:
        """Distance and smoothness terms; success after holding the target; crash or speed breach fails."""
        c = self.config
        distance = np.linalg.norm(self.target - state["ee_pos_m"], axis=1)
        reached = distance < c.success_radius_m
        self._hold = hold_counter(self._hold, reached)
        crash = state["link_pos_m"][:, :, 2].min(axis=1) < c.floor_clearance_m
        breach = (np.abs(state["joint_vel_rad_s"]) > c.velocity_breach_factor * self._vmax).any(axis=1)
        success = self._hold >= c.hold_steps
        qd = state["joint_vel_rad_s"]
        acceleration = (qd - self._last_qd) * self._rate_hz
        self._last_qd = qd.copy()
        terms = {
            "distance": distance,
            "reached": reached.astype(np.float64),
            "action_rate": np.sum((action - last_action) ** 2, axis=1),
            "joint_velocity": np.sum(qd**2, axis=1),
            "joint_acceleration": np.sum(acceleration**2, axis=1),
        }
        failure = crash | breach
        terms["failure"] = failure.astype(np.float64)
        return Outcome(terms=terms, success=success & ~failure, failure=failure, terminal=success | failure,
                       error=distance)

    def task_info(self) -> dict[str, np.ndarray]:
        """The reach targets `[N, 3]` m."""
        return {"target_pos_m": self.target.copy()}
