"""The simulated robot: MuJoCo (or PyBullet) behind exactly the topics the real robot uses.

    python -m robot_rl.deploy.nodes.sim_driver --params launch/arm.yaml

It runs the registered task's episodes: publishes the robot's state topics (robot.yaml), the episode's goal
(geometry_msgs/Pose, latched), `/clock` when `use_sim_time` is set, and one `/robot_rl/episode` report per finished
episode; it applies the latest command received on the robot's command topic.

Its physics is a hidden "reality": `reality_seed` draws every episode's parameters from robot.yaml's randomization
ranges (masses, damping, gains, latency, ...), or `reality_file` fixes them (a YAML mapping parameter -> value), so
the controller meets a sim-to-real gap it was not told about.

Timing: `realtime_factor` 1.0 steps in real time (0.5 at half speed, 2.0 at double speed, stamps and /clock
following simulated time when `use_sim_time`); 0 steps in lockstep: publish state, wait for the next command
(`command_timeout_s`), step, which runs as fast as the controller answers.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from robot_rl.deploy.adapters import Rejected, adapter_for, pose_from_position
from robot_rl.deploy.diagnostics import episode_message
from robot_rl.deploy.msgs import Clock, DiagnosticArray, Pose, message_type, stamp_from_ns
from robot_rl.deploy.nodes.common import ParameterError, checked_config
from robot_rl.deploy.transport import COMMAND_QOS, LATCHED_QOS, SENSOR_QOS, Transport
from robot_rl.envs import BatchedRobotEnv, entry
from robot_rl.robots import RobotSpecError, read_yaml

SIM_START_NS = 1_000_000_000  # simulated time starts at 1 s: a zero stamp means "not set" in ROS


@dataclass(frozen=True)
class SimDriverConfig:
    """The simulated robot's parameters (the `sim_driver` section of launch/<robot>.yaml)."""

    robot: str
    env_id: str
    """Registered task whose episodes run (robot_rl/ArmReach-v0, ...)."""
    backend: str = "mujoco"
    reality_seed: int = 7
    """Seed of the hidden reality: per-episode physics drawn from robot.yaml's ranges."""
    reality_file: str = ""
    """YAML mapping parameter -> value fixing the hidden physics instead ('' = use reality_seed)."""
    episodes: int = 0
    """Stop (exit 0) after this many episodes; 0 = run until stopped."""
    realtime_factor: float = 0.0
    """0 = lockstep with the controller; otherwise simulated seconds per wall second."""
    command_timeout_s: float = 0.5
    """Lockstep: step with the held command when no command came within this wall time."""
    startup_timeout_s: float = 60.0
    """Lockstep: how long to wait for the controller's first command."""
    goal_topic: str = "/goal"
    command_type: str = ""
    """Override robot.yaml's command message type ('' keeps it)."""
    command_topic: str = ""
    """Override robot.yaml's command topic ('' keeps it)."""
    use_sim_time: bool = True
    """Stamp with simulated time and publish /clock (else wall time)."""
    summary_file: str = ""
    """Write the episode outcomes as JSON here at exit ('' = don't)."""
    calibration: str = ""
    """Calibration file (`robot-rl sysid fit`): reality_seed draws around the identified parameters ('' = robot.yaml's
    ranges)."""
    task_config: dict = field(default_factory=dict)
    """Fields of the task's config to replace (e.g. max_episode_steps; `robot-rl sysid excite` uses it)."""

    @classmethod
    def from_parameters(cls, params: Mapping[str, Any]) -> SimDriverConfig:
        """Checked config; unknown keys and wrong types are a ParameterError naming the key."""
        return checked_config(cls, params, "sim_driver", ("robot", "env_id"))


