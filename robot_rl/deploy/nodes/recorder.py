"""`python -m robot_rl.deploy.nodes.recorder --params FILE`: the node around `robot_rl.deploy.recorder`.

Thin on purpose: nothing that loads DDS or rclpy is imported before `node_main` has applied `--network`.
"""

from __future__ import annotations

from robot_rl.deploy.nodes.common import node_main


def main(argv: list[str] | None = None) -> int:
    """Console entry point: parameters, network confinement, transport, then `run_recorder`."""
    return node_main("recorder", "robot_rl.deploy.recorder:run_recorder", argv)


if __name__ == "__main__":
    raise SystemExit(main())
