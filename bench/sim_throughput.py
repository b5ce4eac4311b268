"""Simulation throughput: env and physics steps per second per robot and backend, single and batched.

Peers measured in the same run: raw `mujoco.mj_step` on the same model in a tight loop (one thread), and
Gymnasium's `Reacher-v5`. Prints a table and the ratios; `--json` prints the figures as JSON.

    .venv/bin/python bench/sim_throughput.py [--seconds 2] [--num-envs 64] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable

import gymnasium as gym
import mujoco

import robot_rl.envs as envs
from robot_rl.robots import load_robot


def rate(step: Callable[[], int], seconds: float) -> float:
    """Calls of `step` (each returning a count) per second over about `seconds`, after a short warm-up."""
    deadline = time.perf_counter() + 0.2
    while time.perf_counter() < deadline:
        step()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        count += step()
    return count / (time.perf_counter() - start)


def raw_mj_step(robot: str, seconds: float) -> float:
    """Physics steps/s of `mj_step` on the robot's MJCF, holding its initial state."""
    spec = load_robot(robot)
    model = mujoco.MjModel.from_xml_path(str(spec.path(spec.mjcf)))
    model.opt.timestep = spec.physics_dt_s
    data = mujoco.MjData(model)

    def step() -> int:
        for _ in range(100):
            mujoco.mj_step(model, data)
        return 100

    return rate(step, seconds)


def gym_env_rate(env: gym.Env, seconds: float) -> float:
    """Env steps/s of one Gymnasium env with random actions (reset by hand when an episode ends)."""
    env.reset(seed=0)
    env.action_space.seed(0)

    def step() -> int:
        _, _, term, trunc, _ = env.step(env.action_space.sample())
        if term or trunc:
            env.reset()
        return 1

    out = rate(step, seconds)
    env.close()
    return out


def batched_env(env_id: str, backend: str, num_envs: int, seconds: float) -> float:
    """Env steps/s (summed over envs) of `make_vec` with random actions."""
    venv = envs.make_vec(env_id, num_envs, backend=backend, randomize=True)
    venv.reset(seed=0)
    venv.action_space.seed(0)

    def step() -> int:
        venv.step(venv.action_space.sample())
        return num_envs

    out = rate(step, seconds)
    venv.close()
    return out


def reacher(seconds: float) -> tuple[float, int]:
    """Env steps/s of Gymnasium's Reacher-v5 and its physics steps per env step."""
    env = gym.make("Reacher-v5")
    return gym_env_rate(env, seconds), env.unwrapped.frame_skip


def measure(seconds: float, num_envs: int, pybullet_envs: int) -> dict:
    """All figures of this benchmark."""
    reacher_sps, reacher_skip = reacher(seconds)
    rows = []
    for env_id, e in envs.ENVS.items():
        spec = load_robot(e.robot)
        raw = raw_mj_step(e.robot, seconds)
        for backend in envs.BACKENDS:
            n = num_envs if backend == "mujoco" else pybullet_envs
            single = gym_env_rate(envs.make(env_id, backend=backend, randomize=True), seconds)
            batched = batched_env(env_id, backend, n, seconds)
            rows.append({
                "env_id": env_id, "backend": backend, "num_envs": n, "substeps": spec.substeps,
                "single_env_steps_s": single, "single_physics_steps_s": single * spec.substeps,
                "batched_env_steps_s": batched, "batched_physics_steps_s": batched * spec.substeps,
                "raw_mj_step_s": raw,
                "batched_physics_over_raw": batched * spec.substeps / raw,
                "single_env_over_reacher": single / reacher_sps,
            })
    return {
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "mujoco": mujoco.__version__, "gymnasium": gym.__version__},
        "reacher_v5": {"env_steps_s": reacher_sps, "physics_steps_s": reacher_sps * reacher_skip},
        "rows": rows,
    }


def print_table(result: dict) -> None:
    """Human-readable summary with ratios."""
    r = result["reacher_v5"]
    print(f"machine: {result['machine']}")
    print(f"peer Gymnasium Reacher-v5: {r['env_steps_s']:,.0f} env steps/s ({r['physics_steps_s']:,.0f} physics/s)")
    head = (f"{'env':<28}{'backend':<10}{'N':>4}{'single env/s':>14}{'batched env/s':>15}{'batched phys/s':>16}"
            f"{'raw mj_step/s':>15}{'batched/raw':>12}{'single/Reacher':>16}")
    print(head)
    print("-" * len(head))
    for x in result["rows"]:
        print(f"{x['env_id'].split('/')[1]:<28}{x['backend']:<10}{x['num_envs']:>4}{x['single_env_steps_s']:>14,.0f}"
              f"{x['batched_env_steps_s']:>15,.0f}{x['batched_physics_steps_s']:>16,.0f}{x['raw_mj_step_s']:>15,.0f}"
              f"{x['batched_physics_over_raw']:>12.2f}{x['single_env_over_reacher']:>16.2f}")


def main() -> None:
    """Run and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="measurement time per figure")
    parser.add_argument("--num-envs", type=int, default=64, help="batch size for MuJoCo")
    parser.add_argument("--pybullet-envs", type=int, default=8, help="batch size for PyBullet")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.seconds, args.num_envs, args.pybullet_envs)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)


if __name__ == "__main__":
    main()
