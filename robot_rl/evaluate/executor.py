"""Running independent jobs in this process or as Ray tasks, with the same results either way.

A job is a picklable module-level function and its arguments; its result may depend only on them (seeds included),
never on the process it runs in, so `--ray` changes where work runs, not what it computes.

- `LocalExecutor`: one job after the other, here.
- `RayExecutor`: `--ray auto` starts a Ray instance on this machine for the command's lifetime; `--ray HOST:PORT`
  joins a running cluster (`ray start --head` on one machine, `ray start --address HOST:PORT` on the others;
  docs/gate.md). Jobs are submitted longest first (by the caller's estimate) so the last ones do not leave workers
  idle; results come back in submission order.

Ray 2.60 binds its servers to the node address it resolves, which is the machine's routable address even when
told 127.0.0.1 (`ray.init(_node_ip_address=...)` and `ray start --node-ip-address` are resolved away from
loopback). A local instance therefore starts with `RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`, Ray's own switch that
resolves the node to 127.0.0.1: every Ray server then listens on loopback only (tests read /proc/net/tcp and tcp6), and
with `RAY_USAGE_STATS_ENABLED=0` nothing is reported home.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any

from robot_rl.envs.backends.mujoco_backend import SIM_THREADS_ENV

LOCAL_ONLY_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
"""Environment that keeps a Ray instance started here on 127.0.0.1 and quiet (see the module docstring)."""
CONNECT_TIMEOUT_S = 5.0
"""How long `--ray HOST:PORT` waits for the head's port to answer before giving up."""


class ExecutorError(ValueError):
    """Ray is not installed, or the cluster cannot be reached; the message says which and what to do."""


class Done:
    """A job's result, already there (`LocalExecutor.submit`)."""

    def __init__(self, value: Any) -> None:  # noqa: ANN401
        self.value = value

    def result(self) -> Any:  # noqa: ANN401
        """The job's result."""
        return self.value


class Pending:
    """A Ray task's result to come (`RayExecutor.submit`)."""

    def __init__(self, ray: Any, ref: Any) -> None:  # noqa: ANN401
        self._ray, self._ref = ray, ref

    def result(self) -> Any:  # noqa: ANN401
        """Wait for the task and return its result (its exception re-raised)."""
        return self._ray.get(self._ref)


class LocalExecutor:
    """Runs every job in this process, in order."""

    workers = 1

    def map(self, fn: Callable[..., Any], jobs: Sequence[tuple], cost: Sequence[float] | None = None,
            progress: Callable[[int, Any], None] | None = None) -> list[Any]:
        """`[fn(*job) for job in jobs]`; `progress(i, result)` after each (`cost` is unused here)."""
        del cost
        out = []
        for i, job in enumerate(jobs):
            out.append(fn(*job))
            if progress is not None:
                progress(i, out[-1])
        return out

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Done:  # noqa: ANN401
        """`fn(*args, **kwargs)`, run now; its `result()`."""
        return Done(fn(*args, **kwargs))

    def close(self) -> None:
        """Nothing to release."""


