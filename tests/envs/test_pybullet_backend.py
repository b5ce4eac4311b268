"""PyBulletBackend on the arm (servos, gravity compensation, wrenches, names) and the mobile base (rays)."""

from __future__ import annotations

import numpy as np
import pytest

from robot_rl.envs.backends.base import ModelBinding
from robot_rl.envs.backends.pybullet_backend import PyBulletBackend
from robot_rl.robots import load_robot

ARM = load_robot("arm")
HOME = np.array(ARM.arm.home_rad)
FINGERS_OPEN = [ARM.arm.gripper.opening_max_m] * 2
ONE_SECOND = round(1.0 / ARM.physics_dt_s)


def arm_binding(**overrides: object) -> ModelBinding:
    arm, grip = ARM.arm, ARM.arm.gripper
    servos = tuple((j.name, j.kp_nm_per_rad, j.kd_nm_s_per_rad, j.effort_max_nm) for j in arm.joints)
    servos += tuple((n, grip.kp_n_per_m, grip.kd_n_s_per_m, grip.force_max_n) for n in grip.finger_joints)
    fields = dict(
        joints=tuple(j.name for j in arm.joints),
        position_servos=servos,
        bodies=tuple(arm.link_bodies),
        sites=(arm.ee_site,),
        gravity_compensation=True,
    )
    fields.update(overrides)
    return ModelBinding(**fields)


def make_arm(num_envs: int, q0: np.ndarray = HOME) -> PyBulletBackend:
    backend = PyBulletBackend(ARM.path(ARM.urdf), arm_binding(), num_envs, ARM.physics_dt_s, fixed_base=True)
    q0 = np.broadcast_to(q0, (num_envs, len(HOME)))
    backend.set_joint_state(np.arange(num_envs), q0, np.zeros_like(q0))
    backend.set_position_targets(np.hstack([q0, np.tile(FINGERS_OPEN, (num_envs, 1))]))
    return backend


