"""The online learner's algorithm (HIL-SERL-style actor/learner, WSRL-style warm start), free of any transport.

The deployed policy acts, frozen, for `warmup_ticks` control ticks before the first update (WSRL: collect with the
pre-trained policy first, so the first updates see on-policy data). Then, every time the completed episodes hold
`train_every_ticks` more ticks, it trains a new version on every tick of the completed episodes of this
deployment (no offline data is mixed in, as WSRL recommends) with `robot_rl.learn.finetune.finetune_actor`,
continuing its optimizers and critics from the previous version.

`due(ticks)` is a pure function of the tick count, so the controller can tell, from its own count, whether a
version is due at an episode boundary (`schedule_due`). State (actor, critics, optimizers, version, data cut) is
saved atomically after every version; the transitions themselves are never saved here: the MCAP log is their
source of truth and a resumed learner rebuilds them from it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from robot_rl.learn.checkpoint import save_atomic
from robot_rl.learn.finetune import Samples, finetune_actor
from robot_rl.learn.finetune_config import FinetuneConfig, schedule_due
from robot_rl.learn.networks import DeterministicPolicy

STATE_FORMAT = "robot_rl.online/1"


@dataclass(frozen=True)
class OnlineSchedule:
    """When the learner trains."""

    warmup_ticks: int = 5000
    """Ticks the deployed policy acts before the first update (WSRL: about 5k steps)."""
    train_every_ticks: int = 2000
    """Completed-episode ticks between versions."""


class OnlineLearner:
    """Versions of a policy trained on a growing log; `state_dict`/`load_state_dict` for resume."""

    def __init__(self, parent: DeterministicPolicy, config: FinetuneConfig, schedule: OnlineSchedule) -> None:
        self.actor = copy.deepcopy(parent).eval()
        self.config, self.schedule = config, schedule
        self.train_state: dict | None = None
        self.version = 0
        self.cut = 0
        """Ticks (of completed episodes) the current version was trained on; 0 before the first."""

    def due(self, ticks: int) -> bool:
        """A new version is due for `ticks` ticks of completed episodes (`schedule_due`)."""
        return schedule_due(ticks, self.cut, self.schedule.warmup_ticks, self.schedule.train_every_ticks)

    def train(self, samples: Samples, cut: int, progress: Callable[[str], None] | None = None) -> DeterministicPolicy:
        """Train the next version on `samples` (the first `cut` ticks); returns it."""
        config = self.config if self.train_state is None else replace(self.config, seed=self.config.seed + self.version)
        self.actor, state = finetune_actor(self.actor, samples, config, progress, resume=self.train_state)
        self.train_state = {k: v for k, v in state.items() if k not in ("config", "actor", "stats")}
        self.version, self.cut = self.version + 1, cut
        return self.actor

    def state_dict(self) -> dict:
        """Actor, critics, optimizers, version and data cut."""
        return {"format": STATE_FORMAT, "actor": self.actor.state_dict(), "train_state": self.train_state,
                "version": self.version, "cut": self.cut, "config": asdict(self.config),
                "schedule": asdict(self.schedule)}

    def load_state_dict(self, state: dict, where: str = "learner state") -> None:
        """Restore `state_dict()` output; a state of another method or format is refused naming `where`."""
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"{where}: not a {STATE_FORMAT} file")
        if state["config"]["method"] != self.config.method:
            raise ValueError(f"{where}: field 'config.method' is {state['config']['method']!r}, this learner's is "
                             f"{self.config.method!r}")
        self.actor.load_state_dict(state["actor"])
        self.train_state, self.version, self.cut = state["train_state"], state["version"], state["cut"]

    def save(self, path: str | Path) -> Path:
        """Write `state_dict()` atomically (a kill mid-write leaves the previous file intact)."""
        return save_atomic(self.state_dict(), path)

    def load(self, path: str | Path) -> None:
        """Restore from `save`'s file."""
        try:
            state = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as e:  # noqa: BLE001 - any unpickling failure means a damaged file
            raise ValueError(f"{path}: not a readable learner state ({type(e).__name__}: {e})") from None
        self.load_state_dict(state, str(path))
