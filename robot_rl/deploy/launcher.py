"""ROS-free launcher: start a robot's nodes from its parameter YAML, stream their output, stop them all cleanly.

`robot-rl launch launch/arm.yaml --duration 30 --record logs/run1` is the ROS-free twin of
`ros2 launch robot_rl_ros arm.launch.py record:=logs/run1`: the same parameter file (one `ros__parameters` section
per node), the same nodes, each a separate process (`python -m robot_rl.deploy.nodes.<node> --params FILE --node
SECTION ...`). The recorder starts first so that it catches the beginning. Every node's stdout/stderr is streamed
line by line with a `[node]` prefix. All nodes are stopped (SIGINT, then SIGTERM after a grace period, then SIGKILL)
on Ctrl-C or SIGTERM, after `--duration` seconds, or as soon as any node exits.

`build_plan` is a pure function of the YAML and the options (unit-tested); `supervise` runs a plan.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from robot_rl.deploy.network import confine_to_localhost
from robot_rl.deploy.nodes.common import NETWORKS, OPERATOR_KINDS, read_parameter_file
from robot_rl.deploy.transport import MIDDLEWARES

NODE_MODULE = "robot_rl.deploy.nodes"
"""Package holding one module per node, each runnable with `python -m`."""
START_ORDER = ("recorder", "sim_driver", "operator", "controller", "learner")
READY_LINES = {"recorder": "recorder: recording"}
"""Nodes the next ones wait for, and the line that says they are ready (the recorder: every topic subscribed)."""
READY_TIMEOUT_S = 60.0
"""Longest wait for a ready line; a node that exits or stays silent does not hold the others back longer."""
"""Every node the launcher knows (= the allowed YAML sections), in start order: the recorder first."""
OPTIONAL_NODES = ("operator", "learner")
"""Nodes whose exit does not stop the others: an unplugged gamepad ends its takeover (its last Joy releases the
deadman, and its silence is stale input), while the robot goes on under the policy and the safety filter; a dead
online learner leaves the controller with the policy it has."""
SIM_OPERATOR_SETS = ("takeover.sync=true", "takeover.debounce_s=0")
"""Controller settings a simulated operator gets: ticks wait for its answer to each state (deterministic logs), and
its button does not bounce. Given before the user's `--set`, which may override them."""
POLL_S = 0.05
"""Supervision loop period in s."""


@dataclass(frozen=True)
class LaunchPlan:
    """What `supervise` starts: node name -> command line, in start order (recorder first)."""

    params_file: Path
    """The parameter YAML every node reads (absolute path)."""
    nodes: Mapping[str, tuple[str, ...]]
    """Node name (= YAML section) -> argv of its process."""


def load_params(params_file: str | Path) -> dict[str, dict[str, Any]]:
    """Read and validate a ROS 2 parameter YAML; returns section -> its `ros__parameters` mapping.

    Args:
        params_file: path of the YAML (e.g. launch/arm.yaml).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: not valid YAML, an unknown section, or a section without a `ros__parameters` mapping;
            the message names the file and the section.

    """
    path = Path(params_file)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such parameter file")
    data = read_parameter_file(path)
    if not isinstance(data, dict) or not data:
        raise ValueError(f"{path}: expected a mapping of node sections ({', '.join(START_ORDER)})")
    sections = {}
    for name, section in data.items():
        if name not in START_ORDER:
            raise ValueError(f"{path}: unknown section '{name}' (the launcher starts: {', '.join(START_ORDER)})")
        if not isinstance(section, dict) or set(section) != {"ros__parameters"}:
            raise ValueError(f"{path}: section '{name}' must hold exactly one key, 'ros__parameters'")
        params = section["ros__parameters"]
        if not isinstance(params, dict):
            raise ValueError(f"{path}: section '{name}': 'ros__parameters' must be a mapping of parameters")
        sections[name] = params
    return sections


