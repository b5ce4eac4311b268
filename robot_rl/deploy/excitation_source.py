"""The controller's excitation mode: an excitation file's targets replace the policy's proposal, tick by tick.

Everything else in the tick is unchanged: the operator may take over, and the safety filter certifies every
target before it is sent, so an excitation reaches the robot only as a command the filter accepts. At start the
node publishes the file (text and sha256) latched on `/robot_rl/excitation`; every tick record names the file as
the acting source (`policy_sha256` = 'excitation:<sha256>'), so a bag says exactly what excited the robot.

The quadrotor is excited closed loop: each tick's target is the reference hover controller's command for the
tick's observation plus the file's perturbation (`robot_rl.sysid.replay_quadrotor.excitation_command`).
"""

from __future__ import annotations

import numpy as np

from robot_rl.deploy.diagnostics import status_array
from robot_rl.deploy.msgs import DiagnosticArray, DiagnosticStatus
from robot_rl.deploy.transport import LATCHED_QOS, Transport
from robot_rl.envs.experts.quadrotor_cascade import QuadrotorHoverExpert
from robot_rl.robots import RobotSpec
from robot_rl.sysid.replay_quadrotor import excitation_command
from robot_rl.sysid.schedule import EXCITATION_TOPIC, load_excitation

EXCITATION_STATUS = "robot_rl/excitation"


class ExcitationSource:
    """Plays one excitation file; `propose(obs)` gives the next tick's target."""

    def __init__(self, transport: Transport, path: str, spec: RobotSpec) -> None:
        self.schedule = load_excitation(path, spec)
        self.spec = spec
        self.expert = QuadrotorHoverExpert(spec) if spec.quadrotor is not None else None
        self.step = 0
        self.tag = f"excitation:{self.schedule.sha256}"
        """What the tick records name as the acting source."""
        self.publisher = transport.create_publisher(EXCITATION_TOPIC, DiagnosticArray, LATCHED_QOS)
        self.publisher.publish(status_array(
            EXCITATION_STATUS, DiagnosticStatus.OK, self.schedule.sha256,
            {"path": path, "sha256": self.schedule.sha256, "ticks": len(self.schedule.commands),
             "design": self.schedule.design.label(), "file": self.schedule.text}, transport.now_ns()))

    def propose(self, obs: np.ndarray) -> np.ndarray:
        """The target `[n_cmd]` of the next tick for observation `obs` `[1, n_obs]` (the last is held at the end)."""
        command = self.schedule.command(self.step)
        self.step += 1
        if self.expert is not None:
            return excitation_command(self.expert, self.spec, obs.astype(np.float64), command)[0]
        return command

    @property
    def done(self) -> bool:
        """Every target of the schedule was proposed."""
        return self.step >= len(self.schedule.commands)
