"""`python -m robot_rl.deploy.nodes.sim_driver --params FILE`: the node around `robot_rl.deploy.sim_driver`.

Thin on purpose: nothing that loads DDS or rclpy is imported before `node_main` has applied `--network`.
"""

from __future__ import annotations

from robot_rl.deploy.nodes.common import node_main


def main(argv: list[str] | None = None) -> int:
    """Console entry point: parameters, network confinement, transport, then `run_sim_driver`."""
    return node_main("sim_driver", "robot_rl.deploy.sim_driver:run_sim_driver", argv)


if __name__ == "__main__":
    raise SystemExit(main())
