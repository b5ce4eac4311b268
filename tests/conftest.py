"""Test-wide setup. DDS/ROS traffic must stay on this machine: confine it before anything can import DDS.

`confine_to_localhost` writes the CycloneDDS config (interface 127.0.0.1 only, multicast off, peer 127.0.0.1);
the variables are set here explicitly as well so the rule is visible where the tests start.
"""

import os

from robot_rl.deploy.network import confine_to_localhost

_CYCLONEDDS_CONFIG = confine_to_localhost()
os.environ["CYCLONEDDS_URI"] = f"file://{_CYCLONEDDS_CONFIG}"
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ["ROS_LOCALHOST_ONLY"] = "1"
