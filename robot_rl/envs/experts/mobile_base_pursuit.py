"""Reference mobile-base controller: pure pursuit toward the goal through a lidar-free corridor.

Candidate headings are the goal bearing and every lidar beam direction. A heading is blocked when any lidar
return lies ahead along it, closer than the look-ahead, within the robot's half-width plus a margin. The free
heading closest to the goal bearing is pursued: angular rate from the pure-pursuit curvature, speed reduced by
the heading error and near the goal. Uses only the observation.
"""

from __future__ import annotations

import numpy as np

from robot_rl.robots import RobotSpec
from robot_rl.spaces.geometry import wrap_angle
from robot_rl.spaces.mobile_base import mobile_base_goal_spec


class MobileBaseGoalExpert:
    """Corridor-checked pure pursuit."""

    def __init__(
        self, spec: RobotSpec, speed_m_s: float = 0.8, lookahead_m: float = 1.2, margin_m: float = 0.12
    ) -> None:
        p = spec.mobile_base
        self.spec = mobile_base_goal_spec(p.lidar.num_beams)
        self.beam_angles = p.lidar.fov_rad / p.lidar.num_beams * np.arange(p.lidar.num_beams)
        self.half_width = p.body_radius_m + margin_m
        self.speed, self.lookahead = speed_m_s, lookahead_m
        self.low, self.high = np.array(spec.command.low), np.array(spec.command.high)

    def choose_heading(self, bearing: np.ndarray, distance: np.ndarray, ranges: np.ndarray) -> np.ndarray:
        """Heading `[N]` rad (base frame) closest to `bearing` whose corridor is free of lidar returns."""
        n = len(bearing)
        candidates = np.concatenate([bearing[:, None], np.tile(self.beam_angles, (n, 1))], axis=1)  # [N, K]
        rel = self.beam_angles[None, None, :] - candidates[:, :, None]  # [N, K, J]
        along = ranges[:, None, :] * np.cos(rel)
        lateral = np.abs(ranges[:, None, :] * np.sin(rel))
        reach = np.minimum(distance, self.lookahead)[:, None, None]
        blocked = ((along > 0) & (along < reach) & (lateral < self.half_width)).any(axis=2)
        cost = np.abs(wrap_angle(candidates - bearing[:, None])) + 10.0 * blocked
        return candidates[np.arange(n), np.argmin(cost, axis=1)]

    def reset(self, env_ids: np.ndarray) -> None:
        """Stateless: nothing to clear when episodes restart."""

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Twist commands `[N,2]` (m/s, rad/s) from observations `[N, 7 + n_beams]`."""
        distance = obs[:, self.spec.slice("goal_distance_m")][:, 0].astype(np.float64)
        sin_cos = obs[:, self.spec.slice("goal_bearing")].astype(np.float64)
        ranges = obs[:, self.spec.slice("lidar_ranges_m")].astype(np.float64)
        bearing = np.arctan2(sin_cos[:, 0], sin_cos[:, 1])
        heading = wrap_angle(self.choose_heading(bearing, distance, ranges))
        lookahead = np.clip(distance, 0.3, self.lookahead)
        speed = self.speed * np.clip(np.cos(heading), 0.0, 1.0) ** 2 * np.clip(distance / 0.6, 0.4, 1.0)
        angular = 2.0 * max(self.speed, 0.3) * np.sin(heading) / lookahead
        return np.clip(np.column_stack([speed, angular]), self.low, self.high)
