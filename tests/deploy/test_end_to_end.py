"""End to end over DDS, one robot each: `robot-rl launch` starts the recorder, the simulated robot (hidden
reality physics) and the controller with the shipped policy as separate processes. The task must succeed in at least
80 % of the episodes, and no command in the recorded bag may violate a limit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from robot_rl.data.bag import read_bag
from robot_rl.robots import load_robot
from robot_rl.safety import SafetyFilter

ROOT = Path(__file__).resolve().parents[2]
EPISODES = {"arm": 20, "quadrotor": 10, "mobile_base": 12}
TOLERANCE = 1e-9


def launch(robot: str, tmp_path: Path, episodes: int, *extra: str) -> tuple[subprocess.CompletedProcess, dict, Path]:
    """Run `robot-rl launch launch/<robot>.yaml` until the simulated robot has finished `episodes`."""
    bag, summary = tmp_path / "bag", tmp_path / "summary.json"
    cmd = [sys.executable, "-m", "robot_rl.cli.main", "launch", str(ROOT / "launch" / f"{robot}.yaml"),
           "--middleware", "dds", "--record", str(bag), "--duration", "240",
           "--set", f"sim_driver.episodes={episodes}", "--set", f"sim_driver.summary_file={summary}", *extra]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result, json.loads(summary.read_text()), bag


def commands_in_bag(bag: Path, robot: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every command recorded on the robot's command topic `[n, n_cmd]` (robot units), its receive times `[n]` ns,
    and the receive times of the episode goals (episode boundaries)."""
    from robot_rl.deploy.adapters import adapter_for

    adapter = adapter_for(load_robot(robot))
    rows, times, goals = [], [], []
    for topic, _, t_ns, msg in read_bag(bag, topics=[adapter.command_topic, "/goal"]):
        if topic == "/goal":
            goals.append(t_ns)
        else:
            rows.append(adapter.decode_command(msg))
            times.append(t_ns)
    return np.array(rows), np.array(times), np.array(goals)


def assert_rate_limited_within_episodes(commands: np.ndarray, times: np.ndarray, goals: np.ndarray,
                                        max_step: np.ndarray) -> None:
    """Between consecutive commands of one episode, speeding up is limited to `max_step` `[n_cmd]` per cycle."""
    same_episode = ~((goals[None, :] >= times[:-1, None]) & (goals[None, :] <= times[1:, None])).any(axis=1)
    speeding_up = (np.abs(commands[1:]) > np.abs(commands[:-1])) & same_episode[:, None]
    step = np.abs(np.diff(commands, axis=0))
    excess = np.where(speeding_up, step - max_step, -np.inf)
    assert excess.max() <= 1e-9, f"command step exceeds the acceleration limit by {excess.max()}"


@pytest.mark.parametrize("robot", list(EPISODES))
def test_shipped_policy_succeeds_against_hidden_reality_over_dds(robot: str, tmp_path: Path,
                                                                 ros_domain_id: str) -> None:
    result, summary, bag = launch(robot, tmp_path, EPISODES[robot])
    assert summary["episodes"] == EPISODES[robot]
    assert summary["success_rate"] >= 0.8, (summary, result.stdout[-3000:])
    for node in ("[controller]", "[sim_driver]", "[recorder]"):
        assert node in result.stdout
    commands, times, goals = commands_in_bag(bag, robot)
    assert len(commands) >= summary["commands_received"] * 0.95  # the bag holds (nearly) every command sent
    assert policy_hashes_in_bag(bag) == {yaml_card_hash(robot)}  # the bag says which policy acted
    assert {r.policy_sha256 for r in tick_records(bag)} == {yaml_card_hash(robot)}  # on every tick too
    low, high = command_box(robot)
    assert (commands >= low - TOLERANCE).all() and (commands <= high + TOLERANCE).all()
    if robot == "mobile_base":  # speeding up by at most accel x dt per cycle (braking is always allowed)
        max_step = SafetyFilter.for_robot(load_robot(robot)).limits.command_step
        assert_rate_limited_within_episodes(commands, times, goals, max_step)


def policy_hashes_in_bag(bag: Path) -> set[str]:
    """The policy sha256 the controller recorded at start on /robot_rl/policy (transient local, never a timer)."""
    return {kv.value for _, _, _, msg in read_bag(bag, topics=["/robot_rl/policy"]) for status in msg.status
            for kv in status.values if kv.key == "policy_sha256"}


def tick_records(bag: Path) -> list:
    """The controller's per-tick records in the bag, in order."""
    from robot_rl.data.ticks import parse_tick
    from robot_rl.deploy.msgs import ns_from_stamp

    return [parse_tick({kv.key: kv.value for kv in msg.status[0].values}, ns_from_stamp(msg.header.stamp))
            for _, _, _, msg in read_bag(bag, topics=["/robot_rl/tick"])]


