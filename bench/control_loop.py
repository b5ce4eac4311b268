"""Control loop timing: controller step compute, and state -> command latency between processes over DDS and rclpy.

(a) compute (bench/control_loop_compute.py): observation + ONNX + safety filter per robot, on recorded states.
(b) this process plays the arm: it publishes `/joint_states` at 100 Hz and 500 Hz on a drift-free schedule, the goal
    once (latched), and takes the command topic; the controller node runs as a separate process
    (`python -m robot_rl.deploy.nodes.controller --params launch/arm.yaml --middleware dds`).
(c) the same with the controller on real rclpy (`.venv-ros`, Fast DDS; this side stays CycloneDDS: cross-vendor).
Peer: a bare echo process on the same transport (`--role echo`) answering each JointState with a Float64MultiArray
the size of the arm's command on the command topic: the transport's own floor, measured the same way in the same run.

latency = receive time of the first command after state k - publish time of state k (one clock, this process);
a miss = no command for state k before state k+1 is published (late and never-arriving commands both count).
Goals: compute p99 <= 100 µs; latency p99 <= 1 ms with no misses.

    .venv/bin/python bench/control_loop.py [--duration 60] [--rates 100 500] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from robot_rl.deploy.network import confine_to_localhost

confine_to_localhost()  # before anything imports CycloneDDS or rclpy: every participant stays on this machine

REPO = Path(__file__).resolve().parents[1]
ROS_PYTHON = REPO / ".venv-ros" / "bin" / "python"
PARAMS = REPO / "launch" / "arm.yaml"
COMPUTE_GOAL_P99_US = 100.0
LATENCY_GOAL_P99_US = 1000.0
SPIN_NS = 300_000
"""The last 0.3 ms before each publish is busy-waited (polling the transport) instead of slept."""
GOAL_M = (0.45, 0.1, 0.4)
"""Reach target, m, arm base frame (inside the workspace)."""
TRACKING_TAU_S = 0.05
"""The played arm moves to the last commanded target with this first-order time constant."""


def python_for(middleware: str) -> str:
    """The interpreter of a peer process: .venv-ros for rclpy, this one for dds."""
    return str(ROS_PYTHON) if middleware == "rclpy" else sys.executable


def child_env(middleware: str) -> dict[str, str]:
    """This process's (confined) environment, plus what a .venv-ros process needs to find its ROS 2 libraries."""
    env = dict(os.environ) | {"PYTHONUNBUFFERED": "1"}
    if middleware == "rclpy":
        env.pop("_ROS_WHEELS_BOOTSTRAP_COMPLETE", None)  # let the wheels' start-up hook set up .venv-ros
        env |= {"RMW_IMPLEMENTATION": "rmw_fastrtps_cpp", "PYTHONDONTWRITEBYTECODE": "1"}
    return env


def rclpy_unavailable() -> str | None:
    """Why the rclpy configurations cannot run here (None when .venv-ros imports rclpy)."""
    marker = REPO / ".venv-ros" / "UNAVAILABLE"
    if marker.exists():
        return f".venv-ros unavailable: {marker.read_text().strip()}"
    if not ROS_PYTHON.exists():
        return ".venv-ros is not built (`make ros-env`)"
    probe = subprocess.run([str(ROS_PYTHON), "-c", "import rclpy, robot_rl.deploy.transport.ros"],
                           env=child_env("rclpy"), capture_output=True, text=True, timeout=120, check=False)
    return None if probe.returncode == 0 else f"`import rclpy` fails in .venv-ros: {probe.stderr.strip()[-300:]}"


# -- the echo peer (`--role echo`) ------------------------------------------------------------------------------------


def run_echo(middleware: str) -> int:
    """Answer every arm JointState with one pre-built arm-sized command, on `middleware`, until SIGTERM/SIGINT."""
    from robot_rl.deploy.adapters import adapter_for
    from robot_rl.deploy.msgs import JointState, message_type
    from robot_rl.deploy.transport import COMMAND_QOS, SENSOR_QOS, make_transport
    from robot_rl.robots import load_robot

    adapter = adapter_for(load_robot("arm"))
    command = adapter.encode_command(np.zeros(len(adapter.joint_names)))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    transport = make_transport(middleware, "bench_echo", {"use_sim_time": False})
    publisher = transport.create_publisher(adapter.command_topic, message_type(adapter.command_type), COMMAND_QOS)
    (state_topic, _), = adapter.state_topics.values()
    transport.create_subscription(state_topic, JointState, lambda _: publisher.publish(command), SENSOR_QOS)
    print(f"echo: ready on {transport.name}", flush=True)
    try:
        while not stop.is_set():
            transport.spin_once(0.05)
    finally:
        transport.shutdown()
    return 0


