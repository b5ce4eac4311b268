"""`OnnxPolicy`: a checked policy artifact run with ONNX Runtime on one CPU thread.

    policy = OnnxPolicy.load("policies/arm_reach")          # robot from the card, or pass the robot's RobotSpec
    command = policy.act(obs)                               # obs [n_obs] or [B, n_obs] raw -> [n_cmd] / [B, n_cmd]

`load` refuses (with a `PolicyError` naming the file and the problem) an artifact whose card is invalid, whose
`policy.onnx` does not hash to the card's sha256 or does not load, whose robot, control rate, observation layout
or command differs from the robot's current description, or whose graph's input/output shapes differ from the card.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import onnxruntime as ort

from robot_rl.policy.card import CARD_FILE, PolicyCard, PolicyError, load_card, spec_mismatches
from robot_rl.robots import RobotSpec, load_robot
from robot_rl.spaces import VectorSpec


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def session_options() -> ort.SessionOptions:
    """Deterministic, single-threaded, sequential execution: one control loop owns one core."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: a corrupt file is reported as a PolicyError, not a log line
    return options


def task_observation_spec(env_id: str, robot: RobotSpec) -> VectorSpec:
    """The registered task's observation layout for `robot` (as the env builds it)."""
    from robot_rl.envs.registry import observation_spec

    return observation_spec(env_id, robot)


def _open_session(path: Path, card: PolicyCard) -> ort.InferenceSession:
    if not path.is_file():
        raise PolicyError(f"{path}: no such file")
    digest = sha256_file(path)
    if digest != card.onnx.sha256:
        raise PolicyError(f"{path}: sha256 {digest} does not match {CARD_FILE} ({card.onnx.sha256}); "
                          "the file was changed, truncated or belongs to another card")
    try:
        return ort.InferenceSession(str(path), session_options(), providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - onnxruntime raises its own exception types for corrupt models
        raise PolicyError(f"{path}: not a loadable ONNX model ({type(e).__name__}: {str(e).strip()[:300]})") from None


def _check_io(session: ort.InferenceSession, card: PolicyCard, path: Path) -> None:
    inputs, outputs = session.get_inputs(), session.get_outputs()
    expected = ((card.onnx.input, card.observation.size), (card.onnx.output, card.command.size))
    for kind, args, (name, size) in (("input", inputs, expected[0]), ("output", outputs, expected[1])):
        if len(args) != 1 or args[0].name != name:
            raise PolicyError(f"{path}: expected one {kind} '{name}', graph has {[a.name for a in args]}")
        shape, dtype = args[0].shape, args[0].type
        if len(shape) != 2 or shape[1] != size or isinstance(shape[0], int) or dtype != "tensor(float)":
            raise PolicyError(f"{path}: {kind} '{name}' is {dtype} {shape}, the card says float32 [batch, {size}]")


class OnnxPolicy:
    """A loaded, verified policy: raw observations in, commands in the robot's units out.

    A single observation runs through preallocated, bound input/output buffers (no allocation in ONNX Runtime):
    one `OnnxPolicy` serves one control loop; do not call `act` on the same instance from several threads.
    """

    def __init__(self, session: ort.InferenceSession, card: PolicyCard, obs_spec: VectorSpec, folder: Path) -> None:
        self.session, self.card, self.obs_spec, self.folder = session, card, obs_spec, folder
        self.n_obs, self.n_cmd = card.observation.size, card.command.size
        self._input, self._outputs = card.onnx.input, [card.onnx.output]
        self._element_names = [f"{q.name}[{i}] ({q.unit})" for q in obs_spec.quantities for i in range(q.size)]
        self._obs_buffer = np.zeros((1, self.n_obs), np.float32)
        self._cmd_buffer = np.zeros((1, self.n_cmd), np.float32)
        self._binding = session.io_binding()
        self._binding.bind_ortvalue_input(self._input, ort.OrtValue.ortvalue_from_numpy(self._obs_buffer))
        self._binding.bind_ortvalue_output(card.onnx.output, ort.OrtValue.ortvalue_from_numpy(self._cmd_buffer))

    @classmethod
    def load(cls, policy_dir: str | Path, robot: RobotSpec | None = None) -> OnnxPolicy:
        """Load and verify `policy_dir/{card.yaml, policy.onnx}` against `robot` (default: the card's robot)."""
        folder = Path(policy_dir)
        if not folder.is_dir():
            raise PolicyError(f"{folder}: no such policy folder")
        card_path = folder / CARD_FILE
        card = load_card(card_path)
        if robot is not None and robot.name != card.robot:
            raise PolicyError(f"{card_path}: the policy is for robot '{card.robot}' ({card.env_id}), "
                              f"not for robot '{robot.name}'")
        try:
            robot = robot if robot is not None else load_robot(card.robot)
            obs_spec = task_observation_spec(card.env_id, robot)
        except (KeyError, ValueError) as e:
            raise PolicyError(f"{card_path}: robot '{card.robot}' / env_id '{card.env_id}': "
                              f"{e.args[0] if e.args else e}") from None
        problems = spec_mismatches(card, robot, obs_spec)
        if problems:
            raise PolicyError(f"{card_path}: policy does not fit robot '{robot.name}': " + "; ".join(problems))
        onnx_path = folder / card.onnx.file
        session = _open_session(onnx_path, card)
        _check_io(session, card, onnx_path)
        return cls(session, card, obs_spec, folder)

    def check_observation(self, obs: np.ndarray) -> np.ndarray:
        """`obs` as float32 `[B, n_obs]`; a wrong shape or a non-finite element is a ValueError naming it."""
        x = np.asarray(obs, dtype=np.float32)
        if x.ndim not in (1, 2) or x.shape[-1] != self.n_obs:
            raise ValueError(f"observation has shape {list(x.shape)}; policy {self.folder} expects [{self.n_obs}] "
                             f"or [batch, {self.n_obs}] laid out as {list(self.obs_spec.names)}")
        x = x.reshape(-1, self.n_obs)
        finite = np.isfinite(x)
        if not finite.all():
            row, col = np.argwhere(~finite)[0]
            raise ValueError(f"observation element {col} = {self._element_names[col]} is {x[row, col]} "
                             f"(row {row}); the policy needs finite observations")
        return x

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Command `[n_cmd]` (or `[B, n_cmd]`) float32, robot units, for raw `obs` `[n_obs]` (or `[B, n_obs]`).

        Raises:
            ValueError: `obs` has the wrong shape or a non-finite element (named by quantity).

        """
        x = np.asarray(obs, dtype=np.float32)
        if x.shape != self._obs_buffer.shape[1:]:
            return self.session.run(self._outputs, {self._input: self.check_observation(x)})[0]
        if not math.isfinite(x.sum()):  # cheap test; the full check names the element (or passes on overflow)
            self.check_observation(x)
        self._obs_buffer[0] = x
        self.session.run_with_iobinding(self._binding)
        return self._cmd_buffer[0].copy()
