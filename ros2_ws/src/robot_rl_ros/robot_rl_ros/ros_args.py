"""Translate the command line ROS 2 gives a node into the robot_rl node's command line.

`ros2 launch` starts `controller --ros-args -r __node:=controller --params-file arm.yaml [--params-file TMP]
[-p key:=value]`; robot_rl nodes take `--params FILE --node SECTION [--set key=value ...]`. The first parameter file
with a section named as the node becomes `--params`/`--node`; every other parameter that applies to the node
(sections `/**`, `NAME`, `/NAME`, `/**/NAME` of the other files, `-p` rules) becomes a `--set`, in ROS 2's order
(later wins; `-p` rules win over files). Arguments before `--ros-args` are passed through unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

_TAKES_VALUE = {"-r", "--remap", "-p", "--param", "--params-file", "-e", "--enclave", "--log-level",
                "--log-config-file", "--log-file-name"}
"""ROS 2 arguments followed by a value; every other ROS 2 argument is a flag."""


def split_ros_args(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split argv into (user arguments, ROS 2 arguments): those inside `--ros-args ... [--]` blocks are ROS 2's."""
    user: list[str] = []
    ros: list[str] = []
    inside = False
    for arg in argv:
        if arg == "--ros-args":
            inside = True
        elif arg == "--" and inside:
            inside = False
        else:
            (ros if inside else user).append(arg)
    return user, ros


def _yaml_text(value: Any) -> str:  # noqa: ANN401 - any YAML value
    """`value` as one line of YAML (flow style), e.g. 'true', '[a, b]', "''"."""
    return yaml.safe_dump(value, default_flow_style=True, width=1 << 30).strip().removesuffix("...").strip()


def _sections_for(data: Any, name: str) -> list[dict]:  # noqa: ANN401 - parsed YAML
    """The `ros__parameters` of every section of a parameter file that applies to node `name`, in file order."""
    keys = ("/**", name, f"/{name}", f"/**/{name}")
    if not isinstance(data, dict):
        return []
    return [s["ros__parameters"] for k, s in data.items() if k in keys and isinstance(s, dict)
            and isinstance(s.get("ros__parameters"), dict)]


def node_argv(node: str, argv: Sequence[str]) -> list[str]:
    """The robot_rl node command line for a ROS 2 command line.

    Args:
        node: default node name (= parameter section), used unless `-r __node:=NAME` renames the node.
        argv: the process arguments after the program name, as ROS 2 passes them.

    Returns:
        `[user args..., '--node', NAME, '--middleware', 'rclpy', ('--params', FILE), ('--set', 'KEY=VALUE')...]`.

    """
    user, ros = split_ros_args(argv)
    name, files, rules = node, [], []
    pairs = iter(ros)
    for arg in pairs:
        value = next(pairs, "") if arg in _TAKES_VALUE else ""
        target, _, to = value.rpartition(":=")
        if arg in ("-r", "--remap") and target.split(":")[-1] == "__node":
            name = to
        elif arg == "--params-file":
            files.append(value)
        elif arg in ("-p", "--param"):
            rules.append(f"{target.split(':')[-1]}={to}")  # '[node:]name:=value', value already YAML
    out = [*user, "--node", name, "--middleware", "rclpy"]
    sets = []
    for path in files:
        data = yaml.safe_load(Path(path).read_text())
        if "--params" not in out and isinstance(data, dict) and name in data:
            out += ["--params", path]
            data = {k: v for k, v in data.items() if k != name}
        sets += [f"{k}={_yaml_text(v)}" for params in _sections_for(data, name) for k, v in params.items()]
    for item in sets + rules:  # -p rules win over parameter files, as in ROS 2
        out += ["--set", item]
    return out
