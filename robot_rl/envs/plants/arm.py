"""Simulated arm: 50 Hz joint position targets through a 1 kHz jerk-limited generator to PD servos.

This is the Panda's command path: each control step's target goes to a Ruckig generator (`JerkLimitedGenerator`,
the joints' velocity, acceleration and jerk limits from the robot spec) that plans from its own state and streams
1 kHz samples, the way libfranka needs them. Each physics step (500 Hz) the joint servos (nominal gravity
compensation) track the generator's sample at the end of that step, position and velocity, as the Panda's joint
controller tracks the commanded q_d and dq_d: `tau = kp (q_d - q) + kd (dq_d - qd)`. The backends' position servo
is `kp (target - q) - kd qd`, so the target sent is `q_d + (kd / kp) dq_d` (`servo_targets`; exact under the gain
randomization, which scales kp and kd alike). Without the velocity term the servo lags the generator by
`(kd / kp) dq_d` (up to 0.15 rad) and the reference controller, which commands relative to the measured joints,
reached 81 % instead of 100 % of randomized targets. Each target is planned to at rest (target velocity 0), as the
deployed arm does: a target-velocity estimate from consecutive targets shortened the reference controller's episodes
(53 vs 64 steps) but made the shipped policy slower and less successful (97 %, 63 steps vs 100 %, 45 steps) and can
overshoot a target near a joint limit.

Pushes on the hand are random external forces (`pushes.RandomPushes`: magnitude `push_force_n` per episode,
horizontal direction random per push).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from robot_rl.envs.backends import ModelBinding, make_backend
from robot_rl.envs.plants.pushes import RandomPushes
from robot_rl.robots import RobotSpec
from robot_rl.safety.trajectory import CYCLE_S, JerkLimitedGenerator

PUSH_RATE_HZ = 0.5  # expected pushes per second when push_force_n > 0
PUSH_DURATION_S = 0.1


class ArmPlant:
    """Batched Panda-class arm; commands are joint position targets `[N, n_joints]` rad."""

    def __init__(self, spec: RobotSpec, backend: str, num_envs: int) -> None:
        if spec.arm is None:
            raise ValueError(f"robot '{spec.name}' is not an arm")
        if any(j.kp_nm_per_rad <= 0 for j in spec.arm.joints):
            raise ValueError(f"robot '{spec.name}': position servos need kp_nm_per_rad > 0 on every arm joint")
        self.spec, a = spec, spec.arm
        self.num_envs = num_envs
        g = a.gripper
        self.binding = ModelBinding(
            joints=tuple(j.name for j in a.joints),
            position_servos=tuple((j.name, j.kp_nm_per_rad, j.kd_nm_s_per_rad, j.effort_max_nm) for j in a.joints)
            + tuple((f, g.kp_n_per_m, g.kd_n_s_per_m, g.force_max_n) for f in g.finger_joints),
            bodies=tuple(a.link_bodies),
            sites=(a.ee_site,),
            gravity_compensation=a.gravity_compensation,
        )
        self.backend = make_backend(backend, spec, self.binding, num_envs)
        self._kp = np.array([s[1] for s in self.binding.position_servos])  # arm joints, then fingers
        self._kd = np.array([s[2] for s in self.binding.position_servos])
        self._damping = np.array([j.damping_nm_s_per_rad for j in a.joints])
        self._friction = np.array([j.friction_nm for j in a.joints])
        self.generator = JerkLimitedGenerator.for_joints(a.joints, num_envs, CYCLE_S)
        self._stride = cycles_per_physics_step(spec.physics_dt_s, CYCLE_S)
        self._lead_s = np.array([j.kd_nm_s_per_rad / j.kp_nm_per_rad for j in a.joints])  # kd / kp, s
        self._gripper = np.full(len(g.finger_joints), g.opening_max_m)
        self._hand = a.link_bodies.index(a.hand_body)
        self._target = np.tile(np.array(a.home_rad), (num_envs, 1))
        self.pushes = RandomPushes(num_envs, PUSH_RATE_HZ, PUSH_DURATION_S)

    def nominal_parameters(self) -> dict[str, float]:
        """Nominal robot: unit scales, no payload, no pushes, no latency, no noise."""
        return {
            "link_mass_scale": 1.0,
            "payload_mass_kg": 0.0,
            "joint_damping_scale": 1.0,
            "joint_friction_scale": 1.0,
            "actuator_gain_scale": 1.0,
            "push_force_n": 0.0,
            "action_latency_steps": 0.0,
            "observation_noise_scale": 0.0,
        }

    def apply_parameters(self, env_ids: np.ndarray, params: Mapping[str, np.ndarray]) -> None:
        """Scale link masses (payload added to the hand), joint damping/friction and servo gains."""
        a = self.spec.arm
        masses = self.backend.nominal_body_masses()[None, :] * params["link_mass_scale"][:, None]
        masses[:, self._hand] += params["payload_mass_kg"]
        self.backend.set_body_masses(env_ids, masses)
        self.backend.set_joint_dynamics(
            env_ids,
            self._damping[None, :] * params["joint_damping_scale"][:, None],
            self._friction[None, :] * params["joint_friction_scale"][:, None],
        )
        gain = np.ones((len(env_ids), len(self._kp)))
        gain[:, : len(a.joints)] = params["actuator_gain_scale"][:, None]  # the gripper keeps its gains
        self.backend.set_servo_gains(env_ids, self._kp[None, :] * gain, self._kd[None, :] * gain)
        self.pushes.force_n[env_ids] = params["push_force_n"]

    def reset(self, env_ids: np.ndarray, command: np.ndarray, rng: np.random.Generator) -> None:
        """Restart the generator of `env_ids` at rest at the measured joints; hold `command`; stop any push."""
        self._target[env_ids] = command
        self.generator.reset(env_ids, self.backend.joint_state()[0][env_ids])
        self.pushes.stop(env_ids)

    def control_step(self, command: np.ndarray, rng: np.random.Generator) -> None:
        """Stream the 1 kHz trajectory toward `command` `[N, 7]` rad to the servos over one control period."""
        self._target = np.array(command, dtype=np.float64)
        # one sample at the end of each physics step: 2 ms steps, 1 ms cycles -> cycles 2, 4, ..., 20
        samples = self.generator.advance(self._target, self.spec.control_dt_s, stride=self._stride)
        push = self.pushes.step(rng, self.spec.control_dt_s)
        self.backend.set_external_wrench(self.spec.arm.hand_body, push, np.zeros_like(push))
        self.track(servo_targets(samples.positions, samples.velocities, self._lead_s))

    def track(self, joint_targets: np.ndarray) -> None:
        """One control period of servo targets `[N, substeps, 7]` rad (one per physics step); the gripper holds."""
        servo = np.empty((self.num_envs, self.spec.substeps, len(self._kp)))
        servo[:, :, : self.generator.dofs] = joint_targets
        servo[:, :, self.generator.dofs :] = self._gripper
        self.backend.step(self.spec.substeps, position_targets=servo)

    def servo_schedule(self, commands: np.ndarray, start_rad: np.ndarray) -> np.ndarray:
        """The servo targets `[T, substeps, 7]` rad that commands `[T, 7]` rad produce, from rest at `start_rad`.

        The command path (generator, velocity lead) depends on no physical parameter, so a recorded command
        sequence replays to the same servo targets under any of them (`robot_rl.sysid.replay`).
        """
        generator = JerkLimitedGenerator.for_joints(self.spec.arm.joints, 1, CYCLE_S)
        generator.reset(np.zeros(1, dtype=int), np.asarray(start_rad, dtype=np.float64)[None])
        out = np.empty((len(commands), self.spec.substeps, generator.dofs))
        for t, command in enumerate(np.asarray(commands, dtype=np.float64)):
            samples = generator.advance(command[None], self.spec.control_dt_s, stride=self._stride)
            out[t] = servo_targets(samples.positions, samples.velocities, self._lead_s)[0]
        return out

    def read_state(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Joint positions/velocities `[N, 7]`, TCP `[N, 3]`, link frame positions `[N, n_links, 3]`, targets."""
        q, qd = self.backend.joint_state()
        return {
            "joint_pos_rad": q,
            "joint_vel_rad_s": qd,
            "ee_pos_m": self.backend.site_positions()[:, 0],
            "link_pos_m": self.backend.body_positions(),
            "joint_target_rad": self._target.copy(),
            "push_force_n": self.pushes.vector.copy(),
        }


def servo_targets(position: np.ndarray, velocity: np.ndarray, lead_s: np.ndarray) -> np.ndarray:
    """Position-servo targets `[..., n]` rad that make `kp (target - q) - kd qd` equal `kp (q_d - q) + kd (dq_d - qd)`.

    `position` q_d `[..., n]` rad, `velocity` dq_d `[..., n]` rad/s, `lead_s` kd / kp `[n]` s:
    `target = q_d + (kd / kp) dq_d`.
    """
    return position + lead_s * velocity


def cycles_per_physics_step(physics_dt_s: float, cycle_s: float) -> int:
    """Generator cycles per physics step (physics steps must last whole cycles): 0.002 s / 0.001 s -> 2."""
    ratio = physics_dt_s / cycle_s
    if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
        raise ValueError(f"physics_dt_s {physics_dt_s} s is not a whole number of {cycle_s} s generator cycles")
    return round(ratio)
