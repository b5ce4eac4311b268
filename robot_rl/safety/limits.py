"""The safety filter's limits per robot, from robot.yaml (command limits + `safety:` block) and deployment overrides.

robot.yaml holds the hardware limits. A deployment may pass overrides that only TIGHTEN them (a narrower position
range, lower speeds, accelerations, thrust or tilt, a smaller workspace or geofence, a larger margin, stop distance
or footprint). Loosening any limit is a ValueError naming the field, the value and the hardware limit; an unknown
key is a ValueError listing the known ones. Arrays in the dataclasses are read-only float64.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from robot_rl.robots import RobotSpec
from robot_rl.robots.kinematics import KinematicChain, arm_chain

GRAVITY_M_S2 = 9.81

# Direction in which a limit may move under an override: "le" = may only decrease, "ge" = may only increase.
_ARM_RULES = {
    "watchdog_periods": "le", "position_min_rad": "ge", "position_max_rad": "le", "joint_margin_rad": "ge",
    "velocity_max_rad_s": "le", "acceleration_max_rad_s2": "le", "jerk_max_rad_s3": "le", "workspace_low_m": "ge",
    "workspace_high_m": "le",
}
_QUAD_RULES = {
    "watchdog_periods": "le", "thrust_min_n": "ge", "thrust_max_n": "le", "body_rate_max_rad_s": "le",
    "tilt_max_rad": "le", "geofence_low_m": "ge", "geofence_high_m": "le", "brake_accel_m_s2": "le",
    "descent_speed_m_s": "le",
}
_BASE_RULES = {
    "watchdog_periods": "le", "linear_velocity_min_m_s": "ge", "linear_velocity_max_m_s": "le",
    "angular_velocity_min_rad_s": "ge", "angular_velocity_max_rad_s": "le", "accel_max_m_s2": "le",
    "angular_accel_max_rad_s2": "le", "stop_distance_m": "ge", "brake_decel_m_s2": "le", "footprint_radius_m": "ge",
}


def _array(values: Any) -> np.ndarray:  # noqa: ANN401 - sequences or scalars from YAML
    a = np.array(values, dtype=np.float64)
    a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class ArmLimits:
    """Arm limits; per-joint arrays `[n_joints]` in command order."""

    control_dt_s: float
    watchdog_periods: float
    position_min_rad: np.ndarray
    position_max_rad: np.ndarray
    joint_margin_rad: float
    velocity_max_rad_s: np.ndarray
    acceleration_max_rad_s2: np.ndarray
    """Executed joint acceleration bound, rad/s^2: enforced by the jerk-limited generator after the filter."""
    jerk_max_rad_s3: np.ndarray
    """Executed joint jerk bound, rad/s^3: enforced by the jerk-limited generator after the filter."""
    workspace_low_m: np.ndarray
    workspace_high_m: np.ndarray
    chain: KinematicChain = field(repr=False)
    target_min_rad: np.ndarray = field(init=False)
    """`position_min_rad + joint_margin_rad`: the lowest target the filter lets through."""
    target_max_rad: np.ndarray = field(init=False)
    """`position_max_rad - joint_margin_rad`."""
    velocity_min_rad_s: np.ndarray = field(init=False)
    """`-velocity_max_rad_s`."""
    control_rate_hz: float = field(init=False)
    """`1 / control_dt_s`."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "velocity_min_rad_s", _array(-self.velocity_max_rad_s))
        object.__setattr__(self, "control_rate_hz", 1.0 / self.control_dt_s)
        lo, hi = self.position_min_rad + self.joint_margin_rad, self.position_max_rad - self.joint_margin_rad
        if not (lo <= hi).all():
            raise ValueError(f"joint_margin_rad {self.joint_margin_rad} leaves no position range {lo} .. {hi}")
        object.__setattr__(self, "target_min_rad", _array(lo))
        object.__setattr__(self, "target_max_rad", _array(hi))
        _check_box(self.workspace_low_m, self.workspace_high_m, "workspace")


