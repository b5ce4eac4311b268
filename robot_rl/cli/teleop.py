"""`robot-rl teleop joy|keyboard|spacemouse`: argument parsing for the operator device node (`deploy.teleop_node`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def _parameters(args: argparse.Namespace) -> dict[str, Any]:
    """The device node's parameters, from `--params`, then the flags, then `--set`.

    From `--params` come the operator section's `device` mapping, `joy_topic` and `operator_id`, as the launched
    operator node passes them.
    """
    from robot_rl.deploy.nodes.common import ParameterError, apply_overrides, load_parameters

    params: dict[str, Any] = {}
    if args.params:
        section = load_parameters(args.params, args.node)
        if not isinstance(section.get("device", {}), dict):
            raise ParameterError(f"{args.params}: {args.node}.device should be a mapping of device parameters")
        params = dict(section.get("device") or {})
        for key, name in (("joy_topic", "topic"), ("operator_id", "operator_id")):
            if section.get(key):
                params.setdefault(name, section[key])
    params["kind"] = args.kind
    flags = {"device": args.device, "topic": args.topic, "rate_hz": args.rate, "deadzone": args.deadzone,
             "operator_id": args.operator_id, "layout": args.layout, "hold_s": args.hold, "duration_s": args.duration}
    params |= {k: v for k, v in flags.items() if v is not None}
    return apply_overrides(params, args.set)


def _list_devices(kind: str) -> int:
    from robot_rl.teleop.devices import DeviceError
    from robot_rl.teleop.devices.evdev_joy import INPUT_DIR, list_gamepads
    from robot_rl.teleop.devices.spacemouse import list_spacemice

    if kind == "keyboard":
        print("robot-rl teleop: --list: the keyboard is this terminal", file=sys.stderr)
        return 2
    try:
        if kind == "joy":
            rows = [f"{g.path}  {g.name}  ({g.axes} axes, {g.buttons} buttons){'  ' + g.error if g.error else ''}"
                    for g in list_gamepads()]
            none = f"no gamepad found{'' if INPUT_DIR.is_dir() else f' ({INPUT_DIR} does not exist)'}"
        else:
            rows = [f"{path}  {name}" for path, name in list_spacemice().items()]
            none = "no SpaceMouse found"
    except DeviceError as e:
        print(f"robot-rl teleop: {e}", file=sys.stderr)
        return 3
    print("\n".join(rows) if rows else none)
    return 0


def cmd_teleop(args: argparse.Namespace) -> int:
    """Run the device node standalone (or list the devices of the kind)."""
    if args.list:
        return _list_devices(args.kind)
    from robot_rl.deploy.teleop_node import run_standalone

    if args.kind == "keyboard":
        print("keys: w/s a/d (left stick), i/k j/l (right stick), shift = turbo, space = enable on/off, "
              "y = success, n = failure, q = quit", file=sys.stderr, flush=True)
    return run_standalone(_parameters(args), args.middleware)


def add_teleop_command(sub: argparse._SubParsersAction) -> None:
    """The `teleop` subcommand."""
    p = sub.add_parser("teleop", help="publish an operator device (gamepad, keyboard, SpaceMouse) as sensor_msgs/Joy",
                       description="Publish a gamepad (Linux evdev), this terminal's keyboard or a SpaceMouse as "
                       "sensor_msgs/Joy for the controller's operator takeover. Keyboard: w/s a/d i/k j/l axes, "
                       "space toggles enable, y success, n failure, q quits.")
    p.add_argument("kind", choices=["joy", "keyboard", "spacemouse"], help="device kind")
    p.add_argument("--list", action="store_true", help="list the devices of this kind and exit")
    p.add_argument("--device", help="joy: /dev/input/eventN or a recorded event file; keyboard: a tty; spacemouse: "
                   "model name or /dev/hidrawN (default: the first found / this terminal)")
    p.add_argument("--topic", help="Joy topic (default /robot_rl/operator/joy)")
    p.add_argument("--rate", type=float, help="republish rate without changes, Hz (default 50; 0 = on change only)")
    p.add_argument("--deadzone", type=float, help="axis deadzone, fraction of the range (default 0.05)")
    p.add_argument("--operator-id", help="header.frame_id of every Joy (default KIND:DEVICE)")
    p.add_argument("--layout", help="joy with a recorded file: the recorded pad's layout (xbox360)")
    p.add_argument("--hold", type=float, help="keyboard: a key holds its axis this long after its last byte, s "
                   "(default 0.3)")
    p.add_argument("--duration", type=float, help="stop after S seconds (default: until Ctrl-C or the input ends)")
    p.add_argument("--params", help="ROS 2 parameter YAML to start from (e.g. launch/arm.yaml): its operator section's "
                   "device mapping, joy_topic and operator_id")
    p.add_argument("--node", default="operator", help="its section (default operator)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a parameter (YAML value)")
    p.add_argument("--middleware", choices=["auto", "dds", "rclpy"], default="auto",
                   help="auto (default): rclpy where installed, else CycloneDDS")
    p.add_argument("--network", choices=["localhost", "system"], default="localhost",
                   help="localhost (default): DDS on loopback only; system: the operator's DDS configuration (a robot)")
    p.set_defaults(func=cmd_teleop)
