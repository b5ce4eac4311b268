"""`robot-rl dataset`: bags -> one labelled transition per tick -> a Minari dataset; refusals; a truncated bag."""

import hashlib
import json
from dataclasses import replace

import minari
import numpy as np
import pytest

from robot_rl.cli.main import main
from robot_rl.data import BagError, BagWriter, DatasetConfig, DatasetError, bag_sha256, build_dataset, qos_profile
from robot_rl.data.mcap_file import is_finalized
from robot_rl.data.ticks import (
    INTERVENTION_STATUS,
    INTERVENTION_TOPIC,
    POLICY_STATUS,
    POLICY_TOPIC,
    TICK_STATUS,
    TICK_TOPIC,
    TickRecord,
    observation_layout,
    policy_values,
    tick_values,
)
from robot_rl.deploy.diagnostics import episode_message, status_array
from robot_rl.deploy.msgs.typestore import typestore
from robot_rl.robots import load_robot
from robot_rl.spaces.arm import arm_reach_spec
from robot_rl.spaces.observe import observe_quantities

ROBOT = load_robot("arm")
HOME = np.array(ROBOT.arm.home_rad)
LAYOUT = observation_layout([(q.name, q.size) for q in arm_reach_spec(7).quantities])  # 7+7+3+3+3+7 = 30
SHA = "ab" * 32
T0, DT = 1_700_000_000_000_000_000, 20_000_000  # tick k at T0 + k*DT (50 Hz)
DIAG = "diagnostic_msgs/msg/DiagnosticArray"
GOALS = {1: np.array([0.5, 0.1, 0.4]), 2: np.array([0.4, -0.2, 0.5])}
# the hand-made sequence: episode 1 = ticks 1..5 with one intervention (onset at tick 3), episode 2 = ticks 6..8
EPISODE = {1: 1, 2: 1, 3: 1, 4: 1, 5: 1, 6: 2, 7: 2, 8: 2}
SOURCE = {1: "policy", 2: "policy", 3: "operator", 4: "operator", 5: "policy", 6: "policy", 7: "policy", 8: "policy"}
OPERATOR_AT = (2, 3, 4)  # the operator's command is fresh on tick 2 already (deadman not yet held: not used)


def applied(k):
    return HOME + 0.02 * k


def record(k):
    first = k in (1, 6)  # an episode's first tick: last action = the hold command (home)
    return TickRecord(
        tick=k, stamp_ns=T0 + k * DT, episode=EPISODE[k], mode="active", source=SOURCE[k], onset=k == 3,
        state_stamps_ns={"joint_states": T0 + k * DT - 1_000_000},
        quantities={"joint_pos_rad": HOME + 0.01 * k, "joint_vel_rad_s": np.full(7, 0.1 * k)},
        goal=GOALS[EPISODE[k]], last_action=HOME if first else applied(k - 1), proposed=HOME + 0.03 * k,
        operator=HOME - 0.05 * k if k in OPERATOR_AT else None, applied=applied(k),
        operator_id="sim-expert:rlif" if k in OPERATOR_AT else "", policy_sha256=SHA)


def expected_obs(k):
    r = record(k)
    return observe_quantities(ROBOT, r.quantities, r.goal, r.last_action)[0]


def write_log(path, ticks=range(1, 9), robot="arm", layout=LAYOUT, report=True, topics=("tick", "policy"),
              edit=None, flush_after=None):
    """A bag as the recorder writes it; `edit(k, values)` may spoil tick k's values; returns the file size after
    the flush that follows tick `flush_after` (None: no flush)."""
    size = None
    with BagWriter(path, typestore()) as bag:
        names = {"tick": TICK_TOPIC, "policy": POLICY_TOPIC, "episode": "/robot_rl/episode",
                 "intervention": INTERVENTION_TOPIC}
        ch = {name: bag.add_topic(topic, DIAG, [qos_profile(True, 10, name == "policy")])
              for name, topic in names.items() if name in (*topics, "episode", "intervention")}

        def write(name, t_ns, msg):
            bag.write(ch[name], t_ns, msg.serialize(use_version_2=False))

        if "policy" in topics:
            write("policy", T0, status_array(POLICY_STATUS, 0, "policy", policy_values(
                "policies/arm_reach", SHA, robot, "robot_rl/ArmReach-v0", layout, "env_id: robot_rl/ArmReach-v0\n"),
                T0))
        for k in ticks:
            values = tick_values(record(k))
            if edit:
                edit(k, values)
            if "tick" in topics:
                write("tick", T0 + k * DT, status_array(TICK_STATUS, 0, SOURCE[k], values, T0 + k * DT))
            if k == 3:
                write("intervention", T0 + k * DT, status_array(INTERVENTION_STATUS, 0, "onset", {"tick": 3},
                                                                 T0 + k * DT))
            if k == 5 and report:  # the robot ends episode 1 one step after tick 5: stamp = tick 6's stamp
                write("episode", T0 + 6 * DT, episode_message(1, True, 5, 4.2, T0 + 6 * DT))
            if k == flush_after:
                bag.flush()
                size = bag.file_paths[0].stat().st_size
    return size


