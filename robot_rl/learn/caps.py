"""CAPS smoothness regularizers of a policy's mean action.

From Mysore et al., "Regularizing Action Policies for Smooth Control with Reinforcement Learning" (ICRA 2021).

Both are added to the PPO loss (`PPOConfig.caps_temporal`, `caps_spatial`) and act on the actor's deterministic
mean, the action the exported policy sends:

* temporal: `L_T = mean_t ||mu(s_t) - mu(s_{t+1})||^2` over consecutive steps of one episode: the policy's output
  should change little from one control step to the next;
* spatial: `L_S = mean ||mu(s) - mu(s~)||^2`, `s~ = s + sigma eps` in the normalized observation (units of each
  observation's running std): similar states (sensor noise) should give similar actions.

CAPS uses the Euclidean distance; the squared distance is used here (a smooth gradient at 0, and the scale of the
action-rate reward penalties, which are squared too). Actions are in the policy's normalized units ([-1, 1] range).
"""

from __future__ import annotations

import torch


def temporal_loss(mean: torch.Tensor, next_mean: torch.Tensor, same_episode: torch.Tensor) -> torch.Tensor:
    """`L_T`: mean over rows where `same_episode` `[B]` (bool) of `||mean - next_mean||^2`, means `[B, A]`.

    Rows whose next observation belongs to a new episode are left out; 0 when none is left.
    """
    weight = same_episode.to(mean.dtype)
    return (weight * ((mean - next_mean) ** 2).sum(-1)).sum() / weight.sum().clamp(min=1.0)


def spatial_loss(mean: torch.Tensor, perturbed_mean: torch.Tensor) -> torch.Tensor:
    """`L_S`: mean of `||mean - perturbed_mean||^2` over rows, means `[B, A]`."""
    return ((mean - perturbed_mean) ** 2).sum(-1).mean()
