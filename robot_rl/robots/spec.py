"""`RobotSpec`: the validated contents of `sim/<robot>/robot.yaml`.

Every quantity carries its unit in its name (`velocity_max_rad_s`, `physics_dt_s`). Unknown keys, wrong types,
missing fields and inverted limits are errors; `load_robot` reports them with the file and the field path.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, model_validator


class RobotSpecError(ValueError):
    """A robot description (or a file overriding part of it) is invalid; the message names file and field."""


class StrictModel(BaseModel):
    """Frozen pydantic model that rejects unknown keys and silent type coercion."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class TopicSpec(StrictModel):
    """One ROS 2 topic of the real robot: name and message type (`pkg/msg/Type`)."""

    name: str
    type: str


class RosSpec(StrictModel):
    """The ROS 2 interface of the real robot, read by deploy code from here and nowhere else."""

    state_topics: dict[str, TopicSpec]
    command_topic: TopicSpec


class CommandSpec(StrictModel):
    """The robot's command vector: names, units and limits, in the order the command message carries them."""

    names: list[str]
    units: list[str]
    low: list[float]
    high: list[float]

    @model_validator(mode="after")
    def _check(self) -> CommandSpec:
        n = len(self.names)
        if not (len(self.units) == len(self.low) == len(self.high) == n) or n == 0:
            raise ValueError(f"names, units, low and high must have the same non-zero length (names has {n})")
        for name, lo, hi in zip(self.names, self.low, self.high, strict=True):
            if not lo <= hi:
                raise ValueError(f"lower limit {lo} is above upper limit {hi} for '{name}'")
        return self


class RangeSpec(StrictModel):
    """One randomized parameter: `x ~ distribution(low, high)`; `uniform_int` is inclusive of both ends.

    `constant` (low == high) is not drawn at all: a parameter held off in training (a disturbance only the release
    gate's stress cases turn on) takes nothing from the episode's random stream.
    """

    distribution: Literal["uniform", "log_uniform", "uniform_int", "constant"]
    low: float
    high: float
    unit: str

    @model_validator(mode="after")
    def _check(self) -> RangeSpec:
        if not self.low <= self.high:
            raise ValueError(f"lower limit {self.low} is above upper limit {self.high}")
        if self.distribution == "log_uniform" and self.low <= 0:
            raise ValueError("log_uniform needs low > 0")
        if self.distribution == "uniform_int" and (self.low != int(self.low) or self.high != int(self.high)):
            raise ValueError("uniform_int needs integer low and high")
        if self.distribution == "constant" and self.low != self.high:
            raise ValueError(f"constant needs low == high, got {self.low} and {self.high}")
        return self


class JointSpec(StrictModel):
    """One revolute joint: manufacturer limits and the simulated position servo that tracks its target."""

    name: str
    position_min_rad: float
    position_max_rad: float
    velocity_max_rad_s: float = Field(gt=0)
    acceleration_max_rad_s2: float = Field(gt=0, description="hardware limit of the commanded joint acceleration")
    jerk_max_rad_s3: float = Field(gt=0, description="hardware limit of the commanded joint jerk")
    effort_max_nm: float = Field(gt=0)
    effort_rate_max_nm_s: float = Field(gt=0, description="hardware limit of the commanded torque's rate (recorded "
                                        "from the datasheet; this stack commands positions, so nothing checks it)")
    kp_nm_per_rad: float = Field(ge=0, description="servo stiffness")
    kd_nm_s_per_rad: float = Field(ge=0, description="servo damping")
    damping_nm_s_per_rad: float = Field(ge=0, description="passive viscous joint damping")
    friction_nm: float = Field(ge=0, description="Coulomb joint friction (MuJoCo frictionloss)")

    @model_validator(mode="after")
    def _check(self) -> JointSpec:
        if not self.position_min_rad <= self.position_max_rad:
            raise ValueError(
                f"position_min_rad {self.position_min_rad} is above position_max_rad {self.position_max_rad}"
            )
        return self