def load_reality(path: str | Path, nominal: Mapping[str, float]) -> dict[str, float]:
    """Hidden physics parameters from a YAML mapping; names must be the plant's parameters (see robot.yaml)."""
    try:
        data = read_yaml(Path(path))
    except RobotSpecError as e:
        raise ParameterError(f"sim_driver: parameter 'reality_file': {e}") from None
    unknown = sorted(set(data) - set(nominal))
    if unknown:
        raise ParameterError(f"{path}: unknown parameters {unknown}; known: {sorted(nominal)}")
    out = dict(nominal)
    for key, value in data.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not np.isfinite(value):
            raise ParameterError(f"{path}: field '{key}' = {value!r} is not a finite number")
        if key == "action_latency_steps" and (value < 0 or value != int(value)):
            raise ParameterError(f"{path}: field '{key}' = {value!r} must be a whole number of control steps >= 0")
        out[key] = float(value)
    return out


class SimDriver:
    """One simulated robot behind its ROS 2 topics."""

    def __init__(self, transport: Transport, config: SimDriverConfig) -> None:
        self.transport, self.config = transport, config
        try:
            self.env = BatchedRobotEnv(entry(config.env_id), 1, config.backend, randomize=True,
                                       calibration=config.calibration or None, task_config=config.task_config)
        except TypeError as e:
            raise ParameterError(f"sim_driver: parameter 'task_config': {e}") from None
        except RobotSpecError as e:
            raise ParameterError(f"sim_driver: parameter 'calibration': {e}") from None
        if self.env.spec.name != config.robot:
            raise ParameterError(f"sim_driver: env_id {config.env_id} is for robot '{self.env.spec.name}', "
                                 f"not '{config.robot}'")
        if config.reality_file:
            self.env.fix_parameters(load_reality(config.reality_file, self.env.nominal))
        self.env.seed(config.reality_seed)
        self.adapter = adapter_for(self.env.spec, config.command_type or None, config.command_topic or None)
        self.dt_ns = round(self.env.control_dt_s * 1e9)
        self.sim_ns = SIM_START_NS
        self.command: np.ndarray | None = None
        self.commands_received = 0
        self.bad_commands = 0
        self.timeouts = 0
        self.outcomes: list[dict[str, Any]] = []
        self._wire()

    def _wire(self) -> None:
        t = self.transport
        self.pub_state = {k: t.create_publisher(topic, message_type(type_name), SENSOR_QOS)
                          for k, (topic, type_name) in self.adapter.state_topics.items()}
        self.pub_goal = t.create_publisher(self.config.goal_topic, Pose, LATCHED_QOS)
        self.pub_clock = t.create_publisher("/clock", Clock, COMMAND_QOS) if self.config.use_sim_time else None
        self.pub_episode = t.create_publisher("/robot_rl/episode", DiagnosticArray, COMMAND_QOS)
        t.create_subscription(self.adapter.command_topic, message_type(self.adapter.command_type), self.on_command,
                              COMMAND_QOS)

    def on_command(self, msg: Any) -> None:  # noqa: ANN401 - the robot's command message
        """Keep the latest valid command (an invalid one is counted and the previous command held)."""
        try:
            self.command = self.adapter.decode_command(msg)
        except Rejected as e:
            self.bad_commands += 1
            print(f"sim_driver: ignored command: {e}", flush=True)
            return
        self.commands_received += 1

    def stamp(self) -> int:
        """Stamp for outgoing messages: simulated time, or wall time without use_sim_time."""
        return self.sim_ns if self.config.use_sim_time else time.time_ns()

    def publish_state(self, state: Mapping[str, np.ndarray]) -> None:
        """`/clock` first, then the state topics, all stamped with the same time."""
        stamp = self.stamp()
        if self.pub_clock is not None:
            self.pub_clock.publish(Clock(clock=stamp_from_ns(stamp)))
        for key, msg in self.adapter.encode_state(state, stamp).items():
            self.pub_state[key].publish(msg)

    def start_episode(self) -> dict[str, np.ndarray]:
        """Reset the env, publish the new goal; returns the start state."""
        self.env.reset()
        goal = self.adapter.goal_from_task(self.env.task.task_info())
        self.pub_goal.publish(pose_from_position(goal))
        self.command = self.env.last_action[0].copy()
        self.episode_return, self.episode_steps = 0.0, 0
        return self.env.state_at_reset

    def step(self) -> tuple[dict[str, np.ndarray], bool]:
        """One control step with the held command; returns the state and whether the episode ended."""
        _, reward, terminated, truncated, info = self.env.step(self.command[None])
        self.sim_ns += self.dt_ns
        self.episode_return += float(reward[0])
        self.episode_steps += 1
        if not (terminated[0] or truncated[0]):
            return info["state"], False
        success = bool(info["is_success"][0])
        self.outcomes.append({"success": success, "steps": self.episode_steps, "return": self.episode_return,
                              "failure": bool(info["failure"][0])})
        index = len(self.outcomes)
        self.pub_episode.publish(episode_message(index, success, self.episode_steps, self.episode_return,
                                                 self.stamp()))
        rate = np.mean([o["success"] for o in self.outcomes])
        print(f"sim_driver: episode {index}: {'success' if success else 'failure'} after {self.episode_steps} steps "
              f"(success so far {rate:.0%})", flush=True)
        return info["state"], True

    def summary(self) -> dict[str, Any]:
        """Episode outcomes and command statistics."""
        n = len(self.outcomes)
        return {"env_id": self.config.env_id, "episodes": n,
                "success_rate": float(np.mean([o["success"] for o in self.outcomes])) if n else 0.0,
                "commands_received": self.commands_received, "bad_commands": self.bad_commands,
                "command_timeouts": self.timeouts, "outcomes": self.outcomes}


