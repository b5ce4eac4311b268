"""The per-tick log record: what the controller saw, proposed, was told by the operator, and applied.

One `/robot_rl/tick` message per controller tick that published a command, a `diagnostic_msgs/DiagnosticArray`
(decoded by rosbags, `ros2 bag`, Foxglove and the MCAP tools without custom definitions) holding one
`DiagnosticStatus` named `robot_rl/tick` whose `message` is the command's source and whose key/value pairs are
the fields of `TickRecord`. Vectors are comma-separated `repr` floats (exact round trip, `nan` allowed), named
quantities are keys `q.<name>`, state stamps are keys `stamp.<state key>`. The header stamp is the tick's node time.

The record carries everything the observation is built from (the measured quantities, the goal and the last
applied command), so a dataset rebuilds the observation with the task's own spec function, and the policy's
proposal, the operator's command and the applied command side by side, so no join across topics is needed.

`/robot_rl/policy` (transient local, recorded at controller start) carries the policy's provenance: see
`policy_values`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

TICK_TOPIC = "/robot_rl/tick"
"""diagnostic_msgs/msg/DiagnosticArray, reliable, transient local (keep last 100, `LOG_QOS`): one `TickRecord` per
command sent."""
POLICY_TOPIC = "/robot_rl/policy"
"""diagnostic_msgs/msg/DiagnosticArray, reliable + transient local: the policy's hash and card, sent at start."""
INTERVENTION_TOPIC = "/robot_rl/intervention"
"""diagnostic_msgs/msg/DiagnosticArray, reliable, transient local (keep last 100): takeover onsets and ends, and the
operator's episode marks."""
TICK_STATUS, POLICY_STATUS, INTERVENTION_STATUS = "robot_rl/tick", "robot_rl/policy", "robot_rl/intervention"

SOURCES = ("policy", "operator", "hold")
"""Who produced the command that went into the filter: the policy, the operator (takeover), or nobody (the
filter's fallback: safe-stop, e-stop, or the hold command while waiting for the operator to re-enable)."""
MARKS = ("", "success", "failure")
"""An operator's episode mark on a tick: none, success or failure (buttons on the Joy)."""


@dataclass(frozen=True)
class TickRecord:
    """One controller tick, as logged."""

    tick: int
    """Published-tick counter of the controller, from 1."""
    stamp_ns: int
    """Node time of the tick (simulated time under use_sim_time), ns."""
    episode: int
    """The controller's episode counter: incremented by every new goal (the first goal is episode 1)."""
    mode: str
    """Controller mode: 'active' or 'safe-stop'."""
    source: str
    """One of `SOURCES`."""
    onset: bool
    """This tick starts a takeover (the first operator tick of an intervention)."""
    state_stamps_ns: Mapping[str, int]
    """State input key (robot.yaml's state_topics key) -> header stamp of the message used, ns."""
    quantities: Mapping[str, np.ndarray]
    """The named measured quantities the observation was built from (the adapter's decoded state)."""
    goal: np.ndarray
    """The task goal `[goal_size]` (m)."""
    last_action: np.ndarray
    """The previous applied command `[n_cmd]` (or the hold command at an episode's first tick): the observation's
    last-action input."""
    proposed: np.ndarray
    """The policy's proposal `[n_cmd]` (NaN where the policy was not asked: safe-stop, non-finite input)."""
    operator: np.ndarray | None
    """The operator's fresh command `[n_cmd]` when one was present (used or not), else None."""
    applied: np.ndarray
    """The certified command sent to the robot `[n_cmd]`."""
    operator_id: str = ""
    """Who the operator is (the Joy's `header.frame_id`, e.g. 'sim-expert:rlif' or 'joy:/dev/input/event3')."""
    mark: str = ""
    """One of `MARKS`: the operator marked the episode on this tick."""
    policy_sha256: str = ""
    """The sha256 of the ONNX file that proposed (the policy version that acted)."""
    events: tuple[str, ...] = field(default_factory=tuple)
    """Safety events that fired on this tick."""


def _vector(values: np.ndarray) -> str:
    return ",".join(map(repr, np.asarray(values, dtype=np.float64).ravel().tolist()))


