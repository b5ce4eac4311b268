"""Transition labels for learning from interventions: pure functions of per-tick arrays.

Every array here is indexed by step (one step = one controller tick, in tick order, all episodes of a log one
after another), length `N`. Sources are coded as integers, `SOURCE_CODES` (policy 0, operator 1, hold 2), and an
episode's outcome as `OUTCOME_CODES` (unknown -1, failure 0, success 1).

- RLIF (Luo et al. 2023): reward -1 on the agent's step just before an intervention starts, 0 elsewhere; the
  intervention does not end the episode.
- HIL-SERL (Luo et al. 2024): a sparse task reward, 1 on the final step of a successful episode, plus the
  intervention flag (the step was the operator's).
- HG-DAgger (Kelly et al. 2019): the operator's command is the action label on the operator's steps.
"""

from __future__ import annotations

import numpy as np

from robot_rl.data.ticks import SOURCES

SOURCE_CODES: dict[str, int] = {name: i for i, name in enumerate(SOURCES)}
"""A tick's source -> its code in the arrays (policy 0, operator 1, hold 2)."""
POLICY, OPERATOR, HOLD = (SOURCE_CODES[s] for s in ("policy", "operator", "hold"))
OUTCOME_CODES: dict[str, int] = {"unknown": -1, "failure": 0, "success": 1}
"""An episode's outcome -> its code."""
UNKNOWN, FAILURE, SUCCESS = (OUTCOME_CODES[o] for o in ("unknown", "failure", "success"))
MARK_CODES: dict[str, int] = {"": UNKNOWN, "success": SUCCESS, "failure": FAILURE}
"""An operator's tick mark (`ticks.MARKS`) -> the outcome code it claims (-1: no mark)."""


