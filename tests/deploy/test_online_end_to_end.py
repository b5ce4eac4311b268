"""Online learning end to end over DDS: `robot-rl launch --online` with the simulated operator against the arm's
hidden reality. The learner trains on the live ticks and offers versions; the controller acts only with versions
whose check passed, swaps only between episodes, and logs every decision. A `kill -9` of the learner neither stalls
nor stops the controller, and a resumed learner rebuilds every logged tick from the bag and its own state exactly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from robot_rl.data.bag import read_bag
from robot_rl.learn.checkpoint import load_checkpoint
from tests.deploy.test_end_to_end import tick_records

ROOT = Path(__file__).resolve().parents[2]
PARENT_SHA = "policies/arm-reach"
QUICK = ["learner.warmup_ticks=120", "learner.train_every_ticks=120", "learner.updates=40", "learner.critic_warmup=10",
         "controller.online.check_episodes=4", "controller.online.learner_timeout_s=5.0"]


def _command(tmp_path: Path, episodes: int, sets: list[str]) -> list[str]:
    cmd = [sys.executable, "-m", "robot_rl.cli.main", "launch", str(ROOT / "launch" / "arm.yaml"), "--middleware",
           "dds", "--record", str(tmp_path / "bag"), "--duration", "400", "--operator", "sim-expert", "--online",
           "--set", f"sim_driver.episodes={episodes}", "--set", f"sim_driver.summary_file={tmp_path / 'sim.json'}",
           "--set", f"sim_driver.reality_file={ROOT / 'sim/arm/realities/weak_actuators.yaml'}",
           "--set", f"learner.out_dir={tmp_path / 'learner'}", "--set", f"learner.summary_file={tmp_path / 'l.json'}"]
    return cmd + [a for s in [*QUICK, *sets] for a in ("--set", s)]


def swap_events(bag: Path) -> list[dict[str, str]]:
    """The controller's online decisions, in order."""
    return [{kv.key: kv.value for kv in msg.status[0].values} for _, _, _, msg in read_bag(bag, ["/robot_rl/swap"])]


def _parent_sha() -> str:
    from robot_rl.policy.runner import sha256_file

    return sha256_file(ROOT / PARENT_SHA / "policy.onnx")


@pytest.mark.parametrize("max_drop", [1.0, -1.0], ids=["lenient-check", "impossible-check"])
def test_only_checked_versions_act_and_only_from_an_episode_start(tmp_path, ros_domain_id, max_drop):
    cmd = _command(tmp_path, 8, [f"controller.online.max_success_drop={max_drop}"])
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert json.loads((tmp_path / "sim.json").read_text())["episodes"] == 8
    records, events = tick_records(tmp_path / "bag"), swap_events(tmp_path / "bag")
    kinds = [e["kind"] for e in events]
    offered = {e["sha256"] for e in events if e["kind"] == "offer_received"}
    passed = {e["sha256"] for e in events if e["kind"] == "check_passed"}
    assert offered and kinds.count("check_started") == len(offered)  # every offer was checked
    acted = {r.policy_sha256 for r in records}
    assert acted <= {_parent_sha()} | passed  # nothing acted without a passed check
    if max_drop < 0:
        assert acted == {_parent_sha()} and not passed and kinds.count("rejected") == len(offered)
    else:
        assert "swapped" in kinds and len(acted) > 1
    for before, after in zip(records, records[1:], strict=False):  # a policy changes only at an episode's start
        if after.policy_sha256 != before.policy_sha256:
            assert after.episode == before.episode + 1
    policies = {kv.value for _, _, _, msg in read_bag(tmp_path / "bag", ["/robot_rl/policy"])
                for kv in msg.status[0].values if kv.key == "policy_sha256"}
    assert acted <= policies  # each policy that acted was announced (with its card) on /robot_rl/policy


def _learner_pid(out_dir: Path) -> int:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"robot_rl.deploy.nodes.learner" in cmdline and any(str(out_dir).encode() in a for a in cmdline):
                return int(entry.name)
    raise AssertionError(f"no learner process for {out_dir}")


def test_kill_9_of_the_learner_loses_nothing_and_stalls_nothing(tmp_path, ros_domain_id):
    proc = subprocess.Popen(_command(tmp_path, 10, ["controller.online.max_success_drop=1.0"]), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "learner: offered version 1" in line:
            os.kill(_learner_pid(tmp_path / "learner"), signal.SIGKILL)
            break
    lines += proc.stdout.readlines()
    assert proc.wait(timeout=600) == 0, "".join(lines[-60:])
    assert json.loads((tmp_path / "sim.json").read_text())["episodes"] == 10  # the robot went on to the end
    kinds = [e["kind"] for e in swap_events(tmp_path / "bag")]
    assert "learner_stale" in kinds  # noticed within the deadline, not waited on
    ticks = len(tick_records(tmp_path / "bag"))
    state = torch.load(tmp_path / "learner" / "learner.pt", weights_only=False)  # atomic: never half-written
    assert state["version"] >= 1
    # resume: the learner alone, from its state and the bag (the source of truth)
    node = [sys.executable, "-m", "robot_rl.deploy.nodes.learner", "--params", str(ROOT / "launch" / "arm.yaml"),
            "--node", "learner", "--middleware", "dds", "--set", f"policy={ROOT / PARENT_SHA}",
            "--set", f"out_dir={tmp_path / 'learner'}", "--set", "resume=true",
            "--set", f"resume_bags=[{tmp_path / 'bag'}]", "--set", f"summary_file={tmp_path / 'resumed.json'}",
            "--set", "method=hg-dagger"]
    resumed = subprocess.Popen(node, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    first = resumed.stdout.readline()
    deadline = time.monotonic() + 120
    while "resumed version" not in first and time.monotonic() < deadline and first:
        first = resumed.stdout.readline()
    resumed.send_signal(signal.SIGINT)
    resumed.wait(timeout=60)
    summary = json.loads((tmp_path / "resumed.json").read_text())
    assert summary["resumed_ticks"] == ticks and summary["version"] == state["version"]
    version = tmp_path / "learner" / "versions" / f"v{state['version']:04d}"
    exported = load_checkpoint(version / "checkpoint.pt")["policy"]["state_dict"]
    for key, value in state["actor"].items():  # the resumed actor is the last version's, not a random one
        assert torch.equal(exported[key], value), key