def _parse_vector(text: str, key: str) -> np.ndarray:
    try:
        return np.array([float(v) for v in text.split(",")] if text else [], dtype=np.float64)
    except ValueError:
        raise ValueError(f"tick record: field '{key}' = {text[:60]!r} is not a comma-separated list of floats") \
            from None


def tick_values(record: TickRecord) -> dict[str, str]:
    """The key/value strings of `record` (the status `message` is `record.source`); inverse of `parse_tick`."""
    if record.source not in SOURCES or record.mark not in MARKS:
        raise ValueError(f"tick record: source {record.source!r} not in {SOURCES} or mark {record.mark!r} "
                         f"not in {MARKS}")
    values = {"tick": str(record.tick), "episode": str(record.episode), "mode": record.mode,
              "source": record.source, "onset": str(record.onset).lower(), "goal": _vector(record.goal),
              "last_action": _vector(record.last_action), "proposed": _vector(record.proposed),
              "operator": "" if record.operator is None else _vector(record.operator),
              "applied": _vector(record.applied), "operator_id": record.operator_id, "mark": record.mark,
              "policy_sha256": record.policy_sha256, "events": ",".join(record.events)}
    values |= {f"stamp.{k}": str(v) for k, v in record.state_stamps_ns.items()}
    values |= {f"q.{k}": _vector(v) for k, v in record.quantities.items()}
    return values


_REQUIRED = ("tick", "episode", "mode", "source", "onset", "goal", "last_action", "proposed", "operator", "applied")


def parse_tick(values: Mapping[str, str], stamp_ns: int) -> TickRecord:
    """A `TickRecord` from its key/value strings and header stamp (ns).

    Raises:
        ValueError: a required field is missing or malformed; the message names the field.

    """
    if missing := [k for k in _REQUIRED if k not in values]:
        raise ValueError(f"tick record: missing fields {missing}")
    try:
        tick, episode = int(values["tick"]), int(values["episode"])
        stamps = {k.removeprefix("stamp."): int(v) for k, v in values.items() if k.startswith("stamp.")}
    except ValueError as e:
        raise ValueError(f"tick record: a counter or stamp is not an integer: {e}") from None
    source, mark = values["source"], values.get("mark", "")
    if source not in SOURCES or mark not in MARKS or values["onset"] not in ("true", "false"):
        raise ValueError(f"tick record: field 'source' {source!r} (expected {SOURCES}), 'mark' {mark!r} or 'onset' "
                         f"{values['onset']!r} is invalid")
    quantities = {k.removeprefix("q."): _parse_vector(v, k) for k, v in values.items() if k.startswith("q.")}
    operator = values["operator"]
    return TickRecord(
        tick=tick, stamp_ns=int(stamp_ns), episode=episode, mode=values["mode"], source=source,
        onset=values["onset"] == "true", state_stamps_ns=stamps, quantities=quantities,
        goal=_parse_vector(values["goal"], "goal"), last_action=_parse_vector(values["last_action"], "last_action"),
        proposed=_parse_vector(values["proposed"], "proposed"),
        operator=_parse_vector(operator, "operator") if operator else None,
        applied=_parse_vector(values["applied"], "applied"), operator_id=values.get("operator_id", ""), mark=mark,
        policy_sha256=values.get("policy_sha256", ""),
        events=tuple(e for e in values.get("events", "").split(",") if e))


def policy_values(policy: str, sha256: str, robot: str, env_id: str, observation: str, card_yaml: str
                  ) -> dict[str, str]:
    """The `/robot_rl/policy` key/values: policy folder, ONNX sha256, robot, task, observation layout, card text.

    Args:
        policy: the policy folder as configured.
        sha256: the ONNX file's sha256 (verified against the card at load).
        robot: robot name (robot.yaml `name`).
        env_id: the task the policy was trained on.
        observation: the observation layout as 'name:size,name:size,...' (see `observation_layout`).
        card_yaml: the card.yaml text.

    """
    return {"policy": policy, "policy_sha256": sha256, "robot": robot, "env_id": env_id,
            "observation": observation, "card": card_yaml}


def observation_layout(names_sizes: list[tuple[str, int]]) -> str:
    """'name:size,...' of an observation spec's quantities, as `/robot_rl/policy` records it."""
    return ",".join(f"{name}:{size}" for name, size in names_sizes)
