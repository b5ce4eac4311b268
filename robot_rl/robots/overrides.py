"""Files that change a robot's randomization: range overrides and calibration (identified parameters).

Range override file (`randomize="path.yaml"`)::

    randomization:                      # replaces these entries of robot.yaml, keeps the others
      payload_mass_kg: {distribution: uniform, low: 0.0, high: 1.0, unit: kg}

Calibration file (`calibration/<robot>/<stamp>.yaml`, written by `robot-rl sysid`)::

    robot: arm                          # must match the robot it is applied to
    range_sigma: 3.0                    # new range = mean +- range_sigma * std
    source_logs:                        # where the numbers came from (sha256 of each MCAP file)
      - {path: logs/arm_excitation.mcap, sha256: "..."}
    parameters:                         # name: mean and standard deviation, in the parameter's unit
      link_mass_scale: {mean: 1.04, std: 0.01}
      joint_damping_scale: {mean: 1.3, std: 0.1}
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError

from robot_rl.robots.spec import (
    RangeSpec,
    RobotSpec,
    RobotSpecError,
    StrictModel,
    format_validation_error,
    read_yaml,
)


class RangeOverride(StrictModel):
    """Contents of a range override file."""

    randomization: dict[str, RangeSpec]


class CalibratedValue(StrictModel):
    """An identified parameter: mean and standard deviation in the parameter's unit."""

    mean: float
    std: float = Field(ge=0)


class LogReference(StrictModel):
    """A log a calibration was identified from."""

    path: str
    sha256: str


class Calibration(StrictModel):
    """Contents of a calibration file."""

    robot: str
    range_sigma: float = Field(default=3.0, gt=0)
    source_logs: list[LogReference] = Field(default_factory=list)
    parameters: dict[str, CalibratedValue]


def _validate(model: type[StrictModel], path: Path) -> StrictModel:
    try:
        return model.model_validate(read_yaml(path))
    except ValidationError as e:
        raise RobotSpecError(format_validation_error(path, e)) from None


def load_range_override(path: str | Path, robot: RobotSpec) -> dict[str, RangeSpec]:
    """Robot ranges with the entries of override file `path` replaced; unknown parameter names are an error."""
    path = Path(path)
    override = _validate(RangeOverride, path)
    unknown = sorted(set(override.randomization) - set(robot.randomization))
    if unknown:
        raise RobotSpecError(
            f"{path}: field 'randomization': unknown parameters {unknown} for robot '{robot.name}' "
            f"(known: {sorted(robot.randomization)})"
        )
    return {**robot.randomization, **override.randomization}


def load_calibration(path: str | Path, robot: RobotSpec) -> Calibration:
    """Read and check a calibration file against `robot` (robot name and parameter names)."""
    path = Path(path)
    cal = _validate(Calibration, path)
    if cal.robot != robot.name:
        raise RobotSpecError(f"{path}: field 'robot': calibration is for '{cal.robot}', not '{robot.name}'")
    unknown = sorted(set(cal.parameters) - set(robot.randomization))
    if unknown:
        raise RobotSpecError(f"{path}: field 'parameters': unknown parameters {unknown} for robot '{robot.name}'")
    return cal
