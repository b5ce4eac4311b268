"""Logs: rosbag2 MCAP bags (split, crash-tolerant writing; repair; reading)."""

from robot_rl.data.bag import (
    BagConfig,
    BagError,
    BagMessage,
    BagWriter,
    RecoveryReport,
    bag_info,
    check_bag,
    qos_profile,
    read_bag,
    recover_bag,
)

__all__ = [
    "BagConfig",
    "BagError",
    "BagMessage",
    "BagWriter",
    "RecoveryReport",
    "bag_info",
    "check_bag",
    "qos_profile",
    "read_bag",
    "recover_bag",
]
