"""MuJoCo adapter of the `Backend` interface: one `MjModel`/`MjData` pair per env.

Per-env models let randomization change masses, gains and friction per env. When every env advances the same
number of steps with constant controls (the common case), all envs are stepped in one `mujoco.rollout` call that
runs on native threads across cores instead of a Python loop.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import mujoco
import mujoco.rollout
import numpy as np

from robot_rl.envs.backends.base import ModelBinding
from robot_rl.spaces.geometry import quat_to_rotmat

SIM_THREADS_ENV = "ROBOT_RL_SIM_THREADS"
"""Environment variable: threads of the batched rollout per process (default: every core). A process that shares
the machine with others, like a Ray task of one CPU, sets it to its share."""
_STATE_SPEC = mujoco.mjtState.mjSTATE_FULLPHYSICS
_CONTROL_SPEC = mujoco.mjtState.mjSTATE_CTRL | mujoco.mjtState.mjSTATE_XFRC_APPLIED
_RAY_GROUPS = np.array([1, 0, 1, 1, 1, 1], dtype=np.uint8)  # robot geoms live in group 1 and are not seen by rays



class MujocoBackend:
    """`num_envs` copies of an MJCF model; see `robot_rl.envs.backends.base.Backend` for the method contracts."""

    name = "mujoco"

    def __init__(self, mjcf_path: Path, binding: ModelBinding, num_envs: int, physics_dt_s: float) -> None:
        self.num_envs = num_envs
        self.physics_dt_s = physics_dt_s
        self.binding = binding
        self._path = mjcf_path
        base = mujoco.MjModel.from_xml_path(str(mjcf_path))
        base.opt.timestep = physics_dt_s
        self._resolve(base, binding)
        self._configure_servos(base)
        if not binding.gravity_compensation:
            base.body_gravcomp[:] = 0.0
        self._nominal_mass = base.body_mass[self._body_ids].copy()
        self._nominal_inertia = base.body_inertia[self._body_ids].copy()
        self._nominal_gravcomp = base.body_gravcomp[self._body_ids].copy()
        self.models = [copy.deepcopy(base) for _ in range(num_envs)]
        self.datas = [mujoco.MjData(m) for m in self.models]
        for m, d in zip(self.models, self.datas, strict=True):
            mujoco.mj_forward(m, d)
        nthread = min(int(os.environ.get(SIM_THREADS_ENV) or os.cpu_count() or 1), num_envs)
        self._rollout = mujoco.rollout.Rollout(nthread=nthread) if num_envs > 1 else None
        self._scratch = [mujoco.MjData(base) for _ in range(nthread)] if self._rollout else []
        self._nstate = mujoco.mj_stateSize(base, _STATE_SPEC)
        self._nctrl = mujoco.mj_stateSize(base, _CONTROL_SPEC)

    # ----------------------------------------------------------------------------------------------- setup
    def _id(self, model: mujoco.MjModel, kind: mujoco.mjtObj, name: str) -> int:
        idx = mujoco.mj_name2id(model, kind, name)
        if idx < 0:
            raise ValueError(f"{self._path}: no {kind.name[5:].lower()} named '{name}'")
        return idx

    def _resolve(self, model: mujoco.MjModel, b: ModelBinding) -> None:
        jnt, body, site = mujoco.mjtObj.mjOBJ_JOINT, mujoco.mjtObj.mjOBJ_BODY, mujoco.mjtObj.mjOBJ_SITE
        joint_ids = [self._id(model, jnt, n) for n in b.joints]
        self._qadr = np.array([model.jnt_qposadr[j] for j in joint_ids], dtype=int)
        self._dadr = np.array([model.jnt_dofadr[j] for j in joint_ids], dtype=int)
        self._pos_act = np.array([self._actuator_for(model, n) for n, *_ in b.position_servos], dtype=int)
        self._vel_act = np.array([self._actuator_for(model, n) for n, *_ in b.velocity_servos], dtype=int)
        self._body_ids = np.array([self._id(model, body, n) for n in b.bodies], dtype=int)
        self._site_ids = np.array([self._id(model, site, n) for n in b.sites], dtype=int)
        self._base_id = self._id(model, body, b.base_body) if b.base_body else -1
        if self._base_id >= 0:
            free = model.body_jntadr[self._base_id]
            if free < 0 or model.jnt_type[free] != mujoco.mjtJoint.mjJNT_FREE:
                raise ValueError(f"{self._path}: base body '{b.base_body}' has no free joint")
            self._base_q, self._base_v = model.jnt_qposadr[free], model.jnt_dofadr[free]
        self._mocap = np.array([model.body_mocapid[self._id(model, body, n)] for n in b.obstacles], dtype=int)
        self._floor = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "floor")

    def _actuator_for(self, model: mujoco.MjModel, joint: str) -> int:
        jid = self._id(model, mujoco.mjtObj.mjOBJ_JOINT, joint)
        for a in range(model.nu):
            if model.actuator_trntype[a] == mujoco.mjtTrn.mjTRN_JOINT and model.actuator_trnid[a, 0] == jid:
                return a
        raise ValueError(f"{self._path}: no actuator drives joint '{joint}'")

    def _configure_servos(self, model: mujoco.MjModel) -> None:
        for a, (_, kp, kd, effort) in zip(self._pos_act, self.binding.position_servos, strict=True):
            model.actuator_gainprm[a, 0] = kp
            model.actuator_biasprm[a, :3] = (0.0, -kp, -kd)
            model.actuator_forcerange[a] = (-effort, effort)
            model.actuator_forcelimited[a] = 1
            model.actuator_ctrllimited[a] = 0
        for a, (_, kd, effort) in zip(self._vel_act, self.binding.velocity_servos, strict=True):
            model.actuator_gainprm[a, 0] = kd
            model.actuator_biasprm[a, :3] = (0.0, 0.0, -kd)
            model.actuator_forcerange[a] = (-effort, effort)
            model.actuator_forcelimited[a] = 1
            model.actuator_ctrllimited[a] = 0

    # ------------------------------------------------------------------------------------------- stepping
    def step(self, num_steps: int, position_targets: np.ndarray | None = None) -> None:
        """Advance every env `num_steps` physics steps (threaded rollout when batched).

        `position_targets` `[num_envs, num_steps, n_position_servos]`: per-step servo targets, the last kept.
        """
        if self._rollout is None:
            for i, (m, d) in enumerate(zip(self.models, self.datas, strict=True)):
                for k in range(num_steps):
                    if position_targets is not None:
                        d.ctrl[self._pos_act] = position_targets[i, k]
                    mujoco.mj_step(m, d)
                mujoco.mj_kinematics(m, d)
            return
        n = self.num_envs
        init = np.empty((n, self._nstate))
        ctrl = np.empty((n, 1, self._nctrl))
        for i, (m, d) in enumerate(zip(self.models, self.datas, strict=True)):
            mujoco.mj_getState(m, d, init[i], _STATE_SPEC)
            mujoco.mj_getState(m, d, ctrl[i, 0], _CONTROL_SPEC)
        ctrl = np.repeat(ctrl, num_steps, axis=1)  # constant over the control period
        if position_targets is not None:  # the control state starts with ctrl [nu]
            ctrl[:, :, self._pos_act] = position_targets
        state = np.empty((n, num_steps, self._nstate))
        self._rollout.rollout(
            self.models, self._scratch, init, ctrl, control_spec=_CONTROL_SPEC, nstep=num_steps, state=state,
            sensordata=np.empty((n, num_steps, 0)), skip_checks=True,
        )
        for i, (m, d) in enumerate(zip(self.models, self.datas, strict=True)):
            mujoco.mj_setState(m, d, state[i, -1], _STATE_SPEC)
            if position_targets is not None:
                d.ctrl[self._pos_act] = position_targets[i, -1]
            mujoco.mj_kinematics(m, d)

    def reset_state(self, env_ids: np.ndarray) -> None:
        """Return the given envs to the model's initial state (qpos0, zero velocity, no controls or forces)."""
        for i in env_ids:
            mujoco.mj_resetData(self.models[i], self.datas[i])
        self.forward(env_ids)

    def forward(self, env_ids: np.ndarray) -> None:
        """Recompute derived quantities of the given envs after teleporting them."""
        for i in env_ids:
            mujoco.mj_forward(self.models[i], self.datas[i])

    # -------------------------------------------------------------------------------------------- joints
    def joint_state(self) -> tuple[np.ndarray, np.ndarray]:
        """Positions and velocities `[num_envs, n_joints]` of `binding.joints`."""
        q = np.stack([d.qpos[self._qadr] for d in self.datas])
        v = np.stack([d.qvel[self._dadr] for d in self.datas])
        return q, v

    def set_joint_state(self, env_ids: np.ndarray, qpos: np.ndarray, qvel: np.ndarray) -> None:
        """Teleport `binding.joints` of `env_ids` to `qpos`, `qvel` `[len(env_ids), n_joints]`."""
        for row, i in enumerate(env_ids):
            self.datas[i].qpos[self._qadr] = qpos[row]
            self.datas[i].qvel[self._dadr] = qvel[row]
        self.forward(env_ids)

    def set_position_targets(self, targets: np.ndarray) -> None:
        """Position-servo targets `[num_envs, n_position_servos]`."""
        for i, d in enumerate(self.datas):
            d.ctrl[self._pos_act] = targets[i]

    def set_velocity_targets(self, targets: np.ndarray) -> None:
        """Velocity-servo targets `[num_envs, n_velocity_servos]` (rad/s)."""
        for i, d in enumerate(self.datas):
            d.ctrl[self._vel_act] = targets[i]

    def set_servo_gains(self, env_ids: np.ndarray, kp: np.ndarray, kd: np.ndarray) -> None:
        """Position-servo gains `[len(env_ids), n_position_servos]`."""
        for row, i in enumerate(env_ids):
            m = self.models[i]
            m.actuator_gainprm[self._pos_act, 0] = kp[row]
            m.actuator_biasprm[self._pos_act, 1] = -kp[row]
            m.actuator_biasprm[self._pos_act, 2] = -kd[row]

    def set_joint_dynamics(self, env_ids: np.ndarray, damping: np.ndarray, friction: np.ndarray) -> None:
        """Passive damping and Coulomb friction `[len(env_ids), n_joints]` of `binding.joints`."""
        for row, i in enumerate(env_ids):
            self.models[i].dof_damping[self._dadr] = damping[row]
            self.models[i].dof_frictionloss[self._dadr] = friction[row]

    # ---------------------------------------------------------------------------------------------- base
    def base_state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Base position `[N,3]`, quaternion wxyz `[N,4]`, world linear and angular velocity `[N,3]`."""
        q, v = self._base_q, self._base_v
        qpos = np.stack([d.qpos[q : q + 7] for d in self.datas])
        qvel = np.stack([d.qvel[v : v + 6] for d in self.datas])
        rot = quat_to_rotmat(qpos[:, 3:7])
        angvel_world = np.einsum("nij,nj->ni", rot, qvel[:, 3:6])  # MuJoCo's free-joint angular velocity is local
        return qpos[:, :3].copy(), qpos[:, 3:7].copy(), qvel[:, :3].copy(), angvel_world

    def set_base_state(
        self, env_ids: np.ndarray, pos: np.ndarray, quat: np.ndarray, linvel: np.ndarray, angvel: np.ndarray
    ) -> None:
        """Teleport the base of `env_ids` (world-frame velocities)."""
        rot = quat_to_rotmat(quat)
        local = np.einsum("nji,nj->ni", rot, angvel)
        q, v = self._base_q, self._base_v
        for row, i in enumerate(env_ids):
            d = self.datas[i]
            d.qpos[q : q + 3], d.qpos[q + 3 : q + 7] = pos[row], quat[row]
            d.qvel[v : v + 3], d.qvel[v + 3 : v + 6] = linvel[row], local[row]
        self.forward(env_ids)

    def set_external_wrench(self, body: str, force: np.ndarray, torque: np.ndarray) -> None:
        """World-frame force `[N,3]` N and torque `[N,3]` N*m at `body`'s centre of mass."""
        bid = self._id(self.models[0], mujoco.mjtObj.mjOBJ_BODY, body)
        for i, d in enumerate(self.datas):
            d.xfrc_applied[bid, :3] = force[i]
            d.xfrc_applied[bid, 3:] = torque[i]

    # ------------------------------------------------------------------------------------- bodies, world
    def body_positions(self) -> np.ndarray:
        """World frame positions `[N, n_bodies, 3]` of `binding.bodies`."""
        return np.stack([d.xpos[self._body_ids] for d in self.datas])

    def site_positions(self) -> np.ndarray:
        """World positions `[N, n_sites, 3]` of `binding.sites`."""
        return np.stack([d.site_xpos[self._site_ids] for d in self.datas])

    def nominal_body_masses(self) -> np.ndarray:
        """Masses `[n_bodies]` kg of `binding.bodies` as loaded."""
        return self._nominal_mass.copy()

    def set_body_masses(self, env_ids: np.ndarray, masses: np.ndarray) -> None:
        """Masses `[len(env_ids), n_bodies]` kg; gravity compensation keeps cancelling the nominal masses only."""
        for row, i in enumerate(env_ids):
            m = self.models[i]
            ratio = masses[row] / self._nominal_mass
            m.body_mass[self._body_ids] = masses[row]
            m.body_inertia[self._body_ids] = self._nominal_inertia * ratio[:, None]
            m.body_gravcomp[self._body_ids] = self._nominal_gravcomp / ratio

    def set_ground_friction(self, env_ids: np.ndarray, friction: np.ndarray) -> None:
        """Sliding friction `[len(env_ids)]` of the geom named `floor`."""
        if self._floor < 0:
            raise ValueError(f"{self._path}: no geom named 'floor'")
        for row, i in enumerate(env_ids):
            self.models[i].geom_friction[self._floor, 0] = friction[row]

    def set_obstacle_positions(self, env_ids: np.ndarray, xy: np.ndarray) -> None:
        """Planar positions `[len(env_ids), n_obstacles, 2]` m of the obstacle mocap bodies."""
        for row, i in enumerate(env_ids):
            self.datas[i].mocap_pos[self._mocap, :2] = xy[row]
        self.forward(env_ids)

    def ray_cast(self, origins: np.ndarray, directions: np.ndarray, max_range_m: float) -> np.ndarray:
        """Ray distances `[N, n_rays]` m; robot geoms (group 1) are invisible; no hit gives `max_range_m`."""
        n, nray = directions.shape[:2]
        out = np.empty((n, nray))
        geomid = np.empty(nray, dtype=np.int32)
        for i, (m, d) in enumerate(zip(self.models, self.datas, strict=True)):
            dist = np.empty(nray)
            vec = np.ascontiguousarray(directions[i], dtype=np.float64).reshape(-1)
            mujoco.mj_multiRay(m, d, origins[i].astype(np.float64), vec, _RAY_GROUPS, 1, -1, geomid, dist, None, nray,
                               max_range_m)
            out[i] = np.where(geomid >= 0, np.minimum(dist, max_range_m), max_range_m)
        return out

    def close(self) -> None:
        """Nothing to release beyond Python objects."""
        self._rollout = None
