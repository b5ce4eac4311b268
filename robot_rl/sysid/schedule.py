"""Excitation files: the design a robot is excited with, and the command schedule the controller plays.

    robot: arm
    duration_s: 30.0
    design: {family: chirp, amplitude: 0.4, f_low_hz: 0.1, f_high_hz: 2.0, n_sines: 4, seed: 0}
    chosen_by: {criterion: D-optimal, scores: [...]}     # optional: how `robot-rl sysid excite` picked it

The commands are regenerated from the design (`robot_rl.sysid.excitation`), so the file is small and its sha256
(recorded in the bag on `/robot_rl/excitation` and in every tick record) names exactly what the robot was sent.
For the arm they are joint targets; for the quadrotor perturbations on the hover controller (closed loop); for the
mobile base twist commands.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from robot_rl.robots import RobotSpec
from robot_rl.sysid.excitation import (
    ROBOT_FAMILIES,
    Excitation,
    arm_candidates,
    arm_commands,
    mobile_base_candidates,
    mobile_base_commands,
    quadrotor_candidates,
    quadrotor_offsets,
)
from robot_rl.sysid.logs import SysidError
from robot_rl.sysid.replay_quadrotor import hover_command

EXCITATION_TOPIC = "/robot_rl/excitation"
"""diagnostic_msgs/msg/DiagnosticArray, transient local: the excitation file played (sha256 and text)."""


@dataclass(frozen=True)
class ExcitationSchedule:
    """The commands of an excitation file, tick by tick (quadrotor: offsets on the hover controller)."""

    path: str
    sha256: str
    text: str
    design: Excitation
    commands: np.ndarray
    """`[T, n_cmd]` in the robot's command units."""

    def command(self, k: int) -> np.ndarray:
        """The target of tick `k` (0-based); after the last tick the last target is held."""
        return self.commands[min(k, len(self.commands) - 1)].copy()


def arm_design_commands(spec: RobotSpec, design: Excitation, duration_s: float) -> np.ndarray:
    """The arm's joint targets `[T, 7]` rad for `design` over `duration_s` at the control rate."""
    a = spec.arm
    return arm_commands(design, a.home_rad, [j.position_min_rad for j in a.joints],
                        [j.position_max_rad for j in a.joints], duration_s, spec.control_dt_s,
                        [j.velocity_max_rad_s for j in a.joints])


def design_commands(spec: RobotSpec, design: Excitation, duration_s: float) -> np.ndarray:
    """`[T, n_cmd]` per tick of `design`.

    The arm's joint targets rad, the quadrotor's perturbations (N, rad/s), the mobile base's twists (m/s, rad/s).

    Raises:
        SysidError: a family the robot does not play, a robot without an excitation family.

    """
    families = ROBOT_FAMILIES.get(spec.kind, ())
    if families and design.family not in families:
        raise SysidError(f"family {design.family!r} is not one of robot '{spec.name}' ({list(families)})")
    if spec.arm is not None:
        return arm_design_commands(spec, design, duration_s)
    if spec.quadrotor is not None:
        return quadrotor_offsets(design, duration_s, spec.control_dt_s, float(hover_command(spec)[0]),
                                 spec.command.high[1:4])
    if spec.mobile_base is not None and spec.safety is not None:
        return mobile_base_commands(design, duration_s, spec.control_dt_s, spec.command.low, spec.command.high,
                                    [spec.safety.accel_max_m_s2, spec.safety.angular_accel_max_rad_s2])
    raise _no_family(spec)


def design_candidates(spec: RobotSpec, duration_s: float) -> list[Excitation]:
    """The designs the D-optimal search compares for `spec`'s kind (SysidError for a kind without a family)."""
    if spec.arm is not None:
        return arm_candidates(duration_s)
    if spec.quadrotor is not None:
        return quadrotor_candidates()
    if spec.mobile_base is not None:
        return mobile_base_candidates()
    raise _no_family(spec)


def _no_family(spec: RobotSpec) -> SysidError:
    return SysidError(f"robot '{spec.name}' ({spec.kind}): no excitation family yet (arm, quadrotor and mobile "
                      f"base have one)")


def write_excitation(path: str | Path, spec: RobotSpec, design: Excitation, duration_s: float,
                     chosen_by: dict[str, Any] | None = None) -> Path:
    """Write an excitation file; returns its path."""
    path = Path(path)
    doc: dict[str, Any] = {"robot": spec.name, "duration_s": float(duration_s), "design": asdict(design)}
    if chosen_by:
        doc["chosen_by"] = chosen_by
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def load_excitation(path: str | Path, spec: RobotSpec) -> ExcitationSchedule:
    """Read and check an excitation file against `spec`; SysidError names the file and field at fault."""
    path = Path(path)
    try:
        text = path.read_text()
        doc = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as e:
        raise SysidError(f"{path}: cannot read the excitation file: {e}") from None
    if not isinstance(doc, dict):
        raise SysidError(f"{path}: expected a mapping with robot, duration_s, design")
    if doc.get("robot") != spec.name:
        raise SysidError(f"{path}: field 'robot': excitation is for {doc.get('robot')!r}, not '{spec.name}'")
    duration = doc.get("duration_s")
    if not isinstance(duration, (int, float)) or not 0 < duration <= 600:
        raise SysidError(f"{path}: field 'duration_s': {duration!r} should be a number of seconds in (0, 600]")
    raw = doc.get("design")
    known = {f.name for f in fields(Excitation)}
    if not isinstance(raw, dict) or set(raw) - known:
        raise SysidError(f"{path}: field 'design': expected a mapping of {sorted(known)}, got {raw!r}")
    try:
        design = Excitation(**raw)
        commands = design_commands(spec, design, float(duration))
    except (TypeError, ValueError) as e:
        raise SysidError(f"{path}: field 'design': {e}") from None
    return ExcitationSchedule(str(path), hashlib.sha256(text.encode()).hexdigest(), text, design, commands)
