"""Per-robot maps from a `sensor_msgs/Joy` state to a command in the robot's own units, configured in YAML.

A Joy state is `axes` `[n_axes]` float (-1..1) and `buttons` `[n_buttons]` int (0/1), indexed as the ROS `joy` node
numbers them. Each robot kind maps it in its task's natural space (`sim/<robot>/teleop.yaml` holds the mapping):

- arm: end-effector Cartesian velocity, m/s, integrated into a TCP reference and turned into joint position targets
  by the reach task's damped-least-squares IK (`ArmReachExpert`); zero velocity holds the last joint targets;
- quadrotor: world-frame velocity, m/s, integrated into a position setpoint (leashed to the measured position) that
  the hover task's cascade controller (`QuadrotorHoverExpert`) flies; yaw rate, rad/s, passed through;
- mobile base: body twist `[linear_x m/s, angular_z rad/s]` with teleop_twist_joy's parameters and semantics.

Speed selection follows teleop_twist_joy: the turbo button (if any) held gives the turbo scales, else the enable
button held gives the normal scales, else the velocity is zero. An axis index of -1 disables that component; so does
a button index of -1 (except the enable button, which the takeover's deadman needs). Every command is clipped to the
robot's command limits; the safety filter downstream still certifies it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ClassVar, Literal

import numpy as np
from pydantic import Field, ValidationError, model_validator

from robot_rl.envs.experts import ArmReachExpert, QuadrotorHoverExpert
from robot_rl.robots import RobotSpec, arm_chain, format_validation_error, forward_kinematics, read_yaml
from robot_rl.robots.spec import ArmSafety, QuadrotorSafety, StrictModel

AXIS_INDEX_MAX = 63  # Linux has ABS_CNT = 64 absolute axes
BUTTON_INDEX_MAX = 511  # joydev reports at most KEY_MAX - BTN_MISC + 1 = 512 buttons
AxisIndex = Annotated[int, Field(ge=-1, le=AXIS_INDEX_MAX, description="Joy axis, -1 = unused")]
ButtonIndex = Annotated[int, Field(ge=-1, le=BUTTON_INDEX_MAX, description="Joy button, -1 = none")]
Scale = Annotated[float, Field(allow_inf_nan=False, description="command units per unit of axis deflection")]
Observe = Callable[[np.ndarray], np.ndarray]


class JoyMapError(ValueError):
    """A joy map file is invalid; the message names the file and the field."""


class XyzAxes(StrictModel):
    """Axis indices of the x, y, z components."""

    x: AxisIndex
    y: AxisIndex
    z: AxisIndex


class XyzScales(StrictModel):
    """Scales of the x, y, z components."""

    x: Scale
    y: Scale
    z: Scale


class XAxis(StrictModel):
    """Axis index of the x component."""

    x: AxisIndex


class XScale(StrictModel):
    """Scale of the x component."""

    x: Scale


class YawAxis(StrictModel):
    """Axis index of the yaw component."""

    yaw: AxisIndex


class YawScale(StrictModel):
    """Scale of the yaw component."""

    yaw: Scale


class ButtonsConfig(StrictModel):
    """Buttons every map has: deadman, turbo, and the episode's success and failure marks."""

    enable_button: int = Field(ge=0, le=BUTTON_INDEX_MAX, description="deadman: held = operator in control")
    enable_turbo_button: ButtonIndex
    success_button: ButtonIndex
    failure_button: ButtonIndex

    @model_validator(mode="after")
    def _distinct(self) -> ButtonsConfig:
        seen: dict[int, str] = {}
        for name in ("enable_button", "enable_turbo_button", "success_button", "failure_button"):
            index = getattr(self, name)
            if index >= 0 and index in seen:
                raise ValueError(f"{seen[index]} and {name} are both button {index}")
            seen.setdefault(index, name)
        return self


class ArmJoyConfig(ButtonsConfig):
    """Arm: TCP velocity, m/s, base frame."""

    kind: Literal["arm"]
    axis_linear: XyzAxes
    scale_linear: XyzScales
    scale_linear_turbo: XyzScales
    leash_m: float = Field(gt=0, description="TCP reference stays within this distance of the measured TCP")
    null_gain: float = Field(ge=0, le=1, description="IK null-space pull toward the home pose, per step")


