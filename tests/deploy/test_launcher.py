"""The ROS-free launcher: plans built from launch/*.yaml, YAML errors, and supervision of stand-in node processes.

The stand-in nodes are tiny scripts written by these tests (fakes live in tests only): they print a line, then run
until SIGINT (exit 0), exit on their own with a given code, or ignore SIGINT (to test the SIGTERM escalation).
"""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import yaml

from robot_rl.cli.main import main as cli_main
from robot_rl.deploy import launcher
from robot_rl.deploy.launcher import LaunchPlan, build_plan, load_params, supervise

REPO = Path(__file__).resolve().parents[2]
LAUNCH_DIR = REPO / "launch"
ROBOTS = ("arm", "quadrotor", "mobile_base")
pytestmark = pytest.mark.timeout(30)

FAKE_NODE = textwrap.dedent("""
    import signal, sys, time
    name, behaviour = sys.argv[1], sys.argv[2]
    stopping = []
    def on_signal(signum, frame):
        stopping.append(signum)
    signal.signal(signal.SIGINT, signal.SIG_IGN if behaviour == "stubborn" else on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    if behaviour == "slow-ready":
        time.sleep(1.0)
    print(f"{name} up", flush=True)
    if name == "recorder":
        print("recorder: recording 0 topics (fake)", flush=True)  # what the launcher waits for
    print(f"{name} warns", file=sys.stderr, flush=True)
    if behaviour.startswith("exit:"):
        code, after_s = behaviour.split(":")[1:]
        time.sleep(float(after_s))
        print(f"{name} exiting {code}", flush=True)
        sys.exit(int(code))
    while not stopping:
        time.sleep(0.01)
    print(f"{name} stopped by {signal.Signals(stopping[0]).name}", flush=True)
""")


@pytest.fixture
def fake_node(tmp_path):
    script = tmp_path / "fake_node.py"
    script.write_text(FAKE_NODE)

    def argv(name: str, behaviour: str = "run") -> tuple[str, ...]:
        return (sys.executable, str(script), name, behaviour)
    return argv


def _plan(**nodes: tuple[str, ...]) -> LaunchPlan:
    return LaunchPlan(params_file=Path("unused.yaml"), nodes=nodes)


# --- plans ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("robot", ROBOTS)
def test_plan_from_each_launch_yaml(robot, tmp_path):
    path = LAUNCH_DIR / f"{robot}.yaml"
    plan = build_plan(path, record=tmp_path / "bag", middleware="dds", overrides=["sim_driver.episodes=2"])
    assert list(plan.nodes) == ["recorder", "sim_driver", "controller"]  # recorder first: it catches the start
    for node, argv in plan.nodes.items():
        assert argv[:3] == (sys.executable, "-m", f"robot_rl.deploy.nodes.{node}")
        assert argv[3:11] == ("--params", str(path.resolve()), "--node", node, "--middleware", "dds",
                              "--network", "localhost")
    assert plan.nodes["recorder"][11:] == ("--set", f"output_dir={(tmp_path / 'bag').resolve()}")
    assert plan.nodes["sim_driver"][11:] == ("--set", "episodes=2")
    assert plan.nodes["controller"][11:] == ()


def test_plan_without_sim_or_recorder():
    plan = build_plan(LAUNCH_DIR / "arm.yaml", sim=False, network="system")
    assert list(plan.nodes) == ["controller"]
    assert plan.nodes["controller"][-4:] == ("--network", "system", "--set", "require_gate=true")  # real hardware


def test_real_hardware_requires_the_gate_unless_overridden():
    assert "require_gate=true" not in build_plan(LAUNCH_DIR / "arm.yaml").nodes["controller"]  # simulation
    argv = build_plan(LAUNCH_DIR / "arm.yaml", sim=False, override_gate=True).nodes["controller"]
    assert argv[-4:] == ("--set", "require_gate=true", "--set", "gate_override=true")


@pytest.mark.parametrize("robot", ROBOTS)
def test_launch_yaml_matches_robot_yaml_and_policy(robot):
    params = load_params(LAUNCH_DIR / f"{robot}.yaml")
    ros = yaml.safe_load((REPO / "sim" / robot / "robot.yaml").read_text())["ros"]
    assert params["controller"]["robot"] == params["sim_driver"]["robot"] == robot
    assert (REPO / params["controller"]["policy"] / "card.yaml").is_file()
    topics = [" ".join(entry.split()[:2]) for entry in params["recorder"]["topics"]]  # without the QoS word
    expected = [f"{t['name']} {t['type']}" for t in ros["state_topics"].values()]
    expected.append(f"{ros['command_topic']['name']} {ros['command_topic']['type']}")
    assert topics[:len(expected)] == expected
    assert "/robot_rl/applied_action std_msgs/msg/Float64MultiArray" in topics
    assert "/goal geometry_msgs/msg/Pose" in topics
    assert all(p["use_sim_time"] is True for p in params.values())


