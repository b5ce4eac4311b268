"""A plain rclpy node (no project code), run inside .venv-ros: report how the ROS graph sees one node, as JSON.

Usage: graph_probe.py NODE_NAME TOPIC TYPE TIMEOUT_S
Waits (spinning) until NODE_NAME is in `get_node_names_and_namespaces()` and publishes TOPIC in
`get_publisher_names_and_types_by_node`, or until TIMEOUT_S passes, then prints one line:
    {"event": "graph", "nodes": [[name, ns], ...], "enclaves": [[name, ns, enclave], ...],
     "publishers": [[topic, [types]]], "subscriptions": [...],
     "publisher_info": [{"node_name", "node_namespace", "topic_type", "type_hash", "gid"}, ...],
     "reference_type_hash": "RIHS01_..."}
and exits 0 (the test judges the contents). `reference_type_hash` is what rclpy itself announces for TYPE
(pkg/msg/Name), read back from a publisher this probe creates on TOPIC + '_rclpy_reference'.
"""

import importlib
import json
import sys
import time

import rclpy
from rclpy.node import Node


def by_node(query, name):
    try:
        return [[topic, list(types)] for topic, types in query(name, "/")]
    except rclpy.node.NodeNameNonExistentError:
        return []


def main():
    name, topic, type_name, timeout_s = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    rclpy.init()
    node = Node("robot_rl_graph_probe")
    package, _, cls = type_name.split("/")
    reference = f"{topic}_rclpy_reference"
    node.create_publisher(getattr(importlib.import_module(f"{package}.msg"), cls), reference, 1)
    deadline = time.monotonic() + timeout_s
    while True:
        rclpy.spin_once(node, timeout_sec=0.1)
        publishers = by_node(node.get_publisher_names_and_types_by_node, name)
        if any(t == topic for t, _ in publishers) or time.monotonic() > deadline:
            break
    info = [
        {
            "node_name": i.node_name,
            "node_namespace": i.node_namespace,
            "topic_type": i.topic_type,
            "type_hash": str(i.topic_type_hash),
            "gid": bytes(i.endpoint_gid).hex(),
        }
        for i in node.get_publishers_info_by_topic(topic)
    ]
    print(
        json.dumps(
            {
                "event": "graph",
                "nodes": [list(n) for n in node.get_node_names_and_namespaces()],
                "enclaves": [list(n) for n in node.get_node_names_and_namespaces_with_enclaves()],
                "publishers": publishers,
                "subscriptions": by_node(node.get_subscriber_names_and_types_by_node, name),
                "publisher_info": info,
                "reference_type_hash": str(node.get_publishers_info_by_topic(reference)[0].topic_type_hash),
            }
        )
    )
    node.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
