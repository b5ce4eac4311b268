"""The arm's command path at 1 kHz: what a Panda would receive from the shipped policy's 50 Hz targets.

Runs the arm policy for randomized MuJoCo episodes (the same rollout as `robot-rl eval`), keeps the 50 Hz joint
targets it sent, and replays them three ways into the 1 kHz stream libfranka checks:

* `generator`: the jerk-limited Ruckig generator (`robot_rl.safety.trajectory`), as the simulated plant and the
  controller's JointTrajectory output run it;
* `linear`: each target reached by linear interpolation over its 20 ms (a naive interpolation stage);
* `steps`: the target held for 20 ms (a forward position controller without interpolation: franka_ros2's default).

For each it counts the 1 kHz samples whose finite-difference velocity, acceleration or jerk (as libfranka computes
them from consecutive commands) is beyond the Panda's limit of that joint, and the worst ratio to the limit.
The generator is the result; the two others are the peers measured in the same run.

    .venv/bin/python bench/arm_command_path.py [--policy policies/arm-reach] [--episodes 64] [--json FILE]
        [--plot docs/img/arm_command_path.png]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from robot_rl.envs import make_vec
from robot_rl.envs.rollout import run_episodes
from robot_rl.policy import OnnxPolicy
from robot_rl.safety.trajectory import CYCLE_S, JerkLimitedGenerator

ROOT = Path(__file__).resolve().parents[1]
RELATIVE_TOLERANCE = 1e-6  # finite differences of an exact limit-riding trajectory round to just above it


def finite_differences(positions: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Velocity, acceleration and jerk `[m-1|m-2|m-3, n]` of 1 kHz positions `[m, n]` rad by backward differences."""
    v = np.diff(positions, axis=0) / dt
    a = np.diff(v, axis=0) / dt
    return v, a, np.diff(a, axis=0) / dt


def stream(kind: str, start: np.ndarray, targets: np.ndarray, limits: dict[str, np.ndarray],
           per_target: int) -> np.ndarray:
    """1 kHz positions `[2 + T * per_target, n]` rad: the arm at rest at `start` `[n]`, then `targets` `[T, n]`."""
    rest = np.repeat(start[None], 2, axis=0)
    if kind == "steps":
        return np.concatenate([rest, np.repeat(targets, per_target, axis=0)])
    if kind == "linear":
        previous = np.concatenate([start[None], targets[:-1]])
        frac = np.arange(1, per_target + 1) / per_target
        ramps = previous[:, None] + frac[None, :, None] * (targets - previous)[:, None]
        return np.concatenate([rest, ramps.reshape(-1, len(start))])
    gen = JerkLimitedGenerator(limits["velocity"], limits["acceleration"], limits["jerk"], 1, CYCLE_S)
    gen.reset(np.array([0]), start[None])
    parts = [gen.advance(t[None], per_target * CYCLE_S).positions[0] for t in targets]
    return np.concatenate([rest, *parts])


def beyond(positions: np.ndarray, limits: dict[str, np.ndarray]) -> dict[str, tuple[int, int, float]]:
    """Per quantity: (samples with some joint beyond its limit, samples, worst |value| / limit)."""
    out = {}
    for name, values in zip(("velocity", "acceleration", "jerk"), finite_differences(positions, CYCLE_S),
                            strict=True):
        ratio = np.abs(values) / limits[name]
        out[name] = (int((ratio > 1 + RELATIVE_TOLERANCE).any(axis=1).sum()), len(values), float(ratio.max()))
    return out