def yaml_card_hash(robot: str) -> str:
    """The sha256 in the card of the policy launch/<robot>.yaml deploys."""
    from robot_rl.deploy.launcher import load_params
    from robot_rl.policy.card import load_card

    policy = load_params(ROOT / "launch" / f"{robot}.yaml")["controller"]["policy"]
    return load_card(ROOT / policy / "card.yaml").onnx.sha256


def test_the_simulated_robot_runs_on_pybullet_too(tmp_path: Path, ros_domain_id: str) -> None:
    _, summary, _ = launch("arm", tmp_path, 4, "--set", "sim_driver.backend=pybullet")
    assert summary["episodes"] == 4 and summary["success_rate"] >= 0.75, summary


def test_real_time_on_wall_clock_without_lockstep(tmp_path: Path, ros_domain_id: str) -> None:
    """Simulated robot stepping in real time, both nodes on the wall clock: the controller's loop keeps up."""
    wall = ("--set", "sim_driver.realtime_factor=1.0", "--set", "sim_driver.use_sim_time=false",
            "--set", "controller.use_sim_time=false")
    _, summary, _ = launch("arm", tmp_path, 3, *wall)
    assert summary["episodes"] == 3 and summary["success_rate"] >= 2 / 3, summary


def test_hidden_reality_from_a_parameter_file(tmp_path: Path, ros_domain_id: str) -> None:
    """Heavier links, a payload, more damping and one step of actuation delay, fixed by a file."""
    reality = tmp_path / "reality.yaml"
    reality.write_text("link_mass_scale: 1.1\npayload_mass_kg: 0.4\njoint_damping_scale: 1.8\n"
                       "action_latency_steps: 1\n")
    _, summary, _ = launch("arm", tmp_path, 3, "--set", f"sim_driver.reality_file={reality}")
    assert summary["episodes"] == 3 and summary["success_rate"] >= 2 / 3, summary


def test_quadrotor_commanded_through_mavros_attitude_target(tmp_path: Path, ros_domain_id: str) -> None:
    mavros = "mavros_msgs/msg/AttitudeTarget"
    _, summary, _ = launch("quadrotor", tmp_path, 2, "--set", f"controller.command_type={mavros}",
                           "--set", f"sim_driver.command_type={mavros}")
    assert summary["episodes"] == 2 and summary["success_rate"] == 1.0 and summary["bad_commands"] == 0, summary


def test_bag_command_summarizes_and_names_a_missing_bag(tmp_path: Path, ros_domain_id: str) -> None:
    _, _, bag = launch("arm", tmp_path, 2)
    out = subprocess.run([sys.executable, "-m", "robot_rl.cli.main", "bag", str(bag)], capture_output=True,
                         text=True, check=True).stdout
    assert "/forward_position_controller/commands  [std_msgs/msg/Float64MultiArray]" in out
    missing = subprocess.run([sys.executable, "-m", "robot_rl.cli.main", "bag", str(tmp_path / "nope")],
                             capture_output=True, text=True, check=False)
    assert missing.returncode == 2 and "nope: no such bag directory" in missing.stderr


def command_box(robot: str) -> tuple[np.ndarray, np.ndarray]:
    """The tightest static command bounds of the robot's safety limits (within robot.yaml's command limits)."""
    spec = load_robot(robot)
    limits = SafetyFilter.for_robot(spec).limits
    if robot == "arm":
        low, high = limits.target_min_rad, limits.target_max_rad
    else:
        low, high = limits.command_low, limits.command_high
    assert (low >= np.array(spec.command.low)).all() and (high <= np.array(spec.command.high)).all()
    return np.asarray(low), np.asarray(high)


@pytest.mark.ros
def test_the_same_controller_on_rclpy_drives_the_simulated_robot_on_cyclonedds(ros_venv_ready: None, tmp_path: Path,
                                                                               ros_domain_id: str) -> None:
    """Controller on real rclpy (Fast DDS, .venv-ros), simulated robot on CycloneDDS: the node code is the same."""
    from tests.deploy.conftest import ROS_VENV, ros_env

    env = ros_env()
    params, summary = str(ROOT / "launch" / "arm.yaml"), tmp_path / "summary.json"
    sim = subprocess.Popen([sys.executable, "-m", "robot_rl.deploy.nodes.sim_driver", "--params", params,
                            "--middleware", "dds", "--set", "episodes=4", "--set", f"summary_file={summary}"],
                           cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    controller = subprocess.Popen([str(ROS_VENV / "bin" / "python"), "-m", "robot_rl.deploy.nodes.controller",
                                   "--params", params, "--middleware", "rclpy"],
                                  cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        sim_out, _ = sim.communicate(timeout=150)
    finally:
        controller.send_signal(2)  # SIGINT: a clean stop
        controller_out, _ = controller.communicate(timeout=30)
    assert sim.returncode == 0, sim_out[-3000:]
    assert controller.returncode == 0 and "on rclpy" in controller_out, controller_out[-3000:]
    result = json.loads(summary.read_text())
    assert result["episodes"] == 4 and result["success_rate"] >= 0.75, result
