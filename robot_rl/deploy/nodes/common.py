"""What every node's `main` shares: parameters, network confinement, the transport, signals, clean shutdown.

    python -m robot_rl.deploy.nodes.controller --params launch/arm.yaml --node controller --middleware dds

The parameter file is the ROS 2 format (`<node>: {ros__parameters: {...}}`) shared with the ROS 2 launch files.
`--network localhost` (default) confines DDS/ROS 2 to this machine before any middleware import; on a robot,
`--network system` keeps the operator's own DDS configuration.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar, get_origin, get_type_hints

import yaml

from robot_rl.deploy.network import confine_to_localhost
from robot_rl.deploy.transport import MIDDLEWARES  # lazy: imports neither DDS nor rclpy

C = TypeVar("C")

NETWORKS = ("localhost", "system")
"""localhost: DDS/ROS 2 confined to this machine (tests, demos); system: the operator's own configuration."""

OPERATOR_KINDS = ("none", "joy", "keyboard", "spacemouse", "sim-expert")
"""What the operator node runs: nothing, a person's device (gamepad, keyboard, SpaceMouse) or a simulated operator."""

NodeRun = Callable[[Any, Mapping[str, Any], threading.Event], int]
"""`run(transport, parameters, stop) -> exit code`: a node's body; returns when `stop` is set or its job is done."""


class ParameterError(ValueError):
    """A node's parameter file or parameter is missing or invalid (the message names the file and key)."""


def read_parameter_file(path: str | Path) -> Any:  # noqa: ANN401 - whatever the YAML holds
    """The parsed YAML of ROS 2 parameter file `path`; ParameterError naming the file if missing or not YAML."""
    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"{path}: no such parameter file")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ParameterError(f"{path}: not valid YAML: {e}") from e


def load_parameters(path: str | Path, node: str) -> dict[str, Any]:
    """The `ros__parameters` mapping of section `node` in ROS 2 parameter file `path`.

    Raises:
        ParameterError: the file is missing, not YAML, or has no `node.ros__parameters` mapping.

    """
    data = read_parameter_file(path)
    section = data.get(node) if isinstance(data, dict) else None
    params = section.get("ros__parameters") if isinstance(section, dict) else None
    if not isinstance(params, dict):
        known = sorted(data) if isinstance(data, dict) else []
        raise ParameterError(f"{path}: no mapping '{node}: {{ros__parameters: ...}}' (sections: {known})")
    return params


def apply_overrides(params: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """`params` with `key=value` (dotted keys for nested maps; values parsed as YAML) replaced."""
    out: dict[str, Any] = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in params.items()}
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ParameterError(f"--set {item!r}: expected key=value")
        *parents, leaf = key.split(".")
        target = out
        for p in parents:
            target = target.setdefault(p, {})
        target[leaf] = yaml.safe_load(raw) if raw else ""
    return out


def require(params: Mapping[str, Any], key: str, kind: type | tuple[type, ...], node: str) -> Any:  # noqa: ANN401
    """`params[key]` checked to be of `kind`; a ParameterError names the node, key and what was found."""
    if key not in params:
        raise ParameterError(f"{node}: missing parameter '{key}' (have {sorted(params)})")
    value = params[key]
    if kind in (float, (int, float)) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float)):
        raise ParameterError(f"{node}: parameter '{key}' = {value!r} should be {getattr(kind, '__name__', kind)}")
    return value


def checked_config(cls: type[C], params: Mapping[str, Any], node: str, required: Sequence[str]) -> C:
    """`cls(**params)` for a node's frozen config dataclass, checked first.

    Raises:
        ParameterError: an unknown key (the known ones are listed), a `required` key missing or empty, or a value
            whose type is not the field's (ints are accepted for float fields); the message names node and key.

    """
    hints = get_type_hints(cls)
    known = [f.name for f in fields(cls)]
    if unknown := sorted(set(params) - set(known)):
        raise ParameterError(f"{node}: unknown parameters {unknown}; known: {sorted(known)}")
    for key in required:
        if not params.get(key):
            raise ParameterError(f"{node}: missing parameter '{key}'")
    for key, value in params.items():
        expected = get_origin(hints[key]) or hints[key]
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            continue
        if not isinstance(value, expected) or (expected in (int, float) and isinstance(value, bool)):
            raise ParameterError(f"{node}: parameter '{key}' = {value!r} should be {expected.__name__}")
    return cls(**params)


def parse_args(node: str, argv: Sequence[str] | None) -> argparse.Namespace:
    """The arguments every node takes."""
    p = argparse.ArgumentParser(prog=f"python -m robot_rl.deploy.nodes.{node}", description=__doc__.split("\n")[0])
    p.add_argument("--params", required=True, help="ROS 2 parameter YAML (e.g. launch/arm.yaml)")
    p.add_argument("--node", default=node, help=f"section of the parameter file (default {node})")
    p.add_argument("--middleware", choices=MIDDLEWARES, default="auto",
                   help="auto: rclpy when importable, else CycloneDDS with the ROS 2 wire format")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a parameter")
    p.add_argument("--network", choices=NETWORKS, default="localhost",
                   help="localhost: DDS/ROS 2 stay on this machine (tests, demos); system: the operator's config")
    return p.parse_args(argv)


def node_main(node: str, run: NodeRun | str, argv: Sequence[str] | None = None) -> int:
    """Parse arguments, confine the network, open the transport, run the node until done or signalled.

    `run` may be given as 'module:function', imported only after the network is confined (so that nothing that
    loads DDS or rclpy is imported before).

    SIGINT/SIGTERM set the stop event; the transport is shut down in every case. Returns the exit code
    (2 for a parameter error, which is printed without a traceback).
    """
    args = parse_args(node, argv)
    if args.network == "localhost":
        confine_to_localhost()
    try:
        params = apply_overrides(load_parameters(args.params, args.node), args.set)
    except ParameterError as e:
        print(f"{node}: {e}", file=sys.stderr, flush=True)
        return 2
    from robot_rl.deploy.transport import make_transport  # after confinement: it may import DDS or rclpy

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    transport = make_transport(args.middleware, args.node, params)
    try:
        if isinstance(run, str):
            module, _, function = run.partition(":")
            run = getattr(importlib.import_module(module), function)
        return run(transport, params, stop)
    except ParameterError as e:
        print(f"{node}: {e}", file=sys.stderr, flush=True)
        return 2
    finally:
        transport.shutdown()
