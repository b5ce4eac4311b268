"""Shared simulated identification logs (the plant's own control path under a known reality)."""

from __future__ import annotations

import pytest

from robot_rl.robots import load_robot
from robot_rl.sysid.excitation import Excitation
from robot_rl.sysid.logs import simulate_arm_log
from robot_rl.sysid.schedule import arm_design_commands

REALITY = {"actuator_gain_scale": 0.5, "link_mass_scale": 1.1, "payload_mass_kg": 0.4, "action_latency_steps": 1,
           "joint_damping_scale": 1.5, "joint_friction_scale": 1.0}
"""A robot outside the training ranges (gain 0.8-1.2, payload 0-0.5, damping 0.5-2, latency 0-1)."""


@pytest.fixture(scope="session")
def arm():
    return load_robot("arm")


@pytest.fixture(scope="session")
def arm_log(arm):
    """12 s of a multisine on REALITY, with sensor noise (1e-4 rad, 1e-3 rad/s)."""
    commands = arm_design_commands(arm, Excitation("multisine", 0.3, 0.2, 2.0), 12.0)
    return simulate_arm_log(arm, commands, REALITY, noise_std=(1e-4, 1e-3), seed=3)
