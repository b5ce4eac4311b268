"""Controller step compute, off the network: part (a) of bench/control_loop.py.

The real pieces (`adapter_for`, `OnnxPolicy.load`, `SafetyFilter.for_robot`, the `Controller` node itself) run on
states recorded from the robot's own simulated env (the shipped policy driving it, randomized physics), encoded by
`adapter.encode_state` into the ROS messages the robot publishes, so every decoded quantity is realistic. Rows:

- `observation`, `act`, `certify`: each piece alone;
- `compute`: observation + `OnnxPolicy.act` + `SafetyFilter.certify`, as `Controller.tick` calls them (the goal);
- `tick`: `Controller.tick()` itself, publishing into a no-op transport (adds mode logic and message building);
- `tick+cdr`: CDR-deserialize the state messages + `on_state` + `tick()` + CDR-serialize every published message:
  the controller's whole per-tick CPU work without the network (the DDS write/read calls themselves excluded).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
ROBOTS = {"arm": ("robot_rl/ArmReach-v0", "policies/arm-reach"),
          "quadrotor": ("robot_rl/QuadrotorHover-v0", "policies/quadrotor-hover"),
          "mobile_base": ("robot_rl/MobileBaseGoal-v0", "policies/mobile-base-goal")}
"""Robot -> (env id the states are recorded in, shipped policy folder)."""
STAMP_NS = 5_000_000_000
AGE_NS = 1_000_000
"""The offline clock reads each state's stamp + 1 ms (fresh: the watchdog never rejects)."""


class _Publisher:
    """Drops messages (`cdr` False) or CDR-serializes them as a DDS write would (`cdr` True)."""

    def __init__(self, cdr: bool) -> None:
        self.cdr = cdr

    def publish(self, msg: Any) -> None:  # noqa: ANN401 - any message dataclass
        """Serialize (or drop) one message."""
        if self.cdr:
            msg.serialize(use_version_2=False)


class OfflineTransport:
    """A `Transport` without a network: subscriptions are recorded, publishers drop or serialize, the clock is set."""

    name = "offline"

    def __init__(self) -> None:
        self.clock_ns = STAMP_NS
        self.publishers: list[_Publisher] = []

    def create_publisher(self, topic: str, msg_type: type, qos: object) -> _Publisher:  # noqa: ARG002, D102
        self.publishers.append(_Publisher(cdr=False))
        return self.publishers[-1]

    def create_subscription(self, topic: str, msg_type: type, callback: Callable, qos: object) -> None:  # noqa: D102
        pass

    def set_cdr(self, cdr: bool) -> None:
        """Make every publisher serialize (True) or drop (False) what it is given."""
        for p in self.publishers:
            p.cdr = cdr

    def spin_once(self, timeout_s: float) -> None:  # noqa: D102
        pass

    def now_ns(self) -> int:  # noqa: D102
        return self.clock_ns

    def parameters(self) -> Mapping[str, Any]:  # noqa: D102
        return {}

    def shutdown(self) -> None:  # noqa: D102
        pass


def recorded_states(robot: str, steps: int, seed: int = 3) -> tuple[list[dict[str, bytes]], np.ndarray, float]:
    """`steps` states of `robot` driven by its shipped policy in the randomized MuJoCo env.

    Returns the state messages of each step as CDR bytes by state key, the first episode's goal `[goal_size]` and
    the policy's control rate (Hz). Stamps are `STAMP_NS + i * period`.
    """
    from robot_rl.deploy.adapters import adapter_for
    from robot_rl.envs import BatchedRobotEnv, entry
    from robot_rl.policy import OnnxPolicy

    env_id, policy_dir = ROBOTS[robot]
    env = BatchedRobotEnv(entry(env_id), 1, "mujoco", randomize=True)
    env.seed(seed)
    obs = env.reset()
    policy = OnnxPolicy.load(REPO / policy_dir, env.spec)
    adapter = adapter_for(env.spec)
    period_ns = round(1e9 / policy.card.control_rate_hz)
    states, goal = [], None
    for i in range(steps):
        obs, _, _, _, info = env.step(policy.act(obs[0]).astype(np.float64)[None])
        if goal is None:
            goal = adapter.goal_from_task(info["task"] | env.task.task_info())
        msgs = adapter.encode_state(info["state"], STAMP_NS + i * period_ns)
        states.append({key: msg.serialize(use_version_2=False) for key, msg in msgs.items()})
    env.close()
    return states, np.asarray(goal, dtype=np.float64), policy.card.control_rate_hz