def _node_overrides(overrides: Sequence[str], params: Mapping[str, dict[str, Any]],
                    path: Path) -> dict[str, list[str]]:
    """Split `node.key=value` overrides into node -> ['key=value', ...]; node and top-level key must exist."""
    per_node: dict[str, list[str]] = {}
    for item in overrides:
        target, sep, value = item.partition("=")
        node, dot, key = target.partition(".")
        if not sep or not dot or not key:
            raise ValueError(f"--set {item!r}: expected NODE.KEY=VALUE, e.g. sim_driver.episodes=3")
        if node not in params:
            raise ValueError(f"--set {item!r}: no section '{node}' in {path} (sections: {', '.join(params)})")
        if key.split(".")[0] not in params[node]:
            raise ValueError(f"--set {item!r}: {path}: section '{node}' has no parameter '{key.split('.')[0]}' "
                             f"(parameters: {', '.join(params[node])})")
        per_node.setdefault(node, []).append(f"{key}={value}")
    return per_node


def build_plan(params_file: str | Path, *, record: str | Path | None = None, middleware: str = "auto",
               sim: bool = True, overrides: Sequence[str] = (), network: str = "localhost",
               record_default: bool = False, operator: str | None = None, online: bool = False,
               override_gate: bool = False) -> LaunchPlan:
    """The processes to start for a parameter YAML: pure, no process is started and nothing is written.

    Args:
        params_file: ROS 2 parameter YAML with sections `controller`, `sim_driver`, `recorder`.
        record: bag directory; starts the recorder with `output_dir` set to it. None: see `record_default`.
        record_default: without `record`, start the recorder when the YAML's `recorder.output_dir` is set (the
            `robot-rl launch` default; the recorder expands `{time}` in it).
        middleware: 'auto', 'dds' or 'rclpy', passed to every node.
        sim: start `sim_driver` (the simulated robot); False when a real robot driver runs, and then the controller
            requires the policy's release gate (`controller.require_gate`).
        overrides: `NODE.KEY=VALUE` strings, passed to that node as `--set KEY=VALUE` (VALUE as YAML).
        network: 'localhost' (DDS on loopback only) or 'system' (the operator's DDS configuration).
        operator: what the `operator` node runs (`OPERATOR_KINDS`); None: the YAML's `operator.kind` (absent: none).
            'none' starts no operator node. A simulated operator ('sim-expert') also sets `SIM_OPERATOR_SETS` on the
            controller.
        online: start the online `learner` (its policy defaults to the controller's) and enable the controller's
            swaps (`online.enabled`; with the simulated robot also `online.lockstep`).
        override_gate: run a policy without a passed gate on real hardware anyway (`controller.gate_override`,
            recorded in the bag).

    Raises:
        ValueError: invalid YAML, a needed section missing, an unknown option or override (message names the file).

    """
    path = Path(params_file).resolve()
    params = load_params(path)
    if middleware not in MIDDLEWARES or network not in NETWORKS:
        raise ValueError(f"middleware must be one of {MIDDLEWARES} and network one of {NETWORKS}")
    recording = record is not None or (record_default and bool(params.get("recorder", {}).get("output_dir")))
    kind = operator if operator is not None else params.get("operator", {}).get("kind", "none")
    if kind not in OPERATOR_KINDS:
        raise ValueError(f"operator kind {kind!r} (from {'--operator' if operator else path}): expected one of "
                         f"{', '.join(OPERATOR_KINDS)}")
    skip = {"recorder": not recording, "sim_driver": not sim, "operator": kind == "none", "learner": not online}
    wanted = [n for n in START_ORDER if not skip.get(n, False)]
    missing = [n for n in wanted if n not in params]
    if missing:
        raise ValueError(f"{path}: missing section(s) {', '.join(missing)} (needed: {', '.join(wanted)})")
    sets = _node_overrides(overrides, {n: params[n] for n in wanted}, path)
    if record is not None:
        sets.setdefault("recorder", []).insert(0, f"output_dir={Path(record).resolve()}")
    if operator is not None and kind != "none":
        sets.setdefault("operator", []).insert(0, f"kind={kind}")
    if kind == "sim-expert":
        sets["controller"] = [*SIM_OPERATOR_SETS, *sets.get("controller", [])]
    if online:
        _online_sets(sets, params, sim)
    gate = ([] if sim else ["require_gate=true"]) + (["gate_override=true"] if override_gate else [])
    sets["controller"] = [*gate, *sets.get("controller", [])]
    nodes = {}
    for node in wanted:
        argv = [sys.executable, "-m", f"{NODE_MODULE}.{node}", "--params", str(path), "--node", node,
                "--middleware", middleware, "--network", network]
        for item in sets.get(node, []):
            argv += ["--set", item]
        nodes[node] = tuple(argv)
    return LaunchPlan(params_file=path, nodes=nodes)


