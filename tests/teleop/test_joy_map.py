"""Per-robot Joy maps: hand-computed commands, the real IK and cascade controllers, Joy and YAML rejection."""

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from robot_rl.deploy.adapters import adapter_for
from robot_rl.envs.experts.arm_ik import panda_tcp
from robot_rl.robots import ROBOTS, forward_kinematics, load_robot
from robot_rl.teleop.joy_map import (
    JOY_MAPS,
    feed_forward_goal,
    leash,
    load_joy_map,
    reach_target,
)

# Shipped defaults (sim/<robot>/teleop.yaml), Xbox layout under Linux joy: 8 axes, 11 buttons.
ENABLE, TURBO, SUCCESS, FAILURE = 5, 4, 3, 1
N_AXES, N_BUTTONS = 8, 11


def joy(axes: dict[int, float] | None = None, held: tuple[int, ...] = ()) -> tuple[np.ndarray, np.ndarray]:
    a = np.zeros(N_AXES)
    for i, v in (axes or {}).items():
        a[i] = v
    b = np.zeros(N_BUTTONS, dtype=np.int32)
    b[list(held)] = 1
    return a, b


def observer(spec, q, last):
    """The controller's observe(): the real adapter's observation with that goal."""
    adapter = adapter_for(spec)
    calls = []

    def observe(goal):
        calls.append(np.array(goal))
        return adapter.observation(q, np.asarray(goal, dtype=np.float64), last)

    return observe, calls


def write_variant(tmp_path: Path, robot: str, **changes) -> Path:
    data = yaml.safe_load(load_robot(robot).path("teleop.yaml").read_text())
    for key, value in changes.items():
        *parents, leaf = key.split(".")
        node = data
        for p in parents:
            node = node[p]
        node[leaf] = value
    path = tmp_path / f"{robot}_teleop.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


# ---------------------------------------------------------------- registry and shipped files


def test_every_robot_has_a_map_that_loads_and_commands():
    assert set(JOY_MAPS) == set(ROBOTS)
    for robot in ROBOTS:
        spec = load_robot(robot)
        m = load_joy_map(spec)
        assert isinstance(m, JOY_MAPS[robot])
        buttons = (m.enable_button, m.enable_turbo_button, m.success_button, m.failure_button)
        assert buttons == (ENABLE, TURBO, SUCCESS, FAILURE)
        assert m.source == spec.path("teleop.yaml")
        assert load_joy_map(spec, "").source == m.source  # '' = the default as well


def test_shipped_files_comment_every_value():
    for robot in ROBOTS:
        for n, line in enumerate(load_robot(robot).path("teleop.yaml").read_text().splitlines(), 1):
            if line.strip() and not line.lstrip().startswith("#"):
                assert "#" in line, f"{robot}/teleop.yaml line {n} has no comment: {line!r}"


def test_min_sizes_follow_the_highest_index_used():
    # arm uses axes 1, 0, 4 -> 5 axes; quadrotor 4, 3, 1, 0 -> 5; mobile base 1, 0 -> 2; buttons up to 5 -> 6.
    sizes = {r: (load_joy_map(load_robot(r)).min_axes, load_joy_map(load_robot(r)).min_buttons) for r in ROBOTS}
    assert sizes == {"arm": (5, 6), "quadrotor": (5, 6), "mobile_base": (2, 6)}


# ---------------------------------------------------------------- mobile base: teleop_twist_joy arithmetic


@pytest.fixture(scope="module")
def base_spec():
    return load_robot("mobile_base")


def base_command(m, axes, buttons):
    return m.command(axes, buttons, {}, lambda g: pytest.fail("the twist map observes nothing"), 0.05)


