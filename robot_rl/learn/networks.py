"""Networks shared by the learners, and the deterministic policy module that is exported to ONNX.

`DeterministicPolicy` is the whole deployed computation in one graph: raw observation -> running-statistics
normalization -> MLP -> squash (clip for PPO's Gaussian mean, tanh for SAC) -> action map to robot command units.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from robot_rl.spaces import VectorSpec
from robot_rl.spaces.actions import ActionMap

ACTIVATIONS = {"elu": nn.ELU, "tanh": nn.Tanh, "relu": nn.ReLU}


class RunningNorm(nn.Module):
    """Observation normalizer with running mean and variance (parallel Welford updates), clipped output.

    Buffers are float64 for stable statistics over billions of samples; `forward` computes in the input's dtype.
    """

    def __init__(self, size: int, clip: float = 10.0, eps: float = 1e-8) -> None:
        super().__init__()
        self.clip, self.eps = clip, eps
        self.register_buffer("mean", torch.zeros(size, dtype=torch.float64))
        self.register_buffer("var", torch.ones(size, dtype=torch.float64))
        self.register_buffer("count", torch.tensor(0.0, dtype=torch.float64))

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        """Merge a batch `[B, size]` into the running statistics."""
        x = x.to(torch.float64)
        n = x.shape[0]
        if n == 0:
            return
        batch_mean, batch_var = x.mean(0), x.var(0, unbiased=False)
        total = self.count + n
        delta = batch_mean - self.mean
        self.mean += delta * n / total
        self.var = (self.var * self.count + batch_var * n + delta**2 * self.count * n / total) / total
        self.count = total

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalized `(x - mean) / sqrt(var + eps)`, clipped to `[-clip, clip]`, shape of `x`."""
        mean, std = self.mean.to(x.dtype), torch.sqrt(self.var + self.eps).to(x.dtype)
        return torch.clamp((x - mean) / std, -self.clip, self.clip)


def mlp(in_size: int, hidden: Sequence[int], out_size: int, activation: str = "elu", layer_norm: bool = False
        ) -> nn.Sequential:
    """Multi-layer perceptron `in_size -> hidden... -> out_size` (optional LayerNorm after each hidden layer)."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation '{activation}'; choose one of {sorted(ACTIVATIONS)}")
    layers: list[nn.Module] = []
    size = in_size
    for h in hidden:
        layers.append(nn.Linear(size, h))
        if layer_norm:
            layers.append(nn.LayerNorm(h))
        layers.append(ACTIVATIONS[activation]())
        size = h
    layers.append(nn.Linear(size, out_size))
    return nn.Sequential(*layers)


class DeterministicPolicy(nn.Module):
    """Raw observation `[B, n_obs]` -> command `[B, n_cmd]` in the robot's units (the exported graph).

    Args:
        normalizer: observation normalizer (its statistics are frozen copies at export).
        net: maps normalized observations to the action head's pre-squash output `[B, n_cmd]`.
        action_map: normalized action -> command map of the task.
        obs_spec: observation layout, to find the action map's offset quantity.
        squash: "clip" (Gaussian mean clipped to [-1, 1]) or "tanh".
    """

    def __init__(self, normalizer: RunningNorm, net: nn.Module, action_map: ActionMap, obs_spec: VectorSpec,
                 squash: str = "clip") -> None:
        super().__init__()
        if squash not in ("clip", "tanh"):
            raise ValueError(f"squash must be 'clip' or 'tanh', got '{squash}'")
        self.normalizer, self.net, self.squash = normalizer, net, squash
        self.register_buffer("offset", torch.tensor(action_map.offset, dtype=torch.float32))
        self.register_buffer("scale", torch.tensor(action_map.scale, dtype=torch.float32))
        self.register_buffer("low", torch.tensor(action_map.low, dtype=torch.float32))
        self.register_buffer("high", torch.tensor(action_map.high, dtype=torch.float32))
        sl = action_map.offset_slice(obs_spec)
        index = list(range(sl.start, sl.stop)) if sl is not None else []
        self.register_buffer("offset_index", torch.tensor(index, dtype=torch.long))
        self.has_obs_offset = bool(index)  # fixed at construction: the exported graph has no data-dependent branch

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Command `[B, n_cmd]` float32 from raw observation `[B, n_obs]` float32."""
        pre = self.net(self.normalizer(obs))
        action = torch.tanh(pre) if self.squash == "tanh" else torch.clamp(pre, -1.0, 1.0)
        base = self.offset
        if self.has_obs_offset:
            base = base + obs.index_select(1, self.offset_index)
        return torch.maximum(torch.minimum(base + self.scale * action, self.high), self.low)
