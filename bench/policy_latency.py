"""Policy inference latency: one observation through `OnnxPolicy.act`, the raw ONNX Runtime call, and torch eager.

For an untrained 2x256 MLP on each task's observation size (exported through `robot_rl.policy.export`, so the
graph holds normalizer, MLP, squash and action map) and for a shipped policy if given. All three run the same
network on one thread (`torch.set_num_threads(1)`, `no_grad`; ONNX Runtime intra/inter-op 1, sequential).
Prints p50/p99 in microseconds and the ratios torch / act; target: `act` p99 <= 50 us for the 2x256 MLP.

    .venv/bin/python bench/policy_latency.py [--calls 5000] [--policy policies/NAME] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from robot_rl.envs import ENVS
from robot_rl.learn.checkpoint import build_policy, load_checkpoint, save_atomic
from robot_rl.policy import OnnxPolicy
from robot_rl.policy.export import export, untrained_checkpoint

TARGET_P99_US = 50.0


def latency_us(call: Callable[[], object], calls: int, warmup: int = 500) -> tuple[float, float]:
    """p50 and p99 wall time of `call` in microseconds over `calls` timed calls after `warmup` untimed ones."""
    for _ in range(warmup):
        call()
    times = np.empty(calls)
    clock = time.perf_counter_ns
    for i in range(calls):
        start = clock()
        call()
        times[i] = clock() - start
    return float(np.percentile(times, 50) / 1e3), float(np.percentile(times, 99) / 1e3)


def measure(policy_dir: Path, calls: int, seed: int = 0) -> dict:
    """Figures for one policy folder: `act`, raw session call, torch eager on its checkpoint's module."""
    policy = OnnxPolicy.load(policy_dir)
    ckpt = load_checkpoint(policy_dir / "checkpoint.pt")
    module = build_policy(ckpt["env_id"], ckpt["policy"])
    obs = np.random.default_rng(seed).standard_normal(policy.n_obs).astype(np.float32)
    feed = {policy.card.onnx.input: obs[None]}
    outputs = [policy.card.onnx.output]
    session: ort.InferenceSession = policy.session
    x = torch.from_numpy(obs[None])

    def torch_call() -> object:
        with torch.no_grad():
            return module(x)

    act = latency_us(lambda: policy.act(obs), calls)
    raw = latency_us(lambda: session.run(outputs, feed), calls)
    eager = latency_us(torch_call, calls)
    return {"env_id": policy.card.env_id, "n_obs": policy.n_obs, "hidden": ckpt["policy"]["hidden"],
            "act_p50_us": act[0], "act_p99_us": act[1], "onnxruntime_p50_us": raw[0], "onnxruntime_p99_us": raw[1],
            "torch_p50_us": eager[0], "torch_p99_us": eager[1],
            "torch_over_act_p50": eager[0] / act[0], "torch_over_act_p99": eager[1] / act[1]}


def untrained_policies(root: Path) -> list[Path]:
    """An exported untrained 2x256 policy per registered task (no evaluation episodes)."""
    folders = []
    for env_id in ENVS:
        name = env_id.split("/")[-1]
        save_atomic(untrained_checkpoint(env_id, hidden=(256, 256)), root / "runs" / name / "checkpoint.pt")
        folders.append(export(root / "runs" / name, root / "policies" / name, episodes=0).out_dir)
    return folders


def print_table(rows: list[dict]) -> None:
    """Human-readable figures and ratios."""
    print(f"{'policy':<32} {'n_obs':>5} {'act p50/p99 us':>16} {'ort p50/p99 us':>16} {'torch p50/p99 us':>17} "
          f"{'torch/act p50':>13}  p99 <= {TARGET_P99_US:g} us")
    for r in rows:
        ok = "yes" if r["act_p99_us"] <= TARGET_P99_US else "NO"
        print(f"{r['label']:<32} {r['n_obs']:>5} {r['act_p50_us']:>7.1f}/{r['act_p99_us']:<8.1f} "
              f"{r['onnxruntime_p50_us']:>7.1f}/{r['onnxruntime_p99_us']:<8.1f} "
              f"{r['torch_p50_us']:>8.1f}/{r['torch_p99_us']:<8.1f} {r['torch_over_act_p50']:>13.2f}  {ok}")


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000, help="timed calls per figure (default 5000)")
    parser.add_argument("--policy", type=Path, help="also measure this shipped policy folder")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for folder in untrained_policies(Path(tmp)):
            rows.append({"label": f"2x256 {folder.name}", **measure(folder, args.calls)})
    if args.policy is not None:
        rows.append({"label": str(args.policy), **measure(args.policy, args.calls)})
    if args.json:
        print(json.dumps({"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                          "torch": torch.__version__, "onnxruntime": ort.__version__, "rows": rows}, indent=2))
    else:
        print(f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
              f"onnxruntime {ort.__version__}, one thread each, {args.calls} calls per figure")
        print_table(rows)


if __name__ == "__main__":
    main()