def test_mobile_base_twist_hand_computed(base_spec):
    m = load_joy_map(base_spec)
    m.reset({})
    # axes [0.5, -1.0]: linear.x = axes[1] * 0.5 = -0.5 m/s, angular.z = axes[0] * 0.5 = 0.25 rad/s
    axes, buttons = np.array([0.5, -1.0]), np.array([0, 0, 0, 0, 0, 1])
    np.testing.assert_array_equal(base_command(m, axes, buttons), [-0.5, 0.25])
    # turbo (LB alone, as in teleop_twist_joy): linear.x = 0.8 * 1.0 = 0.8, angular.z = 0.5 * 1.0 = 0.5
    axes, buttons = np.array([0.5, 0.8]), np.array([0, 0, 0, 0, 1, 0])
    np.testing.assert_array_equal(base_command(m, axes, buttons), [0.8, 0.5])
    # turbo and enable: turbo wins; reverse -1.0 * 1.0 = -1.0 is clipped to the -0.5 m/s command limit
    axes, buttons = np.array([-0.25, -1.0]), np.array([0, 0, 0, 0, 1, 1])
    np.testing.assert_array_equal(base_command(m, axes, buttons), [-0.5, -0.25])
    # neither held: zero twist whatever the sticks say
    np.testing.assert_array_equal(base_command(m, np.array([1.0, 1.0]), np.zeros(6, dtype=int)), [0.0, 0.0])
    assert not m.engaged(np.zeros(6, dtype=int)) and m.engaged(np.array([0, 0, 0, 0, 1, 0]))


def test_mobile_base_inverted_reverse_and_disabled_axis(base_spec, tmp_path):
    m = load_joy_map(base_spec, write_variant(tmp_path, "mobile_base", inverted_reverse=True))
    enable = np.array([0, 0, 0, 0, 0, 1])
    # reversing: linear.x = -1.0 * 0.5 = -0.5 < 0, so angular.z = -(0.5 * 0.5) = -0.25
    np.testing.assert_array_equal(base_command(m, np.array([0.5, -1.0]), enable), [-0.5, -0.25])
    # forward: not inverted, 0.4 * 0.5 = 0.2 and 0.5 * 0.5 = 0.25
    np.testing.assert_array_equal(base_command(m, np.array([0.5, 0.4]), enable), [0.2, 0.25])
    m = load_joy_map(base_spec, write_variant(tmp_path, "mobile_base", **{"axis_angular.yaw": -1}))
    assert m.min_axes == 2  # axis_linear.x = 1 still needs two axes
    np.testing.assert_array_equal(base_command(m, np.array([0.9, 0.4]), enable), [0.2, 0.0])


# ---------------------------------------------------------------- arm: TCP velocity through the reach IK


@pytest.fixture(scope="module")
def arm_spec():
    return load_robot("arm")


def arm_state(spec, joints=None):
    q = np.array(spec.arm.home_rad if joints is None else joints, dtype=np.float64)
    return {"joint_pos_rad": q, "joint_vel_rad_s": np.zeros(7)}


def test_arm_zero_axes_hold_the_onset_joints_exactly(arm_spec):
    m = load_joy_map(arm_spec)
    q = arm_state(arm_spec, [0.1, -0.5, 0.2, -2.0, 0.1, 1.8, 0.6])
    m.reset(q)
    observe, calls = observer(arm_spec, q, q["joint_pos_rad"])
    for axes, buttons in (joy(held=(ENABLE,)), joy({1: 1.0})):  # deadman with centred sticks; stick without deadman
        cmd = m.command(axes, buttons, q, observe, 0.02)
        assert np.abs(cmd - q["joint_pos_rad"]).max() <= 1e-9  # exactly the measured joints (float64, no IK round trip)
    assert calls == []  # holding does not re-solve IK from the (float32) observation, so nothing can creep


