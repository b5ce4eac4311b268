"""Messages the nodes report with: command vectors, safety events, controller and episode diagnostics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from robot_rl.data.ticks import (
    INTERVENTION_STATUS,
    POLICY_STATUS,
    TICK_STATUS,
    TickRecord,
    observation_layout,
    policy_values,
    tick_values,
)
from robot_rl.deploy.msgs import (
    DiagnosticArray,
    DiagnosticStatus,
    Float64MultiArray,
    KeyValue,
    MultiArrayDimension,
    MultiArrayLayout,
    stamp_from_ns,
)

if TYPE_CHECKING:
    from robot_rl.policy import OnnxPolicy


def vector_message(values: np.ndarray, names: Sequence[str]) -> Float64MultiArray:
    """A Float64MultiArray of `values` `[n]` whose layout label lists the element names."""
    data = [float(v) for v in values]
    dim = MultiArrayDimension(label=",".join(names), size=len(data), stride=len(data))
    return Float64MultiArray(layout=MultiArrayLayout(dim=[dim], data_offset=0), data=data)


def status_array(name: str, level: int, message: str, values: Mapping[str, object], stamp: int) -> DiagnosticArray:
    """One DiagnosticStatus `name` with `values` as key/value strings, in a stamped DiagnosticArray."""
    status = DiagnosticStatus(level=level, name=name, message=message, hardware_id="robot_rl",
                              values=[KeyValue(key=k, value=_text(v)) for k, v in values.items()])
    msg = DiagnosticArray(status=[status])
    msg.header.stamp = stamp_from_ns(stamp)
    return msg


def _text(value: object) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def events_message(active: Sequence[str], mode: str, stamp: int) -> DiagnosticArray:
    """The safety events of one tick (`active`: event names that fired), WARN level (ERROR for a fallback)."""
    level = DiagnosticStatus.ERROR if "fallback" in active else DiagnosticStatus.WARN
    return status_array("robot_rl/safety", level, ",".join(active), {"mode": mode, "events": ",".join(active)}, stamp)


def controller_status(mode: str, loop: Mapping[str, float], input_ages_s: Mapping[str, float],
                      interventions: Mapping[str, int], rejections: Mapping[str, int], stamp: int,
                      policy: Mapping[str, str]) -> DiagnosticArray:
    """`/diagnostics` of the controller: mode, policy, loop timing, input ages, interventions, rejections.

    Values: the policy (folder, sha256); loop period, jitter, misses, compute; input ages (s); filter interventions
    and rejected messages (counts since start).

    Level: ERROR in safe-stop, WARN with deadline misses in the window, else OK.
    """
    level = DiagnosticStatus.ERROR if mode == "safe-stop" else (
        DiagnosticStatus.WARN if loop.get("deadline_misses", 0) else DiagnosticStatus.OK)
    values: dict[str, object] = {"mode": mode, **policy, **loop}
    values |= {f"input_age_s{topic}": age for topic, age in input_ages_s.items()}
    values |= {f"interventions.{k}": v for k, v in sorted(interventions.items())}
    values |= {f"rejections.{k}": v for k, v in sorted(rejections.items())}
    return status_array("robot_rl/controller", level, mode, values, stamp)


def episode_message(index: int, success: bool, steps: int, episode_return: float, stamp: int) -> DiagnosticArray:
    """`/robot_rl/episode` from the simulated robot: one finished episode."""
    return status_array("robot_rl/episode", DiagnosticStatus.OK if success else DiagnosticStatus.WARN,
                        "success" if success else "failure",
                        {"index": index, "success": success, "steps": steps, "return": episode_return}, stamp)


def tick_message(record: TickRecord) -> DiagnosticArray:
    """`/robot_rl/tick`: one controller tick's `TickRecord` (status message = the command's source)."""
    return status_array(TICK_STATUS, DiagnosticStatus.OK, record.source, tick_values(record), record.stamp_ns)


def policy_message(folder: str, policy: OnnxPolicy, robot: str, stamp: int,
                   gate: Mapping[str, str] | None = None) -> DiagnosticArray:
    """`/robot_rl/policy` (transient local): the policy's folder, ONNX sha256, robot, task, observation, card.

    `gate`: the release-gate check's values (`robot_rl.deploy.gate_check.hardware_gate`), recorded with them.
    """
    card = policy.card
    layout = observation_layout([(q.name, q.size) for q in card.observation.quantities])
    card_text = (Path(policy.folder) / "card.yaml").read_text()
    values = policy_values(folder, card.onnx.sha256, robot, card.env_id, layout, card_text) | dict(gate or {})
    return status_array(POLICY_STATUS, DiagnosticStatus.OK, card.onnx.sha256, values, stamp)


def intervention_message(kind: str, reason: str, operator_id: str, episode: int, onsets: int,
                         stamp: int) -> DiagnosticArray:
    """`/robot_rl/intervention`: a takeover 'onset' or 'end' (with its reason), or an operator's 'mark'.

    Args:
        kind: 'onset', 'end' or 'mark'.
        reason: onset: 'deadman' or 'command'; end: 'released', 'stale', 'estop', 'disabled'; mark: 'success' or
            'failure'.
        operator_id: who (the Joy's frame_id).
        episode: the controller's episode counter.
        onsets: takeover onsets so far (this one included).
        stamp: node time, ns.

    """
    return status_array(INTERVENTION_STATUS, DiagnosticStatus.WARN if kind == "onset" else DiagnosticStatus.OK,
                        kind, {"kind": kind, "reason": reason, "operator_id": operator_id, "episode": episode,
                               "onsets": onsets}, stamp)