def run(backend: PyBulletBackend, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Step one physics step at a time; return joint positions and velocities `[steps, N, 7]`."""
    qs, qds = [], []
    for _ in range(steps):
        backend.step(1)
        q, qd = backend.joint_state()
        qs.append(q)
        qds.append(qd)
    return np.array(qs), np.array(qds)


@pytest.fixture
def arm2() -> PyBulletBackend:
    backend = make_arm(2)
    yield backend
    backend.close()


def test_holds_home_against_gravity_and_mass_error_leaves_small_offset(arm2: PyBulletBackend) -> None:
    masses = arm2.nominal_body_masses()
    assert masses.shape == (len(ARM.arm.link_bodies),) and np.all(masses > 0)
    arm2.set_body_masses(np.array([1]), masses[None] * 1.1)
    q, qd = run(arm2, ONE_SECOND)
    assert np.all(np.isfinite(q))
    nominal_err = np.abs(q[-1, 0] - HOME).max()
    heavy_err = np.abs(q[-1, 1] - HOME).max()
    assert nominal_err < 0.01
    assert 1e-4 < heavy_err < 0.05  # compensation stays nominal: 10 % heavier links sag a little
    assert np.array_equal(arm2.nominal_body_masses(), masses)


def test_step_on_joint1_is_tracked_and_stable(arm2: PyBulletBackend) -> None:
    target = np.hstack([np.tile(HOME, (2, 1)), np.tile(FINGERS_OPEN, (2, 1))])
    target[:, 0] += 0.2
    arm2.set_position_targets(target)
    q, qd = run(arm2, ONE_SECOND)
    assert np.all(np.isfinite(q)) and np.all(np.isfinite(qd))
    assert np.abs(qd).max() < 5.0
    assert np.abs(q[-1] - target[:, :7]).max() < 0.01


def test_envs_are_independent(arm2: PyBulletBackend) -> None:
    target = np.hstack([np.tile(HOME, (2, 1)), np.tile(FINGERS_OPEN, (2, 1))])
    target[1, 3] += 0.3
    arm2.set_position_targets(target)
    arm2.step(ONE_SECOND // 2)
    q, _ = arm2.joint_state()
    assert np.abs(q[0] - HOME).max() < 0.01
    assert abs(q[1, 3] - target[1, 3]) < 0.05
    ee = arm2.site_positions()
    assert ee.shape == (2, 1, 3) and np.linalg.norm(ee[0, 0] - ee[1, 0]) > 0.01


def test_external_wrench_on_hand_moves_ee(arm2: PyBulletBackend) -> None:
    before = arm2.site_positions()
    force = np.array([[0.0, 0.0, 0.0], [0.0, 10.0, 0.0]])
    arm2.set_external_wrench(ARM.arm.hand_body, force, np.zeros((2, 3)))
    arm2.step(ONE_SECOND // 2)
    after = arm2.site_positions()
    assert np.linalg.norm(after[0, 0] - before[0, 0]) < 1e-3
    assert np.linalg.norm(after[1, 0] - before[1, 0]) > 2e-3
    assert after[1, 0, 1] > before[1, 0, 1]  # pushed along +y


def test_stable_where_joints_1_and_3_align() -> None:
    """joint2 = 0 aligns joints 1 and 3: explicit PD at dt = 2 ms oscillates there; implicit damping must not."""
    q0 = HOME.copy()
    q0[1] = 0.0
    backend = make_arm(1, q0)
    try:
        target = np.hstack([q0, FINGERS_OPEN])[None].copy()
        target[0, 0] += 0.01
        backend.set_position_targets(target)
        q, qd = run(backend, ONE_SECOND // 2)
    finally:
        backend.close()
    assert np.abs(qd).max() < 0.5
    assert np.abs(q[-1, 0] - target[0, :7]).max() < 1e-3


def test_body_positions_and_base_frame() -> None:
    backend = make_arm(1)
    try:
        bodies = backend.body_positions()
        ee = backend.site_positions()
        pos, quat, lin, ang = backend.base_state()
    finally:
        backend.close()
    assert bodies.shape == (1, len(ARM.arm.link_bodies), 3)
    assert np.allclose(bodies[0, 0], [0.0, 0.0, 0.333])  # link1 frame sits 0.333 m above link0
    assert 0.3 < ee[0, 0, 0] < 0.32 and 0.45 < ee[0, 0, 2] < 0.52  # Panda home pose, hand pointing down
    assert np.allclose(pos, 0.0) and np.allclose(quat, [[1, 0, 0, 0]]) and np.allclose(lin, 0) and np.allclose(ang, 0)


def test_floating_base_state_round_trip_with_com_offset() -> None:
    """link0's centre of mass is off its frame; base_state reports the frame, as MuJoCo does."""
    binding = arm_binding(gravity_compensation=False, base_body="link0", bodies=("link0",))
    backend = PyBulletBackend(ARM.path(ARM.urdf), binding, 1, ARM.physics_dt_s, fixed_base=False)
    try:
        half = 0.3
        pos, quat = np.array([[0.5, -0.2, 1.0]]), np.array([[np.cos(half), 0.0, np.sin(half), 0.0]])
        lin, ang = np.array([[0.1, 0.2, -0.3]]), np.array([[0.4, -0.5, 0.6]])
        backend.set_base_state(np.array([0]), pos, quat, lin, ang)
        got = backend.base_state()
        root = backend.body_positions()
    finally:
        backend.close()
    for value, want in zip(got, (pos, quat, lin, ang), strict=True):
        assert np.allclose(value, want, atol=1e-9)
    assert np.allclose(root[0, 0], pos[0])


def test_unknown_names_raise_value_error() -> None:
    binding = arm_binding(joints=("joint1", "no_such_joint"))
    with pytest.raises(ValueError, match="no_such_joint") as info:
        PyBulletBackend(ARM.path(ARM.urdf), binding, 1, ARM.physics_dt_s, fixed_base=True)
    assert "model.urdf" in str(info.value)
    with pytest.raises(ValueError, match="no_such_site"):
        PyBulletBackend(ARM.path(ARM.urdf), arm_binding(sites=("no_such_site",)), 1, ARM.physics_dt_s, True)
    backend = make_arm(1)
    try:
        with pytest.raises(ValueError, match="no_such_body"):
            backend.set_external_wrench("no_such_body", np.zeros((1, 3)), np.zeros((1, 3)))
    finally:
        backend.close()


def test_rays_see_obstacles_and_floor_but_not_the_robot() -> None:
    spec = load_robot("mobile_base")
    base = spec.mobile_base
    binding = ModelBinding(
        joints=tuple(base.wheel_joints),
        velocity_servos=tuple((n, base.wheel_kd_nm_s_per_rad, base.wheel_torque_max_nm) for n in base.wheel_joints),
        base_body=base.base_body,
        sites=(base.lidar.site,),
        obstacles=("obstacle0", "obstacle1"),
        extra={"obstacle_urdf": "obstacle.urdf"},
    )
    backend = PyBulletBackend(spec.path(spec.urdf), binding, 2, spec.physics_dt_s, fixed_base=False)
    try:
        ids = np.arange(2)
        upright = np.tile([1.0, 0, 0, 0], (2, 1))
        backend.set_base_state(ids, np.tile([0.0, 0.0, 0.1], (2, 1)), upright, np.zeros((2, 3)), np.zeros((2, 3)))
        backend.set_obstacle_positions(ids, np.array([[[1.0, 0.0], [5.0, 5.0]], [[0.0, 2.0], [5.0, 5.0]]]))
        backend.set_ground_friction(ids, np.array([1.0, 0.5]))
        backend.step(10)
        origin = backend.base_state()[0]  # chassis centre: rays start inside the robot and cross its wheels
        directions = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, -1.0], [-1.0, 0, 0]])
        dist = backend.ray_cast(origin, np.tile(directions, (2, 1, 1)), 4.0)
    finally:
        backend.close()
    height = origin[0, 2]
    assert dist.shape == (2, 4)
    assert dist[0, 0] == pytest.approx(1.0 - 0.15, abs=0.02)  # obstacle surface
    assert dist[1, 1] == pytest.approx(2.0 - 0.15, abs=0.02)
    assert dist[0, 1] == 4.0 and dist[1, 0] == 4.0 and np.all(dist[:, 3] == 4.0)
    assert np.allclose(dist[:, 2], height, atol=0.01)  # straight down through the chassis to the floor