class QuadrotorJoyConfig(ButtonsConfig):
    """Quadrotor: velocity setpoint, m/s, world frame, and yaw rate, rad/s."""

    kind: Literal["quadrotor"]
    axis_linear: XyzAxes
    scale_linear: XyzScales
    scale_linear_turbo: XyzScales
    axis_angular: YawAxis
    scale_angular: YawScale
    scale_angular_turbo: YawScale
    leash_m: float = Field(gt=0, description="position setpoint stays within this distance of the measured position")


class MobileBaseJoyConfig(ButtonsConfig):
    """Mobile base: teleop_twist_joy's parameters (a differential drive has only linear x and angular yaw)."""

    kind: Literal["mobile_base"]
    axis_linear: XAxis
    scale_linear: XScale
    scale_linear_turbo: XScale
    axis_angular: YawAxis
    scale_angular: YawScale
    scale_angular_turbo: YawScale
    inverted_reverse: bool = Field(default=False, description="negate angular z while linear x < 0")


@dataclass(frozen=True)
class AxisGroup:
    """Components read from the Joy axes: `fields` `[k]` (YAML names), `index` `[k]` (-1 = unused), scales `[k]`."""

    fields: tuple[str, ...]
    index: np.ndarray
    normal: np.ndarray
    turbo: np.ndarray

    @classmethod
    def from_config(cls, config: StrictModel, group: str, names: tuple[str, ...]) -> AxisGroup:
        """The `axis_<group>`, `scale_<group>` and `scale_<group>_turbo` entries of `names`."""
        axis, normal, turbo = (getattr(config, f) for f in (f"axis_{group}", f"scale_{group}", f"scale_{group}_turbo"))
        return cls(fields=tuple(f"axis_{group}.{n}" for n in names),
                   index=np.array([getattr(axis, n) for n in names], dtype=np.int64),
                   normal=np.array([getattr(normal, n) for n in names], dtype=np.float64),
                   turbo=np.array([getattr(turbo, n) for n in names], dtype=np.float64))

    def value(self, axes: np.ndarray, mode: str | None) -> np.ndarray:
        """`[k]` scaled components: axis value x scale of `mode` ('normal'/'turbo'), 0 where unused or mode None."""
        if mode is None:
            return np.zeros(len(self.index))
        used = self.index >= 0
        values = np.where(used, np.asarray(axes, dtype=np.float64)[np.where(used, self.index, 0)], 0.0)
        return values * (self.turbo if mode == "turbo" else self.normal)


def pressed(buttons: np.ndarray, index: int) -> bool:
    """Whether button `index` is held (non-zero); False for index -1."""
    return index >= 0 and bool(buttons[index])


def speed_mode(buttons: np.ndarray, enable_button: int, turbo_button: int) -> str | None:
    """teleop_twist_joy's choice: 'turbo' if the turbo button is held, else 'normal' if enable is, else None."""
    if pressed(buttons, turbo_button):
        return "turbo"
    return "normal" if pressed(buttons, enable_button) else None


def leash(setpoint: np.ndarray, position: np.ndarray, leash_m: float) -> np.ndarray:
    """`setpoint` `[3]` moved onto the ball of radius `leash_m` around `position` `[3]` if it lies outside."""
    offset = setpoint - position
    distance = float(np.linalg.norm(offset))
    return setpoint if distance <= leash_m else position + offset * (leash_m / distance)


def reach_target(tcp_m: np.ndarray, reference_m: np.ndarray, gain: float) -> np.ndarray:
    """IK target `[3]` m whose error, times the expert's per-step `gain`, carries the TCP onto `reference_m`."""
    return tcp_m + (reference_m - tcp_m) / gain


def feed_forward_goal(setpoint_m: np.ndarray, velocity_m_s: np.ndarray, kd_over_kp_s: float) -> np.ndarray:
    """Goal `[3]` m that makes a PD position loop `kp * (goal - p) - kd * v` track `velocity_m_s` `[3]` too."""
    return setpoint_m + kd_over_kp_s * velocity_m_s


def _quantity(q: Mapping[str, np.ndarray], name: str, size: int) -> np.ndarray:
    value = np.asarray(q[name] if name in q else np.empty(0), dtype=np.float64).reshape(-1)
    if value.shape != (size,):
        raise ValueError(f"measured quantity '{name}' has {value.size} values, expected {size}")
    return value


