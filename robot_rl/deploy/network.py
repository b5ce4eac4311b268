"""Keep every DDS/ROS 2 participant this project starts on this machine (tests, benchmarks, demos).

`confine_to_localhost()` must run before any DDS or rclpy import: it points CycloneDDS at a config with only
the loopback interface, multicast off and 127.0.0.1 as the only peer, and sets ROS 2's discovery range to
localhost. On a real robot the operator's own DDS configuration applies (`respect_existing=True`).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

CYCLONEDDS_LOCALHOST_XML = """<?xml version="1.0" encoding="UTF-8"?>
<CycloneDDS xmlns="https://cdds.io/config">
  <Domain Id="any">
    <General>
      <Interfaces><NetworkInterface address="127.0.0.1"/></Interfaces>
      <AllowMulticast>false</AllowMulticast>
    </General>
    <Discovery>
      <ParticipantIndex>auto</ParticipantIndex>
      <MaxAutoParticipantIndex>64</MaxAutoParticipantIndex>
      <Peers><Peer address="127.0.0.1"/></Peers>
    </Discovery>
    <Compatibility><IgnoreTypeInformation>1.15</IgnoreTypeInformation></Compatibility>
  </Domain>
</CycloneDDS>
"""

LOCALHOST_ENV = {"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST", "ROS_LOCALHOST_ONLY": "1"}


def confine_to_localhost(respect_existing: bool = False) -> Path:
    """Write the loopback-only CycloneDDS config and set the DDS/ROS 2 environment; returns the config path.

    Args:
        respect_existing: keep a `CYCLONEDDS_URI` the operator already set (robot deployments).

    """
    path = Path(tempfile.gettempdir()) / f"robot_rl_cyclonedds_localhost_{os.getuid()}.xml"
    if not path.exists() or path.read_text() != CYCLONEDDS_LOCALHOST_XML:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(CYCLONEDDS_LOCALHOST_XML)
        tmp.replace(path)
    if not (respect_existing and os.environ.get("CYCLONEDDS_URI")):
        os.environ["CYCLONEDDS_URI"] = f"file://{path}"
    os.environ.update(LOCALHOST_ENV)
    return path
