"""Constraint violations of the measured state, by hand: what the release gate counts as violation steps."""

from __future__ import annotations

import numpy as np
import pytest

from robot_rl.robots import load_robot
from robot_rl.safety.filter import SafetyFilter


@pytest.fixture(scope="module")
def filters():
    return {name: SafetyFilter.for_robot(load_robot(name)) for name in ("arm", "quadrotor", "mobile_base")}


def test_arm_joints_and_workspace(filters):
    f = filters["arm"]
    lim = f.limits
    inside = 0.5 * (lim.position_min_rad + lim.position_max_rad)
    centre = 0.5 * (lim.workspace_low_m + lim.workspace_high_m)
    q = np.stack([inside, inside, inside])
    q[1, 3] = lim.position_max_rad[3] + 0.01  # joint 4 beyond its upper limit
    ee = np.stack([centre, centre, lim.workspace_high_m + [0.0, 0.0, 0.05]])  # third: above the workspace
    assert f.violated({"joint_pos_rad": q, "ee_pos_m": ee}).tolist() == [False, True, True]


def test_quadrotor_geofence_and_tilt(filters):
    f = filters["quadrotor"]
    lim = f.limits
    centre = 0.5 * (lim.geofence_low_m + lim.geofence_high_m)
    half = lim.tilt_max_rad / 2
    level, tilted_ok = [1.0, 0, 0, 0], [np.cos(half / 2), np.sin(half / 2), 0, 0]  # roll of half the limit
    tilted = [np.cos(0.6 * lim.tilt_max_rad), np.sin(0.6 * lim.tilt_max_rad), 0, 0]  # roll of 1.2 x the limit
    pos = np.stack([centre, centre, centre, lim.geofence_low_m - [0.0, 0.0, 0.1]])
    quat = np.array([level, tilted_ok, tilted, level])
    assert f.violated({"position_m": pos, "quat_wxyz": quat}).tolist() == [False, False, True, True]


def test_mobile_base_obstacle_inside_footprint_plus_stop_distance(filters):
    f = filters["mobile_base"]
    lim = f.limits
    edge = lim.footprint_radius_m + lim.stop_distance_m  # 0.25 + 0.03 m
    ranges = np.full((3, len(lim.beam_cos)), np.inf)
    ranges[1, 5] = edge + 0.01
    ranges[2, 20] = edge - 0.01
    assert f.violated({"lidar_ranges_m": ranges}).tolist() == [False, False, True]
