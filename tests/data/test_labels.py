"""Intervention labels (RLIF, HIL-SERL, HG-DAgger), boundaries and outcomes on hand-computed sequences."""

import numpy as np

from robot_rl.data import labels as lb

P, OP, H = lb.POLICY, lb.OPERATOR, lb.HOLD
U, F, S = lb.UNKNOWN, lb.FAILURE, lb.SUCCESS


def test_codes_follow_the_tick_record_vocabulary():
    assert (P, OP, H) == (0, 1, 2)  # ticks.SOURCES order
    assert lb.MARK_CODES == {"": -1, "success": 1, "failure": 0}


def test_segment_ends_split_at_episode_changes_and_missing_ticks():
    # steps:    0  1  2  3  4  5  6  7
    episode = [1, 1, 1, 2, 2, 2, 2, 3]
    tick = [10, 11, 12, 13, 14, 16, 17, 18]  # tick 15 is missing: step 4 ends a segment, not the episode
    segment_end, episode_end = lb.segment_ends(np.array(episode), np.array(tick))
    assert episode_end.tolist() == [0, 0, 1, 0, 0, 0, 1, 1]
    assert segment_end.tolist() == [0, 0, 1, 0, 1, 0, 1, 1]


def test_next_observation_is_the_next_step_or_itself_at_a_segment_end():
    obs = np.arange(10.0).reshape(5, 2)  # rows [0,1] [2,3] [4,5] [6,7] [8,9]
    nxt = lb.next_observations(obs, np.array([0, 1, 0, 0, 1], dtype=bool))
    assert nxt.tolist() == [[2, 3], [2, 3], [6, 7], [8, 9], [8, 9]]


def test_reports_match_the_episode_whose_last_tick_is_strictly_before():
    last = np.array([100, 200, 300])  # last tick stamps of episodes 0, 1, 2 (ns)
    # 120 -> ep 0; 200 equals ep 1's last tick -> ep 0 again (a duplicate: unmatched); 201 -> ep 1;
    # 50 is before every episode -> unmatched; 10_000 -> ep 2
    got = lb.match_episode_reports(last, np.array([120, 200, 201, 50, 10_000]))
    assert got.tolist() == [0, -1, 1, -1, 2]


def test_outcome_prefers_the_simulator_then_the_last_operator_mark():
    # three episodes: steps 0-2, 3-4, 5-7
    episode_end = np.array([0, 0, 1, 0, 1, 0, 0, 1], dtype=bool)
    mark = np.array([U, S, F, U, U, S, U, U])  # ep 0: success then failure -> failure; ep 1: none; ep 2: success
    marks = lb.episode_marks(mark, episode_end)
    assert marks.tolist() == [F, U, S]
    report = np.array([S, U, U])  # only episode 0 has a simulator report: success overrides the mark
    assert lb.episode_outcomes(report, marks).tolist() == [S, U, S]


def test_terminal_on_a_known_outcome_truncated_otherwise():
    segment_end = np.array([0, 1, 0, 1, 0, 1], dtype=bool)
    episode_end = np.array([0, 1, 0, 0, 0, 1], dtype=bool)  # step 3 is a segment end inside episode 2
    outcome = np.array([F, F, U, U, U, U])
    terminated, truncated = lb.terminal_flags(segment_end, episode_end, outcome)
    assert terminated.tolist() == [0, 1, 0, 0, 0, 0]  # failure is known: terminal
    assert truncated.tolist() == [0, 0, 0, 1, 0, 1]  # missing tick, and unknown outcome
    assert not (terminated & truncated).any()


def test_rlif_penalizes_the_policy_step_before_each_onset():
    # steps 0..9
    source = [P, P, OP, OP, P, H, OP, P, OP, OP]
    onset = [0, 0, 1, 0, 0, 0, 1, 0, 1, 0]
    # onset 2 <- step 1 (policy): -1; onset 6 <- step 5 is hold: nothing; onset 8 <- step 7 (policy) but step 7
    # ends a segment (the onset starts the next one): nothing
    segment_end = [0, 0, 0, 0, 0, 0, 0, 1, 0, 1]
    reward = lb.rlif_rewards(np.array(source), np.array(onset, dtype=bool), np.array(segment_end, dtype=bool))
    assert reward.dtype == np.float32
    assert reward.tolist() == [0, -1, 0, 0, 0, 0, 0, 0, 0, 0]
    # the onsets themselves carry 0 and are not ends: the RLIF onset is not terminal
    assert reward[[2, 6, 8]].tolist() == [0, 0, 0]


def test_hil_serl_sparse_success_and_intervention_flag():
    source = np.array([P, OP, OP, P, P, H])
    episode_end = np.array([0, 0, 0, 1, 0, 1], dtype=bool)
    outcome = np.array([S, S, S, S, F, F])  # episode 1 succeeded, episode 2 failed
    reward, intervention = lb.hil_serl_labels(source, episode_end, outcome)
    assert reward.tolist() == [0, 0, 0, 1, 0, 0]
    assert intervention.tolist() == [0, 1, 1, 0, 0, 0]


def test_dagger_labels_operator_steps_with_a_finite_command():
    source = np.array([P, OP, OP, P, OP])
    nan = np.full(2, np.nan)
    operator = np.array([[0.1, 0.2], [0.3, 0.4], nan, [0.5, 0.6], [np.nan, 1.0]])
    # step 0: operator present but the policy acted: no label; 1: label; 2: operator step without command: no;
    # 3: policy step; 4: a NaN command (rejected by the filter's NaN guard): no label
    assert lb.dagger_labels(source, operator).tolist() == [0, 1, 0, 0, 0]
