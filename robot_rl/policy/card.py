"""`PolicyCard`: the validated contents of a policy's `card.yaml`, written by `robot-rl export`.

The card says what the ONNX file next to it is: which robot and task, the exact observation and command layout
(names, units, order, sizes, bounds), the control rate and action latency it was trained for, the randomization
ranges it was trained under, how it was trained, with which library versions it was exported, the sha256 of
`policy.onnx`, evaluation results, and (filled by the gate later) a verdict. A consumer refuses a policy whose
card does not match its robot; `load_card` errors name the file and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from robot_rl.robots import RangeSpec, RobotSpec
from robot_rl.robots.spec import format_validation_error
from robot_rl.spaces import VectorSpec

CARD_VERSION = 1
CARD_FILE, ONNX_FILE, CHECKPOINT_FILE = "card.yaml", "policy.onnx", "checkpoint.pt"


class PolicyError(ValueError):
    """A policy artifact is missing, corrupt, or does not fit the robot it is used with; names file and problem."""


class CardModel(BaseModel):
    """Frozen pydantic model that rejects unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class QuantityCard(CardModel):
    """One named block of the observation, as `VectorSpec.describe()` gives it."""

    name: str
    size: int = Field(gt=0)
    unit: str
    description: str


class ObservationCard(CardModel):
    """The ONNX input `obs` `[batch, size]`: quantities in element order, raw (unnormalized) values."""

    size: int = Field(gt=0)
    quantities: list[QuantityCard]

    @model_validator(mode="after")
    def _check(self) -> ObservationCard:
        total = sum(q.size for q in self.quantities)
        if total != self.size:
            raise ValueError(f"quantity sizes add up to {total}, size says {self.size}")
        return self


class CommandCard(CardModel):
    """The ONNX output `action` `[batch, size]`: the robot's command in its units, within `[low, high]`."""

    size: int = Field(gt=0)
    names: list[str]
    units: list[str]
    low: list[float]
    high: list[float]

    @model_validator(mode="after")
    def _check(self) -> CommandCard:
        if not len(self.names) == len(self.units) == len(self.low) == len(self.high) == self.size:
            raise ValueError(f"names, units, low and high must each have size = {self.size} entries")
        return self


class LatencyCard(CardModel):
    """Action latency the policy was trained for: `action_latency_steps ~ U{low, high}` control steps."""

    low: int = Field(ge=0)
    high: int = Field(ge=0)


class OnnxCard(CardModel):
    """The ONNX file: name, sha256 of its bytes, opset, input and output names."""

    file: str = ONNX_FILE
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    opset: int = Field(ge=17)
    input: str = "obs"
    output: str = "action"


class TrainingCard(CardModel):
    """How the policy was trained: algorithm, resolved config, code version, progress at the checkpoint."""

    algo: str
    config: dict[str, Any]
    git_commit: str | None = Field(description="commit of the training code, if the runner recorded it")
    env_steps: int | None = None
    iterations: int | None = None
    wall_time_s: float | None = None


class VersionsCard(CardModel):
    """Library versions at export time."""

    robot_rl: str
    torch: str
    onnx: str
    onnxruntime: str
    mujoco: str
    numpy: str


class EvalResult(CardModel):
    """One evaluation of the exported ONNX policy (not the torch module) in simulation."""

    backend: Literal["mujoco", "pybullet"]
    randomized: bool
    episodes: int = Field(ge=0)
    seed: int
    success_rate: float = Field(ge=0, le=1)
    mean_return: float
    mean_episode_length: float = Field(ge=0, description="control steps")
    command_limit_fraction: float = Field(ge=0, le=1, description="steps with a command clipped or at a bound")
    sm: float | None = Field(default=None, ge=0, description="CAPS smoothness Sm of the commands normalized to "
                             "[-1, 1] (robot_rl.evaluate.smoothness); None = not measured (cards before it)")
    action_rate_rms: float | None = Field(default=None, ge=0,
                                          description="RMS command change per step, fraction of the command range")
    high_freq_energy_share: float | None = Field(default=None, ge=0, le=1,
                                                 description="share of the commands' variance above 4 Hz")


class GateVerdict(CardModel):
    """Release gate decision, chained by sha256 to the files it judged (`robot_rl.policy.gate`)."""

    passed: bool
    reasons: list[str] = Field(default_factory=list)
    robot: str | None = Field(default=None, description="the robot the gate ran for")
    date: str | None = Field(default=None, description="when the verdict was recorded, ISO 8601 UTC")
    onnx_sha256: str | None = Field(default=None, description="sha256 of policy.onnx when judged")
    card_sha256: str | None = Field(default=None, description="sha256 of the card without its verdict")
    suite_sha256: str | None = Field(default=None, description="sha256 of gate/suite.yaml")
    report_sha256: str | None = Field(default=None, description="sha256 of gate/report.html")


