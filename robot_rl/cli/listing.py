"""Rows for `robot-rl envs`."""

from __future__ import annotations

import importlib.util

from robot_rl.envs import BACKENDS, ENVS
from robot_rl.robots import load_robot


def available_backends() -> list[str]:
    """Backends whose engine is importable here."""
    engines = {"mujoco": "mujoco", "pybullet": "pybullet"}
    return [b for b in BACKENDS if importlib.util.find_spec(engines[b]) is not None]


def env_rows() -> list[dict]:
    """One row per registered env: id, robot, task, backends, control/physics rates, command."""
    rows = []
    backends = available_backends()
    for env_id, e in ENVS.items():
        spec = load_robot(e.robot)
        rows.append({
            "env_id": env_id,
            "robot": e.robot,
            "task": e.description,
            "backends": backends,
            "control_rate_hz": spec.control_rate_hz,
            "physics_rate_hz": round(1.0 / spec.physics_dt_s),
            "command": [f"{n} [{u}]" for n, u in zip(spec.command.names, spec.command.units, strict=True)],
        })
    return rows


def format_table(rows: list[dict]) -> str:
    """Human-readable table of `env_rows()`."""
    header = f"{'env id':<30} {'robot':<12} {'backends':<17} {'control':>8} {'physics':>8}  task"
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r['env_id']:<30} {r['robot']:<12} {','.join(r['backends']):<17} {r['control_rate_hz']:>6g}Hz "
            f"{r['physics_rate_hz']:>6g}Hz  {r['task']}"
        )
        lines.append(f"{'':<30} command: {', '.join(r['command'])}")
    return "\n".join(lines)
