"""Identification logs: read from recorded bags (the controller's tick records), or simulated under a known reality.

A bag gives, per controller tick, the measured state the tick saw and the command it applied
(`robot_rl.data.ticks.TickRecord`); ticks are cut into segments at every gap in the tick counter and at every new
episode (the simulated robot teleports between episodes). `check_excitation` refuses a log too short or too still
to identify anything from, naming what is missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from robot_rl.data.dataset import files_sha256, readable_bag
from robot_rl.data.intervention_log import DatasetError, read_log
from robot_rl.envs.plants import PLANTS
from robot_rl.robots import RobotSpec
from robot_rl.sysid.replay import SysidLog, clip_segments, delayed, replay_class, warm_segments
from robot_rl.sysid.replay_mobile_base import simulate_mobile_base_log
from robot_rl.sysid.replay_quadrotor import simulate_quadrotor_log

MIN_MOTION_RAD = 0.02
"""A joint whose measured position spans less than this is not excited, rad."""
MIN_RATE_RAD_S = 0.2
"""A quadrotor body axis whose measured rate spans less than this is not excited, rad/s."""
MIN_SPEEDS = (0.2, 0.4)
"""A mobile base whose forward speed (m/s) and yaw rate (rad/s) span less than these is not excited (10x and 20x
their noise in robot.yaml: 200 still ticks span 5.5x)."""
STATE_QUANTITIES = {"arm": (("joint_pos_rad",), ("joint_vel_rad_s",)),
                    "quadrotor": (("position_m", "quat_wxyz"), ("linear_velocity_m_s", "angular_velocity_rad_s")),
                    "mobile_base": (("base_xy_m", "base_yaw_rad"), ("forward_velocity_m_s", "yaw_rate_rad_s"))}
"""Robot kind -> the tick record quantities that make up `SysidLog.q` and `SysidLog.qd` (concatenated)."""


class SysidError(ValueError):
    """Input that cannot be identified from; the message names the file, field or parameter at fault."""


def segments_of(ticks: Sequence[int], episodes: Sequence[int]) -> list[tuple[int, int]]:
    """Contiguous ranges [start, end) of record indices: a new one at a tick-counter gap or a new episode.

    >>> segments_of([1, 2, 3, 5, 6, 7], [1, 1, 1, 1, 1, 2])
    [(0, 3), (3, 5), (5, 6)]
    """
    cuts = [0] + [i for i in range(1, len(ticks)) if ticks[i] != ticks[i - 1] + 1 or episodes[i] != episodes[i - 1]]
    return [(a, b) for a, b in zip(cuts, cuts[1:] + [len(ticks)], strict=True)]


def _bag_log(path: Path, spec: RobotSpec) -> SysidLog:
    name = str(path)
    try:
        with readable_bag(path, recover=True) as (bag, _):
            log = read_log(bag, name)
    except DatasetError as e:
        raise SysidError(str(e)) from None
    if log.provenance.robot != spec.name:
        raise SysidError(f"{name}: topic /robot_rl/policy, field 'robot': the bag is of robot "
                         f"'{log.provenance.robot}', not '{spec.name}'")
    recs = log.records
    if spec.kind not in STATE_QUANTITIES:
        raise SysidError(f"{name}: robot '{spec.name}' ({spec.kind}): no identification for this kind yet")
    pos_keys, vel_keys = STATE_QUANTITIES[spec.kind]
    missing = [k for k in pos_keys + vel_keys if k not in recs[0].quantities]
    if missing:
        raise SysidError(f"{name}: topic /robot_rl/tick: quantities {missing} missing (has "
                         f"{sorted(recs[0].quantities)})")
    q = np.array([np.concatenate([r.quantities[k] for k in pos_keys]) for r in recs])
    qd = np.array([np.concatenate([r.quantities[k] for k in vel_keys]) for r in recs])
    cmd = np.array([r.applied for r in recs])
    segments = segments_of([r.tick for r in recs], [r.episode for r in recs])
    if spec.kind == "mobile_base":  # heading continuous inside each segment, as the replay predicts it
        for a, b in segments:
            q[a:b, 2] = np.unwrap(q[a:b, 2])
    files = sorted(path.glob("*.mcap")) if path.is_dir() else [path]
    return SysidLog(spec.name, spec.control_dt_s, q, qd, cmd, segments,
                    [{"path": name, "sha256": files_sha256(files)}])


def log_from_bags(paths: Sequence[str | Path], spec: RobotSpec) -> SysidLog:
    """One log of every tick of the bags in `paths`, each bag its own segments (SysidError names the bag at fault)."""
    if not paths:
        raise SysidError("no bags given")
    logs = [_bag_log(Path(p), spec) for p in paths]
    return concatenate(logs)


def concatenate(logs: Sequence[SysidLog]) -> SysidLog:
    """Logs one after the other; segments never cross from one log into the next."""
    offsets = np.cumsum([0] + [len(x.q) for x in logs])
    segments = [(a + o, b + o) for x, o in zip(logs, offsets, strict=False) for a, b in x.segments]
    return SysidLog(logs[0].robot, logs[0].dt_s, np.concatenate([x.q for x in logs]),
                    np.concatenate([x.qd for x in logs]), np.concatenate([x.command for x in logs]), segments,
                    [s for x in logs for s in x.sources])


def check_excitation(log: SysidLog, spec: RobotSpec, window: int, min_duration_s: float,
                     span: tuple[int, int] | None = None) -> list[str]:
    """Refuse ticks `span` of a log that cannot identify anything; return the joints it leaves still (warnings).

    Raises:
        SysidError: less than `min_duration_s` of windowed ticks, or nothing moved (no joint `MIN_MOTION_RAD`, no
            quadrotor body rate `MIN_RATE_RAD_S`, no mobile-base speed `MIN_SPEEDS`).

    """
    a, b = span or (0, len(log.q))
    parts = [e - s for s, e in clip_segments(warm_segments(log, replay_class(spec).warmup_s), (a, b))]
    usable = sum(max(0, n - 1) // window * window for n in parts) * log.dt_s
    where = ", ".join(s["path"] for s in log.sources) or "log"
    if usable < min_duration_s:
        raise SysidError(f"{where}: too little excitation: {usable:.2f} s of replayable ticks in ticks {a}..{b} "
                         f"({len(parts)} segment(s)), need {min_duration_s:g} s in segments of at least "
                         f"{window + 1} ticks")
    if spec.arm is not None:
        names, what, least = [j.name for j in spec.arm.joints], "joint moved", MIN_MOTION_RAD
        span = np.ptp(log.q[a:b], axis=0)
    elif spec.quadrotor is not None:
        names, what, least = ["roll rate", "pitch rate", "yaw rate"], "body rate spanned", MIN_RATE_RAD_S
        span = np.ptp(log.qd[a:b, 3:6], axis=0)
    else:
        names, what, least = ["forward speed", "yaw rate"], "speed spanned", np.array(MIN_SPEEDS)
        span = np.ptp(log.qd[a:b], axis=0)
    still = [n for n, s, m in zip(names, span, np.broadcast_to(least, span.shape), strict=True) if s < m]
    if len(still) == len(names):
        raise SysidError(f"{where}: no excitation in ticks {a}..{b}: no {what} {least} (spans "
                         f"{np.round(span, 4).tolist()})")
    return still


SENSOR_NOISE = {"arm": (1e-4, 1e-3), "quadrotor": (2e-4, 2e-3, 1e-2), "mobile_base": (1e-3, 2e-3, 0.02, 0.02)}
"""White sensor noise std per kind at `noise` 1: arm joint encoders (rad, rad/s); quadrotor motion capture and
gyro (position m, velocity m/s, body rates rad/s); mobile base external pose (motion capture or lidar
localization: position m, yaw rad) and its speeds (m/s, rad/s: robot.yaml's observation noise)."""


def simulate_log(spec: RobotSpec, commands: np.ndarray, reality: Mapping[str, float], noise: float = 0.0,
                 seed: int = 0) -> SysidLog:
    """A log of the excitation `commands` (`robot_rl.sysid.schedule.design_commands`) run under `reality`.

    `noise` scales each kind's benchmark sensor noise (`SENSOR_NOISE`); 0 is noise-free.
    """
    if spec.kind == "quadrotor":
        std = tuple(noise * x for x in SENSOR_NOISE["quadrotor"])
        return simulate_quadrotor_log(spec, commands, reality, std, seed)
    if spec.kind == "mobile_base":
        return simulate_mobile_base_log(spec, commands, reality, tuple(noise * x for x in SENSOR_NOISE["mobile_base"]),
                                        seed)
    return simulate_arm_log(spec, commands, reality, tuple(noise * x for x in SENSOR_NOISE["arm"]), seed)


def simulate_arm_log(spec: RobotSpec, commands: np.ndarray, reality: Mapping[str, float],
                     noise_std: tuple[float, float] = (0.0, 0.0), seed: int = 0, backend: str = "mujoco") -> SysidLog:
    """Run `commands` `[T, n]` rad on the simulated arm under `reality` from rest at home; a log of what it measured.

    Independent of `ArmReplay`: the plant's own control path, latency `reality['action_latency_steps']` applied
    as the env applies it. `noise_std` (rad, rad/s) is white sensor noise on the measured positions and velocities.
    """
    plant = PLANTS[spec.kind](spec, backend, 1)
    params = dict(plant.nominal_parameters(), **reality)
    plant.apply_parameters(np.zeros(1, dtype=int), {k: np.array([v], dtype=np.float64) for k, v in params.items()})
    home = np.asarray(spec.arm.home_rad, dtype=np.float64)
    plant.backend.set_joint_state(np.zeros(1, dtype=int), home[None], np.zeros((1, len(home))))
    rng = np.random.default_rng(seed)
    plant.reset(np.zeros(1, dtype=int), home[None], rng)
    executed = delayed(np.asarray(commands, dtype=np.float64), int(params["action_latency_steps"]), home)
    q, qd = np.empty_like(executed), np.empty_like(executed)
    for t, command in enumerate(executed):
        q[t], qd[t] = (x[0] for x in plant.backend.joint_state())
        plant.control_step(command[None], rng)
    q += noise_std[0] * rng.standard_normal(q.shape)
    qd += noise_std[1] * rng.standard_normal(qd.shape)
    return SysidLog(spec.name, spec.control_dt_s, q, qd, np.asarray(commands, dtype=np.float64),
                    [(0, len(q))], [{"path": "simulated", "sha256": ""}])