def load(out, dataset_id="robot_rl/arm/interventions-v0", monkeypatch=None):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(out))
    return minari.load_dataset(dataset_id)


def test_one_transition_per_tick_with_hand_checked_labels(tmp_path, monkeypatch):
    write_log(tmp_path / "bag")
    lines = []
    report = build_dataset([tmp_path / "bag"], tmp_path / "out", progress=lines.append)
    assert report.transitions == 8 and report.episodes == 2  # 8 ticks, 2 controller episodes
    assert report.outcomes == {"unknown": 1, "failure": 0, "success": 1}
    assert report.labels == {"rlif_penalties": 1, "hil_serl_successes": 1, "interventions": 2, "dagger_labels": 2}
    (bag,) = report.bags
    assert (bag.ticks, bag.onsets, bag.operator_steps, bag.episode_reports, bag.unmatched_reports) == (8, 1, 2, 1, 0)
    assert (bag.intervention_events, bag.missing_ticks, bag.recovered) == (1, 0, False)
    assert lines[0].startswith(f"dataset: {tmp_path / 'bag'}: 8 ticks, 2 episodes") and "wrote 8" in lines[-1]

    ds = load(tmp_path / "out", monkeypatch=monkeypatch)
    assert ds.total_steps == 8 and [len(e) for e in ds.iterate_episodes()] == [5, 3]
    ep1, ep2 = ds[0], ds[1]
    # observations: tick k's, rebuilt with the task's spec function; the final row repeats the last one
    assert np.array_equal(ep1.observations, np.stack([expected_obs(k) for k in (1, 2, 3, 4, 5, 5)]))
    assert np.array_equal(ep2.observations, np.stack([expected_obs(k) for k in (6, 7, 8, 8)]))
    assert ep1.observations.shape == (6, 30) and ep1.observations.dtype == np.float32
    assert np.array_equal(ep1.actions, np.stack([applied(k) for k in range(1, 6)]))  # executed = applied
    # HIL-SERL: 1 on the final step of the successful episode 1; episode 2 has no report and no mark: unknown
    assert ep1.rewards.tolist() == [0, 0, 0, 0, 1] and ep2.rewards.tolist() == [0, 0, 0]
    assert ep1.terminations.tolist() == [0, 0, 0, 0, 1] and ep1.truncations.tolist() == [0, 0, 0, 0, 0]
    assert ep2.terminations.tolist() == [0, 0, 0] and ep2.truncations.tolist() == [0, 0, 1]
    i = ep1.infos  # N+1 rows (Minari's alignment with observations); the last is padding
    assert i["tick"].tolist() == [1, 2, 3, 4, 5, 5] and i["episode"].tolist() == [1] * 6
    assert i["stamp_ns"][:5].tolist() == [T0 + k * DT for k in range(1, 6)]
    assert i["source"].tolist() == [0, 0, 1, 1, 0, -1]  # policy, policy, operator, operator, policy, pad
    assert i["onset"].tolist() == [0, 0, 1, 0, 0, 0]
    # RLIF: -1 on tick 2, the policy step just before the onset at tick 3; the onset itself 0 and not terminal
    assert i["rlif_reward"].tolist() == [0, -1, 0, 0, 0, 0]
    assert i["intervention"].tolist() == [0, 0, 1, 1, 0, 0] and i["hil_serl_reward"].tolist() == [0, 0, 0, 0, 1, 0]
    # HG-DAgger: labels on operator steps only (tick 2's operator command was present but not used)
    assert i["dagger_mask"].tolist() == [0, 0, 1, 1, 0, 0]
    assert np.array_equal(i["operator_action"][1:4], np.stack([HOME - 0.05 * k for k in (2, 3, 4)]))
    assert np.isnan(i["operator_action"][[0, 4, 5]]).all()
    assert np.array_equal(i["proposed_action"][:5], np.stack([HOME + 0.03 * k for k in range(1, 6)]))
    assert i["policy_index"].tolist() == [0] * 6
    assert ep2.infos["rlif_reward"].tolist() == [0] * 4 and ep2.infos["dagger_mask"].tolist() == [0] * 4

    meta = ds.storage.metadata["robot_rl"]
    assert meta["bags"][0]["sha256"] == bag_sha256(tmp_path / "bag") and meta["transitions"] == 8
    assert [p["sha256"] for p in meta["policies"]] == [SHA] and meta["policies"][0]["ticks"] == 8
    assert meta["policies"][0]["card"].startswith("env_id: robot_rl/ArmReach-v0")
    assert (meta["robot"], meta["env_id"], meta["observation"]) == ("arm", "robot_rl/ArmReach-v0", LAYOUT)
    assert meta["operators"] == ["sim-expert:rlif"] and meta["sources"] == ["policy", "operator", "hold"]
    episodes = list(ds.storage.get_episode_metadata([0, 1]))
    assert [(e["outcome"], e["controller_episode"], e["first_tick"], e["last_tick"]) for e in episodes] == [
        ("success", 1, 1, 5), ("unknown", 2, 6, 8)]
    assert minari.MinariDataset(report.data_path).total_steps == 8  # opens by path too