class GripperSpec(StrictModel):
    """Parallel gripper: two prismatic fingers driven to the same opening, held open by the reach task."""

    finger_joints: list[str]
    opening_max_m: float = Field(gt=0, description="per finger")
    force_max_n: float = Field(gt=0)
    kp_n_per_m: float = Field(ge=0)
    kd_n_s_per_m: float = Field(ge=0)


class ArmParams(StrictModel):
    """Arm description: joints in command order, gripper, named bodies and sites used by tasks."""

    joints: list[JointSpec]
    gripper: GripperSpec
    home_rad: list[float]
    link_bodies: list[str] = Field(description="bodies whose masses are randomized, base to hand")
    hand_body: str
    ee_site: str
    gravity_compensation: bool = Field(description="controller cancels gravity of the nominal links, like Franka's")

    @model_validator(mode="after")
    def _check(self) -> ArmParams:
        if len(self.home_rad) != len(self.joints):
            raise ValueError(f"home_rad has {len(self.home_rad)} values for {len(self.joints)} joints")
        for j, q in zip(self.joints, self.home_rad, strict=True):
            if not j.position_min_rad <= q <= j.position_max_rad:
                raise ValueError(f"home_rad {q} of '{j.name}' is outside its limits")
        return self


class QuadrotorParams(StrictModel):
    """Crazyflie-class quadrotor, X configuration; motors are first-order, thrust = k_f * rpm^2."""

    base_body: str
    mass_kg: float = Field(gt=0)
    inertia_kg_m2: list[float] = Field(min_length=3, max_length=3, description="diagonal, body frame")
    arm_length_m: float = Field(gt=0, description="centre to rotor axis")
    thrust_coefficient_n_per_rpm2: float = Field(gt=0)
    torque_coefficient_nm_per_rpm2: float = Field(gt=0)
    thrust_to_weight: float = Field(gt=1)
    motor_time_constant_s: float = Field(gt=0)
    drag_coefficient_n_s_per_m: float = Field(ge=0, description="linear body drag, F = -c * v")
    rate_controller_hz: float = Field(gt=0, description="inner body-rate loop and mixer rate")
    rate_kp_per_s: list[float] = Field(min_length=3, max_length=3, description="rate loop P gain, 1/s")

    @property
    def max_rpm(self) -> float:
        """Per-motor rpm at which the four motors give thrust_to_weight * m * g."""
        return math.sqrt(self.thrust_to_weight * self.mass_kg * 9.81 / (4 * self.thrust_coefficient_n_per_rpm2))


class LidarSpec(StrictModel):
    """Planar lidar: beams spread evenly over `fov_rad`, starting straight ahead, counter-clockwise."""

    site: str
    num_beams: int = Field(gt=0)
    fov_rad: float = Field(gt=0, le=2 * math.pi)
    range_min_m: float = Field(ge=0)
    range_max_m: float = Field(gt=0)
    noise_std_m: float = Field(ge=0)


class MobileBaseParams(StrictModel):
    """Differential-drive base: two driven wheels, passive casters, a planar lidar."""

    base_body: str
    wheel_joints: list[str] = Field(min_length=2, max_length=2, description="left, right")
    wheel_radius_m: float = Field(gt=0)
    track_width_m: float = Field(gt=0, description="distance between wheel contact points")
    wheel_speed_max_rad_s: float = Field(gt=0)
    wheel_accel_max_rad_s2: float = Field(gt=0)
    wheel_torque_max_nm: float = Field(gt=0)
    wheel_kd_nm_s_per_rad: float = Field(gt=0, description="wheel velocity servo gain")
    body_radius_m: float = Field(gt=0, description="footprint radius for collision checks")
    base_height_m: float = Field(gt=0, description="height of the base_link frame above the floor at rest")
    lidar: LidarSpec


class SafetyCommon(StrictModel):
    """Limits every robot's safety filter shares (the `safety:` block of robot.yaml)."""

    watchdog_periods: float = Field(
        default=3.0, gt=0, description="inputs older than this many control periods are stale (fallback)"
    )


