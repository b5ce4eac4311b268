"""The simulated robot's hidden reality file and parameters: errors name the file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from robot_rl.deploy.nodes.common import ParameterError
from robot_rl.deploy.sim_driver import SimDriverConfig, load_reality

NOMINAL = {"link_mass_scale": 1.0, "payload_mass_kg": 0.0, "action_latency_steps": 0.0}


def test_reality_file_overrides_named_parameters(tmp_path: Path) -> None:
    path = tmp_path / "reality.yaml"
    path.write_text("link_mass_scale: 1.12\n")
    assert load_reality(path, NOMINAL) == {"link_mass_scale": 1.12, "payload_mass_kg": 0.0, "action_latency_steps": 0.0}


@pytest.mark.parametrize(("text", "error"), [
    ("link_mass: 1.1\n", r"unknown parameters \['link_mass'\]"),
    ("payload_mass_kg: heavy\n", "field 'payload_mass_kg' = 'heavy' is not a finite number"),
    ("payload_mass_kg: .nan\n", "field 'payload_mass_kg' = nan is not a finite number"),
    ("action_latency_steps: 1.5\n", "must be a whole number of control steps"),
])
def test_bad_reality_files_name_the_field(tmp_path: Path, text: str, error: str) -> None:
    path = tmp_path / "reality.yaml"
    path.write_text(text)
    with pytest.raises(ParameterError, match=error):
        load_reality(path, NOMINAL)


def test_a_missing_reality_file_is_a_parameter_error(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="reality_file.*no such file"):
        load_reality(tmp_path / "nope.yaml", NOMINAL)


def test_parameters_are_checked() -> None:
    with pytest.raises(ParameterError, match="missing parameter 'env_id'"):
        SimDriverConfig.from_parameters({"robot": "arm"})
    with pytest.raises(ParameterError, match="'realtime_factor' = 'fast' should be float"):
        SimDriverConfig.from_parameters({"robot": "arm", "env_id": "robot_rl/ArmReach-v0", "realtime_factor": "fast"})
