"""Transports: one `Transport` interface (`base`), implemented on rclpy (`ros`) and on CycloneDDS alone (`dds`).

Both implementations are imported lazily, so importing this package loads neither rclpy nor CycloneDDS.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any

from robot_rl.deploy.transport.base import COMMAND_QOS, LATCHED_QOS, LOG_QOS, SENSOR_QOS, Publisher, QoS, Transport

MIDDLEWARES = ("auto", "dds", "rclpy")
"""'auto' picks rclpy when it can be imported (a sourced ROS 2 installation), else CycloneDDS."""


def make_transport(middleware: str, node_name: str, parameters: Mapping[str, Any] | None = None) -> Transport:
    """A node's transport on `middleware` (one of `MIDDLEWARES`).

    Args:
        middleware: 'rclpy', 'dds', or 'auto' (rclpy when `import rclpy` works, else dds).
        node_name: the ROS node name.
        parameters: the node's parameters, nested as in the parameter YAML.

    Raises:
        ValueError: unknown `middleware`.

    """
    if middleware not in MIDDLEWARES:
        raise ValueError(f"unknown middleware {middleware!r}; choose one of {', '.join(MIDDLEWARES)}")
    if middleware == "auto":
        middleware = "rclpy" if _rclpy_available() else "dds"
    if middleware == "rclpy":
        from robot_rl.deploy.transport.ros import RclpyTransport

        return RclpyTransport(node_name, parameters)
    from robot_rl.deploy.transport.dds import DdsTransport

    return DdsTransport(node_name, parameters)


def _rclpy_available() -> bool:
    if importlib.util.find_spec("rclpy") is None:
        return False
    try:
        import rclpy  # noqa: F401 - a found but unsourced rclpy fails here (missing rcl libraries)
    except ImportError:
        return False
    return True


__all__ = ["COMMAND_QOS", "LATCHED_QOS", "LOG_QOS", "MIDDLEWARES", "SENSOR_QOS", "Publisher", "QoS", "Transport",
           "make_transport"]