class DatasetRef(CardModel):
    """A dataset a policy was fine-tuned on: `robot_rl.data.transitions.dataset_sha256` of its data folder."""

    path: str
    dataset_id: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    transitions: int = Field(ge=0)
    interventions: int = Field(ge=0, description="operator ticks")
    bags: list[str] = Field(default_factory=list, description="sha256 of the bags it was built from")


class LineageCard(CardModel):
    """What a fine-tuned policy came from: its parent, the data, the method and its settings."""

    parent: str = Field(description="the parent policy folder as given")
    parent_sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the parent's policy.onnx")
    parent_card_sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the parent's card.yaml")
    ancestors: list[str] = Field(default_factory=list, description="ONNX sha256 of the parent's own ancestors, "
                                 "nearest first: data recorded with any of them (or the parent) is accepted")
    datasets: list[DatasetRef]
    method: str
    settings: dict[str, Any]
    parent_evaluation: list[EvalResult] = Field(default_factory=list, description="the parent card's evaluation, "
                                                "to compare with this card's (same episodes and seed)")
    data: dict[str, int] = Field(default_factory=dict, description="label counts of the training data")
    wall_time_s: float = Field(ge=0)


class PolicyCard(CardModel):
    """Everything a consumer needs to know about `policy.onnx` before running it on a robot."""

    version: Literal[1]
    robot: str
    env_id: str
    control_rate_hz: float = Field(gt=0)
    observation: ObservationCard
    command: CommandCard
    action_latency_steps: LatencyCard
    randomization: dict[str, RangeSpec] | None = Field(description="ranges trained under; None = nominal robot")
    training: TrainingCard
    versions: VersionsCard
    onnx: OnnxCard
    evaluation: list[EvalResult] = Field(default_factory=list)
    gate: GateVerdict | None = None
    lineage: LineageCard | None = Field(default=None, description="fine-tuned policies: parent and data")


def observation_card(spec: VectorSpec) -> ObservationCard:
    """The card block for an observation layout."""
    return ObservationCard(size=spec.size, quantities=[QuantityCard(**row) for row in spec.describe()])


def command_card(robot: RobotSpec) -> CommandCard:
    """The card block for a robot's command vector."""
    c = robot.command
    return CommandCard(size=len(c.names), names=list(c.names), units=list(c.units), low=list(c.low),
                       high=list(c.high))


def spec_mismatches(card: PolicyCard, robot: RobotSpec, obs_spec: VectorSpec) -> list[str]:
    """Differences between the card and a robot + task layout (empty when the policy fits), one line each."""
    problems = []
    if card.robot != robot.name:
        problems.append(f"robot is '{card.robot}', this robot is '{robot.name}'")
    if card.control_rate_hz != robot.control_rate_hz:
        problems.append(f"control_rate_hz is {card.control_rate_hz}, the robot runs at {robot.control_rate_hz}")
    expected = observation_card(obs_spec)
    if [q.model_dump(exclude={"description"}) for q in card.observation.quantities] != [
        q.model_dump(exclude={"description"}) for q in expected.quantities
    ]:
        problems.append(f"observation is {_layout(card.observation)}, the task's is {_layout(expected)}")
    command = command_card(robot)
    for field in ("names", "units", "low", "high"):
        if getattr(card.command, field) != getattr(command, field):
            problems.append(f"command.{field} is {getattr(card.command, field)}, the robot's is "
                            f"{getattr(command, field)}")
    return problems


def _layout(obs: ObservationCard) -> str:
    return "[" + ", ".join(f"{q.name}({q.size}, {q.unit})" for q in obs.quantities) + "]"


def load_card(path: str | Path) -> PolicyCard:
    """Read and validate `card.yaml`; a missing file, bad YAML or an invalid field is a `PolicyError`."""
    path = Path(path)
    if not path.is_file():
        raise PolicyError(f"{path}: no such file (a policy folder holds {ONNX_FILE} and {CARD_FILE})")
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise PolicyError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise PolicyError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    if data.get("version") != CARD_VERSION:
        raise PolicyError(f"{path}: field 'version': {data.get('version')!r} is not a supported card version "
                          f"(this robot_rl reads version {CARD_VERSION})")
    try:
        return PolicyCard.model_validate(data)
    except ValidationError as e:
        raise PolicyError(format_validation_error(path, e)) from None


def save_card(card: PolicyCard, path: str | Path) -> Path:
    """Write `card` as YAML (fields in schema order)."""
    path = Path(path)
    path.write_text(yaml.safe_dump(card.model_dump(mode="json"), sort_keys=False, allow_unicode=True))
    return path