def _wait_for_command(driver: SimDriver, timeout_s: float, stop: threading.Event,
                      state: Mapping[str, np.ndarray] | None = None) -> bool:
    """Lockstep: spin until a command newer than the current count arrives (re-sending `state` every 0.1 s)."""
    count, deadline = driver.commands_received, time.monotonic() + timeout_s
    next_resend = time.monotonic() + 0.1
    while driver.commands_received == count and not stop.is_set():
        now = time.monotonic()
        if now >= deadline:
            return False
        if state is not None and now >= next_resend:
            driver.publish_state(state)
            next_resend = now + 0.1
        driver.transport.spin_once(min(deadline - now, 0.01))
    return driver.commands_received != count


def run_sim_driver(transport: Transport, params: Mapping[str, Any], stop: threading.Event) -> int:
    """The simulated robot's body: episodes until `episodes` are done or `stop` is set."""
    config = SimDriverConfig.from_parameters(params)
    driver = SimDriver(transport, config)
    mode = "lockstep" if config.realtime_factor <= 0 else f"{config.realtime_factor:g}x real time"
    print(f"sim_driver: {config.env_id} on {config.backend}, hidden reality "
          f"{config.reality_file or f'seed {config.reality_seed}'}, {mode}", flush=True)
    state = driver.start_episode()
    driver.publish_state(state)
    if config.realtime_factor <= 0 and not _wait_for_command(driver, config.startup_timeout_s, stop, state):
        print(f"sim_driver: no command within {config.startup_timeout_s} s; is the controller running?", flush=True)
        return 0 if stop.is_set() else 4
    wall_period_ns = 0 if config.realtime_factor <= 0 else round(driver.dt_ns / config.realtime_factor)
    next_wall = time.monotonic_ns() + wall_period_ns
    while not stop.is_set():
        state, done = driver.step()
        if done:
            if config.episodes and len(driver.outcomes) >= config.episodes:
                break
            state = driver.start_episode()
        driver.publish_state(state)
        if wall_period_ns == 0:
            driver.timeouts += not _wait_for_command(driver, config.command_timeout_s, stop)
            continue
        while (remaining := next_wall - time.monotonic_ns()) > 0 and not stop.is_set():
            transport.spin_once(remaining / 1e9)
        next_wall += wall_period_ns
    summary = driver.summary()
    print(f"sim_driver: {summary['episodes']} episodes, success {summary['success_rate']:.0%}, "
          f"{summary['command_timeouts']} command timeouts", flush=True)
    if config.summary_file:
        Path(config.summary_file).write_text(json.dumps(summary, indent=2))
    driver.env.close()
    return 0