def test_operator_mark_gives_the_outcome_and_several_bags_add_up(tmp_path, monkeypatch):
    def mark_failure(k, values):
        if k == 8:
            values["mark"] = "failure"

    write_log(tmp_path / "a")
    write_log(tmp_path / "b", report=False, edit=mark_failure)  # no simulator report: the operator's marks decide
    report = build_dataset([tmp_path / "a", tmp_path / "b"], tmp_path / "out")
    assert report.transitions == 16 and report.episodes == 4  # 2 x 8 ticks
    # a: success, unknown; b: episode 1 unknown (no report, no mark), episode 2 failure (marked on tick 8)
    assert report.outcomes == {"unknown": 2, "failure": 1, "success": 1}
    ds = load(tmp_path / "out", monkeypatch=monkeypatch)
    assert [len(e) for e in ds.iterate_episodes()] == [5, 3, 5, 3]
    assert ds[3].terminations.tolist() == [0, 0, 1] and ds[3].rewards.tolist() == [0, 0, 0]  # failure: terminal
    assert ds[2].truncations.tolist() == [0, 0, 0, 0, 1]
    assert ds[3].infos["mark"].tolist() == [-1, -1, 0, -1]
    assert [b["sha256"] for b in ds.storage.metadata["robot_rl"]["bags"]] == [bag_sha256(tmp_path / "a"),
                                                                              bag_sha256(tmp_path / "b")]


def test_a_missing_tick_splits_the_episode_and_is_counted(tmp_path, monkeypatch):
    write_log(tmp_path / "bag", ticks=[1, 2, 3, 5, 6, 7, 8])  # tick 4 lost
    report = build_dataset([tmp_path / "bag"], tmp_path / "out")
    assert report.transitions == 7 and report.bags[0].missing_ticks == 1
    ds = load(tmp_path / "out", monkeypatch=monkeypatch)
    assert [len(e) for e in ds.iterate_episodes()] == [3, 1, 3]  # ticks 1-3 | 5 | 6-8
    assert ds[0].truncations.tolist() == [0, 0, 1]  # no next state after tick 3 in the log
    assert ds[0].infos["rlif_reward"].tolist() == [0, -1, 0, 0] and ds[1].rewards.tolist() == [1]


def test_bag_sha256_is_the_sha256sum_listing(tmp_path):
    write_log(tmp_path / "bag")
    (tmp_path / "bag" / "notes.txt").write_text("not part of the bag")
    listing = "".join(f"{hashlib.sha256((tmp_path / 'bag' / n).read_bytes()).hexdigest()}  {n}\n"
                      for n in ("bag_0.mcap", "metadata.yaml"))  # sorted by name
    assert bag_sha256(tmp_path / "bag") == hashlib.sha256(listing.encode()).hexdigest()


def test_bags_from_another_robot_or_observation_spec_are_refused(tmp_path):
    write_log(tmp_path / "arm")
    write_log(tmp_path / "quad", robot="quadrotor")
    with pytest.raises(DatasetError, match=r"quad: refused.*robot 'quadrotor' \(first bag .*arm: 'arm'\)"):
        build_dataset([tmp_path / "arm", tmp_path / "quad"], tmp_path / "out1")
    other = LAYOUT.replace("joint_vel_rad_s:7,", "")
    write_log(tmp_path / "spec", layout=other)
    with pytest.raises(DatasetError, match=r"spec: refused.*observation 'joint_pos_rad:7,ee_pos_m:3"):
        build_dataset([tmp_path / "arm", tmp_path / "spec"], tmp_path / "out2")
    # alone, that layout (23 elements) does not match what the arm's spec function builds (30)
    with pytest.raises(DatasetError, match=r"field 'observation' .* has 23 elements, robot 'arm''s spec function "
                                           r"builds 30"):
        build_dataset([tmp_path / "spec"], tmp_path / "out3")
    assert not (tmp_path / "out1").exists() and not (tmp_path / "out2").exists()