# -- the robot side (this process) ------------------------------------------------------------------------------------


class PlayedArm:
    """The arm as the controller sees it: JointState out on a fixed schedule, commands and diagnostics in."""

    def __init__(self, rate_hz: float) -> None:
        from robot_rl.deploy.adapters import adapter_for, pose_from_position
        from robot_rl.deploy.msgs import DiagnosticArray, Float64MultiArray, JointState, Pose
        from robot_rl.deploy.transport import COMMAND_QOS, LATCHED_QOS, SENSOR_QOS
        from robot_rl.deploy.transport.dds import DdsTransport
        from robot_rl.robots import load_robot

        spec = load_robot("arm")
        self.adapter = adapter_for(spec)
        self.transport = DdsTransport("bench_robot", {"use_sim_time": False})
        self.period_ns = round(1e9 / rate_hz)
        self.alpha = min(1.0, 1.0 / (rate_hz * TRACKING_TAU_S))
        self.q = np.array(spec.arm.home_rad, dtype=np.float64)
        self.target = self.q.copy()
        self.msg = JointState(name=list(self.adapter.joint_names), position=self.q.tolist(),
                              velocity=[0.0] * len(self.q), effort=[])
        self.msg.header.frame_id = "base_link"
        (state_topic, _), = self.adapter.state_topics.values()
        self.pub_state = self.transport.create_publisher(state_topic, JointState, SENSOR_QOS)
        self.transport.create_publisher("/goal", Pose, LATCHED_QOS).publish(pose_from_position(GOAL_M))
        self.transport.create_subscription(self.adapter.command_topic, Float64MultiArray, self._on_command,
                                           COMMAND_QOS)
        self.transport.create_subscription("/diagnostics", DiagnosticArray, self._on_diagnostics, COMMAND_QOS)
        self.current = -1
        self.first_command_ns: np.ndarray = np.zeros(0, dtype=np.int64)
        self.commands = 0
        self.diagnostics: list[dict[str, str]] = []
        self.next_ns = time.perf_counter_ns() + self.period_ns

    def _on_command(self, msg: Any) -> None:  # noqa: ANN401 - Float64MultiArray
        now = time.perf_counter_ns()
        self.commands += 1
        if 0 <= self.current < len(self.first_command_ns) and self.first_command_ns[self.current] == 0:
            self.first_command_ns[self.current] = now
        if len(msg.data) == len(self.target):
            self.target = np.asarray(msg.data, dtype=np.float64)

    def _on_diagnostics(self, msg: Any) -> None:  # noqa: ANN401 - DiagnosticArray
        for status in msg.status:
            if status.name == "robot_rl/controller":
                self.diagnostics.append({kv.key: kv.value for kv in status.values})

    def _wait_until(self, t_ns: int) -> None:
        """Deliver messages until `t_ns`: block in the transport most of the way, then poll it busily."""
        while True:
            remaining = t_ns - time.perf_counter_ns()
            if remaining <= 0:
                return
            self.transport.spin_once(max(0, remaining - SPIN_NS) / 1e9)

    def run(self, states: int, until: Callable[[], bool] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Publish `states` JointStates (fewer if `until()` turns true); publish and first-command times (ns)."""
        published = np.zeros(states, dtype=np.int64)
        self.first_command_ns = np.zeros(states, dtype=np.int64)
        self.current = -1
        n = 0
        for k in range(states):
            self._wait_until(self.next_ns)
            self.next_ns += self.period_ns
            step = self.alpha * (self.target - self.q)
            self.q += step
            self.msg.position = self.q.tolist()
            self.msg.velocity = (step * (1e9 / self.period_ns)).tolist()
            self.msg.header.stamp = _stamp(time.time_ns())
            self.current = k
            published[k] = time.perf_counter_ns()
            self.pub_state.publish(self.msg)
            n = k + 1
            if until is not None and until():
                break
        self._wait_until(self.next_ns)  # the last state's period: its command may still come
        self.current = -1
        return published[:n], self.first_command_ns[:n]

    def shutdown(self) -> None:
        """Leave the DDS domain."""
        self.transport.shutdown()


def _stamp(ns: int) -> Any:  # noqa: ANN401 - builtin_interfaces/Time
    from robot_rl.deploy.msgs import stamp_from_ns

    return stamp_from_ns(ns)


# -- one configuration: rate x middleware x peer ----------------------------------------------------------------------


class Peer:
    """The controller or echo process; its output is kept for the report."""

    def __init__(self, peer: str, middleware: str, rate_hz: float) -> None:
        if peer == "controller":
            args = ["-m", "robot_rl.deploy.nodes.controller", "--params", str(PARAMS), "--middleware", middleware,
                    "--set", "use_sim_time=false", "--set", f"rate_hz={rate_hz:g}", "--set", "auto_enable=true"]
        else:
            args = [str(Path(__file__).resolve()), "--role", "echo", "--middleware", middleware]
        self.proc = subprocess.Popen([python_for(middleware), *args], cwd=REPO, env=child_env(middleware),
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        threading.Thread(target=lambda: self.lines.extend(self.proc.stdout), daemon=True).start()

    def stop(self) -> int:
        """SIGTERM (the nodes' clean shutdown), then kill after 15 s; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        time.sleep(0.2)  # let the output thread drain
        return self.proc.returncode


def latency_figures(published: np.ndarray, first_command: np.ndarray) -> dict[str, float]:
    """p50/p99/max latency (µs) over the states answered within their period; misses; n states."""
    answered = first_command > 0
    lat = (first_command[answered] - published[answered]) / 1e3
    out = {"n": int(len(published)), "misses": int((~answered).sum())}
    if len(lat):
        out |= {"p50_us": float(np.percentile(lat, 50)), "p99_us": float(np.percentile(lat, 99)),
                "max_us": float(lat.max())}
    return out


def diagnostics_summary(windows: list[dict[str, str]]) -> dict[str, float]:
    """The controller's own /diagnostics over the measurement (1 s windows).

    Summed ticks and misses, mean jitter, worst compute p99, and the windows spent in safe-stop (where the policy
    does not run: the filter's fallback does).
    """
    def values(key: str) -> list[float]:
        return [float(w[key]) for w in windows if key in w]

    if not windows:
        return {}
    out = {"windows": float(len(windows)), "ticks": sum(values("ticks")),
           "deadline_misses": sum(values("deadline_misses")),
           "safe_stop_windows": float(sum(w.get("mode") == "safe-stop" for w in windows))}
    for key, reduce in (("period_mean_ms", np.mean), ("period_jitter_ms", np.mean), ("compute_p50_us", np.median),
                        ("compute_p99_us", np.max), ("compute_max_us", np.max)):
        if values(key):
            out[key] = float(reduce(values(key)))
    out["interventions"] = sum(float(v) for w in windows[-1:] for k, v in w.items() if k.startswith("interventions."))
    return out


def measure(peer_kind: str, middleware: str, rate_hz: float, args: argparse.Namespace) -> dict[str, Any]:
    """Start the peer, wait for its first answer, warm up, measure `args.duration` s; stop it."""
    arm = PlayedArm(rate_hz)
    peer = Peer(peer_kind, middleware, rate_hz)
    row: dict[str, Any] = {"rate_hz": rate_hz, "middleware": middleware, "peer": peer_kind}
    try:
        start = time.monotonic()
        arm.run(int(args.startup_timeout * rate_hz), until=lambda: arm.commands > 0 or peer.proc.poll() is not None)
        if arm.commands == 0:
            row["error"] = f"no answer within {args.startup_timeout:g} s (exit code {peer.proc.poll()})"
            return row
        row["startup_s"] = time.monotonic() - start
        arm.run(int(args.warmup * rate_hz))
        arm.diagnostics.clear()
        commands_before = arm.commands
        published, first = arm.run(int(args.duration * rate_hz))
        row |= latency_figures(published, first)
        row["commands"] = arm.commands - commands_before
        if peer_kind == "controller":
            row["diagnostics"] = diagnostics_summary(arm.diagnostics)
    finally:
        row["exit_code"] = peer.stop()
        row["output_tail"] = [line.rstrip() for line in peer.lines[-4:]]
        arm.shutdown()
    return row


# -- report -----------------------------------------------------------------------------------------------------------


def _f(value: float | None, fmt: str = ".0f") -> str:
    return "-" if value is None else format(value, fmt)


def print_compute(rows: list[dict[str, Any]]) -> None:
    """The compute table: p50/p99 µs per piece and robot."""
    pieces = ["observation", "act", "certify", "compute", "tick", "tick+cdr"]
    print("\n(a) controller step compute, µs p50/p99 (compute = observation + act + certify; "
          f"goal p99 <= {COMPUTE_GOAL_P99_US:g})")
    print(f"{'robot':<12}" + "".join(f"{p:>16}" for p in pieces) + "  goal")
    for r in rows:
        cells = "".join(f"{r['rows'][p]['p50_us']:>8.1f}/{r['rows'][p]['p99_us']:<7.1f}" for p in pieces)
        ok = "met" if r["rows"]["compute"]["p99_us"] <= COMPUTE_GOAL_P99_US else "MISSED"
        print(f"{r['robot']:<12}{cells}  {ok}")


def print_latency(rows: list[dict[str, Any]]) -> None:
    """The latency table and controller / echo ratios."""
    print(f"\n(b, c) /joint_states published -> command received, µs (goal p99 <= {LATENCY_GOAL_P99_US:g}, no misses)")
    print(f"{'rate':>5} {'middleware':<10} {'peer':<10} {'p50':>8} {'p99':>8} {'max':>8} {'misses':>7} {'n':>7}  "
          "controller /diagnostics")
    for r in rows:
        if "error" in r or "skipped" in r:
            print(f"{r['rate_hz']:>5g} {r['middleware']:<10} {r['peer']:<10} {r.get('error') or r['skipped']}")
            continue
        d = r.get("diagnostics", {})
        diag = (f"ticks {_f(d.get('ticks'))}, misses {_f(d.get('deadline_misses'))}, jitter "
                f"{_f(d.get('period_jitter_ms'), '.3f')} ms, compute p50/p99 {_f(d.get('compute_p50_us'))}/"
                f"{_f(d.get('compute_p99_us'))} µs, safe-stop {_f(d.get('safe_stop_windows'))}/"
                f"{_f(d.get('windows'))} windows") if d else ""
        print(f"{r['rate_hz']:>5g} {r['middleware']:<10} {r['peer']:<10} {_f(r.get('p50_us')):>8} "
              f"{_f(r.get('p99_us')):>8} {_f(r.get('max_us')):>8} {r['misses']:>7} {r['n']:>7}  {diag}")
    for ratio in ratios(rows):
        print(f"controller / echo at {ratio['rate_hz']:g} Hz on {ratio['middleware']}: p50 {ratio['p50']:.2f}x, "
              f"p99 {ratio['p99']:.2f}x")


def ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Controller / echo of p50 and p99 for each rate and middleware where both were measured."""
    by_key = {(r["rate_hz"], r["middleware"], r["peer"]): r for r in rows if "p50_us" in r}
    out = []
    for (rate, middleware, peer), r in by_key.items():
        echo = by_key.get((rate, middleware, "echo"))
        if peer == "controller" and echo:
            out.append({"rate_hz": rate, "middleware": middleware, "p50": r["p50_us"] / echo["p50_us"],
                        "p99": r["p99_us"] / echo["p99_us"]})
    return out


def main() -> int:
    """Measure and print (or run the echo peer with `--role echo`)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=("bench", "echo"), default="bench", help="echo: the ping-pong peer")
    parser.add_argument("--middleware", choices=("dds", "rclpy"), default="dds", help="the echo peer's transport")
    parser.add_argument("--duration", type=float, default=60.0, help="measured seconds per configuration")
    parser.add_argument("--warmup", type=float, default=3.0, help="discarded seconds after the first answer")
    parser.add_argument("--startup-timeout", type=float, default=90.0, help="wait this long for a peer's answer")
    parser.add_argument("--rates", type=float, nargs="*", default=[100.0, 500.0],
                        help="state rates, Hz (none: compute only)")
    parser.add_argument("--middlewares", nargs="+", choices=("dds", "rclpy"), default=["dds", "rclpy"])
    parser.add_argument("--iterations", type=int, default=20000, help="timed ticks per compute figure")
    parser.add_argument("--robots", nargs="*", default=["arm", "quadrotor", "mobile_base"],
                        help="compute rows (none: latency only)")
    parser.add_argument("--json", type=Path, help="also write every figure as JSON here")
    args = parser.parse_args()
    if args.role == "echo":
        return run_echo(args.middleware)
    os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(1, 200)))  # private: concurrent runs cannot cross-talk
    print(f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"ROS_DOMAIN_ID {os.environ['ROS_DOMAIN_ID']}, {args.duration:g} s per configuration", flush=True)
    from control_loop_compute import measure_robot  # noqa: I001 - bench/ sibling, found through sys.path[0]

    compute = [measure_robot(robot, args.iterations) for robot in args.robots]
    print_compute(compute)
    skip = rclpy_unavailable() if "rclpy" in args.middlewares else None
    latency = []
    for rate in args.rates:
        for middleware in args.middlewares:
            for peer in ("echo", "controller"):
                if middleware == "rclpy" and skip:
                    latency.append({"rate_hz": rate, "middleware": middleware, "peer": peer, "skipped": skip})
                    continue
                latency.append(measure(peer, middleware, rate, args))
                print(f"  measured {peer} on {middleware} at {rate:g} Hz", flush=True)
    print_latency(latency)
    if args.json:
        args.json.write_text(json.dumps({"machine": platform.machine(), "cpus": os.cpu_count(),
                                         "duration_s": args.duration, "compute": compute, "latency": latency,
                                         "ratios": ratios(latency)}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
