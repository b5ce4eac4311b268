"""Deploy fixtures: run Python scripts inside `.venv-ros` (real rclpy on Fast DDS) beside this test process.

`.venv-ros` is built by `make ros-env` (part of `make setup` and `make test`). Where the ROS 2 wheels could not be
installed, `.venv-ros/UNAVAILABLE` says why and every test using `ros_venv` skips with that reason.
Every process started here inherits the confined environment of tests/conftest.py (loopback-only DDS).
"""

import importlib.util
import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from robot_rl.deploy.network import LOCALHOST_ENV, confine_to_localhost

REPO = Path(__file__).resolve().parents[2]
ROS_VENV = REPO / ".venv-ros"
ROS_SCRIPTS = Path(__file__).resolve().parent / "ros_scripts"


def ros_unavailable_reason():
    """Why rclpy cannot run here (None when `.venv-ros` is ready)."""
    marker = ROS_VENV / "UNAVAILABLE"
    if marker.exists():
        return f"rclpy unavailable: {marker.read_text().strip()}"
    if not (ROS_VENV / "bin" / "python").exists() or not (ROS_VENV / ".installed").exists():
        return "rclpy unavailable: .venv-ros is not built (run `make ros-env`)"
    return None


def ros_env(**extra):
    """The environment of a .venv-ros process: this one's, confined to localhost, plus `extra`."""
    env = dict(os.environ)
    env["CYCLONEDDS_URI"] = f"file://{confine_to_localhost(respect_existing=True)}"
    env.update(LOCALHOST_ENV)
    env.pop("_ROS_WHEELS_BOOTSTRAP_COMPLETE", None)  # let the wheels' start-up hook set up .venv-ros's libraries
    env.update(PYTHONUNBUFFERED="1", RMW_IMPLEMENTATION="rmw_fastrtps_cpp", PYTHONDONTWRITEBYTECODE="1")
    env.update(extra)
    return env


class RosProcess:
    """A running .venv-ros script; its stdout JSON lines are collected by a thread and read with bounded waits."""

    def __init__(self, args, env, stdin_json):
        self.args = args
        self.proc = subprocess.Popen(
            args, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self._lines = queue.Queue()
        self._stderr = []
        self._readers = [threading.Thread(target=self._pump, args=(self.proc.stdout, self._lines.put), daemon=True),
                         threading.Thread(target=self._pump, args=(self.proc.stderr, self._stderr.append), daemon=True)]
        for reader in self._readers:
            reader.start()
        if stdin_json is not None:
            self.proc.stdin.write(json.dumps(stdin_json) + "\n")
            self.proc.stdin.flush()

    def send(self, line):
        """Write one line to the script's stdin."""
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    @staticmethod
    def _pump(stream, sink):
        for line in stream:
            sink(line)

    @property
    def stderr(self):
        return "".join(self._stderr)

    def next_event(self, timeout_s):
        """The next stdout line as JSON (non-JSON lines are skipped); fails the test after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.stop()
                pytest.fail(f"{Path(self.args[1]).name}: no output within {timeout_s} s; stderr:\n{self.stderr}")
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue

    def wait_event(self, name, timeout_s):
        """Skip lines until an event `name`; returns it."""
        deadline = time.monotonic() + timeout_s
        while True:
            event = self.next_event(max(0.0, deadline - time.monotonic()))
            if event.get("event") == name:
                return event

    def wait(self, timeout_s):
        """Wait for the process to exit and its output to be read; returns its exit code (fails after `timeout_s`)."""
        try:
            code = self.proc.wait(timeout=timeout_s)
            for reader in self._readers:  # the pipes end with the process: every line is queued after this
                reader.join(timeout_s)
            return code
        except subprocess.TimeoutExpired:
            self.stop()
            pytest.fail(f"{Path(self.args[1]).name} still running after {timeout_s} s; stderr:\n{self.stderr}")

    def stop(self):
        """Close stdin (the scripts' stop signal), then terminate if it does not exit within 3 s."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=3)
            except (subprocess.TimeoutExpired, BrokenPipeError, OSError):
                self.proc.kill()
                self.proc.wait(timeout=5)
        return self.proc.returncode


class RosVenv:
    """Runs scripts from tests/deploy/ros_scripts with .venv-ros's Python."""

    python = ROS_VENV / "bin" / "python"

    def __init__(self):
        self._processes = []

    def start(self, script, *args, stdin_json=None, **env):
        """Start `script` (a name in ros_scripts/) with `args`; `stdin_json` is written as one line."""
        process = RosProcess([str(self.python), str(ROS_SCRIPTS / script), *map(str, args)], ros_env(**env),
                             stdin_json)
        self._processes.append(process)
        return process

    def run(self, script, *args, stdin_json=None, timeout_s=20.0, **env):
        """Run `script` to completion; returns its stdout JSON events; fails the test on a non-zero exit."""
        process = self.start(script, *args, stdin_json=stdin_json, **env)
        code = process.wait(timeout_s)
        events = []
        while not process._lines.empty():
            try:
                events.append(json.loads(process._lines.get_nowait()))
            except json.JSONDecodeError:
                continue
        if code != 0:
            pytest.fail(f"{script} exited with {code}; stderr:\n{process.stderr}")
        return events

    def stop_all(self):
        for process in self._processes:
            process.stop()


@pytest.fixture(scope="session")
def ros_venv_ready():
    """Skips when .venv-ros cannot run rclpy; fails when it exists but rclpy does not import (a broken build)."""
    reason = ros_unavailable_reason()
    if reason:
        pytest.skip(reason)
    probe = subprocess.run([str(RosVenv.python), "-c", "import rclpy, robot_rl.deploy.msgs"], env=ros_env(),
                           capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        pytest.fail(f".venv-ros is built but `import rclpy, robot_rl.deploy.msgs` fails:\n{probe.stderr}")


@pytest.fixture
def ros_venv(ros_venv_ready):
    """A `RosVenv`; every process it started is stopped after the test."""
    venv = RosVenv()
    yield venv
    venv.stop_all()


@pytest.fixture
def unique_topic():
    """A topic name no other test (or concurrent test run on this machine) uses: '/rrl_<hex>/<suffix>'."""
    prefix = f"/rrl_{uuid.uuid4().hex[:12]}"
    return lambda suffix: f"{prefix}/{suffix}"


@pytest.fixture(scope="session")
def ros_samples():
    """tests/deploy/ros_scripts/samples.py: the sample messages both venvs build identically."""
    spec = importlib.util.spec_from_file_location("ros_samples", ROS_SCRIPTS / "samples.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("ros_samples", module)
    spec.loader.exec_module(module)
    return module
