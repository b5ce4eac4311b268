"""Physics backends behind one small batched interface; the registry maps a name to a constructor."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from robot_rl.envs.backends.base import Backend, ModelBinding
from robot_rl.robots import RobotSpec


def _mujoco(spec: RobotSpec, binding: ModelBinding, num_envs: int) -> Backend:
    from robot_rl.envs.backends.mujoco_backend import MujocoBackend

    return MujocoBackend(spec.path(spec.mjcf), binding, num_envs, spec.physics_dt_s)


def _pybullet(spec: RobotSpec, binding: ModelBinding, num_envs: int) -> Backend:
    try:
        from robot_rl.envs.backends.pybullet_backend import PyBulletBackend
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ImportError("the pybullet backend needs the 'pybullet' extra: pip install 'robot_rl[pybullet]'") from e
    return PyBulletBackend(Path(spec.path(spec.urdf)), binding, num_envs, spec.physics_dt_s, spec.kind == "arm")


BACKENDS: dict[str, Callable[[RobotSpec, ModelBinding, int], Backend]] = {"mujoco": _mujoco, "pybullet": _pybullet}


def make_backend(name: str, spec: RobotSpec, binding: ModelBinding, num_envs: int) -> Backend:
    """Build `num_envs` copies of `spec`'s model in backend `name` ("mujoco" or "pybullet")."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend '{name}'; choose one of {sorted(BACKENDS)}")
    return BACKENDS[name](spec, binding, num_envs)


__all__ = ["BACKENDS", "Backend", "ModelBinding", "make_backend"]
