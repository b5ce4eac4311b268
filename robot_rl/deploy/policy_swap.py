"""The controller's side of online learning: take offered versions, check them, swap between episodes, roll back.

The controller owns one `SwapManager` when `online.enabled`. It listens to the learner on `/robot_rl/online`
(heartbeats, offers) and to `/robot_rl/episode` (outcomes), and logs every decision on `/robot_rl/swap`:

- an offer starts `robot_rl.deploy.swap_check` in a separate process (card contract, ONNX parity, randomized sim
  not worse than the current policy); the tick loop only polls it, so a slow check never delays a command;
- a passed candidate is swapped in at the next episode boundary, atomically (the next tick acts, and is logged,
  with the new policy; `/robot_rl/policy` announces it); a failed one is `rejected`, with the reasons;
- after a swap, the success and intervention rates of the new version's last `rollback_window` episodes are compared
  with the previous version's (`rollback_reason`); worse by more than the margins: it is rolled back;
- the learner is `stale` when no heartbeat came for `learner_timeout_s` (wall time); the controller goes on with the
  policy it has. In lockstep simulation (`lockstep`), the controller waits at an episode boundary until the learner
  has processed the episode's report and is not training, then for the check of what it offered, each wait bounded
  by a deadline, so that runs are reproducible without ever hanging on a dead learner.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from robot_rl.deploy.diagnostics import status_array
from robot_rl.deploy.msgs import DiagnosticArray, DiagnosticStatus
from robot_rl.deploy.transport import COMMAND_QOS, LOG_QOS, Transport
from robot_rl.policy import OnnxPolicy, PolicyError
from robot_rl.robots import RobotSpec

SWAP_STATUS = "robot_rl/swap"


@dataclass(frozen=True)
class OnlineConfig:
    """The controller's `online` parameters."""

    enabled: bool = False
    topic: str = "/robot_rl/online"
    """The learner's heartbeats and offers."""
    swap_topic: str = "/robot_rl/swap"
    """Where the controller logs offers, checks, swaps, rejections, rollbacks and learner staleness."""
    lockstep: bool = False
    """Simulation only: wait (bounded) at episode boundaries for a due version and its check."""
    learner_timeout_s: float = 10.0
    """No heartbeat for this long (wall time): the learner is stale."""
    offer_timeout_s: float = 300.0
    """Lockstep: longest wait for a due version."""
    check_timeout_s: float = 300.0
    """A check running longer is killed and counts as failed."""
    check_episodes: int = 16
    check_seed: int = 0
    max_success_drop: float = 0.05
    """The check fails when the candidate's randomized-sim success is lower than the current policy's by more."""
    rollback_window: int = 5
    """Episodes of each version compared for a rollback."""
    rollback_success_drop: float = 0.2
    rollback_intervention_rise: float = 0.15
    """Operator share of the ticks."""


def rollback_reason(before: Sequence[tuple[bool, float]], after: Sequence[tuple[bool, float]], window: int,
                    success_drop: float, intervention_rise: float) -> str | None:
    """Why to roll back from a new version, or None.

    Args:
        before: the previous version's episodes, (success, operator share of the ticks) each, oldest first.
        after: the new version's episodes.
        window: how many of the latest episodes of each are compared; fewer on either side: None.
        success_drop: roll back when the success rate fell by more than this.
        intervention_rise: roll back when the operator share rose by more than this.

    """
    if window < 1 or len(before) < window or len(after) < window:
        return None
    b, a = np.array(before[-window:], dtype=float), np.array(after[-window:], dtype=float)
    if a[:, 0].mean() < b[:, 0].mean() - success_drop:
        return f"success fell from {b[:, 0].mean():.0%} to {a[:, 0].mean():.0%} over {window} episodes"
    if a[:, 1].mean() > b[:, 1].mean() + intervention_rise:
        return f"interventions rose from {b[:, 1].mean():.0%} to {a[:, 1].mean():.0%} of the ticks"
    return None


@dataclass
class _Version:
    folder: str
    policy: OnnxPolicy
    version: int
    episodes: list[tuple[bool, float]] = field(default_factory=list)


