"""Named, ordered, unit-carrying vectors: the one way observations are laid out in env and deploy alike."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class Quantity:
    """One named block of a vector: `size` consecutive elements in `unit`."""

    name: str
    size: int
    unit: str
    description: str


@dataclass(frozen=True)
class VectorSpec:
    """An ordered list of quantities; element order is the order of `quantities`."""

    quantities: tuple[Quantity, ...]

    @cached_property
    def size(self) -> int:
        """Total number of elements."""
        return sum(q.size for q in self.quantities)

    @cached_property
    def names(self) -> tuple[str, ...]:
        """Quantity names in order."""
        return tuple(q.name for q in self.quantities)

    @cached_property
    def _name_set(self) -> frozenset[str]:
        return frozenset(self.names)

    def slice(self, name: str) -> slice:
        """Where quantity `name` lives in the vector."""
        start = 0
        for q in self.quantities:
            if q.name == name:
                return slice(start, start + q.size)
            start += q.size
        raise KeyError(f"no quantity '{name}' in {self.names}")

    def build(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """Concatenate named quantities `[N, size_k]` (or `[size_k]`) in spec order into `[N, self.size]` float32.

        Raises:
            ValueError: a quantity is missing, unexpected, of the wrong size, or not finite.

        """
        if values.keys() != self._name_set:
            missing = [n for n in self.names if n not in values]
            extra = [n for n in values if n not in self._name_set]
            raise ValueError(f"observation quantities: missing {missing}, unexpected {extra}")
        blocks = []
        for q in self.quantities:
            v = np.asarray(values[q.name], dtype=np.float64)
            v = v.reshape(v.shape[0], -1) if v.ndim > 1 else v.reshape(1, -1)
            if v.shape[1] != q.size:
                raise ValueError(f"quantity '{q.name}' has {v.shape[1]} elements, spec says {q.size}")
            blocks.append(v)
        return np.concatenate(blocks, axis=1).astype(np.float32)

    def describe(self) -> list[dict]:
        """Rows `{name, size, unit, description}` for docs and policy cards."""
        return [{"name": q.name, "size": q.size, "unit": q.unit, "description": q.description} for q in self.quantities]