def _online_sets(sets: dict[str, list[str]], params: Mapping[str, dict[str, Any]], sim: bool) -> None:
    """Enable the controller's swaps and point the learner at the controller's policy (user sets win)."""
    online = ["online.enabled=true", *(["online.lockstep=true"] if sim else [])]
    sets["controller"] = [*online, *sets.get("controller", [])]
    if sim:  # the simulated robot waits for the controller while it waits at a boundary (bounded there)
        sets["sim_driver"] = ["command_timeout_s=900.0", *sets.get("sim_driver", [])]
    policy = next((item.partition("=")[2] for item in reversed(sets["controller"]) if item.startswith("policy=")),
                  params["controller"].get("policy", ""))
    if not params["learner"].get("policy"):
        sets["learner"] = [f"policy={policy}", *sets.get("learner", [])]


class _Printer:
    """Writes `[node] line` to the launcher's stdout/stderr, one whole line at a time; notes `READY_LINES`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.ready = {node: threading.Event() for node in READY_LINES}

    def pump(self, node: str, stream: IO[str], out: IO[str]) -> None:
        """Copy `stream` to `out` line by line with the node's prefix until the stream closes."""
        for line in iter(stream.readline, ""):
            if node in READY_LINES and line.startswith(READY_LINES[node]):
                self.ready[node].set()
            with self._lock:
                out.write(f"[{node}] {line.rstrip(chr(10))}\n")
                out.flush()
        stream.close()


def _start(plan: LaunchPlan, printer: _Printer) -> tuple[dict[str, subprocess.Popen], list[threading.Thread]]:
    """Start the plan's processes in order, each in its own process group so only the launcher signals them."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    procs: dict[str, subprocess.Popen] = {}
    threads = []
    for node, argv in plan.nodes.items():
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                start_new_session=True)
        procs[node] = proc
        for stream, out in ((proc.stdout, sys.stdout), (proc.stderr, sys.stderr)):
            thread = threading.Thread(target=printer.pump, args=(node, stream, out), daemon=True)
            thread.start()
            threads.append(thread)
        if node in READY_LINES:  # the others start once it listens, so the bag holds their first messages
            deadline = time.monotonic() + READY_TIMEOUT_S
            while not printer.ready[node].wait(POLL_S) and proc.poll() is None and time.monotonic() < deadline:
                pass
    return procs, threads


def _signal_all(procs: Mapping[str, subprocess.Popen], sig: int) -> None:
    """Send `sig` to every live process, the last started first (the recorder last)."""
    for proc in reversed(list(procs.values())):
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):  # exited since poll()
                proc.send_signal(sig)


def _wait_all(procs: Mapping[str, subprocess.Popen], timeout_s: float) -> bool:
    """Wait up to `timeout_s` seconds for every process to exit; True if all did."""
    deadline = time.monotonic() + timeout_s
    while any(p.poll() is None for p in procs.values()):
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_S)
    return True


def stop_all(procs: Mapping[str, subprocess.Popen], grace_s: float = 5.0) -> None:
    """Stop every process: SIGINT, then SIGTERM after `grace_s` seconds, then SIGKILL after another `grace_s`.

    Args:
        procs: node name -> its process.
        grace_s: seconds each signal is given before the next, harder one.

    """
    for sig in (signal.SIGINT, signal.SIGTERM):
        _signal_all(procs, sig)
        if _wait_all(procs, grace_s):
            return
        names = [n for n, p in procs.items() if p.poll() is None]
        print(f"robot-rl launch: {', '.join(names)} still running after {signal.Signals(sig).name} "
              f"and {grace_s:g} s", file=sys.stderr)
    _signal_all(procs, signal.SIGKILL)
    _wait_all(procs, grace_s)


def _exit_code(returncode: int) -> int:
    """A process's return code as a shell reports it: 128 + N when killed by signal N."""
    return 128 - returncode if returncode < 0 else returncode