class SwapManager:
    """Offers in, checked policies out (see the module docstring)."""

    def __init__(self, transport: Transport, config: OnlineConfig, folder: str, policy: OnnxPolicy,
                 spec: RobotSpec) -> None:
        self.transport, self.config, self.spec = transport, config, spec
        self.current = _Version(folder, policy, 0)
        self.previous: list[_Version] = []
        self.offers: list[dict[str, str]] = []
        self.check: tuple[subprocess.Popen, Path, dict[str, str], float] | None = None
        self.ready: dict[str, str] | None = None
        """The offer whose check passed, swapped in (loaded) at the next episode boundary."""
        self.refused: set[str] = set()
        self.reports = 0
        """Episode reports heard."""
        self.learner_reports, self.learner_busy = -1, False
        """The learner's last heartbeat: reports it has processed, and whether it is training."""
        self.should_stop: Callable[[], bool] = lambda: False
        """Ends a lockstep wait at once (the node's stop event)."""
        self.started = time.monotonic()
        self.last_beat: float | None = None
        self.stale = False
        self.episode_ticks, self.episode_operator_ticks = 0, 0
        self._tmp = Path(tempfile.mkdtemp(prefix="robot_rl_swap_"))
        self.pub = transport.create_publisher(config.swap_topic, DiagnosticArray, LOG_QOS)
        transport.create_subscription(config.topic, DiagnosticArray, self.on_online, LOG_QOS)
        transport.create_subscription("/robot_rl/episode", DiagnosticArray, self.on_episode, COMMAND_QOS)

    # ------------------------------------------------------------------------------------------ inputs
    def on_online(self, msg: Any) -> None:  # noqa: ANN401 - DiagnosticArray
        """A learner heartbeat, offer or no_offer."""
        values = {kv.key: kv.value for s in msg.status for kv in s.values}
        kind = values.get("kind")
        self.last_beat = time.monotonic()
        if self.stale:
            self.stale = False
            self._event("learner_alive", {})
        if kind == "heartbeat":
            self.learner_reports, self.learner_busy = int(values["reports"]), values["busy"] == "True"
        elif kind == "offer" and values.get("sha256") not in self.refused:
            self.offers.append(values)
            self._event("offer_received", {k: values[k] for k in ("version", "sha256", "path", "cut")})
        elif kind == "no_offer":
            self._event("no_offer", {k: values.get(k, "") for k in ("cut", "reason")})

    def on_episode(self, msg: Any) -> None:  # noqa: ANN401 - DiagnosticArray
        """An episode outcome: credited to the version that acted, with its operator share."""
        values = {kv.key: kv.value for s in msg.status for kv in s.values}
        share = self.episode_operator_ticks / max(1, self.episode_ticks)
        self.current.episodes.append((values.get("success") == "True", share))
        self.reports += 1
        self.episode_ticks, self.episode_operator_ticks = 0, 0

    def note_tick(self, source: str) -> None:
        """Count one published tick and whether the operator acted in it."""
        self.episode_ticks += 1
        self.episode_operator_ticks += source == "operator"

    # ------------------------------------------------------------------------------------------ polling
    def poll(self) -> None:
        """Every tick: learner staleness, the running check, the next check. Never blocks."""
        silent = time.monotonic() - (self.last_beat if self.last_beat is not None else self.started)
        if not self.stale and silent > self.config.learner_timeout_s:
            self.stale = True
            self._event("learner_stale", {"silent_s": round(silent, 2)})
        if self.check is not None:
            self._collect_check()
        if self.check is None and self.offers:
            self._start_check(self.offers[-1])
            self.offers.clear()

    def _start_check(self, offer: dict[str, str]) -> None:
        c = self.config
        out = self._tmp / f"check_{offer['version']}.json"
        cmd = [sys.executable, "-m", "robot_rl.deploy.swap_check", offer["path"], "--current", self.current.folder,
               "--episodes", str(c.check_episodes), "--seed", str(c.check_seed), "--max-drop",
               str(c.max_success_drop), "--out", str(out)]
        with out.with_suffix(".err").open("wb") as err:
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        self.check = (proc, out, offer, time.monotonic())
        self._event("check_started", {"version": offer["version"], "sha256": offer["sha256"]})

    def _collect_check(self) -> None:
        proc, out, offer, started = self.check
        if proc.poll() is None:
            if time.monotonic() - started > self.config.check_timeout_s:
                proc.kill()
                proc.wait()
                self.check = None
                self.refused.add(offer["sha256"])
                self._event("rejected", {"version": offer["version"], "sha256": offer["sha256"],
                                         "reasons": f"check ran over {self.config.check_timeout_s} s"})
            return
        self.check = None
        if out.is_file():
            result = json.loads(out.read_text())
        else:
            err = out.with_suffix(".err").read_text(errors="replace").strip().splitlines() or ["no output"]
            result = {"passed": False, "reasons": [f"check crashed (exit {proc.returncode}): {err[-1]}"]}
        figures = {k: v for k, v in result.get("figures", {}).items() if k.endswith("success")}
        if not result["passed"]:
            self.refused.add(offer["sha256"])
            self._event("rejected", {"version": offer["version"], "sha256": offer["sha256"],
                                     "reasons": "; ".join(result["reasons"]), **figures})
            return
        self.ready = offer
        self._event("check_passed", {"version": offer["version"], "sha256": offer["sha256"], **figures})

    # ------------------------------------------------------------------------------------------ boundary
    def _wait(self, done: Callable[[], bool], timeout_s: float, spin: Callable[[float], None]) -> bool:
        deadline = time.monotonic() + timeout_s
        while not done():
            if time.monotonic() > deadline or self.should_stop():
                return False
            spin(0.01)
            self.poll()
        return True

    def _lockstep_waits(self, spin: Callable[[float], None]) -> None:
        """Until the learner has processed every episode report and is idle (or stale), then the check's result."""
        reports = self.reports
        self._wait(lambda: self.stale or (self.learner_reports >= reports and not self.learner_busy),
                   self.config.offer_timeout_s, spin)
        self._wait(lambda: self.check is None and not self.offers, self.config.check_timeout_s + 1.0, spin)

    def at_boundary(self, ticks: int, spin: Callable[[float], None]) -> tuple[str, OnnxPolicy] | None:
        """At an episode boundary (`ticks` published so far): the policy to act from now on, or None to keep it."""
        if self.config.lockstep:
            self._lockstep_waits(spin)
        if self.previous:
            before = self.previous[-1]
            c = self.config
            why = rollback_reason(before.episodes, self.current.episodes, c.rollback_window, c.rollback_success_drop,
                                  c.rollback_intervention_rise)
            if why is not None:
                self.refused.add(self.current.policy.card.onnx.sha256)
                self._event("rolled_back", {"from_version": self.current.version, "to_version": before.version,
                                            "sha256": before.policy.card.onnx.sha256, "reason": why})
                self.current, self.ready = self.previous.pop(), None
                return self.current.folder, self.current.policy
        if self.ready is None:
            return None
        offer, self.ready = self.ready, None
        try:  # loaded here, between episodes, not in a tick: the swap is the only place it may cost time
            policy = OnnxPolicy.load(offer["path"], self.spec)
        except PolicyError as e:
            self.refused.add(offer["sha256"])
            self._event("rejected", {"version": offer["version"], "sha256": offer["sha256"], "reasons": str(e)})
            return None
        old, self.current = self.current, _Version(offer["path"], policy, int(offer["version"]))
        self.previous.append(old)
        self._event("swapped", {"from_version": old.version, "to_version": self.current.version,
                                "from_sha256": old.policy.card.onnx.sha256,
                                "sha256": self.current.policy.card.onnx.sha256, "at_tick": ticks})
        return self.current.folder, self.current.policy

    def _event(self, kind: str, values: dict[str, Any]) -> None:
        level = DiagnosticStatus.WARN if kind in ("rejected", "rolled_back", "learner_stale") else DiagnosticStatus.OK
        self.pub.publish(status_array(SWAP_STATUS, level, kind, {"kind": kind, **values}, self.transport.now_ns()))
        print(f"controller: online: {kind} " + " ".join(f"{k}={v}" for k, v in values.items()), flush=True)

    def close(self) -> None:
        """Stop a running check, remove the check files."""
        if self.check is not None:
            self.check[0].kill()
            self.check[0].wait()
        shutil.rmtree(self._tmp, ignore_errors=True)
