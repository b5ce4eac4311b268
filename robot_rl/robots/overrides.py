"""Files that change a robot's randomization: range overrides and calibration (identified parameters).

Range override file (`randomize="path.yaml"`)::

    randomization:                      # replaces these entries of robot.yaml, keeps the others
      payload_mass_kg: {distribution: uniform, low: 0.0, high: 1.0, unit: kg}

Calibration file (`calibration/<robot>/<stamp>.yaml`, written by `robot-rl sysid`)::

    robot: arm                          # must match the robot it is applied to
    range_sigma: 3.0                    # new range = mean +- range_sigma * std ...
    min_range_fraction: 0.25            # ... but at least 0.25 of robot.yaml's half-width (optional, default 0)
    source_logs:                        # where the numbers came from (sha256 of each MCAP file)
      - {path: logs/arm_excitation.mcap, sha256: "..."}
    parameters:                         # name: mean and standard deviation, in the parameter's unit
      link_mass_scale: {mean: 1.04, std: 0.01}
      joint_damping_scale: {mean: 1.3, std: 0.1}

`robot-rl sysid fit` adds per parameter `unit`, `ci95` and the search `bounds`, and at the top `created`,
`mujoco_version`, `project_commit`, `nrmse` (train, held-out), `unidentifiable` and `fit` (settings). NaN or
infinite numbers are refused at load, naming the field.
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
    """An identified parameter: mean and standard deviation in the parameter's unit (finite numbers)."""

    mean: float = Field(allow_inf_nan=False)
    std: float = Field(ge=0, allow_inf_nan=False)
    unit: str = ""
    ci95: list[float] | None = Field(default=None, min_length=2, max_length=2)
    """95 % confidence interval (low, high), in the parameter's unit."""
    bounds: list[float] | None = Field(default=None, min_length=2, max_length=2)
    """The search box the fit used."""


class LogReference(StrictModel):
    """A log a calibration was identified from."""

    path: str
    sha256: str


class Calibration(StrictModel):
    """Contents of a calibration file."""

    robot: str
    range_sigma: float = Field(default=3.0, gt=0)
    min_range_fraction: float = Field(default=0.0, ge=0, le=1)
    """A re-centred range keeps at least this share of robot.yaml's half-width (robustness to what the fit did not
    capture; 0 = the identified spread alone)."""
    source_logs: list[LogReference] = Field(default_factory=list)
    parameters: dict[str, CalibratedValue]
    not_identified: dict[str, CalibratedValue] = Field(default_factory=dict)
    """Fitted, but with a 95 % interval at least as wide as robot.yaml's range: reported, never applied (training
    keeps robot.yaml's range for them)."""
    created: str = ""
    """ISO date and time of the fit."""
    mujoco_version: str = ""
    project_commit: str = ""
    """`git describe` of robot_rl when the fit ran."""
    nrmse: dict[str, float] = Field(default_factory=dict)
    """Replay NRMSE of the fitted model: 'train' (the fitted windows) and 'heldout' (ticks kept out of the fit)."""
    unidentifiable: list[str] = Field(default_factory=list)
    """Parameter combinations the logs did not constrain."""
    fit: dict[str, str | float | int | dict[str, float]] = Field(default_factory=dict)
    """How it was fitted (window, latency search, optimizer)."""


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