@pytest.mark.parametrize(("text", "message"), [
    ("controller: [1, 2\n", "not valid YAML"),
    ("- controller\n", "expected a mapping of node sections"),
    ("planner:\n  ros__parameters: {}\n", "unknown section 'planner'"),
    ("controller:\n  robot: arm\n", "section 'controller' must hold exactly one key, 'ros__parameters'"),
    ("controller:\n  ros__parameters: [1]\n", "section 'controller': 'ros__parameters' must be a mapping"),
])
def test_bad_yaml_names_file_and_section(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as info:
        build_plan(path)
    assert str(path) in str(info.value)


def test_missing_section_and_file(tmp_path):
    path = tmp_path / "controller_only.yaml"
    path.write_text("controller:\n  ros__parameters: {robot: arm}\n")
    assert list(build_plan(path, sim=False).nodes) == ["controller"]
    with pytest.raises(ValueError, match=r"controller_only.yaml: missing section\(s\) recorder, sim_driver"):
        build_plan(path, record=tmp_path / "bag")
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        build_plan(tmp_path / "nope.yaml")


@pytest.mark.parametrize(("override", "message"), [
    ("episodes=3", "expected NODE.KEY=VALUE"),
    ("planner.episodes=3", "no section 'planner'"),
    ("recorder.topics=[]", "no section 'recorder'"),  # recorder not started without --record
    ("sim_driver.episode=3", "section 'sim_driver' has no parameter 'episode'"),
])
def test_bad_overrides(override, message):
    with pytest.raises(ValueError, match=message):
        build_plan(LAUNCH_DIR / "arm.yaml", overrides=[override])


def test_operator_kind_starts_the_operator_node():
    plan = build_plan(LAUNCH_DIR / "arm.yaml", operator="joy", overrides=["operator.device.rate_hz=30"])
    assert list(plan.nodes) == ["sim_driver", "operator", "controller"]  # the operator before the controller
    assert plan.nodes["operator"][11:] == ("--set", "kind=joy", "--set", "device.rate_hz=30")
    assert plan.nodes["controller"][11:] == ()  # a person's device: the controller as configured
    assert "operator" not in build_plan(LAUNCH_DIR / "arm.yaml").nodes  # the YAML's kind: none


def test_simulated_operator_syncs_the_controller_and_user_sets_win():
    plan = build_plan(LAUNCH_DIR / "arm.yaml", operator="sim-expert", overrides=["controller.takeover.sync=false"])
    assert plan.nodes["controller"][11:] == ("--set", "takeover.sync=true", "--set", "takeover.debounce_s=0",
                                             "--set", "takeover.sync=false")  # the last --set wins
    with pytest.raises(ValueError, match="operator kind 'gamepad'"):
        build_plan(LAUNCH_DIR / "arm.yaml", operator="gamepad")


@pytest.mark.parametrize("robot", ROBOTS)
def test_operator_section_matches_the_robot(robot):
    params = load_params(LAUNCH_DIR / f"{robot}.yaml")
    assert params["operator"]["robot"] == robot and params["operator"]["env_id"] == params["sim_driver"]["env_id"]
    topics = [entry.split()[0] for entry in params["recorder"]["topics"]]
    for topic in ("/robot_rl/tick", "/robot_rl/policy", "/robot_rl/intervention", "/robot_rl/operator/joy",
                  "/robot_rl/operator/command", "/robot_rl/operator/status"):
        assert topic in topics


def test_nested_override_goes_to_the_node():
    plan = build_plan(LAUNCH_DIR / "arm.yaml", overrides=["controller.safety.max_joint_vel_rad_s=1.5"])
    assert plan.nodes["controller"][-2:] == ("--set", "safety.max_joint_vel_rad_s=1.5")


# --- supervision --------------------------------------------------------------------------------------------------


def test_duration_stops_all_with_sigint_and_prefixes_output(fake_node, capfd):
    start = time.monotonic()
    code = supervise(_plan(recorder=fake_node("recorder"), controller=fake_node("controller")), duration_s=1.0)
    elapsed = time.monotonic() - start
    out, err = capfd.readouterr()
    assert code == 0
    assert 1.0 <= elapsed < 5.0
    for node in ("recorder", "controller"):
        assert f"[{node}] {node} up\n" in out
        assert f"[{node}] {node} stopped by SIGINT\n" in out
        assert f"[{node}] {node} warns\n" in err


def test_nodes_start_after_the_recorder_listens(fake_node, capfd):
    # the recorder takes a second to subscribe: the controller's first line comes after the recorder's ready line
    code = supervise(_plan(recorder=fake_node("recorder", "slow-ready"), controller=fake_node("controller")),
                     duration_s=2.5)
    out, _ = capfd.readouterr()
    assert code == 0
    assert out.index("[recorder] recorder: recording") < out.index("[controller] controller up")


def test_node_failure_stops_the_others_and_names_it(fake_node, capfd):
    plan = _plan(sim_driver=fake_node("sim_driver"), controller=fake_node("controller", "exit:3:0.5"))
    code = supervise(plan, duration_s=8.0)
    out, err = capfd.readouterr()
    assert code == 3
    assert "node 'controller' exited with code 3" in err
    assert "[sim_driver] sim_driver stopped by SIGINT\n" in out


def test_node_done_with_zero_stops_the_others_and_returns_zero(fake_node, capfd):
    # the sim_driver exits 0 after its episodes: the run is complete
    plan = _plan(sim_driver=fake_node("sim_driver", "exit:0:0.3"), controller=fake_node("controller"))
    assert supervise(plan) == 0
    assert "[controller] controller stopped by SIGINT\n" in capfd.readouterr().out


def test_an_unplugged_operator_does_not_stop_the_robot(fake_node, capfd):
    # the operator's device is lost (exit 1 at 0.2 s); the controller goes on until the sim_driver is done at 1.5 s
    plan = _plan(sim_driver=fake_node("sim_driver", "exit:0:1.5"), operator=fake_node("operator", "exit:1:0.2"),
                 controller=fake_node("controller"))
    assert supervise(plan) == 0
    out, err = capfd.readouterr()
    assert "node 'operator' exited with code 1; the others go on" in err
    assert "[sim_driver] sim_driver exiting 0" in out and "[controller] controller stopped by SIGINT\n" in out


def test_sigterm_after_grace_when_sigint_is_ignored(fake_node, capfd):
    plan = _plan(controller=fake_node("controller", "stubborn"))
    assert supervise(plan, duration_s=0.5, grace_s=0.5) == 0
    out, err = capfd.readouterr()
    assert "[controller] controller stopped by SIGTERM\n" in out
    assert "controller still running after SIGINT" in err


def test_stop_event_stops_all(fake_node, capfd):
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    assert supervise(_plan(controller=fake_node("controller")), stop=stop) == 0
    assert "[controller] controller stopped by SIGINT\n" in capfd.readouterr().out


def _fake_node_package(tmp_path: Path, behaviours: dict[str, str]) -> Path:
    """A package `fake_nodes` with one module per node, each running FAKE_NODE with its own argv echoed."""
    package = tmp_path / "fake_nodes"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (tmp_path / "fake_node.py").write_text(FAKE_NODE)
    for node, behaviour in behaviours.items():
        (package / f"{node}.py").write_text(
            f"import runpy, sys\nprint('argv', ' '.join(sys.argv[1:]), flush=True)\n"
            f"sys.argv = ['fake_node.py', {node!r}, {behaviour!r}]\n"
            f"runpy.run_path({str(tmp_path / 'fake_node.py')!r}, run_name='__main__')\n")
    return tmp_path


def test_cli_launch_runs_the_plan(tmp_path, monkeypatch, capfd):
    root = _fake_node_package(tmp_path, {"recorder": "run", "sim_driver": "exit:0:0.5", "controller": "run"})
    monkeypatch.setenv("PYTHONPATH", f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    monkeypatch.setattr(launcher, "NODE_MODULE", "fake_nodes")
    code = cli_main(["launch", str(LAUNCH_DIR / "quadrotor.yaml"), "--record", str(tmp_path / "bag"),
                     "--set", "sim_driver.episodes=1", "--duration", "8"])
    out, _ = capfd.readouterr()
    assert code == 0
    assert f"[recorder] argv --params {LAUNCH_DIR / 'quadrotor.yaml'} --node recorder" in out
    assert f"--set output_dir={tmp_path / 'bag'}" in out
    assert "[sim_driver] argv" in out and "--set episodes=1" in out
    assert "[controller] controller stopped by SIGINT" in out
    assert os.environ["ROS_LOCALHOST_ONLY"] == "1"


def test_cli_launch_bad_yaml_is_a_one_line_error(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("planner:\n  ros__parameters: {}\n")
    assert cli_main(["launch", str(path)]) == 2
    assert f"robot-rl launch: error: {path}: unknown section 'planner'" in capsys.readouterr().err


def test_ctrl_c_stops_all_nodes(tmp_path):
    root = _fake_node_package(tmp_path, {"sim_driver": "run", "controller": "run"})
    code = ("import sys; from robot_rl.deploy import launcher; launcher.NODE_MODULE = 'fake_nodes'; "
            "from robot_rl.cli.main import main; sys.exit(main(sys.argv[1:]))")
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen([sys.executable, "-c", code, "launch", str(LAUNCH_DIR / "arm.yaml"), "--no-record"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stdout:  # wait until both nodes are up
        lines.append(line)
        if sum(" up" in x for x in lines) == 2:
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "[sim_driver] sim_driver stopped by SIGINT" in out
    assert "[controller] controller stopped by SIGINT" in out


def test_robot_rl_launch_records_by_default_into_the_yaml_output_dir():
    plan = build_plan(LAUNCH_DIR / "arm.yaml", record_default=True)
    assert list(plan.nodes) == ["recorder", "sim_driver", "controller"]
    assert not any(a.startswith("output_dir=") for a in plan.nodes["recorder"])  # the YAML's logs/arm/{time}
    assert "recorder" not in build_plan(LAUNCH_DIR / "arm.yaml", record_default=False).nodes