def test_arm_plus_x_moves_the_tcp_by_v_dt(arm_spec):
    m = load_joy_map(arm_spec)
    q = arm_state(arm_spec)
    m.reset(q)
    observe, calls = observer(arm_spec, q, q["joint_pos_rad"])
    tcp0 = forward_kinematics(m.chain, q["joint_pos_rad"][None])[0]
    cmd = m.command(*joy({1: 1.0}, (ENABLE,)), q, observe, 0.02)
    # v = 1.0 * 0.1 m/s along +x, dt 0.02 s -> reference tcp0 + [0.002, 0, 0]; the IK target is
    # tcp0 + 0.002 / gain(0.5) = tcp0 + [0.004, 0, 0], and the expert steps gain x error = 2 mm toward it.
    np.testing.assert_allclose(calls[0], tcp0 + [0.004, 0.0, 0.0], atol=1e-12)
    step = forward_kinematics(m.chain, cmd[None])[0] - tcp0
    # damped least squares (damping 0.05) falls a few % short: measured 0.970 x 2 mm at home
    assert 0.95 * 0.002 < step[0] < 1.0 * 0.002
    assert np.abs(step[1:]).max() < 2e-5  # y, z stay put (second-order terms only)
    np.testing.assert_allclose(panda_tcp(cmd[None])[0] - panda_tcp(q["joint_pos_rad"][None])[0], step, atol=1e-6)


def test_arm_reference_advances_while_the_arm_lags_and_is_leashed(arm_spec):
    m = load_joy_map(arm_spec)
    q = arm_state(arm_spec)
    m.reset(q)
    observe, _ = observer(arm_spec, q, q["joint_pos_rad"])
    tcp0 = forward_kinematics(m.chain, q["joint_pos_rad"][None])[0]
    for _ in range(3):  # the measured arm does not move (a stalled plant)
        cmd = m.command(*joy({4: 0.5}, (ENABLE,)), q, observe, 0.02)
    # z: 3 ticks x 0.5 x 0.1 m/s x 0.02 s = 3 mm; the IK step from the measured joints aims at the reference
    np.testing.assert_allclose(m.reference_m, tcp0 + [0.0, 0.0, 0.003], atol=1e-12)
    step = forward_kinematics(m.chain, cmd[None])[0] - tcp0
    assert 0.95 * 0.003 < step[2] < 0.003
    for _ in range(100):  # turbo +y, 100 x 0.25 m/s x 0.02 s = 0.5 m asked, the leash keeps 0.05 m
        m.command(*joy({0: 1.0}, (TURBO,)), q, observe, 0.02)
    assert math.isclose(np.linalg.norm(m.reference_m - tcp0), 0.05, rel_tol=1e-12)
    held = m.command(*joy(held=(ENABLE,)), q, observe, 0.02)
    np.testing.assert_array_equal(held, m.hold)  # released: the last targets are repeated


def test_arm_targets_stay_in_the_command_limits(arm_spec):
    m = load_joy_map(arm_spec)
    joints = np.array(arm_spec.command.high) - [0, 0, 0, 0, 0, 0.001, 0]  # joint6 1 mrad below its upper limit
    q = arm_state(arm_spec, joints)
    m.reset(q)
    observe, _ = observer(arm_spec, q, joints)
    for axis in (0, 1, 4):
        for sign in (1.0, -1.0):
            cmd = m.command(*joy({axis: sign}, (TURBO,)), q, observe, 0.02)
            assert np.all(cmd >= arm_spec.command.low) and np.all(cmd <= arm_spec.command.high)


def test_arm_command_before_reset_is_an_error(arm_spec):
    m = load_joy_map(arm_spec)
    q = arm_state(arm_spec)
    with pytest.raises(RuntimeError, match="before reset"):
        m.command(*joy(), q, observer(arm_spec, q, q["joint_pos_rad"])[0], 0.02)


# ---------------------------------------------------------------- quadrotor: setpoint + cascade controller


@pytest.fixture(scope="module")
def quad_spec():
    return load_robot("quadrotor")


def quad_state(position=(0.0, 0.0, 1.0)):
    return {"position_m": np.array(position, dtype=np.float64), "quat_wxyz": np.array([1.0, 0.0, 0.0, 0.0]),
            "linear_velocity_m_s": np.zeros(3), "angular_velocity_rad_s": np.zeros(3)}


