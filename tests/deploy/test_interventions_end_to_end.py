"""Operator takeover end to end, one robot each: `robot-rl launch --operator sim-expert` runs the recorder, the
simulated robot (hidden reality), a simulated RLIF operator and the controller as separate processes over DDS, in
lockstep. The bag must hold the proposed, operator and applied commands and the source on every tick, as many
takeover onsets as the operator says it made, and no command beyond a limit, handovers included."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from robot_rl.data.bag import read_bag
from robot_rl.data.dataset import build_dataset
from robot_rl.robots import load_robot
from robot_rl.safety import SafetyFilter
from tests.deploy.test_end_to_end import (
    TOLERANCE,
    assert_rate_limited_within_episodes,
    command_box,
    commands_in_bag,
    launch,
    policy_hashes_in_bag,
    tick_records,
    yaml_card_hash,
)

EPISODES = {"arm": 3, "quadrotor": 1, "mobile_base": 2}


@pytest.mark.parametrize("robot", list(EPISODES))
def test_simulated_operator_takes_over_and_every_tick_is_logged(robot: str, tmp_path: Path,
                                                                ros_domain_id: str) -> None:
    op_summary = tmp_path / "operator.json"
    result, summary, bag = launch(robot, tmp_path, EPISODES[robot], "--operator", "sim-expert",
                                  "--set", f"operator.summary_file={op_summary}")
    assert "[operator]" in result.stdout and summary["episodes"] == EPISODES[robot]
    operator = json.loads(op_summary.read_text())
    records = tick_records(bag)
    commands, times, goals = commands_in_bag(bag, robot)
    assert len(records) == len(commands) == summary["commands_received"]  # one record per command sent, no loss
    assert [r.tick for r in records] == list(range(1, len(records) + 1))
    n_cmd = len(load_robot(robot).command.names)
    for r in records:  # proposed, operator (when present) and applied on every tick, with the source
        assert r.source in ("policy", "operator") and r.proposed.shape == r.applied.shape == (n_cmd,)
        assert (r.operator is not None) == (r.source == "operator")
    np.testing.assert_array_equal(np.array([r.applied for r in records]), commands)  # the record is what was sent
    onsets = sum(r.onset for r in records)
    events = [kv.value for _, _, _, msg in read_bag(bag, topics=["/robot_rl/intervention"])
              for kv in msg.status[0].values if kv.key == "kind"]
    assert onsets == events.count("onset") == operator["interventions"] > 0  # the log agrees with the operator
    assert sum(r.source == "operator" for r in records) == operator["operator_steps"]
    assert policy_hashes_in_bag(bag) == {yaml_card_hash(robot)}
    low, high = command_box(robot)
    assert (commands >= low - TOLERANCE).all() and (commands <= high + TOLERANCE).all()
    if robot == "mobile_base":  # handovers included: speeding up by at most accel x dt per cycle
        max_step = SafetyFilter.for_robot(load_robot(robot)).limits.command_step
        assert_rate_limited_within_episodes(commands, times, goals, max_step)
    report = build_dataset([bag], tmp_path / "dataset")  # one transition per controller tick, labels per onset
    assert report.transitions == len(records) and report.labels["rlif_penalties"] <= onsets
    assert report.labels["interventions"] == operator["operator_steps"]
    if robot == "arm":  # implied joint speeds of consecutive targets within an episode stay within the limits
        vmax = SafetyFilter.for_robot(load_robot(robot)).limits.velocity_max_rad_s
        same = np.diff([r.episode for r in records]) == 0
        speed = np.abs(np.diff(commands, axis=0))[same] * 50.0  # rad per 20 ms step -> rad/s
        assert (speed <= vmax + 1e-6).all()
