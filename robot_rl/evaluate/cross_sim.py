"""Cross-simulator check: the same open-loop command sequence in every backend, from the same start state."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robot_rl.envs import BACKENDS, BatchedRobotEnv, entry
from robot_rl.robots import RobotSpec, load_robot

# The measured quantity compared per robot kind (a named key of the plant's state).
COMPARED_QUANTITY = {"arm": "joint_pos_rad", "quadrotor": "position_m", "mobile_base": "base_xy_m"}


def _arm_excitation(spec: RobotSpec) -> np.ndarray:
    """2 s at 50 Hz: every joint swings +-0.3 rad around home at 0.5 Hz, phases 1 rad apart."""
    t = np.arange(100) * spec.control_dt_s
    home = np.array(spec.arm.home_rad)
    return home + 0.3 * np.sin(2 * np.pi * 0.5 * t[:, None] + np.arange(len(home))[None])


def _quadrotor_excitation(spec: RobotSpec) -> np.ndarray:
    """1 s at 100 Hz: thrust +-10 % around hover at 1 Hz, rolling, pitching and a steady yaw rate."""
    t = np.arange(100) * spec.control_dt_s
    hover = spec.quadrotor.mass_kg * 9.81
    return np.column_stack([hover * (1 + 0.1 * np.sin(2 * np.pi * t)), 0.5 * np.sin(2 * np.pi * t),
                            0.3 * np.cos(2 * np.pi * t), np.full_like(t, 0.2)])


def _mobile_base_excitation(spec: RobotSpec) -> np.ndarray:
    """4 s at 20 Hz: 0.6 m/s forward with a turn rate weaving +-0.8 rad/s at 0.25 Hz."""
    t = np.arange(80) * spec.control_dt_s
    return np.column_stack([np.full_like(t, 0.6), 0.8 * np.sin(2 * np.pi * 0.25 * t)])


# The standard open-loop excitation per robot kind (used by tests, `robot-rl crosscheck` and docs).
EXCITATIONS = {"arm": _arm_excitation, "quadrotor": _quadrotor_excitation, "mobile_base": _mobile_base_excitation}


def standard_excitation(env_id: str) -> np.ndarray:
    """The standard command sequence `[T, n_cmd]` for `env_id`'s robot."""
    spec = load_robot(entry(env_id).robot)
    return EXCITATIONS[spec.kind](spec)


@dataclass(frozen=True)
class CrossSimResult:
    """Trajectories `[T+1, k]` of the compared quantity per backend and their largest difference."""

    env_id: str
    control_dt_s: float
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


def compare_open_loop(env_id: str, commands: np.ndarray | None = None, seed: int = 0) -> CrossSimResult:
    """Run the same command sequence (default: the standard excitation) in every backend and compare trajectories.

    Every backend starts from the task's seeded reset with nominal parameters.
    """
    commands = standard_excitation(env_id) if commands is None else commands
    trajectories, key = {}, ""
    for backend in BACKENDS:
        key, trajectories[backend] = open_loop_trajectory(env_id, backend, commands, seed)
    a, b = (trajectories[k] for k in BACKENDS)
    diff = np.abs(a - b).max(axis=1)
    dt = load_robot(entry(env_id).robot).control_dt_s
    return CrossSimResult(env_id, dt, key, trajectories, float(diff.max()), float(diff[-1]))
