"""PyBullet adapter for the `Backend` interface: one DIRECT client per env, servos as explicit joint torques.

PyBullet's default joint motors are switched off; before every `stepSimulation` the adapter computes each joint's
torque the way MuJoCo's actuators and passive forces do, so the two engines agree:

* position servo: `clip(kp * (target - q) - kd * qdot, -effort, effort)`
* velocity servo: `clip(kd * (target_vel - qdot), -effort, effort)`
* passive: `-damping * qdot - friction * tanh(qdot / 0.01)` (MuJoCo's damping and frictionloss)
* gravity compensation: the gravity torque of a nominal, never-actuated, collision-free copy of the robot.

PyBullet integrates these torques explicitly, which is unstable for the stiff damping terms wherever the effective
inertia is small (the arm near joint2 = 0, where joints 1 and 3 align; a free-spinning wheel). With
`implicit_damping=True` (default) the torques are transformed, using the live mass matrix, so that the step reaches
the acceleration MuJoCo's `implicitfast` integrator gives: `(M + dt*D)^-1 (tau + bias)`, `D` = the velocity slope of
the terms above (zero for a saturated servo). `implicit_damping=False` applies the formulas above literally.

Rays ignore the robot because every robot link is put in collision group `ROBOT_COLLISION_GROUP` and rays are cast
with a `collisionFilterMask` that leaves that bit out (the floor, obstacles and anything else still match).
Positions of the root link are its URDF link frame (PyBullet's base pose is the inertial frame; we convert).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pybullet as p
import pybullet_data

from robot_rl.envs.backends.base import ModelBinding

ROBOT_COLLISION_GROUP = 1 << 7
RAY_MASK = ~ROBOT_COLLISION_GROUP
FRICTION_SMOOTHING_VELOCITY = 0.01  # rad/s or m/s, Coulomb friction is friction * tanh(qdot / this)
GRAVITY_COPY_Z_M = -10.0
CASTER_LINKS = ("front_caster", "rear_caster")
OBSTACLE_PARKING_XY_M = (20.0, 20.0, 2.0)  # first obstacle x, y and x spacing, as the MuJoCo mocap bodies
_MOVABLE = (p.JOINT_REVOLUTE, p.JOINT_PRISMATIC)


def _wxyz(q_xyzw: tuple | np.ndarray) -> list[float]:
    return [q_xyzw[3], q_xyzw[0], q_xyzw[1], q_xyzw[2]]


def _xyzw(q_wxyz: np.ndarray) -> list[float]:
    return [float(q_wxyz[1]), float(q_wxyz[2]), float(q_wxyz[3]), float(q_wxyz[0])]


class PyBulletBackend:
    """`num_envs` copies of one URDF model, each in its own PyBullet DIRECT client, with a floor plane."""

    name = "pybullet"

    def __init__(
        self,
        urdf_path: Path,
        binding: ModelBinding,
        num_envs: int,
        physics_dt_s: float,
        fixed_base: bool,
        implicit_damping: bool = True,
    ) -> None:
        if binding.gravity_compensation and not fixed_base:
            raise ValueError(f"{urdf_path}: gravity compensation needs a fixed base")
        self.binding = binding
        self.num_envs = num_envs
        self.physics_dt_s = physics_dt_s
        self._urdf = Path(urdf_path)
        self._fixed_base = fixed_base
        self._implicit_damping = implicit_damping
        self._clients: list[int] = []
        self._robots: list[int] = []
        self._planes: list[int] = []
        self._copies: list[int] = []
        self._obstacles: list[list[int]] = []
        try:
            self._add_env()
            self._resolve_names()
            for _ in range(num_envs - 1):
                self._add_env()
        except BaseException:
            self.close()
            raise
        self._init_state()
        self._saved = [p.saveState(physicsClientId=cid) for cid in self._clients]

    # ----------------------------------------------------------------------------------------------- set-up
    def _add_env(self) -> None:
        cid = p.connect(p.DIRECT)
        self._clients.append(cid)
        p.setGravity(0.0, 0.0, -9.81, physicsClientId=cid)
        p.setPhysicsEngineParameter(fixedTimeStep=self.physics_dt_s, numSubSteps=1, physicsClientId=cid)
        plane_path = str(Path(pybullet_data.getDataPath()) / "plane.urdf")
        self._planes.append(p.loadURDF(plane_path, physicsClientId=cid))
        flags = p.URDF_USE_INERTIA_FROM_FILE
        robot = p.loadURDF(str(self._urdf), useFixedBase=self._fixed_base, flags=flags, physicsClientId=cid)
        self._robots.append(robot)
        names = self._link_names(cid, robot)
        for link, link_name in enumerate(names, start=-1):
            p.changeDynamics(robot, link, linearDamping=0.0, angularDamping=0.0, jointDamping=0.0, physicsClientId=cid)
            p.setCollisionFilterGroupMask(robot, link, ROBOT_COLLISION_GROUP, -1, physicsClientId=cid)
            if link_name in CASTER_LINKS:
                p.changeDynamics(
                    robot, link, lateralFriction=0.0, rollingFriction=0.0, spinningFriction=0.0, physicsClientId=cid
                )
            else:
                p.changeDynamics(robot, link, lateralFriction=1.0, physicsClientId=cid)
        dofs = [j for j in range(p.getNumJoints(robot, physicsClientId=cid)) if self._movable(cid, robot, j)]
        if dofs:
            p.setJointMotorControlArray(robot, dofs, p.VELOCITY_CONTROL, forces=[0.0] * len(dofs), physicsClientId=cid)
        if self.binding.gravity_compensation:
            copy = p.loadURDF(
                str(self._urdf), [0.0, 0.0, GRAVITY_COPY_Z_M], useFixedBase=True, flags=flags, physicsClientId=cid
            )
            for link in range(-1, p.getNumJoints(copy, physicsClientId=cid)):
                p.setCollisionFilterGroupMask(copy, link, 0, 0, physicsClientId=cid)
            self._copies.append(copy)
        self._obstacles.append([self._load_obstacle(cid, k) for k in range(len(self.binding.obstacles))])

    def _load_obstacle(self, cid: int, k: int) -> int:
        path = Path(self.binding.extra["obstacle_urdf"])
        path = path if path.is_absolute() else self._urdf.parent / path
        x0, y0, dx = OBSTACLE_PARKING_XY_M
        return p.loadURDF(str(path), [x0 + dx * k, y0, 0.0], useFixedBase=True, physicsClientId=cid)

    @staticmethod
    def _movable(cid: int, robot: int, joint: int) -> bool:
        return p.getJointInfo(robot, joint, physicsClientId=cid)[2] in _MOVABLE

    @staticmethod
    def _link_names(cid: int, robot: int) -> list[str]:
        """Link names by PyBullet index + 1: the root link first (index -1), then link i of joint i."""
        root = p.getBodyInfo(robot, physicsClientId=cid)[0].decode()
        n = p.getNumJoints(robot, physicsClientId=cid)
        return [root] + [p.getJointInfo(robot, j, physicsClientId=cid)[12].decode() for j in range(n)]

    def _lookup(self, table: dict[str, int], name: str, what: str) -> int:
        if name not in table:
            raise ValueError(f"{self._urdf}: no {what} named '{name}' (has {sorted(table)})")
        return table[name]

    def _resolve_names(self) -> None:
        cid, robot, b = self._clients[0], self._robots[0], self.binding
        self._links = {name: i - 1 for i, name in enumerate(self._link_names(cid, robot))}
        n_joints = p.getNumJoints(robot, physicsClientId=cid)
        self._dofs = [j for j in range(n_joints) if self._movable(cid, robot, j)]
        dof_cols = {p.getJointInfo(robot, j, physicsClientId=cid)[1].decode(): c for c, j in enumerate(self._dofs)}
        self._joint_cols = [self._lookup(dof_cols, n, "movable joint") for n in b.joints]
        self._pos_cols = [self._lookup(dof_cols, s[0], "movable joint") for s in b.position_servos]
        self._vel_cols = [self._lookup(dof_cols, s[0], "movable joint") for s in b.velocity_servos]
        self._body_links = [self._lookup(self._links, n, "link") for n in b.bodies]
        self._site_links = [self._lookup(self._links, n, "link") for n in b.sites]
        if b.base_body and self._lookup(self._links, b.base_body, "link") != -1:
            raise ValueError(f"{self._urdf}: base body '{b.base_body}' is not the root link")
        if b.obstacles and "obstacle_urdf" not in b.extra:
            raise ValueError(f"{self._urdf}: obstacles {b.obstacles} need binding.extra['obstacle_urdf']")
        dyn = p.getDynamicsInfo(robot, -1, physicsClientId=cid)
        self._root_inv = p.invertTransform(dyn[3], dyn[4])  # inertial frame -> link frame of the root

    def _init_state(self) -> None:
        cid, robot, b, n_env = self._clients[0], self._robots[0], self.binding, self.num_envs
        self._pos_target = np.zeros((n_env, len(b.position_servos)))
        self._kp = np.tile([s[1] for s in b.position_servos], (n_env, 1)).astype(float)
        self._kd = np.tile([s[2] for s in b.position_servos], (n_env, 1)).astype(float)
        self._pos_effort = np.array([s[3] for s in b.position_servos], dtype=float)
        self._vel_target = np.zeros((n_env, len(b.velocity_servos)))
        self._vel_kd = np.array([s[1] for s in b.velocity_servos], dtype=float)
        self._vel_effort = np.array([s[2] for s in b.velocity_servos], dtype=float)
        self._damping = np.zeros((n_env, len(self._dofs)))
        self._friction = np.zeros((n_env, len(self._dofs)))
        self._wrenches: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        dyn = [p.getDynamicsInfo(robot, link, physicsClientId=cid) for link in self._body_links]
        self._nominal_mass = np.array([d[0] for d in dyn], dtype=float)
        self._nominal_inertia = np.array([d[2] for d in dyn], dtype=float)
        self._obstacle_z = [p.getBasePositionAndOrientation(o, physicsClientId=cid)[0][2] for o in self._obstacles[0]]

    # ------------------------------------------------------------------------------------------ simulation
    def step(self, num_steps: int, position_targets: np.ndarray | None = None) -> None:
        """Advance every env `num_steps` physics steps of `physics_dt_s` s, recomputing servo torques each step.

        `position_targets` `[num_envs, num_steps, n_position_servos]`: per-step servo targets, the last kept.
        """
        for k in range(num_steps):
            if position_targets is not None:
                self._pos_target = np.array(position_targets[:, k], dtype=float)
            q, qd = self._read_dofs()
            tau, slope = self._joint_torques(q, qd)
            for e, cid in enumerate(self._clients):
                if self._dofs:
                    torques = tau[e]
                    if self.binding.gravity_compensation:
                        torques = torques + self._gravity_torque(e, q[e])
                    if self._implicit_damping:
                        torques = self._implicit_torques(e, q[e], qd[e], torques, slope[e])
                    p.setJointMotorControlArray(
                        self._robots[e], self._dofs, p.TORQUE_CONTROL, forces=torques.tolist(), physicsClientId=cid
                    )
                self._apply_wrenches(e)
                p.stepSimulation(physicsClientId=cid)

    def _read_dofs(self) -> tuple[np.ndarray, np.ndarray]:
        q = np.zeros((self.num_envs, len(self._dofs)))
        qd = np.zeros_like(q)
        if self._dofs:
            for e, cid in enumerate(self._clients):
                states = p.getJointStates(self._robots[e], self._dofs, physicsClientId=cid)
                q[e] = [s[0] for s in states]
                qd[e] = [s[1] for s in states]
        return q, qd

    def _joint_torques(self, q: np.ndarray, qd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Servo and passive torques `[num_envs, n_dofs]` and their slope `-d tau / d qdot` (0 where clipped)."""
        tanh = np.tanh(qd / FRICTION_SMOOTHING_VELOCITY)
        tau = -self._damping * qd - self._friction * tanh
        slope = self._damping + self._friction * (1.0 - tanh**2) / FRICTION_SMOOTHING_VELOCITY
        if self._pos_cols:
            c = self._pos_cols
            servo = self._kp * (self._pos_target - q[:, c]) - self._kd * qd[:, c]
            tau[:, c] += np.clip(servo, -self._pos_effort, self._pos_effort)
            slope[:, c] += np.where(np.abs(servo) < self._pos_effort, self._kd, 0.0)
        if self._vel_cols:
            c = self._vel_cols
            servo = self._vel_kd * (self._vel_target - qd[:, c])
            tau[:, c] += np.clip(servo, -self._vel_effort, self._vel_effort)
            slope[:, c] += np.where(np.abs(servo) < self._vel_effort, self._vel_kd, 0.0)
        return tau, slope

    def _implicit_torques(
        self, e: int, q: np.ndarray, qd: np.ndarray, tau: np.ndarray, slope: np.ndarray
    ) -> np.ndarray:
        """Torques that give PyBullet's explicit step the implicitfast acceleration `(M + dt*D)^-1 (tau + bias)`.

        `D = diag(slope)` holds the servo and passive damping; `bias` (gravity, Coriolis) is the live robot's for a
        fixed base and left out for a floating one, whose mass matrix has the 6 base rows first.
        """
        cid, robot = self._clients[e], self._robots[e]
        mass = np.asarray(p.calculateMassMatrix(robot, q.tolist(), physicsClientId=cid))
        n_base = mass.shape[0] - len(q)
        bias = np.zeros(mass.shape[0])
        if n_base == 0:
            zeros = [0.0] * len(q)
            bias -= p.calculateInverseDynamics(robot, q.tolist(), qd.tolist(), zeros, physicsClientId=cid)
        force = bias.copy()
        force[n_base:] += tau
        damping = np.zeros(mass.shape[0])
        damping[n_base:] = slope
        acc = np.linalg.solve(mass + self.physics_dt_s * np.diag(damping), force)
        return (mass @ acc - bias)[n_base:]

    def _gravity_torque(self, e: int, q: np.ndarray) -> np.ndarray:
        zeros = [0.0] * len(self._dofs)
        tau = p.calculateInverseDynamics(self._copies[e], q.tolist(), zeros, zeros, physicsClientId=self._clients[e])
        return np.asarray(tau)

    def _apply_wrenches(self, e: int) -> None:
        cid, robot = self._clients[e], self._robots[e]
        for link, (force, torque) in self._wrenches.items():
            if link == -1:
                com = p.getBasePositionAndOrientation(robot, physicsClientId=cid)[0]
            else:
                com = p.getLinkState(robot, link, computeForwardKinematics=True, physicsClientId=cid)[0]
            p.applyExternalForce(robot, link, force[e].tolist(), com, p.WORLD_FRAME, physicsClientId=cid)
            p.applyExternalTorque(robot, link, torque[e].tolist(), p.WORLD_FRAME, physicsClientId=cid)

    # -------------------------------------------------------------------------------------------- joints
    def joint_state(self) -> tuple[np.ndarray, np.ndarray]:
        """Positions and velocities of `binding.joints`: two arrays `[num_envs, n_joints]` (rad, rad/s or m, m/s)."""
        q, qd = self._read_dofs()
        return q[:, self._joint_cols], qd[:, self._joint_cols]

    def set_joint_state(self, env_ids: np.ndarray, qpos: np.ndarray, qvel: np.ndarray) -> None:
        """Teleport `binding.joints` of the given envs to `qpos`, `qvel` `[len(env_ids), n_joints]`."""
        joints = [self._dofs[c] for c in self._joint_cols]
        for row, e in enumerate(np.asarray(env_ids)):
            for k, j in enumerate(joints):
                p.resetJointState(
                    self._robots[e], j, float(qpos[row, k]), float(qvel[row, k]), physicsClientId=self._clients[e]
                )

    def set_position_targets(self, targets: np.ndarray) -> None:
        """Targets `[num_envs, n_position_servos]` for the position servos (rad or m)."""
        self._pos_target = np.array(targets, dtype=float).reshape(self._pos_target.shape)

    def set_velocity_targets(self, targets: np.ndarray) -> None:
        """Targets `[num_envs, n_velocity_servos]` for the velocity servos (rad/s)."""
        self._vel_target = np.array(targets, dtype=float).reshape(self._vel_target.shape)

    def set_servo_gains(self, env_ids: np.ndarray, kp: np.ndarray, kd: np.ndarray) -> None:
        """Position-servo gains `[len(env_ids), n_position_servos]` (N*m/rad, N*m*s/rad)."""
        self._kp[env_ids] = kp
        self._kd[env_ids] = kd

    def set_joint_dynamics(self, env_ids: np.ndarray, damping: np.ndarray, friction: np.ndarray) -> None:
        """Passive damping (N*m*s/rad) and Coulomb friction (N*m) of `binding.joints`, `[len(env_ids), n_joints]`."""
        rows = np.ix_(np.asarray(env_ids), self._joint_cols)
        self._damping[rows] = damping
        self._friction[rows] = friction

    # ---------------------------------------------------------------------------------------------- base
    def base_state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Root link frame: position `[N,3]` m, quaternion `[N,4]` wxyz, linear `[N,3]` m/s, angular `[N,3]` rad/s.

        Velocities are in the world frame; the linear one is that of the link frame origin.
        """
        pos, quat = np.zeros((self.num_envs, 3)), np.zeros((self.num_envs, 4))
        lin, ang = np.zeros((self.num_envs, 3)), np.zeros((self.num_envs, 3))
        for e, cid in enumerate(self._clients):
            com, orn = p.getBasePositionAndOrientation(self._robots[e], physicsClientId=cid)
            v, w = p.getBaseVelocity(self._robots[e], physicsClientId=cid)
            frame_pos, frame_orn = p.multiplyTransforms(com, orn, *self._root_inv)
            pos[e], quat[e], ang[e] = frame_pos, _wxyz(frame_orn), w
            lin[e] = np.asarray(v) + np.cross(w, pos[e] - np.asarray(com))
        return pos, quat, lin, ang

    def set_base_state(
        self, env_ids: np.ndarray, pos: np.ndarray, quat: np.ndarray, linvel: np.ndarray, angvel: np.ndarray
    ) -> None:
        """Teleport the root link of the given envs (shapes and frames as `base_state`, rows for `env_ids`)."""
        local = p.invertTransform(*self._root_inv)
        for row, e in enumerate(np.asarray(env_ids)):
            cid, robot = self._clients[e], self._robots[e]
            com, orn = p.multiplyTransforms(pos[row].tolist(), _xyzw(quat[row]), *local)
            v = np.asarray(linvel[row], dtype=float) + np.cross(angvel[row], np.asarray(com) - pos[row])
            p.resetBasePositionAndOrientation(robot, com, orn, physicsClientId=cid)
            p.resetBaseVelocity(robot, v.tolist(), np.asarray(angvel[row], float).tolist(), physicsClientId=cid)

    def set_external_wrench(self, body: str, force: np.ndarray, torque: np.ndarray) -> None:
        """World-frame force `[N,3]` (N) and torque `[N,3]` (N*m) at `body`'s centre of mass, held until changed."""
        link = self._lookup(self._links, body, "link")
        shape = (self.num_envs, 3)
        self._wrenches[link] = (np.array(force, float).reshape(shape), np.array(torque, float).reshape(shape))

    # -------------------------------------------------------------------------------------------- bodies
    def _frame_positions(self, links: list[int]) -> np.ndarray:
        out = np.zeros((self.num_envs, len(links), 3))
        for e, cid in enumerate(self._clients):
            robot = self._robots[e]
            for k, link in enumerate(links):
                if link == -1:
                    com, orn = p.getBasePositionAndOrientation(robot, physicsClientId=cid)
                    out[e, k] = p.multiplyTransforms(com, orn, *self._root_inv)[0]
                else:
                    out[e, k] = p.getLinkState(robot, link, computeForwardKinematics=True, physicsClientId=cid)[4]
        return out

    def body_positions(self) -> np.ndarray:
        """World positions of `binding.bodies`' link frames: `[num_envs, n_bodies, 3]` m."""
        return self._frame_positions(self._body_links)

    def site_positions(self) -> np.ndarray:
        """World positions of `binding.sites` (link frames of the same name): `[num_envs, n_sites, 3]` m."""
        return self._frame_positions(self._site_links)

    def nominal_body_masses(self) -> np.ndarray:
        """Masses of `binding.bodies` as loaded: `[n_bodies]` kg."""
        return self._nominal_mass.copy()

    def set_body_masses(self, env_ids: np.ndarray, masses: np.ndarray) -> None:
        """Masses `[len(env_ids), n_bodies]` kg; inertias scale with them. Gravity compensation stays nominal."""
        for row, e in enumerate(np.asarray(env_ids)):
            for k, link in enumerate(self._body_links):
                m = float(masses[row, k])
                inertia = (self._nominal_inertia[k] * m / self._nominal_mass[k]).tolist()
                p.changeDynamics(
                    self._robots[e], link, mass=m, localInertiaDiagonal=inertia, physicsClientId=self._clients[e]
                )

    # --------------------------------------------------------------------------------------------- world
    def set_ground_friction(self, env_ids: np.ndarray, friction: np.ndarray) -> None:
        """Sliding friction coefficient of the floor `[len(env_ids)]` (robot links have 1.0; Bullet multiplies)."""
        for row, e in enumerate(np.asarray(env_ids)):
            mu = float(friction[row])
            p.changeDynamics(self._planes[e], -1, lateralFriction=mu, physicsClientId=self._clients[e])

    def set_obstacle_positions(self, env_ids: np.ndarray, xy: np.ndarray) -> None:
        """Move `binding.obstacles` to planar positions `[len(env_ids), n_obstacles, 2]` m, keeping their height."""
        for row, e in enumerate(np.asarray(env_ids)):
            cid = self._clients[e]
            for k, body in enumerate(self._obstacles[e]):
                orn = p.getBasePositionAndOrientation(body, physicsClientId=cid)[1]
                pos = [float(xy[row, k, 0]), float(xy[row, k, 1]), self._obstacle_z[k]]
                p.resetBasePositionAndOrientation(body, pos, orn, physicsClientId=cid)

    def ray_cast(self, origins: np.ndarray, directions: np.ndarray, max_range_m: float) -> np.ndarray:
        """Distances `[N, n_rays]` m along unit `directions` `[N, n_rays, 3]` from `origins` `[N,3]`.

        Rays ignore the robot's own links (collision-group mask); a ray that hits nothing returns `max_range_m`.
        """
        directions = np.asarray(directions, dtype=float)
        n_rays = directions.shape[1]
        out = np.full((self.num_envs, n_rays), float(max_range_m))
        for e, cid in enumerate(self._clients):
            start = np.repeat(np.asarray(origins[e], dtype=float)[None, :], n_rays, axis=0)
            end = start + directions[e] * max_range_m
            hits = p.rayTestBatch(start.tolist(), end.tolist(), collisionFilterMask=RAY_MASK, physicsClientId=cid)
            hit = np.array([h[0] >= 0 for h in hits])
            fraction = np.array([h[2] for h in hits])
            out[e] = np.where(hit, fraction * max_range_m, max_range_m)
        return out

    def reset_state(self, env_ids: np.ndarray) -> None:
        """Restore the given envs' bodies to the state saved after loading (parameters set since are kept)."""
        for e in np.asarray(env_ids):
            p.restoreState(self._saved[e], physicsClientId=self._clients[e])

    def close(self) -> None:
        """Disconnect every PyBullet client; safe to call twice."""
        for cid in self._clients:
            if p.isConnected(physicsClientId=cid):
                p.disconnect(physicsClientId=cid)
        self._clients = []
