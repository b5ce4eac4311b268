"""The reality gap in numbers: normalized RMS error of open-loop replay at several horizons, per joint (arm) or axis.

For a horizon of H ticks, every window of H ticks starts from the measured state and runs the recorded commands
open loop (`robot_rl.sysid.replay.make_replay`); per joint (quadrotor: position axis) j,

    NRMSE_j(H) = sqrt(mean over windows and ticks of (q_pred - q_meas)^2) / std(q_meas over the log),

so 0 is a perfect model and 1 is an error as large as the joint's own motion. The full horizon is one window per
segment, as long as the shortest segment allows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from robot_rl.robots import RobotSpec
from robot_rl.sysid.replay import SysidLog, clip_segments, make_replay, replay_class, warm_segments

HORIZONS_S = (0.5, 2.0, None)
"""Replay horizons of the report, s (None: the full segment)."""


def nrmse(pred_q: np.ndarray, meas_q: np.ndarray, joint_std: np.ndarray) -> np.ndarray:
    """Per-joint NRMSE `[n]` of predicted vs measured positions `[..., n]` rad, normalized by `joint_std` `[n]`.

    >>> nrmse(np.array([[1.0, 0.0], [1.0, 2.0]]), np.zeros((2, 2)), np.array([1.0, 2.0])).tolist()
    [1.0, 0.7071067811865476]
    """
    err = (pred_q - meas_q).reshape(-1, pred_q.shape[-1])
    return np.sqrt(np.mean(err**2, axis=0)) / np.maximum(joint_std, 1e-12)


def horizon_ticks(log: SysidLog, span: tuple[int, int], horizon_s: float | None, warmup_s: float = 0.0
                  ) -> int:
    """Window length in ticks for a horizon inside `span` (None: its shortest segment part minus one tick).

    `warmup_s`: the replay's (`WindowedReplay.warmup_s`): no window starts in a segment's first `warmup_s`.
    """
    longest = min(e - s for s, e in clip_segments(warm_segments(log, warmup_s), span)) - 1
    return longest if horizon_s is None else min(longest, max(1, round(horizon_s / log.dt_s)))


def replay_positions(spec: RobotSpec, log: SysidLog, span: tuple[int, int], params: Mapping[str, float],
                     ticks: int) -> tuple[np.ndarray, np.ndarray]:
    """Predicted and measured positions `[n_windows, ticks, n]` (joints rad, or x y z m) of `ticks`-long windows."""
    replay = make_replay(spec, log, ticks, span)
    return replay.positions(replay.predict([params])[0]), replay.positions(replay.measured())


def gap_table(spec: RobotSpec, log: SysidLog, span: tuple[int, int], models: Mapping[str, Mapping[str, float]],
              horizons_s: Sequence[float | None] = HORIZONS_S) -> dict[str, dict[str, list[float]]]:
    """Model name -> horizon label -> per-joint NRMSE `[n]` over ticks `span` (labels '0.5 s', '2 s', 'full')."""
    n = len(position_names(spec))
    std = log.q[span[0] : span[1], :n].std(axis=0)
    out: dict[str, dict[str, list[float]]] = {}
    for name, params in models.items():
        out[name] = {}
        for h in horizons_s:
            ticks = horizon_ticks(log, span, h, replay_class(spec).warmup_s)
            pred, meas = replay_positions(spec, log, span, params, ticks)
            out[name]["full" if h is None else f"{h:g} s"] = nrmse(pred, meas, std).tolist()
    return out


def position_names(spec: RobotSpec) -> tuple[str, ...]:
    """What the NRMSE is per: the arm's joints, the quadrotor's axes, the mobile base's planar position."""
    if spec.arm is not None:
        return tuple(j.name for j in spec.arm.joints)
    return ("x", "y", "z") if spec.quadrotor is not None else ("x", "y")


def mean_nrmse(table: Mapping[str, Sequence[float]]) -> dict[str, float]:
    """Horizon label -> NRMSE averaged over joints."""
    return {h: float(np.mean(v)) for h, v in table.items()}