@dataclass(frozen=True, eq=False)
class QuadrotorLimits:
    """Quadrotor limits; rates `[3]` roll, pitch, yaw (body frame), boxes `[3]` world x, y, z."""

    control_dt_s: float
    watchdog_periods: float
    mass_kg: float
    thrust_min_n: float
    thrust_max_n: float
    body_rate_max_rad_s: np.ndarray
    tilt_max_rad: float
    geofence_low_m: np.ndarray
    geofence_high_m: np.ndarray
    brake_accel_m_s2: float
    descent_speed_m_s: float
    command_low: np.ndarray = field(init=False)
    """`[thrust_min_n, -body_rate_max_rad_s]` `[4]`."""
    command_high: np.ndarray = field(init=False)
    """`[thrust_max_n, body_rate_max_rad_s]` `[4]`."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "command_low", _array([self.thrust_min_n, *(-self.body_rate_max_rad_s)]))
        object.__setattr__(self, "command_high", _array([self.thrust_max_n, *self.body_rate_max_rad_s]))
        hover = self.mass_kg * GRAVITY_M_S2
        if not self.thrust_min_n < hover < self.thrust_max_n:
            raise ValueError(f"thrust range {self.thrust_min_n} .. {self.thrust_max_n} N must contain the hover "
                             f"thrust {hover:.4f} N")
        if not 0 < self.tilt_max_rad < math.pi / 2:
            raise ValueError(f"tilt_max_rad {self.tilt_max_rad} must lie in (0, pi/2)")
        _check_box(self.geofence_low_m, self.geofence_high_m, "geofence")


@dataclass(frozen=True, eq=False)
class MobileBaseLimits:
    """Mobile-base limits; `beam_cos`/`beam_sin` `[n_beams]` give each lidar beam's direction in the base frame."""

    control_dt_s: float
    watchdog_periods: float
    linear_velocity_min_m_s: float
    linear_velocity_max_m_s: float
    angular_velocity_min_rad_s: float
    angular_velocity_max_rad_s: float
    accel_max_m_s2: float
    angular_accel_max_rad_s2: float
    stop_distance_m: float
    brake_decel_m_s2: float
    footprint_radius_m: float
    beam_cos: np.ndarray
    beam_sin: np.ndarray
    command_low: np.ndarray = field(init=False)
    """`[linear_velocity_min_m_s, angular_velocity_min_rad_s]`."""
    command_high: np.ndarray = field(init=False)
    """`[linear_velocity_max_m_s, angular_velocity_max_rad_s]`."""
    command_step: np.ndarray = field(init=False)
    """`[accel_max_m_s2, angular_accel_max_rad_s2] * control_dt_s`: largest change per cycle when speeding up."""
    lane_radius2_m2: float = field(init=False)
    """`(footprint_radius_m + stop_distance_m)^2`."""
    beam_abs_cos: np.ndarray = field(init=False)
    """`|beam_cos|`."""
    rear_penalty: np.ndarray = field(init=False)
    """0 for beams ahead (`beam_cos > 0`), inf for the others: added before taking the forward minimum."""
    front_penalty: np.ndarray = field(init=False)
    """inf for beams ahead, 0 for the others."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "command_low", _array([self.linear_velocity_min_m_s, self.angular_velocity_min_rad_s]))
        object.__setattr__(self, "command_high", _array([self.linear_velocity_max_m_s,
                                                         self.angular_velocity_max_rad_s]))
        object.__setattr__(self, "command_step", _array(np.array([self.accel_max_m_s2, self.angular_accel_max_rad_s2])
                                                        * self.control_dt_s))
        object.__setattr__(self, "lane_radius2_m2", (self.footprint_radius_m + self.stop_distance_m) ** 2)
        object.__setattr__(self, "beam_abs_cos", _array(np.abs(self.beam_cos)))
        ahead = self.beam_cos > 0
        object.__setattr__(self, "rear_penalty", _array(np.where(ahead, 0.0, np.inf)))
        object.__setattr__(self, "front_penalty", _array(np.where(ahead, np.inf, 0.0)))
        ranges = {"linear_velocity": (self.linear_velocity_min_m_s, self.linear_velocity_max_m_s),
                  "angular_velocity": (self.angular_velocity_min_rad_s, self.angular_velocity_max_rad_s)}
        for name, (lo, hi) in ranges.items():
            if not lo <= 0.0 <= hi:
                raise ValueError(f"{name} range {lo} .. {hi} must contain 0 (stopping is always allowed)")


def _check_box(low: np.ndarray, high: np.ndarray, what: str) -> None:
    if not (np.asarray(low) < np.asarray(high)).all():
        raise ValueError(f"{what}_low_m {low} is not below {what}_high_m {high}")


def _safety_block(spec: RobotSpec) -> Any:  # noqa: ANN401 - the kind's safety model
    if spec.safety is None:
        raise ValueError(f"robot '{spec.name}' has no 'safety:' block in robot.yaml")
    return spec.safety


def _arm_hardware(spec: RobotSpec) -> ArmLimits:
    a, s = spec.arm, _safety_block(spec)
    return ArmLimits(
        control_dt_s=spec.control_dt_s,
        watchdog_periods=s.watchdog_periods,
        position_min_rad=_array(np.maximum([j.position_min_rad for j in a.joints], spec.command.low)),
        position_max_rad=_array(np.minimum([j.position_max_rad for j in a.joints], spec.command.high)),
        joint_margin_rad=s.joint_margin_rad,
        velocity_max_rad_s=_array([j.velocity_max_rad_s for j in a.joints]),
        acceleration_max_rad_s2=_array([j.acceleration_max_rad_s2 for j in a.joints]),
        jerk_max_rad_s3=_array([j.jerk_max_rad_s3 for j in a.joints]),
        workspace_low_m=_array(s.workspace_low_m),
        workspace_high_m=_array(s.workspace_high_m),
        chain=arm_chain(spec),
    )


def _quadrotor_hardware(spec: RobotSpec) -> QuadrotorLimits:
    s = _safety_block(spec)
    return QuadrotorLimits(
        control_dt_s=spec.control_dt_s,
        watchdog_periods=s.watchdog_periods,
        mass_kg=spec.quadrotor.mass_kg,
        thrust_min_n=spec.command.low[0],
        thrust_max_n=spec.command.high[0],
        body_rate_max_rad_s=_array(s.body_rate_max_rad_s),
        tilt_max_rad=s.tilt_max_rad,
        geofence_low_m=_array(s.geofence_low_m),
        geofence_high_m=_array(s.geofence_high_m),
        brake_accel_m_s2=s.brake_accel_m_s2,
        descent_speed_m_s=s.descent_speed_m_s,
    )


def _mobile_base_hardware(spec: RobotSpec) -> MobileBaseLimits:
    s, lidar = _safety_block(spec), spec.mobile_base.lidar
    angles = lidar.fov_rad / lidar.num_beams * np.arange(lidar.num_beams)  # beam 0 ahead, counter-clockwise
    return MobileBaseLimits(
        control_dt_s=spec.control_dt_s,
        watchdog_periods=s.watchdog_periods,
        linear_velocity_min_m_s=spec.command.low[0],
        linear_velocity_max_m_s=spec.command.high[0],
        angular_velocity_min_rad_s=spec.command.low[1],
        angular_velocity_max_rad_s=spec.command.high[1],
        accel_max_m_s2=s.accel_max_m_s2,
        angular_accel_max_rad_s2=s.angular_accel_max_rad_s2,
        stop_distance_m=s.stop_distance_m,
        brake_decel_m_s2=s.brake_decel_m_s2,
        footprint_radius_m=s.footprint_radius_m,
        beam_cos=_array(np.cos(angles)),
        beam_sin=_array(np.sin(angles)),
    )


_HARDWARE = {"arm": (_arm_hardware, _ARM_RULES), "quadrotor": (_quadrotor_hardware, _QUAD_RULES),
             "mobile_base": (_mobile_base_hardware, _BASE_RULES)}


def _tightened(name: str, rule: str, hardware: Any, value: Any) -> Any:  # noqa: ANN401 - float or array
    """The override `value` for field `name`, checked to be no looser than `hardware` under `rule`."""
    hw = np.asarray(hardware, dtype=np.float64)
    try:
        v = np.broadcast_to(np.asarray(value, dtype=np.float64), hw.shape)
    except (TypeError, ValueError):
        raise ValueError(f"override '{name}' = {value!r} must be a number or {hw.size} numbers") from None
    if not np.isfinite(v).all():
        raise ValueError(f"override '{name}' = {value!r} must be finite")
    looser = (v > hw) if rule == "le" else (v < hw)
    if looser.any():
        word = "above" if rule == "le" else "below"
        raise ValueError(f"override '{name}' = {value!r} loosens the hardware limit {hw.tolist()} from robot.yaml "
                         f"({word} it); overrides may only tighten limits")
    return float(v) if hw.ndim == 0 else _array(v)


def limits_for(
    spec: RobotSpec, overrides: Mapping[str, Any] | None = None
) -> ArmLimits | QuadrotorLimits | MobileBaseLimits:
    """The robot's safety limits, optionally tightened for one deployment.

    Args:
        spec: the robot (its `command` limits and `safety:` block are the hardware limits).
        overrides: `{field: value}` with fields of the robot's limits dataclass (scalars broadcast over arrays).

    Returns:
        `ArmLimits`, `QuadrotorLimits` or `MobileBaseLimits`.

    Raises:
        ValueError: the robot has no safety block, a key is unknown (the message lists the known ones), an
            override loosens a hardware limit (the message names field, value and limit), or the tightened limits
            are inconsistent (empty ranges, thrust range without the hover thrust).

    """
    build, rules = _HARDWARE[spec.kind]
    hardware = build(spec)
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(rules))
    if unknown:
        raise ValueError(f"unknown safety override(s) {unknown} for {spec.kind}; known: {sorted(rules)}")
    changes = {k: _tightened(k, rules[k], getattr(hardware, k), v) for k, v in overrides.items()}
    init = {f.name for f in fields(hardware) if f.init}
    return replace(hardware, **{k: v for k, v in changes.items() if k in init})