class RayExecutor:
    """Runs jobs as Ray tasks (one CPU each) on a local instance or a cluster."""

    def __init__(self, address: str, workers: int | None = None) -> None:
        """Start (`address` 'auto': `workers` CPUs, default all) or join (`address` 'HOST:PORT') a Ray cluster.

        Raises:
            ExecutorError: Ray is not installed, or HOST:PORT does not answer within `CONNECT_TIMEOUT_S`.

        """
        os.environ.update(LOCAL_ONLY_ENV)  # read when Ray is imported, and inherited by every Ray process from here
        # Token authentication, Ray's default for new clusters since 2.52: a `ray start` head requires the token and the
        # driver sends it; a local instance gets one too. Said explicitly, Ray does not print a warning about it.
        os.environ.setdefault("RAY_AUTH_MODE", "token")
        try:
            import ray  # noqa: PLC0415 - optional extra
        except ImportError:
            raise ExecutorError("--ray needs Ray: pip install 'robot_rl[ray]' (or pip install 'ray>=2.40')") from None
        self._ray = ray
        # a task has one CPU: its batched MuJoCo rollouts must not spin a thread per core of the node
        runtime = {"env_vars": {SIM_THREADS_ENV: "1"}}
        if address == "auto":
            ray.init(num_cpus=workers or os.cpu_count(), include_dashboard=False, log_to_driver=False,
                     configure_logging=False, _node_ip_address="127.0.0.1", runtime_env=runtime)
        else:
            check_reachable(address)
            try:
                ray.init(address=address, log_to_driver=False, configure_logging=False, runtime_env=runtime)
            except Exception as e:  # noqa: BLE001 - ConnectionError, ray.exceptions.AuthenticationError, ...: one message
                raise ExecutorError(f"--ray {address}: the Ray head refused this driver: {str(e)[:300]} (the "
                                    f"cluster's token goes in RAY_AUTH_TOKEN or ~/.ray/auth_token)") from None
        self.workers = int(ray.cluster_resources().get("CPU", 1))

    def map(self, fn: Callable[..., Any], jobs: Sequence[tuple], cost: Sequence[float] | None = None,
            progress: Callable[[int, Any], None] | None = None) -> list[Any]:
        """`[fn(*job) for job in jobs]` as Ray tasks, submitted by decreasing `cost`; results in job order."""
        ray = self._ray
        remote = ray.remote(num_cpus=1, max_retries=0)(fn)
        order = sorted(range(len(jobs)), key=lambda i: -(cost[i] if cost is not None else 0.0))
        refs = {remote.remote(*jobs[i]): i for i in order}
        out: list[Any] = [None] * len(jobs)
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            i = refs[done[0]]
            out[i] = ray.get(done[0])
            if progress is not None:
                progress(i, out[i])
        return out

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Pending:  # noqa: ANN401
        """`fn(*args, **kwargs)` as a Ray task started now; `result()` waits for it."""
        return Pending(self._ray, self._ray.remote(num_cpus=1, max_retries=0)(fn).remote(*args, **kwargs))

    def close(self) -> None:
        """Disconnect (and stop a local instance)."""
        self._ray.shutdown()


HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
"""HTTP/2 client connection preface and an empty SETTINGS frame: a gRPC server (Ray's GCS) answers with SETTINGS."""


def check_reachable(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Raise ExecutorError unless a gRPC server (a Ray head's GCS) answers at `address` ('HOST:PORT') in time.

    `ray.init` itself retries a silent address for minutes; this probe opens a TCP connection and expects the
    server's HTTP/2 SETTINGS frame within `timeout_s`.
    """
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ExecutorError(f"--ray {address!r}: expected 'auto' or HOST:PORT of a Ray head (ray start --head)")
    t0 = time.monotonic()
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s) as sock:
            sock.settimeout(max(0.1, timeout_s - (time.monotonic() - t0)))
            sock.sendall(HTTP2_PREFACE)
            header = sock.recv(9)
    except OSError as e:
        raise ExecutorError(f"--ray {address}: no Ray head answers there ({e.strerror or e or 'timed out'}; gave "
                            f"up after {time.monotonic() - t0:.1f} s). Start one with `ray start --head --port "
                            f"{port}` or pass --ray auto for a local instance") from None
    if len(header) < 4 or header[3] != 4:
        raise ExecutorError(f"--ray {address}: something listens there but it is not a Ray head (no gRPC answer "
                            f"within {timeout_s:g} s)")


def make_executor(ray: str | None, workers: int | None = None) -> LocalExecutor | RayExecutor:
    """`LocalExecutor` when `ray` is None, else a `RayExecutor` for `ray` ('auto' or HOST:PORT)."""
    return LocalExecutor() if ray is None else RayExecutor(ray, workers)
