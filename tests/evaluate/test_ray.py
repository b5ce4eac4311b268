"""The gate's cases as Ray tasks on a real Ray head started here on loopback: the same results as the local run;
no Ray server listens beyond 127.0.0.1; a missing Ray or an unreachable address is a clear error in bounded time."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from robot_rl.evaluate.executor import LOCAL_ONLY_ENV, ExecutorError, check_reachable, make_executor

ROOT = Path(__file__).resolve().parents[2]
SUITE = """robot: arm
episodes: 4
seed: 0
cross_sim: false
sweep_points: 2
latency_steps: [1]
noise_factors: []
thresholds: {nominal: 0.3, randomized: 0.3, stress: 0.2}
"""
RAY = shutil.which("ray", path=str(Path(sys.executable).parent))


def _listening() -> set[tuple[str, int]]:
    """(local address, port) of every listening TCP socket on this machine (/proc/net/tcp and tcp6)."""
    out = set()
    for name in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{name}").read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if state == "0A":  # LISTEN
                addr, port = local.split(":")
                out.add((addr, int(port, 16)))
    return out


def _loopback(addr_hex: str) -> bool:
    """Whether a /proc/net address is 127.0.0.0/8, ::1 or ::ffff:127.x (little-endian hex words)."""
    if len(addr_hex) == 8:
        return bytes.fromhex(addr_hex)[::-1][0] == 127
    words = [bytes.fromhex(addr_hex[i : i + 8])[::-1] for i in range(0, 32, 8)]
    v6 = b"".join(words)
    return v6 == bytes(15) + b"\x01" or (v6[:12] == bytes(10) + b"\xff\xff" and v6[12] == 127)


def _gate(policy: Path, suite: Path, *extra: str) -> dict:
    result = subprocess.run([sys.executable, "-m", "robot_rl.cli.main", "gate", str(policy), "--suite", str(suite),
                             "--json", *extra], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
                            env={**os.environ, **LOCAL_ONLY_ENV})
    assert result.returncode in (0, 1), result.stderr[-3000:]
    return json.loads(result.stdout)


@pytest.fixture
def ray_head():
    """A Ray head of 2 CPUs on 127.0.0.1 (Ray's own switch, LOCAL_ONLY_ENV); its address and the listening
    sockets there were before it started.

    `ray start --block` in a session of its own: stopping it kills that process group only (`ray stop` would stop
    every Ray on the machine, other tests' included).
    """
    if RAY is None:
        pytest.skip("Ray is not installed in this environment (pip install 'robot_rl[ray]')")
    before = _listening()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    temp = tempfile.mkdtemp(prefix="rr-", dir="/tmp")  # Ray's socket paths must stay under 108 bytes
    token = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}  # what `ray start` heads use
    head = subprocess.Popen([RAY, "start", "--head", "--block", "--port", str(port), "--num-cpus", "2",
                             "--include-dashboard=false", "--disable-usage-stats", "--temp-dir", temp],
                            env={**os.environ, **LOCAL_ONLY_ENV, **token}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    os.environ["RAY_AUTH_TOKEN"] = token["RAY_AUTH_TOKEN"]  # the gate subprocess inherits it
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                check_reachable(f"127.0.0.1:{port}", timeout_s=1.0)
                break
            except ExecutorError:
                assert head.poll() is None and time.monotonic() < deadline, "the Ray head did not come up"
                time.sleep(0.5)
        time.sleep(2.0)  # the raylet registers after the GCS answers; listeners are counted once it has
        yield f"127.0.0.1:{port}", before
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=5)
        except subprocess.TimeoutExpired:  # `ray start --block` does not always stop on SIGTERM: 30 s were lost
            os.killpg(head.pid, signal.SIGKILL)
            head.wait(timeout=30)
        shutil.rmtree(temp, ignore_errors=True)
        os.environ.pop("RAY_AUTH_TOKEN", None)


def test_the_gate_on_a_ray_head_matches_the_local_run_and_ray_listens_on_loopback_only(ray_head, tmp_path):
    address, before = ray_head
    (tmp_path / "suite.yaml").write_text(SUITE)
    copies = []
    for name in ("local", "ray"):
        copies.append(tmp_path / name)
        shutil.copytree(ROOT / "policies" / "arm-reach", copies[-1], ignore=shutil.ignore_patterns("gate"))
    local = _gate(copies[0], tmp_path / "suite.yaml")
    remote = _gate(copies[1], tmp_path / "suite.yaml", "--ray", address)
    opened = _listening() - before  # head, raylet, agents and the workers that ran the cases
    assert opened, "the Ray head opened no listening socket?"
    outside = [(a, p) for a, p in opened if not _loopback(a)]
    assert not outside, f"Ray listens beyond 127.0.0.1: {outside}"

    def strip(cases: list[dict]) -> list[dict]:
        return [{k: v for k, v in c.items() if k != "wall_s"} for c in cases]

    assert len(local["cases"]) >= 5
    assert strip(remote["cases"]) == strip(local["cases"])  # same seeds, same numbers, in the same order
    assert remote["passed"] == local["passed"]


def test_an_unreachable_ray_address_is_a_clear_error_within_bounded_time():
    silent = socket.socket()  # accepts connections, never speaks gRPC: ray.init would retry for minutes
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    with silent:
        port = silent.getsockname()[1]
        t0 = time.monotonic()
        with pytest.raises(ExecutorError, match=f"--ray 127.0.0.1:{port}: no Ray head answers there"):
            check_reachable(f"127.0.0.1:{port}", timeout_s=1.0)
        assert time.monotonic() - t0 < 3.0
    with pytest.raises(ExecutorError, match="Connection refused"):
        check_reachable(f"127.0.0.1:{port}", timeout_s=1.0)  # closed now
    with pytest.raises(ExecutorError, match="expected 'auto' or HOST:PORT"):
        check_reachable("head-node")
    result = subprocess.run([sys.executable, "-m", "robot_rl.cli.main", "gate", str(ROOT / "policies" / "arm-reach"),
                             "--ray", f"127.0.0.1:{port}"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 2 and "no Ray head answers there" in result.stderr


def test_without_ray_installed_the_error_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(ExecutorError, match=r"pip install 'robot_rl\[ray\]'"):
        make_executor("auto")
    assert make_executor(None).map(pow, [(2, 3), (3, 2)]) == [8, 9]  # the local executor needs nothing


def test_ray_auto_starts_a_local_instance_on_loopback_only():
    if RAY is None:
        pytest.skip("Ray is not installed in this environment (pip install 'robot_rl[ray]')")
    before = _listening()
    executor = make_executor("auto", workers=2)
    try:
        opened = _listening() - before
        assert opened and all(_loopback(a) for a, _ in opened), f"Ray listens beyond 127.0.0.1: {opened}"
        assert executor.workers == 2
        jobs = [("a", "b"), ("c", "d"), ("e", "f")]  # a library function: workers import it by name
        assert executor.map(os.path.join, jobs, cost=[1, 3, 2]) == ["a/b", "c/d", "e/f"]  # order kept
    finally:
        executor.close()


def test_sysid_refinements_as_ray_tasks_give_the_same_fit(tmp_path):
    if RAY is None:
        pytest.skip("Ray is not installed in this environment (pip install 'robot_rl[ray]')")
    from robot_rl.robots import load_robot
    from robot_rl.sysid.calibrate import calibrate
    from robot_rl.sysid.excitation import Excitation
    from robot_rl.sysid.logs import simulate_log
    from robot_rl.sysid.schedule import design_commands

    arm = load_robot("arm")
    log = simulate_log(arm, design_commands(arm, Excitation("multisine", 0.3, 0.2, 2.0), 6.0),
                       {"actuator_gain_scale": 0.6, "action_latency_steps": 1}, noise=1.0, seed=3)
    kwargs = {"params": ["actuator_gain_scale"], "max_latency": 2, "generations": 2, "search_windows": 4,
              "progress": lambda _line: None}
    here = calibrate(arm, log, tmp_path / "here.yaml", **kwargs)
    executor = make_executor("auto", workers=2)
    try:
        there = calibrate(arm, log, tmp_path / "there.yaml", map_jobs=executor.map, **kwargs)
    finally:
        executor.close()
    assert there["parameters"] == here["parameters"] and there["nrmse"] == here["nrmse"]
    assert here["parameters"]["action_latency_steps"]["mean"] == 1
