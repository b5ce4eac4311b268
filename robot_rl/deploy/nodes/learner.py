"""`python -m robot_rl.deploy.nodes.learner --params FILE`: the node around `robot_rl.deploy.learner_node`.

Thin on purpose: nothing that loads DDS or rclpy is imported before `node_main` has applied `--network`.
"""

from __future__ import annotations

from robot_rl.deploy.nodes.common import node_main


def main(argv: list[str] | None = None) -> int:
    """Console entry point: parameters, network confinement, transport, then `run_learner`."""
    return node_main("learner", "robot_rl.deploy.learner_node:run_learner", argv)


if __name__ == "__main__":
    raise SystemExit(main())