class JoyMap:
    """Shared part of every robot's map: buttons, Joy size check, speed mode, command limits.

    Attributes:
        enable_button: deadman button (teleop_twist_joy `enable_button`).
        enable_turbo_button: turbo button, -1 = none; held alone it also moves the robot (teleop_twist_joy).
        success_button: marks the episode a success, -1 = none.
        failure_button: marks the episode a failure, -1 = none.
        min_axes: a Joy with fewer axes is rejected (`check`).
        min_buttons: a Joy with fewer buttons is rejected (`check`).
        source: the YAML file the map came from.

    """

    config_model: ClassVar[type[ButtonsConfig]]

    def __init__(self, spec: RobotSpec, config: ButtonsConfig, source: Path, groups: dict[str, AxisGroup]) -> None:
        self.spec, self.config, self.source, self.groups = spec, config, source, groups
        self.enable_button, self.enable_turbo_button = config.enable_button, config.enable_turbo_button
        self.success_button, self.failure_button = config.success_button, config.failure_button
        self.low, self.high = np.array(spec.command.low), np.array(spec.command.high)
        self._axis_use = {f: int(a) for g in groups.values() for f, a in zip(g.fields, g.index, strict=True)}
        buttons = ("enable_button", "enable_turbo_button", "success_button", "failure_button")
        self._button_use = {name: getattr(config, name) for name in buttons}
        self.min_axes = 1 + max(self._axis_use.values(), default=-1)
        self.min_buttons = 1 + max(self._button_use.values())

    def check(self, axes: np.ndarray, buttons: np.ndarray, what: str) -> None:
        """Reject a Joy state this map cannot read.

        Raises:
            ValueError: naming `what`, when `axes` `[n]` or `buttons` `[m]` are not flat, are fewer than the map
                uses (naming the count, the field and the index), or an axis is not finite.

        """
        axes, buttons = np.asarray(axes), np.asarray(buttons)
        for name, values, need, use in (("axes", axes, self.min_axes, self._axis_use),
                                         ("buttons", buttons, self.min_buttons, self._button_use)):
            if values.ndim != 1:
                raise ValueError(f"{what}: {name} must be a flat array, got shape {values.shape}")
            if len(values) < need:
                field = max(use, key=lambda k: use[k])
                raise ValueError(f"{what}: {len(values)} {name}, the {self.spec.kind} joy map ({self.source}) needs "
                                 f"at least {need} ({field} is index {need - 1})")
        finite = np.isfinite(axes.astype(np.float64))
        if not finite.all():
            raise ValueError(f"{what}: axis {int(np.argmin(finite))} is {axes[np.argmin(finite)]}, not finite")

    def mode(self, buttons: np.ndarray) -> str | None:
        """'turbo', 'normal' or None (no motion), as teleop_twist_joy picks its scales."""
        return speed_mode(buttons, self.enable_button, self.enable_turbo_button)

    def engaged(self, buttons: np.ndarray) -> bool:
        """Whether the Joy state commands motion at all (enable or turbo held, teleop_twist_joy's rule)."""
        return self.mode(buttons) is not None

    def clip(self, command: np.ndarray) -> np.ndarray:
        """`command` `[n_cmd]` float64 clipped to the robot's command limits."""
        return np.clip(np.asarray(command, dtype=np.float64), self.low, self.high)

    def reset(self, q: Mapping[str, np.ndarray]) -> None:
        """Start a takeover from the measured quantities `q` (robot-specific)."""
        raise NotImplementedError

    def command(self, axes: np.ndarray, buttons: np.ndarray, q: Mapping[str, np.ndarray], observe: Observe,
                dt_s: float) -> np.ndarray:
        """The command `[n_cmd]` float64 in robot units for one control period `dt_s` (robot-specific)."""
        raise NotImplementedError

    def _prepare(self, axes: np.ndarray, buttons: np.ndarray, dt_s: float, ready: bool) -> None:
        self.check(axes, buttons, "command")
        if not ready:
            raise RuntimeError(f"{type(self).__name__}.command called before reset() at the takeover onset")
        if not (np.isfinite(dt_s) and dt_s > 0):
            raise ValueError(f"dt_s must be a positive number of seconds, got {dt_s}")


def _box(safety: object, kind: type, low: str, high: str) -> tuple[np.ndarray, np.ndarray] | None:
    if not isinstance(safety, kind):
        return None
    return np.array(getattr(safety, low)), np.array(getattr(safety, high))


