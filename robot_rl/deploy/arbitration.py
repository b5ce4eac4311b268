"""Arbitration between the policy and a human operator, inside the controller's tick: pure functions of arrays.

Every tick the policy proposes; the operator's command is used instead while a takeover is active. Whichever wins
goes through the same `SafetyFilter.certify`, so the filter stays the last thing before the robot, for humans too.
The functions are vectorized over a leading `N` axis (the controller calls them with `N = 1`; the property tests
with `N = 10^5` generated handover sequences).

The rules, per tick, in priority order:

1. **E-stop** (latched e-stop or safe-stop): no takeover; the source is `hold` (the filter's fallback).
   A takeover that was active ends with reason `estop`, and a new one needs the deadman released and pressed again.
2. **Active takeover**: it ends when the operator's input is older than `max_age_s` (reason `stale`, as twist_mux's
   0.5 s timeout; a new takeover again needs a release and a new press) or when the debounced deadman is released
   (reason `released`). On an end, `on_release` decides: `policy` hands back at once, `hold` holds (the filter's
   fallback command: arm holds its position, quadrotor levels and descends, base stops) until re-enabled.
3. **Takeover onset**: the debounced deadman is held, the operator's input is fresh, and no re-arm is pending.
4. Otherwise the policy, or `hold` while a `hold` release waits for re-enabling (`/robot_rl/enable` true, or a new
   takeover).

Debouncing (teleop_twist_joy has none; a worn button chatters): the deadman's debounced state changes only after the
raw button has kept its new state for `debounce_s` of Joy stamps (`debounce`).

Bumpless handover: the filter limits every applied command against the last applied one (arm: implied velocity
and acceleration; mobile base: acceleration per cycle; quadrotor: bounds only, its rate loop takes any step inside
them), and the policy's observation carries the last applied command, so no switch, in either direction, steps
further than the filter allows (`tests/deploy/test_arbitration_properties.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from robot_rl.deploy.nodes.common import checked_config

POLICY, OPERATOR, HOLD = 0, 1, 2
"""Source codes; `robot_rl.data.ticks.SOURCES[code]` is the logged name."""
NONE, RELEASED, STALE, ESTOP, DISABLED = 0, 1, 2, 3, 4
END_REASONS = ("", "released", "stale", "estop", "disabled")
"""Why a takeover ended, by code (`NONE`: it did not end on this tick)."""
ON_RELEASE = ("policy", "hold")


@dataclass(frozen=True)
class TakeoverConfig:
    """Operator takeover parameters (the controller's `takeover` mapping in launch/<robot>.yaml)."""

    enabled: bool = True
    """Listen to the operator topics at all (false: the policy alone, as before)."""
    joy_topic: str = "/robot_rl/operator/joy"
    """sensor_msgs/Joy: the deadman (enable button), success/failure marks, and axes mapped by `joy_map`."""
    command_topic: str = "/robot_rl/operator/command"
    """The robot's own command type in robot units (scripted operators, leader arms, teleop_twist_joy's cmd_vel):
    while fresh it is the operator's command instead of the Joy mapping; '' ignores it."""
    joy_map: str = ""
    """Joy mapping YAML; '' = sim/<robot>/teleop.yaml."""
    on_release: str = "policy"
    """'policy': hand back to the policy when the deadman is released; 'hold': hold until re-enabled."""
    debounce_s: float = 0.02
    """The raw deadman must keep a new state this long (Joy stamps) before it counts, s."""
    max_age_s: float = 0.5
    """Operator input older than this ends the takeover (twist_mux's default timeout), s."""
    require_deadman: bool = True
    """False: a fresh command on `command_topic` takes over without a Joy deadman (twist_mux-style priority)."""
    sync: bool = False
    """Lockstep with a simulated operator: each tick waits (up to `sync_timeout_s` of wall time) until the operator
    has answered the state being acted on (its Joy stamp), so recorded runs are deterministic. Simulation only."""
    sync_timeout_s: float = 5.0
    """Wall time a synced tick waits for the operator before it goes on without it (a dead operator never stalls;
    after a timeout the ticks stop waiting until it answers again). Generous: on a loaded machine a live operator
    process can take far longer than a control period, and a tick without its answer makes the log depend on timing
    (0.25 s lost a takeover tick now and then under the test suite's load)."""

    @classmethod
    def from_parameters(cls, params: Mapping[str, Any]) -> TakeoverConfig:
        """Checked config; unknown keys and wrong types are a ParameterError naming the key."""
        config = checked_config(cls, params, "controller.takeover", ())
        if config.on_release not in ON_RELEASE:
            from robot_rl.deploy.nodes.common import ParameterError

            raise ParameterError(f"controller.takeover: parameter 'on_release' = {config.on_release!r} should be "
                                 f"one of {ON_RELEASE}")
        return config


@dataclass(frozen=True)
class ArbiterState:
    """Takeover state, each field `[N]` bool."""

    active: np.ndarray
    """A takeover is active (the operator's command goes to the filter)."""
    holding: np.ndarray
    """Released with on_release='hold': the fallback command until re-enabled."""
    rearm: np.ndarray
    """A takeover ended by staleness or e-stop: the deadman must be released before the next one."""

    @classmethod
    def initial(cls, n: int = 1) -> ArbiterState:
        """No takeover, nothing pending, for `n` sequences."""
        return cls(np.zeros(n, bool), np.zeros(n, bool), np.zeros(n, bool))


def debounce(debounced: np.ndarray, raw: np.ndarray, raw_since_ns: np.ndarray, now_ns: np.ndarray | int,
             debounce_ns: int) -> np.ndarray:
    """The debounced button `[N]` bool: it takes the raw state once that has held for `debounce_ns`.

    Args:
        debounced: the current debounced state `[N]` bool.
        raw: the latest raw button state `[N]` bool.
        raw_since_ns: Joy stamp at which `raw` took its current value `[N]` ns.
        now_ns: the tick's time (ns, same clock as the stamps), scalar or `[N]`.
        debounce_ns: how long a new raw state must hold, ns (0: no debouncing).

    """
    settled = (np.asarray(now_ns) - raw_since_ns) >= debounce_ns
    return np.where(settled, raw, debounced)


def arbitrate(state: ArbiterState, deadman: np.ndarray, fresh: np.ndarray, estop: np.ndarray,
              reenable: np.ndarray, hold_on_release: bool) -> tuple[ArbiterState, np.ndarray, np.ndarray, np.ndarray]:
    """One tick of arbitration (the rules of the module docstring).

    Args:
        state: the takeover state before the tick.
        deadman: the debounced deadman `[N]` bool (True for a command-only operator without a deadman).
        fresh: the operator's input (and its command) is present and younger than `max_age_s` `[N]` bool.
        estop: e-stop latched or controller in safe-stop `[N]` bool.
        reenable: the policy was re-enabled since the last tick `[N]` bool (ends a 'hold' release).
        hold_on_release: True for on_release='hold'.

    Returns:
        (new state, source `[N]` int8 (POLICY/OPERATOR/HOLD), onset `[N]` bool, end reason `[N]` int8 codes of
        `END_REASONS`).

    """
    deadman, fresh, estop, reenable = (np.asarray(a, dtype=bool) for a in (deadman, fresh, estop, reenable))
    was = state.active
    stale_end, estop_end = was & ~estop & ~fresh, was & estop
    released_end = was & ~estop & fresh & ~deadman
    onset = ~was & ~estop & deadman & fresh & ~state.rearm
    active = (was & ~estop & fresh & deadman) | onset
    rearm = (((state.rearm | estop) & deadman) | stale_end | estop_end) & ~active
    end = np.where(estop_end, ESTOP, np.where(stale_end, STALE, np.where(released_end, RELEASED, NONE)))
    holding = np.where(active, False, np.where(end != NONE, hold_on_release, state.holding & ~reenable))
    source = np.where(estop | holding, HOLD, np.where(active, OPERATOR, POLICY))  # holding excludes active
    return ArbiterState(active, holding, rearm), source.astype(np.int8), onset, end.astype(np.int8)