def _check_box(low: list[float], high: list[float], what: str) -> None:
    if len(low) != 3 or len(high) != 3:
        raise ValueError(f"{what}_low_m and {what}_high_m need 3 values (x, y, z)")
    if not all(lo < hi for lo, hi in zip(low, high, strict=True)):
        raise ValueError(f"{what}_low_m {low} is not below {what}_high_m {high}")


class ArmSafety(SafetyCommon):
    """Arm safety limits beyond the joints' own (position, velocity, acceleration, jerk): margin and workspace."""

    joint_margin_rad: float = Field(ge=0, description="targets stay this far inside each joint's position limits")
    workspace_low_m: list[float] = Field(description="end-effector box lower corner, base frame, m")
    workspace_high_m: list[float] = Field(description="end-effector box upper corner, base frame, m")

    @model_validator(mode="after")
    def _check(self) -> ArmSafety:
        _check_box(self.workspace_low_m, self.workspace_high_m, "workspace")
        return self


class QuadrotorSafety(SafetyCommon):
    """Quadrotor safety limits: tilt, body rates, geofence box with braking barrier, fallback descent."""

    tilt_max_rad: float = Field(gt=0, lt=math.pi / 2, description="tilt (body z to world z) beyond which rates level")
    body_rate_max_rad_s: list[float] = Field(min_length=3, max_length=3, description="roll, pitch, yaw")
    geofence_low_m: list[float] = Field(description="world box lower corner, m")
    geofence_high_m: list[float] = Field(description="world box upper corner, m")
    brake_accel_m_s2: float = Field(gt=0, description="design braking deceleration of the geofence barrier")
    descent_speed_m_s: float = Field(gt=0, description="vertical speed of the fallback's controlled descent")

    @model_validator(mode="after")
    def _check(self) -> QuadrotorSafety:
        _check_box(self.geofence_low_m, self.geofence_high_m, "geofence")
        if not all(r > 0 for r in self.body_rate_max_rad_s):
            raise ValueError("body_rate_max_rad_s must be positive")
        return self


class MobileBaseSafety(SafetyCommon):
    """Mobile-base safety limits: command accelerations and the lidar stopping barrier."""

    accel_max_m_s2: float = Field(gt=0, description="bound on the linear command change per second")
    angular_accel_max_rad_s2: float = Field(gt=0, description="bound on the angular command change per second")
    stop_distance_m: float = Field(ge=0, description="gap to an obstacle (from the footprint) at which motion stops")
    brake_decel_m_s2: float = Field(gt=0, description="design braking deceleration of the lidar barrier")
    footprint_radius_m: float = Field(gt=0, description="disc that must stay clear of obstacles")


def _safety_tag(value: Any) -> str | None:  # noqa: ANN401 - raw YAML value or a model
    """Which safety model a `safety:` block is, by its distinctive field."""
    if isinstance(value, BaseModel):
        return {ArmSafety: "arm", QuadrotorSafety: "quadrotor", MobileBaseSafety: "mobile_base"}.get(type(value))
    if isinstance(value, dict):
        keys = {"arm": "joint_margin_rad", "quadrotor": "tilt_max_rad", "mobile_base": "stop_distance_m"}
        for tag, key in keys.items():
            if key in value:
                return tag
    return None


SafetySpec = Annotated[
    Annotated[ArmSafety, Tag("arm")] | Annotated[QuadrotorSafety, Tag("quadrotor")]
    | Annotated[MobileBaseSafety, Tag("mobile_base")],
    Discriminator(_safety_tag),
]


