"""PolicyCard: schema round trip, errors that name file and field, spec comparison."""

import pytest
import yaml

from robot_rl.policy.card import (
    CARD_FILE,
    PolicyCard,
    PolicyError,
    command_card,
    load_card,
    observation_card,
    save_card,
    spec_mismatches,
)
from robot_rl.robots import load_robot
from robot_rl.spaces.quadrotor import QUADROTOR_HOVER_SPEC


def card_dict(exported):
    report = exported
    return yaml.safe_load((report.out_dir / CARD_FILE).read_text())


def write(tmp_path, data):
    path = tmp_path / CARD_FILE
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_exported_card_round_trips(exported, tmp_path):
    report = exported
    card = load_card(report.out_dir / CARD_FILE)
    assert card == report.card
    assert isinstance(card, PolicyCard) and card.version == 1 and card.gate is None
    assert load_card(save_card(card, tmp_path / CARD_FILE)) == card


def test_card_records_what_a_consumer_needs(exported):
    card = exported.card
    assert (card.robot, card.env_id, card.control_rate_hz) == ("quadrotor", "robot_rl/QuadrotorHover-v0", 100.0)
    # 22 = position_error 3 + rotation 9 + linear velocity 3 + angular velocity 3 + last action 4
    assert card.observation.size == 22
    assert [q.name for q in card.observation.quantities] == list(QUADROTOR_HOVER_SPEC.names)
    assert card.command.names == ["thrust", "roll_rate", "pitch_rate", "yaw_rate"]
    assert card.command.units == ["N", "rad/s", "rad/s", "rad/s"]
    assert (card.action_latency_steps.low, card.action_latency_steps.high) == (0, 1)
    assert card.randomization["mass_kg"].low == pytest.approx(0.0257)
    assert card.training.algo == "ppo" and card.training.git_commit == "0123abcd"
    assert card.training.env_steps == 1000
    assert {"torch", "onnx", "onnxruntime", "mujoco", "numpy", "robot_rl"} <= set(card.versions.model_dump())
    assert len(card.onnx.sha256) == 64 and card.onnx.opset >= 17


def test_unknown_field_names_file_and_field(exported, tmp_path):
    data = card_dict(exported)
    data["command"]["colour"] = "red"
    path = write(tmp_path, data)
    with pytest.raises(PolicyError, match="colour") as e:
        load_card(path)
    assert str(path) in str(e.value) and "command.colour" in str(e.value)


@pytest.mark.parametrize(("field", "value", "where"), [
    ("onnx", {"file": "policy.onnx", "sha256": "xyz", "opset": 17}, "onnx.sha256"),
    ("control_rate_hz", -1.0, "control_rate_hz"),
    ("evaluation", [{"backend": "gazebo"}], "evaluation.0.backend"),
])
def test_invalid_values_name_the_field(exported, tmp_path, field, value, where):
    data = card_dict(exported)
    data[field] = value
    path = write(tmp_path, data)
    with pytest.raises(PolicyError, match=rf"{path}: field '{where}'"):
        load_card(path)


def test_missing_field_and_observation_sizes(exported, tmp_path):
    data = card_dict(exported)
    del data["robot"]
    with pytest.raises(PolicyError, match="field 'robot'"):
        load_card(write(tmp_path, data))
    data = card_dict(exported)
    data["observation"]["size"] = 23  # quantities add up to 22
    with pytest.raises(PolicyError, match="add up to 22"):
        load_card(write(tmp_path, data))


def test_version_missing_file_and_bad_yaml(exported, tmp_path):
    data = card_dict(exported)
    data["version"] = 2
    with pytest.raises(PolicyError, match="field 'version'"):
        load_card(write(tmp_path, data))
    with pytest.raises(PolicyError, match="no such file"):
        load_card(tmp_path / "nope.yaml")
    (tmp_path / "bad.yaml").write_text("version: [1\n")
    with pytest.raises(PolicyError, match="not valid YAML"):
        load_card(tmp_path / "bad.yaml")


def test_spec_mismatches_list_each_difference(exported):
    card = exported.card
    robot = load_robot("quadrotor")
    assert spec_mismatches(card, robot, QUADROTOR_HOVER_SPEC) == []
    assert observation_card(QUADROTOR_HOVER_SPEC) == card.observation
    assert command_card(robot) == card.command
    command = robot.command.model_copy(update={"high": [0.7, 6.0, 6.0, 3.0]})
    faster = robot.model_copy(update={"command": command, "control_rate_hz": 200.0})
    problems = spec_mismatches(card, faster, QUADROTOR_HOVER_SPEC)
    assert len(problems) == 2
    assert "control_rate_hz is 100.0" in problems[0] and "command.high" in problems[1]