def test_quadrotor_zero_axes_at_rest_hover_thrust(quad_spec):
    m = load_joy_map(quad_spec)
    q = quad_state()
    m.reset(q)
    observe, calls = observer(quad_spec, q, np.array([0.2649, 0.0, 0.0, 0.0]))
    cmd = m.command(*joy(held=(ENABLE,)), q, observe, 0.01)
    # level, at rest, on the setpoint: thrust = m g = 0.027 kg x 9.81 m/s^2 = 0.26487 N, rates 0
    np.testing.assert_allclose(cmd, [0.027 * 9.81, 0.0, 0.0, 0.0], atol=1e-6)
    np.testing.assert_array_equal(calls[0], [0.0, 0.0, 1.0])  # the goal is the onset position


def test_quadrotor_setpoint_integration_and_feed_forward(quad_spec):
    m = load_joy_map(quad_spec)
    q = quad_state()
    m.reset(q)
    observe, calls = observer(quad_spec, q, np.zeros(4))
    for _ in range(3):  # right stick up (axis 4) full: v = [0.5, 0, 0] m/s; dt 0.01 s
        m.command(*joy({4: 1.0}, (ENABLE,)), q, observe, 0.01)
    # 3 x 0.5 x 0.01 = 0.015 m
    np.testing.assert_allclose(m.setpoint_m, [0.015, 0.0, 1.0], atol=1e-12)
    # goal = setpoint + kd/kp x v = [0.015, 0, 1] + 4/6 x [0.5, 0, 0] = [0.34833, 0, 1]
    np.testing.assert_allclose(calls[-1], [0.015 + 4.0 / 6.0 * 0.5, 0.0, 1.0], atol=1e-12)
    # turbo climb (axis 1) with yaw (axis 0 = 0.5): v_z = 0.6 m/s, yaw rate 0.5 x 2.0 = 1.0 rad/s
    cmd = m.command(*joy({1: 1.0, 0: 0.5}, (TURBO,)), q, observe, 0.01)
    np.testing.assert_allclose(m.setpoint_m, [0.015, 0.0, 1.006], atol=1e-12)
    assert cmd[3] == 1.0
    assert cmd[0] > 0.027 * 9.81  # the cascade climbs: more than hover thrust


def test_quadrotor_leash_and_geofence(quad_spec):
    m = load_joy_map(quad_spec)
    q = quad_state()
    m.reset(q)
    observe, _ = observer(quad_spec, q, np.zeros(4))
    for _ in range(200):  # turbo, right stick up-left: v = [1, 1, 0] m/s for 2 s -> 2.83 m asked
        m.command(*joy({4: 1.0, 3: 1.0}, (TURBO,)), q, observe, 0.01)
    # the leash keeps 0.5 m along the diagonal: 0.5 / sqrt(2) = 0.353553 m on x and y
    np.testing.assert_allclose(m.setpoint_m, [0.5 / math.sqrt(2), 0.5 / math.sqrt(2), 1.0], atol=1e-12)
    # near the +x geofence wall (2.5 m): the setpoint stops at the wall, not 0.5 m beyond the drone
    q = quad_state((2.4, 0.0, 1.0))
    m.reset(q)
    observe, _ = observer(quad_spec, q, np.zeros(4))
    for _ in range(100):
        m.command(*joy({4: 1.0}, (TURBO,)), q, observe, 0.01)
    np.testing.assert_allclose(m.setpoint_m, [2.5, 0.0, 1.0], atol=1e-12)
    # deadman released: the sticks move nothing
    before = m.setpoint_m.copy()
    m.command(*joy({4: 1.0}), q, observe, 0.01)
    np.testing.assert_array_equal(m.setpoint_m, before)