class RobotSpec(StrictModel):
    """A robot: rates, model files, command, ROS 2 interface, noise, randomization ranges, kind-specific block."""

    name: str
    kind: Literal["arm", "quadrotor", "mobile_base"]
    description: str
    control_rate_hz: float = Field(gt=0)
    physics_dt_s: float = Field(gt=0)
    mjcf: str = Field(description="MuJoCo model, relative to the robot folder")
    urdf: str = Field(description="PyBullet model, relative to the robot folder")
    command: CommandSpec
    ros: RosSpec
    observation_noise_std: dict[str, float] = Field(description="per named quantity, in its unit")
    randomization: dict[str, RangeSpec]
    arm: ArmParams | None = None
    quadrotor: QuadrotorParams | None = None
    mobile_base: MobileBaseParams | None = None
    safety: SafetySpec | None = Field(default=None, description="safety filter limits beyond the command limits")
    folder: Path | None = Field(default=None, exclude=True, description="set by load_robot")

    @model_validator(mode="after")
    def _check(self) -> RobotSpec:
        blocks = {"arm": self.arm, "quadrotor": self.quadrotor, "mobile_base": self.mobile_base}
        for kind, block in blocks.items():
            if (block is not None) != (kind == self.kind):
                raise ValueError(f"kind '{self.kind}' needs exactly the '{self.kind}' block (found '{kind}')")
        ratio = 1.0 / (self.control_rate_hz * self.physics_dt_s)
        if abs(ratio - round(ratio)) > 1e-6 or round(ratio) < 1:
            raise ValueError(f"control period is not a whole number of physics steps ({ratio:.4f})")
        self._check_safety()
        return self

    def _check_safety(self) -> None:
        s = self.safety
        if s is not None and _safety_tag(s) != self.kind:
            raise ValueError(f"safety block is for '{_safety_tag(s)}', robot kind is '{self.kind}'")
        if isinstance(s, QuadrotorSafety):
            hw = [min(-lo, hi) for lo, hi in zip(self.command.low[1:], self.command.high[1:], strict=True)]
            if any(r > h for r, h in zip(s.body_rate_max_rad_s, hw, strict=True)):
                raise ValueError(f"safety.body_rate_max_rad_s {s.body_rate_max_rad_s} exceeds the command limits {hw}")
        if isinstance(s, MobileBaseSafety) and s.footprint_radius_m < self.mobile_base.body_radius_m:
            raise ValueError(f"safety.footprint_radius_m {s.footprint_radius_m} is below mobile_base.body_radius_m "
                             f"{self.mobile_base.body_radius_m}")

    @property
    def control_dt_s(self) -> float:
        """Control period, s."""
        return 1.0 / self.control_rate_hz

    @property
    def substeps(self) -> int:
        """Physics steps per control step."""
        return round(1.0 / (self.control_rate_hz * self.physics_dt_s))

    def path(self, relative: str) -> Path:
        """Absolute path of a file named relative to the robot folder."""
        if self.folder is None:
            raise RobotSpecError(f"robot '{self.name}' was not loaded from a file")
        return self.folder / relative


def sim_root() -> Path:
    """The `sim/` folder: `$ROBOT_RL_SIM_DIR` if set, else the one beside the package."""
    return Path(os.environ.get("ROBOT_RL_SIM_DIR", Path(__file__).resolve().parents[2] / "sim"))


def format_validation_error(source: str | Path, err: ValidationError) -> str:
    """Render a pydantic error as `file: field.path: message` lines."""
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "<top level>"
        lines.append(f"{source}: field '{loc}': {e['msg']}")
    return "\n".join(lines)


def read_yaml(path: Path) -> dict:
    """Read a YAML mapping, naming the file in every error."""
    if not path.is_file():
        raise RobotSpecError(f"{path}: no such file")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise RobotSpecError(f"{path}: not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise RobotSpecError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def load_robot(name_or_path: str | Path) -> RobotSpec:
    """Load and validate a robot: a name under `sim/` (`"arm"`) or a path to a robot.yaml."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = sim_root() / str(name_or_path) / "robot.yaml"
    data = read_yaml(path)
    try:
        spec = RobotSpec.model_validate({**data, "folder": path.parent.resolve()})
    except ValidationError as e:
        raise RobotSpecError(format_validation_error(path, e)) from None
    for rel in (spec.mjcf, spec.urdf):
        if not spec.path(rel).is_file():
            raise RobotSpecError(f"{path}: model file '{rel}' does not exist")
    return spec
