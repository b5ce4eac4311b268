"""RclpyTransport echo node (from `make_transport('auto', ...)`), run inside .venv-ros with the project installed.

Reads one JSON line from stdin: {"types": ["sensor_msgs/msg/JointState", ...], "prefix": "/rrl_x",
"parameters": {...}, "timeout_s": 15}. For type number i it subscribes `<prefix>/ping<i>` and republishes every
message it receives, as received, on `<prefix>/pong<i>` (both reliable, keep last 10): each message crosses the
rclpy <-> dataclass conversion twice. Prints {"event": "ready", "parameters": ...} once wired, and runs until stdin
closes or `timeout_s` passes; each stdin line "now" is answered with {"event": "now", "now_ns": ...}.
"""

import json
import select
import sys
import time

from robot_rl.deploy.msgs import message_type
from robot_rl.deploy.transport import make_transport
from robot_rl.deploy.transport.base import COMMAND_QOS


def main():
    spec = json.loads(sys.stdin.readline())
    transport = make_transport("auto", "transport_echo", spec["parameters"])  # rclpy wherever it imports
    for index, name in enumerate(spec["types"]):
        publisher = transport.create_publisher(f"{spec['prefix']}/pong{index}", message_type(name), COMMAND_QOS)
        transport.create_subscription(f"{spec['prefix']}/ping{index}", message_type(name), publisher.publish,
                                      COMMAND_QOS)
    ready = {"event": "ready", "transport": type(transport).__name__, "parameters": transport.parameters()}
    print(json.dumps({**ready, "now_ns": transport.now_ns()}), flush=True)
    deadline = time.monotonic() + spec.get("timeout_s", 15)
    while time.monotonic() < deadline:
        if select.select([sys.stdin], [], [], 0)[0]:
            line = sys.stdin.readline()
            if not line:
                break
            print(json.dumps({"event": "now", "now_ns": transport.now_ns()}), flush=True)
        transport.spin_once(0.02)
    transport.shutdown()


if __name__ == "__main__":
    main()