def plot(commands: np.ndarray, limits: dict[str, np.ndarray], per_target: int, path: Path) -> None:
    """PNG: one episode's 1 kHz velocity and acceleration of the joint that moves most, per stream, with its limits."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    joint = int(np.argmax(np.abs(commands[-1] - commands[0])))
    fig, axes = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    for kind, style in (("steps", ":"), ("linear", "--"), ("generator", "-")):
        v, a, _ = finite_differences(stream(kind, commands[0], commands[1:], limits, per_target), CYCLE_S)
        axes[0].plot(np.arange(len(v)) * CYCLE_S, v[:, joint], style, label=kind)
        axes[1].plot(np.arange(len(a)) * CYCLE_S, a[:, joint], style, label=kind)
    for ax, name, unit in ((axes[0], "velocity", "rad/s"), (axes[1], "acceleration", "rad/s²")):
        lim = limits[name][joint]
        ax.axhline(lim, color="crimson", lw=0.8)
        ax.axhline(-lim, color="crimson", lw=0.8)
        ax.set_ylim(-3 * lim, 3 * lim)
        ax.set_ylabel(f"joint {joint + 1} {name} [{unit}]")
    axes[0].legend(loc="upper right", fontsize=8)
    axes[1].set_xlabel("time [s] (1 kHz finite differences, as libfranka checks them; red: the Panda's limit)")
    fig.suptitle("One episode of the arm policy's 50 Hz targets at 1 kHz (axes clipped at 3x the limit)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def collect(policy_dir: Path, episodes: int, seed: int) -> tuple[list[np.ndarray], float, dict[str, np.ndarray]]:
    """The policy's applied targets per episode (`[T + 1, 7]`, row 0 the start pose), success rate, limits."""
    policy = OnnxPolicy.load(policy_dir)
    env = make_vec(policy.card.env_id, min(16, episodes), backend="mujoco", randomize=True)
    commands: list[np.ndarray] = []
    try:
        results = run_episodes(env, policy.act, episodes, seed, label="arm policy", commands=commands)
        joints = env.core.spec.arm.joints
    finally:
        env.close()
    limits = {"velocity": np.array([j.velocity_max_rad_s for j in joints]),
              "acceleration": np.array([j.acceleration_max_rad_s2 for j in joints]),
              "jerk": np.array([j.jerk_max_rad_s3 for j in joints])}
    return commands, float(np.mean([r[1] for r in results])), limits


def main() -> None:
    """Print the table (and write JSON with `--json`)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", type=Path, default=ROOT / "policies" / "arm-reach")
    parser.add_argument("--episodes", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--plot", type=Path, help="PNG of one episode's 1 kHz velocity and acceleration")
    args = parser.parse_args()
    start = time.perf_counter()
    commands, success, limits = collect(args.policy, args.episodes, args.seed)
    per_target = round(0.02 / CYCLE_S)
    report: dict = {"policy": str(args.policy), "episodes": args.episodes, "success_rate": success,
                    "targets": sum(len(c) - 1 for c in commands)}
    for kind in ("generator", "linear", "steps"):
        totals = {q: [0, 0, 0.0] for q in limits}
        for c in commands:
            for q, (bad, n, worst) in beyond(stream(kind, c[0], c[1:], limits, per_target), limits).items():
                totals[q] = [totals[q][0] + bad, totals[q][1] + n, max(totals[q][2], worst)]
        report[kind] = {q: {"beyond": b, "samples": n, "worst_ratio": w} for q, (b, n, w) in totals.items()}
    report["wall_time_s"] = time.perf_counter() - start
    print(f"{args.policy}: {args.episodes} randomized MuJoCo episodes, success {success:.1%}, "
          f"{report['targets']} targets at 50 Hz")
    print(f"{'1 kHz stream':>12} | {'samples beyond the Panda limit (worst / limit)':^66}")
    print(f"{'':>12} | {'velocity':^20} | {'acceleration':^20} | {'jerk':^20}")
    for kind in ("generator", "linear", "steps"):
        cells = [f"{r['beyond']:>6} ({r['worst_ratio']:>8.3g}x)" for r in report[kind].values()]
        print(f"{kind:>12} | " + " | ".join(f"{c:^20}" for c in cells))
    n = report["generator"]["jerk"]["samples"]
    print(f"of {n} samples; wall {report['wall_time_s']:.1f} s")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    if args.plot:
        plot(max(commands, key=len), limits, per_target, args.plot)


if __name__ == "__main__":
    main()
