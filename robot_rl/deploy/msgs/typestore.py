"""rosbags type store for our message set: ROS 2 Jazzy's standard types plus mavros_msgs/AttitudeTarget.

Used to write rosbag2/MCAP metadata (message definitions, type hashes) and as an independent CDR codec in tests.
Imported lazily: nodes that only publish and subscribe never load rosbags.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from robot_rl.deploy.msgs.mavros import ATTITUDE_TARGET_MSG

if TYPE_CHECKING:
    from rosbags.typesys.store import Typestore

EXTRA_MSG_DEFINITIONS: dict[str, str] = {"mavros_msgs/msg/AttitudeTarget": ATTITUDE_TARGET_MSG}
"""Types missing from rosbags' ROS2_JAZZY store, as `.msg` text keyed by ROS type name."""


@lru_cache(maxsize=1)
def typestore() -> Typestore:
    """The ROS 2 Jazzy type store with `EXTRA_MSG_DEFINITIONS` registered (built once, shared)."""
    store = get_typestore(Stores.ROS2_JAZZY)
    for name, text in EXTRA_MSG_DEFINITIONS.items():
        store.register(get_types_from_msg(text, name))
    return store


def msg_definition(name: str) -> str:
    """The full ROS 2 message definition of `name` ('pkg/msg/Name') as rosbag2 stores it in MCAP schemas.

    The type's own fields first, then each dependency after a line of '=' and 'MSG: pkg/Name'.
    """
    text, _ = typestore().generate_msgdef(name, ros_version=2)
    return text


def type_hash(name: str) -> str:
    """The ROS 2 type description hash of `name` ('RIHS01_<sha256 hex>'), as rosbag2 Jazzy records it."""
    return typestore().hash_rihs01(name)