def percentiles_us(times_ns: np.ndarray) -> dict[str, float]:
    """p50, p99 and max of `times_ns` in µs."""
    us = times_ns / 1e3
    return {"p50_us": float(np.percentile(us, 50)), "p99_us": float(np.percentile(us, 99)), "max_us": float(us.max())}


def _timed(call: Callable[[int], object], iterations: int, warmup: int = 500) -> dict[str, float]:
    for i in range(warmup):
        call(i)
    times = np.empty(iterations, dtype=np.int64)
    clock = time.perf_counter_ns
    for i in range(iterations):
        start = clock()
        call(i)
        times[i] = clock() - start
    return percentiles_us(times)


def measure_robot(robot: str, iterations: int, steps: int = 400) -> dict[str, Any]:
    """The compute rows of one robot (see the module docstring), each over `iterations` timed ticks."""
    from robot_rl.deploy.adapters import pose_from_position
    from robot_rl.deploy.controller import Controller, ControllerConfig
    from robot_rl.deploy.msgs import message_type

    raw, goal, rate_hz = recorded_states(robot, steps)
    transport = OfflineTransport()
    node = Controller(transport, ControllerConfig(robot=robot, policy=str(REPO / ROBOTS[robot][1]), auto_enable=True))
    node.on_goal(pose_from_position(goal))
    adapter, policy, safety = node.adapter, node.policy, node.safety
    types = {key: message_type(type_name) for key, (_, type_name) in adapter.state_topics.items()}
    msgs = [{k: types[k].deserialize(b) for k, b in state.items()} for state in raw]
    decoded = [{k: adapter.decode(k, m) for k, m in state.items()} for state in msgs]
    qs = [{name: v for _, values in state.values() for name, v in values.items()} for state in decoded]
    stamps = [min(s for s, _ in state.values()) for state in decoded]
    last = [adapter.hold_command(q) for q in qs]
    n = len(qs)

    def observation(i: int) -> np.ndarray:
        return adapter.observation(qs[i % n], goal, last[i % n])

    obs = [observation(i) for i in range(n)]
    proposed = [policy.act(o[0]).astype(np.float64) for o in obs]

    def safety_state(i: int) -> dict[str, np.ndarray]:
        return adapter.safety_state(qs[i % n]) | {
            "inputs_finite": np.array([True]), "input_age_s": np.array([AGE_NS / 1e9]),
            "estop": np.array([False]), "last_applied": last[i % n][None]}

    def compute(i: int) -> object:  # what Controller.tick computes, without its bookkeeping and publishing
        o = adapter.observation(qs[i % n], goal, last[i % n])
        finite = bool(np.isfinite(o).all())
        p = policy.act(o[0]).astype(np.float64)
        return safety.certify(safety_state(i) | {"inputs_finite": np.array([finite])}, p[None])

    def tick(i: int) -> None:
        k = i % n
        transport.clock_ns = stamps[k] + AGE_NS
        node.inputs = {key: decoded[k][key] for key in decoded[k]}
        node.tick()

    def wire(i: int) -> None:
        k = i % n
        transport.clock_ns = stamps[k] + AGE_NS
        for key, data in raw[k].items():
            node.on_state(key, types[key].deserialize(data))
        node.tick()

    states = [safety_state(i) for i in range(n)]
    rows = {"observation": _timed(observation, iterations),
            "act": _timed(lambda i: policy.act(obs[i % n][0]), iterations),
            "certify": _timed(lambda i: safety.certify(states[i % n], proposed[i % n][None]), iterations),
            "compute": _timed(compute, iterations), "tick": _timed(tick, iterations)}
    transport.set_cdr(True)
    rows["tick+cdr"] = _timed(wire, iterations)
    sizes = {k: len(b) for k, b in raw[0].items()}
    return {"robot": robot, "policy": ROBOTS[robot][1], "n_obs": policy.n_obs, "card_rate_hz": rate_hz,
            "states": n, "mode": node.mode, "state_bytes": sizes, "rows": rows}