class ArmJoyMap(JoyMap):
    """TCP velocity -> TCP reference -> joint position targets `[7]` rad through the reach task's IK.

    At the takeover onset the joint targets hold the measured joints and the TCP reference is their TCP. While the
    velocity is non-zero, the reference advances by `v * dt_s` (kept within `leash_m` of the measured TCP and inside
    the safety workspace) and the IK is asked for the target `tcp + (reference - tcp) / gain`, so its step carries the
    TCP onto the reference. At zero velocity the last joint targets are repeated unchanged: the servos settle there
    and nothing drifts (re-solving from measured joints each tick would creep under any servo steady-state error).
    """

    config_model = ArmJoyConfig

    def __init__(self, spec: RobotSpec, config: ArmJoyConfig, source: Path) -> None:
        super().__init__(spec, config, source, {"linear": AxisGroup.from_config(config, "linear", ("x", "y", "z"))})
        self.expert = ArmReachExpert(spec, null_gain=config.null_gain)
        self.chain = arm_chain(spec)
        self.workspace = _box(spec.safety, ArmSafety, "workspace_low_m", "workspace_high_m")
        self.n_joints = len(spec.arm.joints)
        self.hold: np.ndarray | None = None
        self.reference_m = np.zeros(3)

    def tcp(self, joint_pos_rad: np.ndarray) -> np.ndarray:
        """TCP position `[3]` m for joints `[n_joints]` rad (the forward kinematics the observation uses)."""
        return forward_kinematics(self.chain, joint_pos_rad[None])[0]

    def reset(self, q: Mapping[str, np.ndarray]) -> None:
        """Hold the measured joints (`q['joint_pos_rad']` `[n_joints]` rad); the TCP reference is their TCP."""
        joints = _quantity(q, "joint_pos_rad", self.n_joints)
        self.hold = self.clip(joints)
        self.reference_m = self.tcp(joints)

    def command(self, axes: np.ndarray, buttons: np.ndarray, q: Mapping[str, np.ndarray], observe: Observe,
                dt_s: float) -> np.ndarray:
        """Joint position targets `[n_joints]` rad; `observe(target [3] m)` gives the reach observation `[1, n]`."""
        self._prepare(axes, buttons, dt_s, self.hold is not None)
        velocity = self.groups["linear"].value(axes, self.mode(buttons))
        if not velocity.any():
            return self.hold.copy()
        tcp = self.tcp(_quantity(q, "joint_pos_rad", self.n_joints))
        reference = leash(self.reference_m + velocity * dt_s, tcp, self.config.leash_m)
        if self.workspace is not None:
            reference = np.clip(reference, *self.workspace)
        self.reference_m = reference
        target = reach_target(tcp, reference, self.expert.gain)
        self.hold = self.clip(self.expert.act(observe(target))[0])
        return self.hold.copy()


class QuadrotorJoyMap(JoyMap):
    """Velocity setpoint -> position setpoint flown by the hover task's cascade controller; yaw rate passed through.

    The setpoint starts at the measured position at the takeover onset and advances by `v * dt_s` per tick in the
    world frame, kept within `leash_m` of the measured position (so it cannot run away from a drone that is held back)
    and inside the safety geofence. Zero axes hold the setpoint. The controller is given the goal
    `setpoint + (kd / kp) * v_sp` (`v_sp` the setpoint's actual velocity), so its PD law `kp * (goal - p) - kd * v`
    becomes `kp * (setpoint - p) + kd * (v_sp - v)`: velocity feed-forward, the drone flies on the setpoint rather than
    lagging `kd * v / kp` behind it. Its position integral is frozen while the setpoint moves (it absorbs wind and
    mass errors in the hover, and would wind up on the ramp). Command: `[thrust N, roll, pitch, yaw rate rad/s]`.
    """

    config_model = QuadrotorJoyConfig

    def __init__(self, spec: RobotSpec, config: QuadrotorJoyConfig, source: Path) -> None:
        groups = {"linear": AxisGroup.from_config(config, "linear", ("x", "y", "z")),
                  "angular": AxisGroup.from_config(config, "angular", ("yaw",))}
        super().__init__(spec, config, source, groups)
        self.geofence = _box(spec.safety, QuadrotorSafety, "geofence_low_m", "geofence_high_m")
        self.expert = QuadrotorHoverExpert(spec)
        self.setpoint_m: np.ndarray | None = None

    def reset(self, q: Mapping[str, np.ndarray]) -> None:
        """Setpoint = measured `q['position_m']` `[3]` m; a fresh cascade controller (its integral cleared)."""
        self.setpoint_m = _quantity(q, "position_m", 3)
        self.expert = QuadrotorHoverExpert(self.spec)

    def command(self, axes: np.ndarray, buttons: np.ndarray, q: Mapping[str, np.ndarray], observe: Observe,
                dt_s: float) -> np.ndarray:
        """`[thrust N, roll, pitch, yaw rate rad/s]`; `observe(setpoint [3] m)` gives the observation `[1, 22]`."""
        self._prepare(axes, buttons, dt_s, self.setpoint_m is not None)
        mode = self.mode(buttons)
        velocity, yaw_rate = self.groups["linear"].value(axes, mode), self.groups["angular"].value(axes, mode)
        setpoint = leash(self.setpoint_m + velocity * dt_s, _quantity(q, "position_m", 3), self.config.leash_m)
        if self.geofence is not None:
            setpoint = np.clip(setpoint, *self.geofence)
        goal = feed_forward_goal(setpoint, (setpoint - self.setpoint_m) / dt_s, self.expert.kd / self.expert.kp)
        self.setpoint_m = setpoint
        integral = self.expert.integral.copy()
        command = self.expert.act(observe(goal))[0].astype(np.float64)
        if velocity.any() and len(integral):
            self.expert.integral = integral
        command[3] = yaw_rate[0]
        return self.clip(command)


