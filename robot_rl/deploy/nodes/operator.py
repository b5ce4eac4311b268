"""`python -m robot_rl.deploy.nodes.operator --params FILE`: the node around `robot_rl.deploy.operator_node`.

Thin on purpose: nothing that loads DDS or rclpy is imported before `node_main` has applied `--network`.
"""

from __future__ import annotations

from robot_rl.deploy.nodes.common import node_main


def main(argv: list[str] | None = None) -> int:
    """Console entry point: parameters, network confinement, transport, then `run_operator`."""
    return node_main("operator", "robot_rl.deploy.operator_node:run_operator", argv)


if __name__ == "__main__":
    raise SystemExit(main())
