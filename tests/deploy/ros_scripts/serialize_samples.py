"""Serialize every sample with RclpyTransport.serialize and decode the CycloneDDS bytes with rclpy, in .venv-ros.

Reads one JSON line from stdin: {"dds_hex": {"<ros type>": "<hex of DdsTransport.serialize(sample(3))>", ...}}.
Prints one JSON line: {"<ros type>": {"rclpy_hex": ..., "rclpy_decodes_dds": true/false}, ...}.
"""

import json
import sys

from rclpy.serialization import deserialize_message
from samples import SAMPLES

from robot_rl.deploy.transport.ros import RclpyTransport, converter


def main():
    spec = json.loads(sys.stdin.readline())
    transport = RclpyTransport("serialize_samples")
    result = {}
    for name, build in SAMPLES.items():
        msg = build(3)
        conv = converter(type(msg))
        decoded = conv.from_ros(deserialize_message(bytes.fromhex(spec["dds_hex"][name]), conv.ros_type))
        result[name] = {"rclpy_hex": transport.serialize(msg).hex(), "rclpy_decodes_dds": decoded == msg}
    transport.shutdown()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
