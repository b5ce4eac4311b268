"""Cross-simulator check: the same open-loop command sequence in every backend, from the same start state."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robot_rl.envs import BACKENDS, BatchedRobotEnv, entry

# The measured quantity compared per robot kind (a named key of the plant's state).
COMPARED_QUANTITY = {"arm": "joint_pos_rad", "quadrotor": "position_m", "mobile_base": "base_xy_m"}


@dataclass(frozen=True)
class CrossSimResult:
    """Trajectories `[T+1, k]` of the compared quantity per backend and their largest difference."""

    env_id: str
    quantity: str
    trajectories: dict[str, np.ndarray]
    max_abs_difference: float
    final_abs_difference: float


def open_loop_trajectory(env_id: str, backend: str, commands: np.ndarray, seed: int = 0) -> tuple[str, np.ndarray]:
    """Run `commands` `[T, n_cmd]` open loop on the nominal robot; return the compared quantity `[T+1, k]`.

    The start state is the task's seeded reset; obstacles, if any, are moved out of the way.
    """
    env = BatchedRobotEnv(entry(env_id), num_envs=1, backend=backend, randomize=False)
    env.seed(seed)
    env.reset()
    obstacles = env.plant.binding.obstacles
    if obstacles:  # free space: contacts with obstacles would compare collision models, not dynamics
        env.plant.backend.set_obstacle_positions(np.array([0]), np.full((1, len(obstacles), 2), 50.0))
    key = COMPARED_QUANTITY[env.spec.kind]
    out = [env.plant.read_state(env.rng)[key][0].copy()]
    for cmd in commands:
        env.plant.control_step(np.asarray(cmd, dtype=np.float64)[None], env.rng)
        out.append(env.plant.read_state(env.rng)[key][0].copy())
    env.close()
    return key, np.array(out)


def compare_open_loop(env_id: str, commands: np.ndarray, seed: int = 0) -> CrossSimResult:
    """Run the same command sequence in every backend from the task's seeded start and compare trajectories."""
    trajectories, key = {}, ""
    for backend in BACKENDS:
        key, trajectories[backend] = open_loop_trajectory(env_id, backend, commands, seed)
    a, b = (trajectories[k] for k in BACKENDS)
    diff = np.abs(a - b).max(axis=1)
    return CrossSimResult(env_id, key, trajectories, float(diff.max()), float(diff[-1]))
