"""launch/*.launch.py: syntax, and the node set and arguments of generate_launch_description().

ROS 2 `launch`/`launch_ros` are not installable from PyPI (no ros-jazzy-launch* wheels), so the launch files are
executed against minimal stand-ins of the few classes they use (fakes live in tests only): each records its keyword
arguments, and conditions/substitutions are evaluated by hand below with a dict of launch arguments.
"""

import ast
import importlib.util
import sys
import types
from pathlib import Path

import pytest

LAUNCH_DIR = Path(__file__).resolve().parents[2] / "launch"
ROBOTS = ("arm", "quadrotor", "mobile_base")


class _Recorded:
    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


class LaunchConfiguration(_Recorded):
    def resolve(self, config):
        return config[self.args[0]]


class PythonExpression(_Recorded):
    def resolve(self, config):
        text = "".join(p if isinstance(p, str) else p.resolve(config) for p in self.args[0])
        return str(eval(text))  # the launch file's own 'X' == '' expressions


class IfCondition(_Recorded):
    def holds(self, config):
        return self.args[0].resolve(config).lower() == "true"


def _stub_modules(monkeypatch):
    stubs = {
        "launch": {"LaunchDescription": _Recorded},
        "launch.actions": {"DeclareLaunchArgument": _Recorded},
        "launch.conditions": {"IfCondition": IfCondition},
        "launch.substitutions": {"LaunchConfiguration": LaunchConfiguration, "PythonExpression": PythonExpression},
        "launch_ros": {},
        "launch_ros.actions": {"Node": _Recorded},
    }
    for name, attrs in stubs.items():
        module = types.ModuleType(name)
        module.__dict__.update(attrs)
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.delitem(sys.modules, "robot_rl_launch_common", raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the launch file prepends its folder


def _description(monkeypatch, robot):
    _stub_modules(monkeypatch)
    spec = importlib.util.spec_from_file_location(f"{robot}_launch", LAUNCH_DIR / f"{robot}.launch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate_launch_description().args[0]


def _started(entities, **launch_args):
    """(executable, name, resolved parameters) of each node whose condition holds for these launch arguments."""
    arguments = [e for e in entities if "default_value" in e.kwargs]
    config = {a.args[0]: a.kwargs["default_value"] for a in arguments} | launch_args
    nodes = []
    for node in (e for e in entities if "executable" in e.kwargs):
        if node.kwargs["condition"] is None or node.kwargs["condition"].holds(config):
            params = [p.resolve(config) if isinstance(p, LaunchConfiguration) else
                      {k: v.resolve(config) if isinstance(v, LaunchConfiguration) else v for k, v in p.items()}
                      for p in node.kwargs["parameters"]]
            nodes.append((node.kwargs["executable"], node.kwargs["name"], params))
    return nodes


@pytest.mark.parametrize("robot", ROBOTS)
def test_launch_file_syntax_and_entry_point(robot):
    tree = ast.parse((LAUNCH_DIR / f"{robot}.launch.py").read_text())
    assert "generate_launch_description" in [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    ast.parse((LAUNCH_DIR / "robot_rl_launch_common.py").read_text())


@pytest.mark.parametrize("robot", ROBOTS)
def test_arguments_are_declared_and_described(monkeypatch, robot):
    entities = _description(monkeypatch, robot)
    arguments = {e.args[0]: e.kwargs for e in entities if "default_value" in e.kwargs}
    assert set(arguments) == {"policy", "params_file", "use_sim", "record", "operator"}
    assert arguments["operator"]["default_value"] == "none"
    assert arguments["operator"]["choices"] == ["none", "joy", "keyboard", "spacemouse", "sim-expert"]
    assert all(len(a["description"]) > 20 for a in arguments.values())
    assert arguments["params_file"]["default_value"] == str(LAUNCH_DIR / f"{robot}.yaml")
    assert arguments["use_sim"]["default_value"] == "true"
    assert arguments["record"]["default_value"] == arguments["policy"]["default_value"] == ""


@pytest.mark.parametrize("robot", ROBOTS)
def test_node_set_follows_the_arguments(monkeypatch, robot):
    entities = _description(monkeypatch, robot)
    params = str(LAUNCH_DIR / f"{robot}.yaml")
    assert all(e.kwargs["package"] == "robot_rl_ros" for e in entities if "executable" in e.kwargs)
    # defaults: simulated robot + controller with the YAML's policy, no recorder
    assert _started(entities) == [("sim_driver", "sim_driver", [params]), ("controller", "controller", [params])]
    # real robot (the controller then requires the release gate), another policy, recording
    assert _started(entities, use_sim="false", policy="policies/x", record="logs/a") == [
        ("controller", "controller", [params, {"policy": "policies/x"}, {"require_gate": True}]),
        ("recorder", "recorder", [params, {"output_dir": "logs/a"}]),
    ]
    assert [n[0] for n in _started(entities, params_file="/p.yaml")] == ["sim_driver", "controller"]


@pytest.mark.parametrize("robot", ROBOTS)
def test_operator_argument_starts_the_operator_node(monkeypatch, robot):
    entities = _description(monkeypatch, robot)
    params = str(LAUNCH_DIR / f"{robot}.yaml")
    started = _started(entities, operator="joy")
    assert ("operator", "operator", [params, {"kind": "joy"}]) in started
    assert ("controller", "controller", [params]) in started  # a person's device: the controller as configured
    sim = _started(entities, operator="sim-expert", policy="policies/x")
    assert ("controller", "controller", [params, {"policy": "policies/x"},
                                         {"takeover.sync": True, "takeover.debounce_s": 0.0}]) in sim
    assert [n[0] for n in sim].count("controller") == 1  # exactly one controller whatever the arguments