def twist_from_joy(axes: np.ndarray, mode: str | None, linear: AxisGroup, angular: AxisGroup,
                   inverted_reverse: bool) -> np.ndarray:
    """teleop_twist_joy's Twist `[linear_x m/s, angular_z rad/s]` (unclipped) for one Joy state in `mode`."""
    linear_x, angular_z = linear.value(axes, mode)[0], angular.value(axes, mode)[0]
    if inverted_reverse and linear_x < 0.0:
        angular_z = -angular_z
    return np.array([linear_x, angular_z])


class MobileBaseJoyMap(JoyMap):
    """Body twist `[linear_x m/s, angular_z rad/s]` exactly as teleop_twist_joy computes it, clipped to the limits.

    Stateless: `reset` does nothing, `q` and `observe` are not used. With neither enable nor turbo held the twist is
    zero (teleop_twist_joy sends one zero Twist on release).
    """

    config_model = MobileBaseJoyConfig

    def __init__(self, spec: RobotSpec, config: MobileBaseJoyConfig, source: Path) -> None:
        groups = {"linear": AxisGroup.from_config(config, "linear", ("x",)),
                  "angular": AxisGroup.from_config(config, "angular", ("yaw",))}
        super().__init__(spec, config, source, groups)

    def reset(self, q: Mapping[str, np.ndarray]) -> None:
        """Nothing to reset: the twist depends on the Joy state only."""

    def command(self, axes: np.ndarray, buttons: np.ndarray, q: Mapping[str, np.ndarray], observe: Observe,
                dt_s: float) -> np.ndarray:
        """`[linear_x m/s, angular_z rad/s]` clipped to the command limits."""
        self._prepare(axes, buttons, dt_s, True)
        twist = twist_from_joy(axes, self.mode(buttons), self.groups["linear"], self.groups["angular"],
                               self.config.inverted_reverse)
        return self.clip(twist)


JOY_MAPS: dict[str, type[JoyMap]] = {"arm": ArmJoyMap, "quadrotor": QuadrotorJoyMap, "mobile_base": MobileBaseJoyMap}


def default_joy_map_path(spec: RobotSpec) -> Path:
    """`teleop.yaml` beside the robot's robot.yaml."""
    return spec.path("teleop.yaml")


def load_joy_map(spec: RobotSpec, path: str | Path | None = None) -> JoyMap:
    """The robot's Joy map from `path` (None or '' = `sim/<robot>/teleop.yaml` beside its robot.yaml).

    Raises:
        ValueError: the file is missing or not YAML, or has unknown keys, wrong types, out-of-range indices or
            repeated buttons; the message names the file and the field.

    """
    source = default_joy_map_path(spec) if path is None or str(path) == "" else Path(path)
    data = read_yaml(source)
    cls = JOY_MAPS[spec.kind]
    try:
        config = cls.config_model.model_validate(data)
    except ValidationError as e:
        raise JoyMapError(format_validation_error(source, e)) from None
    return cls(spec, config, source)