def _watch(procs: Mapping[str, subprocess.Popen], duration_s: float | None,
           stop: threading.Event) -> tuple[str, int] | None:
    """Wait until a node exits (returns its name and code), `duration_s` s pass or `stop` is set (None).

    An `OPTIONAL_NODES` node that exits is reported once and watched no further.
    """
    deadline = None if duration_s is None else time.monotonic() + duration_s
    gone: set[str] = set()
    while not stop.is_set():
        for node, proc in procs.items():
            if node in gone or proc.poll() is None:
                continue
            if node not in OPTIONAL_NODES:
                return node, _exit_code(proc.returncode)
            gone.add(node)
            print(f"robot-rl launch: node '{node}' exited with code {_exit_code(proc.returncode)}; the others go on "
                  "(any takeover has ended)", file=sys.stderr)
        if deadline is not None and time.monotonic() >= deadline:
            return None
        stop.wait(POLL_S)
    return None


def supervise(plan: LaunchPlan, duration_s: float | None = None, grace_s: float = 5.0,
              stop: threading.Event | None = None) -> int:
    """Run a plan's processes until one exits, `duration_s` s pass, Ctrl-C, or `stop` is set; then stop them all.

    Args:
        plan: the processes to start (`build_plan`).
        duration_s: run time in s; None runs until a node exits or the launcher is interrupted.
        grace_s: seconds between SIGINT, SIGTERM and SIGKILL when stopping.
        stop: set from another thread (or a signal handler) to stop all nodes.

    Returns:
        0 when stopped by duration, Ctrl-C or `stop`, or when the node that exited first returned 0; otherwise that
        node's exit code (128 + N if killed by signal N), and its name is printed.

    """
    stop = stop or threading.Event()
    printer = _Printer()
    procs, threads = _start(plan, printer)
    try:
        exited = _watch(procs, duration_s, stop)
    except KeyboardInterrupt:
        exited = None
    finally:
        stop_all(procs, grace_s)
        for thread in threads:
            thread.join(timeout=grace_s)
    for node, proc in procs.items():
        if (node, _exit_code(proc.returncode)) != exited and proc.returncode != 0:
            print(f"robot-rl launch: node '{node}' did not stop cleanly (exit code {_exit_code(proc.returncode)})",
                  file=sys.stderr)
    if exited is None or exited[1] == 0:
        return 0
    print(f"robot-rl launch: node '{exited[0]}' exited with code {exited[1]}; stopped the others", file=sys.stderr)
    return exited[1]


def launch(params_file: str | Path, *, duration_s: float | None = None, record: str | Path | None = None,
           middleware: str = "auto", sim: bool = True, overrides: Sequence[str] = (),
           network: str = "localhost", record_default: bool = True, operator: str | None = None,
           online: bool = False, override_gate: bool = False) -> int:
    """`robot-rl launch`: confine DDS to this machine (unless network='system'), start the nodes, supervise them.

    Args:
        params_file: ROS 2 parameter YAML (launch/<robot>.yaml).
        duration_s: stop all nodes after this many seconds; None runs until a node exits or Ctrl-C.
        record: bag directory for the recorder; None: the YAML's `recorder.output_dir` when `record_default`.
        record_default: False (`--no-record`) records nothing unless `record` is given.
        middleware: 'auto', 'dds' or 'rclpy'.
        sim: start the simulated robot driver.
        overrides: `NODE.KEY=VALUE` parameter overrides.
        network: 'localhost' (loopback only, the default) or 'system'.
        operator: the operator node's kind (see `build_plan`); None keeps the YAML's.
        online: start the online learner and let the controller swap to the versions it checks (`build_plan`).
        override_gate: on real hardware, run a policy without a passed release gate anyway (`build_plan`).

    Returns:
        The exit code (see `supervise`).

    """
    if network == "localhost":
        confine_to_localhost()
    plan = build_plan(params_file, record=record, middleware=middleware, sim=sim, overrides=overrides,
                      network=network, record_default=record_default, operator=operator, online=online,
                      override_gate=override_gate)
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    try:
        return supervise(plan, duration_s, stop=stop)
    finally:
        signal.signal(signal.SIGTERM, previous)