def test_pure_helpers_hand_computed():
    # leash: 3-4-5 triangle, 5 m away scaled to 1 m: (0.6, 0.8, 0)
    np.testing.assert_allclose(leash(np.array([3.0, 4.0, 0.0]), np.zeros(3), 1.0), [0.6, 0.8, 0.0])
    np.testing.assert_array_equal(leash(np.array([0.3, 0.4, 0.0]), np.zeros(3), 1.0), [0.3, 0.4, 0.0])
    # reach target: tcp (1,0,0), reference (1.002,0,0), gain 0.5 -> 1 + 0.002 / 0.5 = 1.004
    np.testing.assert_allclose(reach_target(np.array([1.0, 0, 0]), np.array([1.002, 0, 0]), 0.5), [1.004, 0, 0])
    # feed-forward: kd/kp = 4/6, v = (0.3, 0, 0) -> +0.2 m
    np.testing.assert_allclose(feed_forward_goal(np.zeros(3), np.array([0.3, 0, 0]), 4 / 6), [0.2, 0, 0])


# ---------------------------------------------------------------- Joy rejection


def test_short_or_bad_joy_rejected_naming_the_count():
    m = load_joy_map(load_robot("arm"))
    with pytest.raises(ValueError, match=r"/joy: 4 axes, .* needs at least 5 \(axis_linear.z is index 4\)"):
        m.check(np.zeros(4), np.zeros(11), "/joy")
    with pytest.raises(ValueError, match=r"/joy: 5 buttons, .* needs at least 6 \(enable_button is index 5\)"):
        m.check(np.zeros(8), np.zeros(5), "/joy")
    with pytest.raises(ValueError, match="/joy: axis 2 is nan, not finite"):
        m.check(np.array([0, 0, np.nan, 0, 0]), np.zeros(6), "/joy")
    with pytest.raises(ValueError, match="flat array"):
        m.check(np.zeros((2, 4)), np.zeros(6), "/joy")
    m.check(np.zeros(5), np.zeros(6), "/joy")  # exactly enough is fine
    base = load_joy_map(load_robot("mobile_base"))
    with pytest.raises(ValueError, match=r"command: 1 axes, .* needs at least 2 \(axis_linear.x is index 1\)"):
        base.command(np.zeros(1), np.zeros(6), {}, lambda g: g, 0.05)


# ---------------------------------------------------------------- YAML rejection


@pytest.mark.parametrize(("robot", "change", "field", "message"), [
    ("arm", {"axis_linear.w": 2}, "axis_linear.w", "Extra inputs"),
    ("mobile_base", {"require_enable_button": False}, "require_enable_button", "Extra inputs"),
    ("mobile_base", {"axis_linear.y": -1}, "axis_linear.y", "Extra inputs"),
    ("quadrotor", {"enable_button": "5"}, "enable_button", "valid integer"),
    ("quadrotor", {"scale_linear.x": "fast"}, "scale_linear.x", "valid number"),
    ("arm", {"axis_linear.x": 64}, "axis_linear.x", "less than or equal to 63"),
    ("mobile_base", {"axis_angular.yaw": -2}, "axis_angular.yaw", "greater than or equal to -1"),
    ("arm", {"enable_button": -1}, "enable_button", "greater than or equal to 0"),
    ("quadrotor", {"leash_m": 0.0}, "leash_m", "greater than 0"),
    ("arm", {"success_button": 5}, "<top level>", "enable_button and success_button are both button 5"),
    ("arm", {"kind": "quadrotor"}, "kind", "Input should be 'arm'"),
])
def test_bad_yaml_names_file_and_field(tmp_path, robot, change, field, message):
    path = write_variant(tmp_path, robot, **change)
    with pytest.raises(ValueError, match=f"{robot}_teleop.yaml") as err:
        load_joy_map(load_robot(robot), path)
    assert f"field '{field}'" in str(err.value) and message in str(err.value), str(err.value)


def test_missing_field_and_missing_file(tmp_path):
    data = yaml.safe_load(load_robot("quadrotor").path("teleop.yaml").read_text())
    del data["axis_angular"]
    path = tmp_path / "no_yaw.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError, match=r"no_yaw.yaml: field 'axis_angular': Field required"):
        load_joy_map(load_robot("quadrotor"), path)
    with pytest.raises(ValueError, match=r"nowhere.yaml: no such file"):
        load_joy_map(load_robot("arm"), tmp_path / "nowhere.yaml")



