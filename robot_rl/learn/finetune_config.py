"""Settings of `robot_rl.learn.finetune` and the online schedule (no torch: for the command line, the controller)."""

from __future__ import annotations

from dataclasses import dataclass

METHODS = ("rlif", "hil-serl", "hg-dagger", "bc")


@dataclass(frozen=True)
class FinetuneConfig:
    """Settings of one fine-tuning run (recorded in the child's card lineage)."""

    method: str = "rlif"
    """rlif | hil-serl | hg-dagger | bc."""
    updates: int = 4000
    """Actor gradient updates (after the critic warm-up for the RL methods)."""
    batch_size: int = 256
    actor_lr: float = 1e-4
    """Adam step size of the actor (small: the parent is already good in most states)."""
    critic_lr: float = 3e-4
    gamma: float = 0.97
    """Discount per control step."""
    tau: float = 0.005
    """Polyak factor of the target critics."""
    num_critics: int = 2
    critic_warmup: int = 1000
    """Critic-only updates with the parent's actor before the first actor update (RL methods)."""
    q_weight: float = 2.5
    """TD3+BC's alpha: the Q term's weight is q_weight / max(mean|Q|, q_floor) (RL methods)."""
    q_floor: float = 1.0
    """Floor of that normalizer: sparse rewards give Q-values near 0 (TD3+BC's dense rewards do not)."""
    anchor_weight: float = 1.0
    """hg-dagger: weight of staying at the parent's action on the policy's own ticks."""
    target_noise: float = 0.1
    """Std of the smoothing noise on target actions (normalized units), clipped at 2.5 std."""
    prior_fraction: float = 0.5
    """hil-serl: share of each batch from the intervention transitions (RLPD 50/50)."""
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method: unknown '{self.method}'; choose one of {list(METHODS)}")
        for name in ("updates", "batch_size", "num_critics"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")


def schedule_due(ticks: int, last_cut: int, warmup_ticks: int, train_every_ticks: int) -> bool:
    """Whether a version is due for `ticks` ticks of completed episodes.

    Due once they reach `warmup_ticks` and exceed the last version's data (`last_cut`, 0 before the first) by
    `train_every_ticks`.
    """
    return ticks >= warmup_ticks and ticks - last_cut >= train_every_ticks


__all__ = ["METHODS", "FinetuneConfig", "schedule_due"]