@pytest.mark.parametrize("missing", ["tick", "policy"])
def test_a_missing_topic_is_named(tmp_path, missing):
    write_log(tmp_path / "bag", topics=[t for t in ("tick", "policy") if t != missing])
    topic = {"tick": TICK_TOPIC, "policy": POLICY_TOPIC}[missing]
    with pytest.raises(DatasetError, match=rf"bag: missing topic\(s\) \['{topic}'\]"):
        build_dataset([tmp_path / "bag"], tmp_path / "out")


@pytest.mark.parametrize(("field", "value", "message"), [
    ("applied", "0.1,abc", "field 'applied' = '0.1,abc' is not a comma-separated list of floats"),
    ("applied", "0.1,0.2", "field 'applied' has 2 elements, robot 'arm' commands 7"),
    ("source", "robot", "field 'source' 'robot'"),
    ("q.joint_vel_rad_s", "", "the observation cannot be rebuilt"),
])
def test_a_bad_tick_record_names_bag_topic_tick_and_field(tmp_path, field, value, message):
    def spoil(k, values):
        if k == 4:
            values[field] = value

    write_log(tmp_path / "bag", edit=spoil)
    with pytest.raises(DatasetError) as err:
        build_dataset([tmp_path / "bag"], tmp_path / "out")
    assert str(err.value).startswith(f"{tmp_path / 'bag'}: topic {TICK_TOPIC}, tick 4: ") and message in str(err.value)


def test_a_truncated_bag_is_recovered_on_a_copy_and_the_damage_counted(tmp_path, monkeypatch):
    bag = tmp_path / "bag"
    flushed = write_log(bag, flush_after=5)  # chunk 1: policy, ticks 1-5, the report; chunk 2: ticks 6-8
    mcap = bag / "bag_0.mcap"
    with mcap.open("r+b") as f:  # the recorder died 100 bytes into writing chunk 2
        f.truncate(flushed + 100)
    before = bag_sha256(bag)
    with pytest.raises(BagError, match="unfinished"):
        build_dataset([bag], tmp_path / "refused", DatasetConfig(recover=False))
    report = build_dataset([bag], tmp_path / "out")
    b = report.bags[0]
    assert b.recovered and b.repaired_files == ["bag_0.mcap"] and b.removed_files == []
    assert b.bytes_dropped == 100  # everything after the last complete chunk
    assert b.sha256 == before and report.transitions == b.ticks == 5  # ticks 6-8 were in the torn chunk
    assert bag_sha256(bag) == before and not is_finalized(mcap)  # the user's bag is untouched
    ds = load(tmp_path / "out", monkeypatch=monkeypatch)
    assert [len(e) for e in ds.iterate_episodes()] == [5] and ds[0].rewards.tolist() == [0, 0, 0, 0, 1]


def test_an_existing_dataset_is_not_overwritten(tmp_path):
    write_log(tmp_path / "bag")
    build_dataset([tmp_path / "bag"], tmp_path / "out")
    with pytest.raises(DatasetError, match="exists already"):
        build_dataset([tmp_path / "bag"], tmp_path / "out")
    report = build_dataset([tmp_path / "bag"], tmp_path / "out", replace(DatasetConfig(), dataset_id="lab/arm/b-v1"))
    assert report.data_path == str(tmp_path / "out" / "lab/arm/b-v1" / "data")


def test_cli_writes_the_dataset_and_reports_errors(tmp_path, capsys, monkeypatch):
    write_log(tmp_path / "bag")
    assert main(["dataset", str(tmp_path / "bag"), "--out", str(tmp_path / "out"), "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["transitions"] == 8 and report["labels"]["rlif_penalties"] == 1
    assert "8 ticks, 2 episodes" in captured.err  # progress on stderr
    assert load(tmp_path / "out", monkeypatch=monkeypatch).total_steps == 8
    assert main(["dataset", str(tmp_path / "bag"), "--out", str(tmp_path / "human"), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "transitions: 8 (one per controller tick)" in captured.out and captured.err == ""
    assert f"MINARI_DATASETS_PATH={tmp_path / 'human'}" in captured.out
    write_log(tmp_path / "nopolicy", topics=("tick",))
    assert main(["dataset", str(tmp_path / "nopolicy"), "--out", str(tmp_path / "out2")]) == 2
    assert "robot-rl dataset: error:" in capsys.readouterr().err
    assert main(["dataset", str(tmp_path / "missing"), "--out", str(tmp_path / "out3")]) == 2
    assert "no such bag directory" in capsys.readouterr().err
