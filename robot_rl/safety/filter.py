"""`SafetyFilter`: the one object sim evaluation and the deployed controller call between policy and robot.

    safety = SafetyFilter.for_robot(load_robot("arm"), overrides={"velocity_max_rad_s": 1.0})
    applied, events = safety.certify(state, proposed)     # [N, n_cmd] float64, {name: [N] bool}

The chain per robot is documented in `robot_rl/safety/{arm,quadrotor,mobile_base}.py` and `docs/safety.md`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from robot_rl.robots import RobotSpec
from robot_rl.safety import arm, mobile_base, quadrotor
from robot_rl.safety.limits import ArmLimits, MobileBaseLimits, QuadrotorLimits, limits_for

Limits = ArmLimits | QuadrotorLimits | MobileBaseLimits


@dataclass(frozen=True)
class RobotRules:
    """One robot kind's safety chain: certify, fallback and the ordered event names it reports."""

    certify: Callable[[Any, Mapping[str, np.ndarray], np.ndarray], tuple[np.ndarray, dict[str, np.ndarray]]]
    fallback: Callable[[Any, Mapping[str, np.ndarray]], np.ndarray]
    event_names: tuple[str, ...]
    violated: Callable[[Any, Mapping[str, np.ndarray]], np.ndarray]


RULES: dict[str, RobotRules] = {
    "arm": RobotRules(arm.certify_arm, arm.fallback_arm, arm.EVENT_NAMES, arm.violated_arm),
    "quadrotor": RobotRules(quadrotor.certify_quadrotor, quadrotor.fallback_quadrotor, quadrotor.EVENT_NAMES,
                            quadrotor.violated_quadrotor),
    "mobile_base": RobotRules(mobile_base.certify_mobile_base, mobile_base.fallback_mobile_base,
                              mobile_base.EVENT_NAMES, mobile_base.violated_mobile_base),
}
EVENT_NAMES: dict[str, tuple[str, ...]] = {kind: rules.event_names for kind, rules in RULES.items()}


class SafetyFilter:
    """A robot's safety chain bound to its limits."""

    def __init__(self, kind: str, limits: Limits) -> None:
        if kind not in RULES:
            raise ValueError(f"no safety rules for robot kind '{kind}'; known: {sorted(RULES)}")
        self.kind = kind
        self.limits = limits
        self._rules = RULES[kind]
        self.event_names = self._rules.event_names

    @classmethod
    def for_robot(cls, spec: RobotSpec, overrides: Mapping[str, Any] | None = None) -> SafetyFilter:
        """The filter for `spec`, with deployment `overrides` that may only tighten its limits (see `limits_for`)."""
        return cls(spec.kind, limits_for(spec, overrides))

    def certify(
        self, state: Mapping[str, np.ndarray], proposed: np.ndarray
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Certify proposed commands.

        Args:
            state: named arrays with a leading `N` axis: `inputs_finite` `[N]` bool, `input_age_s` `[N]` s,
                `estop` `[N]` bool (latched), `last_applied` `[N, n_cmd]`, plus the robot's own (docs/safety.md).
            proposed: `[N, n_cmd]` commands in the robot's units.

        Returns:
            applied `[N, n_cmd]` float64 (equal to `proposed`, bit for bit, where it is safe) and
            `{name: [N] bool}` for every name in `self.event_names`.

        """
        return self._rules.certify(self.limits, state, proposed)

    def violated(self, state: Mapping[str, np.ndarray]) -> np.ndarray:
        """`[N]` bool: the measured `state` breaks one of the robot's limits (a constraint-violation step)."""
        return self._rules.violated(self.limits, state)

    def fallback(self, state: Mapping[str, np.ndarray]) -> np.ndarray:
        """The robot's fallback command `[N, n_cmd]` float64 for `state` (hold, level-and-descend, stop)."""
        return self._rules.fallback(self.limits, state)
