"""What the training runner asks of a learner (PPO, SAC): one iteration at a time, state for resume, a policy."""

from __future__ import annotations

from typing import Protocol

from robot_rl.learn.networks import DeterministicPolicy


class Learner(Protocol):
    """A learning algorithm bound to a batched env."""

    algo: str
    env_steps: int
    """Env steps consumed so far (summed over envs)."""

    def iterate(self) -> dict[str, float]:
        """Collect experience and update once; return scalars to log (losses, entropy, episode stats)."""

    def policy(self) -> DeterministicPolicy:
        """The current deterministic policy as the exportable module (raw obs -> command)."""

    def policy_block(self) -> dict:
        """The checkpoint's `policy` block: hidden sizes, activation, squash, state dict."""

    def state_dict(self) -> dict:
        """Everything needed to continue training bit-for-bit on CPU."""

    def load_state_dict(self, state: dict) -> None:
        """Restore from `state_dict()`."""
