"""Logs: rosbag2 MCAP bags (split, crash-tolerant writing; repair; reading); datasets built from them."""

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
from robot_rl.data.dataset import BagReport, DatasetConfig, DatasetError, DatasetReport, bag_sha256, build_dataset

__all__ = [
    "BagConfig",
    "BagError",
    "BagMessage",
    "BagReport",
    "BagWriter",
    "DatasetConfig",
    "DatasetError",
    "DatasetReport",
    "RecoveryReport",
    "bag_info",
    "bag_sha256",
    "build_dataset",
    "check_bag",
    "qos_profile",
    "read_bag",
    "recover_bag",
]
