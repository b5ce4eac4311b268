"""The gate report's worst episodes: the weakest case again, its trajectories and MuJoCo-rendered frames.

The weakest case is the one with the lowest success rate (ties: the largest task-error CVaR). Run again with the
same seed it repeats its episodes exactly (the gate's determinism), now keeping the robot's position (arm
fingertip, quadrotor body, mobile base on the floor) and MuJoCo's qpos at every step; the episodes that ended
farthest from their goal are plotted and rendered with MuJoCo's offscreen renderer (EGL or OSMesa), with the
episode's obstacles where they stood (MuJoCo's mocap bodies) and its goal as a green sphere.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from robot_rl.evaluate.gate_suite import Case
from robot_rl.evaluate.policy_eval import evaluate_policy
from robot_rl.robots import RobotSpec

TRACE = {"arm": "ee_pos_m", "quadrotor": "position_m", "mobile_base": "base_xy_m"}
"""The position quantity plotted per robot kind (m)."""
GOAL = {"arm": "target_pos_m", "quadrotor": "setpoint_m", "mobile_base": "goal_xy_m"}
"""The task's goal point per robot kind (`Task.task_info`; m, a planar one drawn on the floor)."""
GOAL_RADIUS_M = {"arm": 0.02, "quadrotor": 0.02, "mobile_base": 0.1}
"""Radius of the goal's sphere in the frames, m."""
WORST = 3
"""Episodes shown."""
FRAMES = 4
"""Frames per episode: evenly spaced from the first step to the last."""
CAMERA_DISTANCE_M = {"arm": 1.8, "quadrotor": 0.6, "mobile_base": 2.2}
"""How far the camera stands from what it looks at (the arm's model centre, the floating base), m."""


def weakest(results: Sequence[Any]) -> int:
    """Index of the case with the lowest success rate (ties: the largest task-error CVaR)."""
    return min(range(len(results)), key=lambda i: (results[i].success, -np.nan_to_num(results[i].task_error_cvar)))


def worst_episodes(policy_dir: Path, spec: RobotSpec, case: Case, randomize: bool | Path, episodes: int,
                   seed: int) -> list[dict[str, Any]]:
    """The `WORST` episodes of `case` with the largest task error: {task_error, trace, task, qpos?, mocap_pos?}."""
    details: list[dict[str, Any]] = []
    evaluate_policy(policy_dir, episodes, case.backend, randomize, seed=seed, safety_filter=True, details=details,
                    env_options={**case.env_options, "record_qpos": True}, trace_key=TRACE[spec.kind])
    order = np.argsort([-np.nan_to_num(d["task_error"], nan=np.inf) for d in details], kind="stable")
    return [details[i] | {"episode": int(i)} for i in order[:WORST]]


def render_frames(spec: RobotSpec, episode: dict[str, Any], frames: int = FRAMES) -> np.ndarray:
    """`frames` images side by side `[H, frames * W, 3]` uint8 of an episode at evenly spaced steps.

    `episode` is one of `worst_episodes`: the robot from its `qpos` `[T, nq]`, the mocap bodies (obstacles) at
    `mocap_pos` `[nmocap, 3]` m, the goal (`GOAL`'s quantity of `task`) as a green sphere.

    Rendered by MuJoCo's offscreen renderer in a process of its own (EGL, else OSMesa: MuJoCo picks its GL backend
    when it is imported, and this process imported it long ago with none).

    Raises:
        RuntimeError: no OpenGL backend works here; the message says what each one answered.

    """
    errors = []
    with tempfile.TemporaryDirectory() as tmp:
        goal = np.zeros(3)
        point = np.asarray(episode["task"][GOAL[spec.kind]], dtype=np.float64)
        goal[: len(point)] = point  # a planar goal lies on the floor
        np.save(Path(tmp) / "qpos.npy", episode["qpos"])
        np.save(Path(tmp) / "mocap.npy", episode["mocap_pos"])
        np.save(Path(tmp) / "goal.npy", goal)
        for backend in ("egl", "osmesa"):
            out = subprocess.run([sys.executable, "-m", "robot_rl.evaluate.gate_worst", spec.name, tmp, str(frames)],
                                 env={**os.environ, "MUJOCO_GL": backend, "PYOPENGL_PLATFORM": backend},
                                 capture_output=True, text=True, timeout=120, check=False)
            if out.returncode == 0:
                return np.load(Path(tmp) / "frames.npy")
            errors.append(f"{backend}: {(out.stderr.strip().splitlines() or ['failed'])[-1]}")
    raise RuntimeError("no offscreen OpenGL here (" + "; ".join(errors) + ")")


def _render(robot: str, folder: Path, frames: int, size: tuple[int, int] = (240, 320)) -> None:
    """The renderer process: `folder`/{qpos,mocap,goal}.npy -> `folder`/frames.npy (a floating base is followed)."""
    import mujoco  # noqa: PLC0415 - imported here, with the MUJOCO_GL its parent chose

    from robot_rl.robots import load_robot  # noqa: PLC0415

    spec = load_robot(robot)
    qpos, goal = np.load(folder / "qpos.npy"), np.load(folder / "goal.npy")
    model = mujoco.MjModel.from_xml_path(str(spec.path(spec.mjcf)))
    data = mujoco.MjData(model)
    data.mocap_pos[:] = np.load(folder / "mocap.npy")
    renderer = mujoco.Renderer(model, *size)
    camera = mujoco.MjvCamera()
    mujoco.mjv_defaultFreeCamera(model, camera)
    camera.distance, camera.elevation, camera.azimuth = CAMERA_DISTANCE_M[spec.kind], -25.0, 135.0
    floating = model.njnt > 0 and model.jnt_type[0] == mujoco.mjtJoint.mjJNT_FREE
    images = []
    for t in np.linspace(0, len(qpos) - 1, frames).round().astype(int):
        data.qpos[:] = qpos[t]
        mujoco.mj_forward(model, data)
        if floating:
            camera.lookat[:] = data.qpos[:3]
        renderer.update_scene(data, camera)
        _sphere(renderer.scene, goal, GOAL_RADIUS_M[spec.kind], (0.1, 0.8, 0.2, 0.6))
        images.append(renderer.render())
    renderer.close()
    np.save(folder / "frames.npy", np.concatenate(images, axis=1))


def _sphere(scene: Any, centre: np.ndarray, radius_m: float, rgba: tuple[float, ...]) -> None:
    """Add a sphere to a MuJoCo scene (`mujoco.MjvScene`) after `update_scene`, if it has room."""
    import mujoco  # noqa: PLC0415 - the renderer process's

    if scene.ngeom < scene.maxgeom:
        mujoco.mjv_initGeom(scene.geoms[scene.ngeom], mujoco.mjtGeom.mjGEOM_SPHERE, np.full(3, radius_m), centre,
                            np.eye(3).ravel(), np.asarray(rgba, dtype=np.float32))
        scene.ngeom += 1


if __name__ == "__main__":
    _render(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]))