def segment_ends(episode: np.ndarray, tick: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where the steps of a log break: segment ends and controller-episode ends.

    A controller episode is a run of consecutive steps with the same episode counter. A segment is a piece of it
    without a missing tick (`tick` increases by exactly 1): a lost record has no next state, so a segment ends
    there too. The last step is always an end.

    Args:
        episode: the controller's episode counter per step `[N]`.
        tick: the controller's tick counter per step `[N]` (strictly increasing).

    Returns:
        `(segment_end, episode_end)`, bool `[N]`; every episode end is a segment end.

    """
    episode, tick = np.asarray(episode), np.asarray(tick)
    episode_end = np.ones(len(episode), dtype=bool)
    episode_end[:-1] = episode[1:] != episode[:-1]
    segment_end = episode_end.copy()
    segment_end[:-1] |= tick[1:] != tick[:-1] + 1
    return segment_end, episode_end


def next_observations(obs: np.ndarray, segment_end: np.ndarray) -> np.ndarray:
    """The observation after each step: the next step's, or the step's own at a segment end (no next in the log).

    Args:
        obs: observations `[N, n_obs]`.
        segment_end: bool `[N]` (see `segment_ends`).

    Returns:
        `[N, n_obs]`, same dtype as `obs`.

    """
    nxt = np.empty_like(obs)
    nxt[:-1] = obs[1:]
    nxt[-1] = obs[-1]
    nxt[segment_end] = obs[segment_end]
    return nxt


def match_episode_reports(last_tick_ns: np.ndarray, report_ns: np.ndarray) -> np.ndarray:
    """Which controller episode each simulator episode report belongs to.

    A report is stamped when the robot's episode ended, after the last command of that episode was sent and no
    later than the next episode's first tick; it belongs to the episode whose last tick is the latest one strictly
    before the report's stamp. A second report for the same episode, or one before every episode, matches none.

    Args:
        last_tick_ns: stamp of each controller episode's last tick `[E]` (ns, non-decreasing).
        report_ns: stamp of each report `[R]` (ns), in the order received.

    Returns:
        int `[R]`: the index of the matched episode, or -1.

    """
    idx = np.searchsorted(np.asarray(last_tick_ns), np.asarray(report_ns), side="left") - 1
    seen: set[int] = set()
    for r, e in enumerate(idx):
        if e in seen:
            idx[r] = -1
        seen.add(int(e))
    return idx.astype(np.int64)


def episode_marks(mark: np.ndarray, episode_end: np.ndarray) -> np.ndarray:
    """The operator's last mark in each episode, as an outcome code (-1 where the episode has none).

    Args:
        mark: per step `[N]`: the mark on that tick as an outcome code (-1 none, 0 failure, 1 success).
        episode_end: bool `[N]` (see `segment_ends`).

    Returns:
        int `[E]`, one per episode end.

    """
    mark, ends = np.asarray(mark), np.flatnonzero(episode_end)
    out = np.full(len(ends), UNKNOWN, dtype=np.int64)
    for i, (start, end) in enumerate(zip(np.r_[0, ends[:-1] + 1], ends, strict=True)):
        marked = mark[start:end + 1][mark[start:end + 1] != UNKNOWN]
        if marked.size:
            out[i] = marked[-1]
    return out


def episode_outcomes(report_success: np.ndarray, marks: np.ndarray) -> np.ndarray:
    """Each episode's outcome code: the simulator's report where there is one, else the operator's mark, else unknown.

    Args:
        report_success: per episode `[E]`: 1 success, 0 failure, -1 no report (the matched reports).
        marks: per episode `[E]`: the operator's last mark in it, coded like outcomes (-1 none).

    Returns:
        int `[E]` of `OUTCOME_CODES`.

    """
    report_success = np.asarray(report_success)
    return np.where(report_success != UNKNOWN, report_success, np.asarray(marks)).astype(np.int64)


def terminal_flags(segment_end: np.ndarray, episode_end: np.ndarray, outcome: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Gymnasium's `(terminated, truncated)` per step.

    The last step of an episode with a known outcome (success or failure) is terminal; the last step of an episode
    of unknown outcome, and a segment end inside an episode (a lost record), are truncated.

    Args:
        segment_end: bool `[N]`.
        episode_end: bool `[N]`.
        outcome: the step's episode outcome code `[N]`.

    Returns:
        `(terminated, truncated)`, bool `[N]`, never both.

    """
    terminated = episode_end & (np.asarray(outcome) != UNKNOWN)
    return terminated, segment_end & ~terminated


def rlif_rewards(source: np.ndarray, onset: np.ndarray, segment_end: np.ndarray) -> np.ndarray:
    """RLIF: -1 on the policy's step just before an intervention onset, 0 elsewhere.

    The labelled step is the step before the onset in the same segment, and only when the policy produced it (an
    onset after a hold step or at a segment's first step labels nothing). The onset is not terminal.

    Args:
        source: source codes `[N]`.
        onset: bool `[N]`: the step starts a takeover.
        segment_end: bool `[N]`.

    Returns:
        float32 `[N]`.

    """
    reward = np.zeros(len(source), dtype=np.float32)
    before = np.zeros(len(source), dtype=bool)
    before[:-1] = np.asarray(onset)[1:] & ~np.asarray(segment_end)[:-1]
    reward[before & (np.asarray(source) == POLICY)] = -1.0
    return reward


def hil_serl_labels(source: np.ndarray, episode_end: np.ndarray, outcome: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """HIL-SERL: sparse success reward and the intervention flag.

    Args:
        source: source codes `[N]`.
        episode_end: bool `[N]`.
        outcome: the step's episode outcome code `[N]`.

    Returns:
        `(reward float32 [N]` (1 on the final step of a successful episode, else 0), `intervention bool [N])`.

    """
    reward = (np.asarray(episode_end) & (np.asarray(outcome) == SUCCESS)).astype(np.float32)
    return reward, np.asarray(source) == OPERATOR


def dagger_labels(source: np.ndarray, operator_action: np.ndarray) -> np.ndarray:
    """HG-DAgger: which steps carry the operator's command as their action label.

    A step is labelled when the operator produced it and the operator's command is finite (a non-finite command was
    rejected by the filter's NaN guard and teaches nothing). The label itself is `operator_action[i]`.

    Args:
        source: source codes `[N]`.
        operator_action: the operator's command `[N, n_cmd]`, NaN where none was present.

    Returns:
        bool `[N]`: the label mask.

    """
    return (np.asarray(source) == OPERATOR) & np.isfinite(operator_action).all(axis=1)