def test_quadrotor_integral_frozen_while_the_setpoint_moves(quad_spec):
    m = load_joy_map(quad_spec)
    m.reset(quad_state((0.0, 0.0, 1.0)))
    q = quad_state((0.0, 0.0, 0.95))  # the drone sags 5 cm below the held setpoint
    observe, _ = observer(quad_spec, q, np.zeros(4))
    m.command(*joy(held=(ENABLE,)), q, observe, 0.01)
    # hovering near the setpoint: integral += error x dt = 0.05 m x 0.01 s = 5e-4 m s (z)
    np.testing.assert_allclose(m.expert.integral[0], [0.0, 0.0, 5e-4], atol=1e-9)
    m.command(*joy({4: 0.1}, (ENABLE,)), q, observe, 0.01)  # moving: frozen
    np.testing.assert_allclose(m.expert.integral[0], [0.0, 0.0, 5e-4], atol=1e-9)
    m.command(*joy(held=(ENABLE,)), q, observe, 0.01)  # hovering again: setpoint x 0.0005, error (0.0005, 0, 0.05)
    np.testing.assert_allclose(m.expert.integral[0], [0.0005 * 0.01, 0.0, 1e-3], atol=1e-9)


# ---------------------------------------------------------------- closed loop on the simulated robots


def closed_loop(env_id, stick, ticks):
    """Fly the joy map on the nominal MuJoCo robot (seeded noise): stick(t) -> (axes, buttons); returns states."""
    from robot_rl.envs.core import BatchedRobotEnv
    from robot_rl.envs.registry import entry

    env = BatchedRobotEnv(entry(env_id), randomize=False)
    env.seed(0)
    env.reset()
    adapter, m = adapter_for(env.spec), load_joy_map(env.spec)
    q, last = {k: v[0] for k, v in env.state_at_reset.items()}, env.last_action[0].copy()
    m.reset(q)
    states = []
    for t in range(ticks):
        observe = lambda g, q=q, last=last: adapter.observation(q, g, last)  # noqa: E731 - as the controller does
        cmd = m.command(*stick(t), q, observe, env.spec.control_dt_s)
        info = env.step(cmd[None])[4]
        q, last = {k: v[0] for k, v in info["state"].items()}, cmd
        states.append(q)
    env.close()
    return m, states


def test_arm_closed_loop_tracks_the_stick_and_holds():
    # +x at 0.1 m/s for 50 ticks (1 s at 50 Hz), then released for 50 ticks
    m, states = closed_loop("robot_rl/ArmReach-v0", lambda t: joy({1: 1.0 if t < 50 else 0.0}, (ENABLE,)), 100)
    tcp = np.array([forward_kinematics(m.chain, s["joint_pos_rad"][None])[0] for s in states])
    vx = (tcp[49, 0] - tcp[9, 0]) / (40 * 0.02)  # measured 0.0996 m/s
    assert abs(vx - 0.1) < 0.005
    assert np.abs(tcp[49, 1:] - tcp[9, 1:]).max() < 2e-3  # y, z held within 2 mm while moving
    assert np.abs(tcp[99] - tcp[79]).max() < 1e-3  # released: still within 1 mm over the last 0.4 s
    assert np.abs(tcp[99] - m.reference_m).max() < 3e-3  # and where the reference stopped


def test_quadrotor_closed_loop_flies_the_velocity_and_stops():
    # hover 1 s, x at 0.5 m/s for 2 s (100 Hz), hover 2 s
    m, states = closed_loop("robot_rl/QuadrotorHover-v0",
                            lambda t: joy({4: 1.0 if 100 <= t < 300 else 0.0}, (ENABLE,)), 500)
    p = np.array([s["position_m"] for s in states])
    vx = p[299, 0] - p[199, 0]  # m over the last second of the ramp; measured 0.52
    assert abs(vx - 0.5) < 0.05
    assert abs(p[-1, 0] - m.setpoint_m[0]) < 0.05  # stopped on the setpoint within 5 cm, no lag left over
