"""Simulated operators: value models on hand-computed cases, rule probabilities, intervention bookkeeping, the
degraded expert's arithmetic, config errors, and one closed loop against the real env."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from robot_rl.envs import BatchedRobotEnv
from robot_rl.envs.registry import ENVS, entry
from robot_rl.robots import load_robot
from robot_rl.spaces.arm import arm_reach_observation, arm_reach_spec
from robot_rl.spaces.mobile_base import mobile_base_goal_observation
from robot_rl.spaces.quadrotor import quadrotor_hover_observation
from robot_rl.teleop.rules import (
    arm_predicted_error,
    base_predicted_error,
    quadrotor_predicted_error,
    stalled,
    value_estimate,
    value_rule_flags,
)
from robot_rl.teleop.sim_operator import (
    QUALITIES,
    QUALITY_PRESETS,
    ExpertKnobs,
    SimOperatorConfig,
    SimulatedOperator,
    SuboptimalExpert,
    draw_bias,
    perturb,
)

ROOT = Path(__file__).resolve().parents[2]
ARM, QUAD, BASE = "robot_rl/ArmReach-v0", "robot_rl/QuadrotorHover-v0", "robot_rl/MobileBaseGoal-v0"
HOME = np.array([[0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785]])
BEAMS = 10.0 * np.pi / 180 * np.arange(36)  # 36 beams over the full circle, 10 deg apart


def base_obs(distance=2.0, bearing=0.0, ranges=None):
    """Mobile-base observation with the goal at `distance` m and `bearing` rad from a base at the origin, yaw 0."""
    ranges = np.full((1, 36), 4.0) if ranges is None else ranges
    goal = np.array([[distance * np.cos(bearing), distance * np.sin(bearing)]])
    return mobile_base_goal_observation(np.zeros((1, 2)), np.zeros(1), goal, np.zeros(1), np.zeros(1), ranges,
                                        np.zeros((1, 2)))[0]


def arm_obs(q=HOME, target=(0.5, 0.0, 0.4)):
    from robot_rl.envs.experts.arm_ik import panda_tcp

    return arm_reach_observation(q, np.zeros_like(q), panda_tcp(q), np.array([target]), q)[0]


def quad_obs(position=(0.0, 0.0, 1.0), quat=(1.0, 0.0, 0.0, 0.0)):
    return quadrotor_hover_observation(np.array([position]), np.array([quat]), np.zeros((1, 3)), np.zeros((1, 3)),
                                       np.array([[0.0, 0.0, 1.0]]), np.zeros((1, 4)))[0]


def operator(env_id, seed=0, **config):
    spec = load_robot(entry(env_id).robot)
    return SimulatedOperator(env_id, spec, SimOperatorConfig(**config), seed)


# ---------------------------------------------------------------- value models (hand-computed)


def test_arm_value_model_hold_rotate_and_clip():
    error = np.array([[0.0, 0.1, 0.0]])
    max_step = np.full(7, 2.175 * 0.02)  # v_max 2.175 rad/s x 20 ms = 0.0435 rad (joints 1-4 of the Panda)
    # Holding the measured joints moves nothing: the error stays |(0, 0.1, 0)| = 0.1 m.
    assert arm_predicted_error(HOME, error, HOME, max_step)[0] == pytest.approx(0.1, abs=1e-12)
    # Joint 1 turns the whole arm about the base z axis. At home the TCP is at (x, 0, z), x = 0.30702 m (planar
    # pose, q1 = q3 = q5 = 0), so turning by d = 0.02 rad moves it by (x (cos d - 1), x sin d, 0)
    # = (-6.14e-5, 0.0061400, 0); the error becomes |(6.14e-5, 0.1 - 0.0061400, 0)| = 0.0938600 m.
    turned = HOME + np.array([[0.02, 0, 0, 0, 0, 0, 0]])
    assert arm_predicted_error(HOME, error, turned, max_step)[0] == pytest.approx(0.0938600, abs=2e-6)
    # A target 1 rad away is reached at most 0.0435 rad in one step: y moves 0.30702 sin(0.0435) = 0.013351,
    # x by 0.30702 (cos(0.0435) - 1) = -0.0002905 -> error sqrt(0.0002905^2 + 0.086649^2) = 0.0866495 m.
    far = HOME + np.array([[1.0, 0, 0, 0, 0, 0, 0]])
    assert arm_predicted_error(HOME, error, far, max_step)[0] == pytest.approx(0.0866495, abs=2e-6)


def test_quadrotor_value_model_hover_and_free_fall():
    mass = 0.027
    hover = np.array([[mass * 9.81, 0.0, 0.0, 0.0]])
    e0, v0, rot = np.array([[0.0, 0.0, 0.1]]), np.array([[0.0, 0.0, 0.2]]), np.eye(3)[None]
    # Hover thrust upright: no acceleration, e(0.25 s) = 0.1 - 0.2 x 0.25 = 0.05 m; + 0.25 s x 0.2 m/s = 0.1.
    assert quadrotor_predicted_error(e0, rot, v0, hover, mass)[0] == pytest.approx(0.1, abs=1e-12)
    # A yaw rate only spins thrust about itself: same answer.
    yawing = hover + np.array([[0.0, 0.0, 0.0, 2.0]])
    assert quadrotor_predicted_error(e0, rot, v0, yawing, mass)[0] == pytest.approx(0.1, abs=1e-12)
    # Zero thrust from rest at the setpoint: 10 semi-implicit Euler steps of h = 0.025 s give v = -9.81 x 0.25
    # = -2.4525 m/s and a fall of 9.81 h^2 (1 + ... + 10) = 9.81 x 0.000625 x 55 = 0.337219 m, so
    # e = 0.337219 + 0.25 x 2.4525 = 0.950344 m.
    zero = np.zeros((1, 4))
    assert quadrotor_predicted_error(np.zeros((1, 3)), rot, np.zeros((1, 3)), zero, mass)[0] == pytest.approx(
        0.950344, abs=1e-6)


def test_mobile_base_value_model_progress_turn_and_collision():
    free = np.full((1, 36), 4.0)
    ahead = np.array([[0.0, 1.0]])  # sin, cos of bearing 0
    left = np.array([[1.0, 0.0]])  # bearing 90 deg
    d = np.array([2.0])
    go = np.array([[0.5, 0.0]])
    # 0.5 m/s for 0.5 s -> 0.25 m forward: goal ahead at 2 m -> 1.75 m; goal to the left -> sqrt(0.25^2 + 2^2).
    assert base_predicted_error(d, ahead, free, BEAMS, go, 0.25)[0] == pytest.approx(1.75, abs=1e-12)
    assert base_predicted_error(d, left, free, BEAMS, go, 0.25)[0] == pytest.approx(math.sqrt(4.0625), abs=1e-12)
    # Turning in place leaves the distance at 2 m.
    assert base_predicted_error(d, ahead, free, BEAMS, np.array([[0.0, 1.0]]), 0.25)[0] == pytest.approx(2.0)
    # A return 0.4 m ahead: the path ends 0.15 m from it (< 0.25 m body radius): 1.75 + 1 m penalty.
    blocked = free.copy()
    blocked[0, 0] = 0.4
    assert base_predicted_error(d, ahead, blocked, BEAMS, go, 0.25)[0] == pytest.approx(2.75, abs=1e-12)


def test_value_and_rule_threshold():
    # exp(-0.1 / 0.1) = 0.367879; the rule fires when e_p - e_o > -0.1 ln 0.97 = 0.0030459 m.
    assert value_estimate(np.array([0.1]), 0.1)[0] == pytest.approx(0.367879, abs=1e-6)
    flags = value_rule_flags(np.array([0.504, 0.503, 30.0]), np.array([0.5, 0.5, 29.0]), 0.1, 0.97)
    assert flags.tolist() == [True, False, True]  # 0.004 > 0.0030459; 0.003 is not; 1 m even where exp underflows
    # Same answer through the values themselves: 0.97 x exp(-5) = 0.0065357 > exp(-5.04) = 0.0064715.
    assert value_estimate(np.array([0.504]), 0.1)[0] < 0.97 * value_estimate(np.array([0.5]), 0.1)[0]


def test_stall_window():
    assert stalled(np.array([0.5, 0.5, 0.495]), eps_m=0.01, done_m=0.03)  # fell 0.005 <= 0.01
    assert not stalled(np.array([0.5, 0.49, 0.48]), eps_m=0.01, done_m=0.03)  # fell 0.02
    assert not stalled(np.array([0.02, 0.02, 0.02]), eps_m=0.01, done_m=0.03)  # holding inside the tolerance


# ---------------------------------------------------------------- rule probabilities (10^4 seeded draws)
# Binomial(10^4, 0.95): mean 9500, sd sqrt(10^4 x 0.95 x 0.05) = 21.79, 5 sd = 109 -> [9391, 9609].
# Binomial(10^4, 0.05): mean 500, same sd -> [391, 609].
DRAWS = 10_000


def count_onsets(op, judge):
    obs, last = base_obs(), None
    for _ in range(DRAWS):
        decision = op.step(obs, None if last is None else (obs, judge(last)))
        last = decision.command
    return op.interventions


def test_rlif_bad_action_intervenes_with_p_high():
    # Goal 2 m ahead, free lidar: the expert drives at 0.8 m/s (predicted 1.6 m), holding still leaves 2.0 m:
    # 0.4 m worse -> p_high. k_steps = 1 so that every tick is one draw (the judged pair is always given).
    op = operator(BASE, quality="reference", k_steps=1)
    count = count_onsets(op, lambda own: np.zeros(2))
    assert 9391 <= count <= 9609 and op.steps == DRAWS


def test_rlif_good_action_intervenes_with_p_low():
    op = operator(BASE, quality="reference", k_steps=1)
    count = count_onsets(op, lambda own: own)  # the policy proposed exactly the operator's own command
    assert 391 <= count <= 609


def test_random_rule_rate():
    op = operator(BASE, quality="reference", rule="random", p_random=0.05, k_steps=1)
    assert 391 <= count_onsets(op, lambda own: own) <= 609


# ---------------------------------------------------------------- intervention bookkeeping


def test_k_step_duration_and_onsets():
    op = operator(BASE, quality="reference", p_high=1.0, p_low=0.0, k_steps=4)
    obs, hold = base_obs(), np.zeros(2)
    script = [None, "hold", None, None, None, None, "own", "hold"]  # what the policy proposed on the previous tick
    decisions, own = [], None
    for judged in script:
        pair = None if judged is None else (obs, hold if judged == "hold" else own)
        d = op.step(obs, pair)
        decisions.append((d.intervene, d.onset))
        own = d.command
    # tick 0 no judgment; 1 bad action -> onset, lasts ticks 1-4 whatever `judged` says; 5 nothing to judge;
    # 6 the operator's own command -> not worse, p_low 0; 7 bad -> onset.
    assert decisions == [(False, False), (True, True), (True, False), (True, False), (True, False),
                         (False, False), (False, False), (True, True)]
    assert (op.interventions, op.operator_steps, op.steps) == (2, 5, 8)


def test_random_rule_back_to_back_interventions_and_always():
    op = operator(BASE, quality="reference", rule="random", p_random=1.0, k_steps=4)
    onsets = [op.step(base_obs(), None).onset for _ in range(12)]
    assert onsets == [True, False, False, False] * 3 and op.interventions == 3 and op.operator_steps == 12
    op = operator(BASE, quality="reference", rule="always", k_steps=4)
    first = [op.step(base_obs(), None) for _ in range(10)]
    assert all(d.intervene for d in first) and sum(d.onset for d in first) == 1 and first[5].reason == "always"
    op.reset()
    assert op.step(base_obs(), None).onset and op.interventions == 2
    never = operator(BASE, rule="never")
    assert not any(never.step(base_obs(), None).intervene for _ in range(5)) and never.interventions == 0


def test_reset_ends_an_intervention():
    op = operator(BASE, quality="reference", p_high=1.0, p_low=0.0, k_steps=10)
    obs = base_obs()
    op.step(obs, None)
    assert op.step(obs, (obs, np.zeros(2))).onset
    assert op.step(obs, None).intervene  # tick 2 of 10
    op.reset()
    d = op.step(obs, None)
    assert not d.intervene and not d.onset and d.reason == "" and op.interventions == 1


def test_margin_rule_limits_and_stall():
    near = HOME.copy()
    near[0, 3] = -0.0698 - 0.03  # joint 4 0.03 rad below its upper limit (< 0.05 margin)
    assert operator(ARM, rule="margin").step(arm_obs(near), None).reason == "margin:limit"
    assert not operator(ARM, rule="margin").step(arm_obs(), None).intervene
    tilted = (math.cos(0.35), math.sin(0.35), 0.0, 0.0)  # roll 0.7 rad > 0.6
    assert operator(QUAD, rule="margin").step(quad_obs(quat=tilted), None).reason == "margin:limit"
    assert operator(QUAD, rule="margin").step(quad_obs(position=(0, 0, 0.2)), None).reason == "margin:limit"
    close = np.full((1, 36), 4.0)
    close[0, 9] = 0.3  # 0.3 m < 0.4 m
    assert operator(BASE, rule="margin").step(base_obs(ranges=close), None).reason == "margin:limit"
    # Stall: the same observation (goal 2 m away > 0.3 m tolerance) for a window of 3 -> fires on the 4th tick.
    op = operator(BASE, rule="margin", stall_window_steps=3, k_steps=1)
    reasons = [op.step(base_obs(), None).reason for _ in range(5)]
    assert reasons == ["", "", "", "margin:stall", "margin:stall"]


# ---------------------------------------------------------------- degraded expert arithmetic


def test_perturb_and_bias_arithmetic():
    low, high = np.array([-0.5, -2.0]), np.array([1.0, 2.0])
    # (0.2 + 0.15 + 0.1, 1.0 - 0.4 + 0.2) = (0.45, 0.8); (0.9 + 0.15 + 0.1) = 1.15 clips to 1.0.
    out = perturb(np.array([[0.2, 1.0], [0.9, 1.0]]), np.array([0.15, -0.4]), np.array([0.1, 0.2]), low, high)
    np.testing.assert_allclose(out, [[0.45, 0.8], [1.0, 0.8]])
    span = high - low  # (1.5, 4.0): bias 0.1 of it is (0.15, 0.4)
    fixed = draw_bias(ExpertKnobs(bias_frac=0.1, bias_per_episode=False), span, 3, np.random.default_rng(0))
    np.testing.assert_allclose(fixed, np.tile([0.15, 0.4], (3, 1)))
    drawn = draw_bias(ExpertKnobs(bias_frac=0.1), span, 1000, np.random.default_rng(0))
    np.testing.assert_allclose(np.abs(drawn), np.tile([0.15, 0.4], (1000, 1)))
    assert 400 < (drawn[:, 0] > 0).sum() < 600  # signs +-1 with equal odds


def test_noise_is_range_scaled_gaussian():
    spec = load_robot("mobile_base")
    obs = base_obs()[None]
    clean = entry(BASE).expert(spec).act(obs)  # (0.8, 0): well inside the limits, no clipping below
    expert = SuboptimalExpert(BASE, spec, ExpertKnobs(noise_frac=0.1), 1, np.random.default_rng(7))
    z = np.random.default_rng(7).standard_normal((1, 2))  # no bias to draw: the first draws are the noise
    np.testing.assert_allclose(expert.act(obs), np.clip(clean + np.array([0.15, 0.4]) * z, [-0.5, -2], [1, 2]))


def test_delay_acts_on_old_observations_per_env():
    spec = load_robot("arm")
    clean = entry(ARM).expert(spec)
    targets = [(0.5, 0.0, 0.4), (0.4, 0.2, 0.3), (0.6, -0.2, 0.5), (0.35, 0.1, 0.2), (0.55, 0.25, 0.45)]
    o = [np.stack([arm_obs(target=t), arm_obs(target=t)]) for t in targets]  # 2 envs, same obs
    expert = SuboptimalExpert(ARM, spec, ExpertKnobs(delay_steps=2), 2, np.random.default_rng(0))
    got = [expert.act(o[t]) for t in range(4)]
    # delay 2: ticks 0-2 act on o0 (the episode's first, repeated), tick 3 on o1.
    for t, src in enumerate([0, 0, 0, 1]):
        np.testing.assert_allclose(got[t], clean.act(o[src]))
    expert.reset(np.array([1]))  # env 1 starts over with o4; env 0 goes on (acts on o2)
    np.testing.assert_allclose(expert.act(o[4])[0], clean.act(o[2])[0])
    np.testing.assert_allclose(expert.act(o[4])[1], clean.act(o[4])[1])


def test_deterministic_given_seed():
    def run(seed):
        op = operator(QUAD, seed=seed, quality="expert40", rule="random", p_random=0.3, bias_frac=0.02)
        out = []
        for i in range(40):
            d = op.step(quad_obs(position=(0.1 * np.sin(i), 0.0, 1.0)), None)
            out.append((d.intervene, d.onset, *d.command))
        return np.array(out, dtype=float)

    np.testing.assert_array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))


# ---------------------------------------------------------------- config and input errors


@pytest.mark.parametrize(("data", "named"), [
    ({"qualty": "expert40"}, "qualty"),
    ({"alpha": "high"}, "alpha"),
    ({"k_steps": 0}, "k_steps"),
    ({"k_steps": 2.5}, "k_steps"),
    ({"bias_per_episode": 1}, "bias_per_episode"),
    ({"quality": "expert50"}, "quality"),
    ({"rule": "sometimes"}, "rule"),
    ({"p_high": 1.5}, "p_high"),
    ({"delay_steps": -1}, "delay_steps"),
])
def test_bad_config_is_named(data, named):
    with pytest.raises(ValueError, match=named) as err:
        SimOperatorConfig.from_mapping(data, source="launch/arm.yaml: operator")
    assert "launch/arm.yaml: operator" in str(err.value)


def test_good_config_and_overrides():
    config = SimOperatorConfig.from_mapping({"quality": "expert10", "alpha": 1, "noise_frac": 0, "delay_steps": 3})
    assert config.alpha == 1.0 and isinstance(config.alpha, float)
    assert config.knobs(ARM) == ExpertKnobs(noise_frac=0.0, delay_steps=3, bias_frac=0.0)


def test_bad_inputs():
    op = operator(ARM)
    with pytest.raises(ValueError, match="observation has shape"):
        op.step(np.zeros(5), None)
    op.step(arm_obs(), None)
    with pytest.raises(ValueError, match="judged action"):
        op.step(arm_obs(), (arm_obs(), np.zeros(3)))
    with pytest.raises(ValueError, match="robot 'arm'"):
        SimulatedOperator(ARM, load_robot("quadrotor"), SimOperatorConfig(), 0)


def test_every_env_has_every_preset_and_steps():
    assert set(QUALITY_PRESETS) == set(ENVS)
    for env_id in ENVS:
        assert set(QUALITY_PRESETS[env_id]) == set(QUALITIES)
        spec = load_robot(entry(env_id).robot)
        env = BatchedRobotEnv(entry(env_id), 1, "mujoco", randomize=True)
        env.seed(0)
        obs = env.reset()
        for quality in QUALITIES:
            d = SimulatedOperator(env_id, spec, SimOperatorConfig(quality=quality), 0).step(obs[0], None)
            assert d.command.shape == (len(spec.command.names),)
            assert np.all(d.command >= env.action_low) and np.all(d.command <= env.action_high)
        env.close()


# ---------------------------------------------------------------- closed loop against the env


def test_rlif_operator_takes_over_a_holding_policy_in_the_env():
    """A policy that holds the start pose never reaches the target; the RLIF operator must keep taking over,
    and its own count must equal the onsets seen tick by tick."""
    spec = load_robot("arm")
    env = BatchedRobotEnv(entry(ARM), 1, "mujoco", randomize=True)
    env.seed(1)
    op = SimulatedOperator(ARM, spec, SimOperatorConfig(quality="expert90"), seed=1)
    obs = env.reset()[0]
    episodes, onsets, ticks, judged = 0, 0, 0, None
    while episodes < 3:
        policy = obs[arm_reach_spec(7).slice("joint_pos_rad")].copy()  # hold where the arm is
        d = op.step(obs, judged)
        onsets += d.onset
        judged = None if d.intervene else (obs, policy)
        obs, _, term, trunc, _ = env.step((d.command if d.intervene else policy)[None])
        obs, ticks = obs[0], ticks + 1
        if term[0] or trunc[0]:
            episodes += 1
            obs, judged = env.reset()[0], None
            op.reset()
    env.close()
    assert op.interventions == onsets >= 3 and op.steps == ticks
    assert op.operator_steps <= 4 * op.interventions
    assert op.operator_steps > ticks / 2  # the hold is judged worse whenever the target is not yet reached


def test_quality_bench_smoke(tmp_path):
    out = tmp_path / "q.json"
    cmd = [sys.executable, str(ROOT / "bench" / "sim_operator_quality.py"), "--episodes", "4", "--num-envs", "2",
           "--envs", ARM, "--qualities", "reference", "expert10", "--json", str(out)]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(out.read_text())
    assert [(r["quality"], r["episodes"]) for r in rows] == [("reference", 4), ("expert10", 4)]
    for r in rows:
        assert 0.0 <= r["wilson95"][0] <= r["success_rate"] <= r["wilson95"][1] <= 1.0
    assert "robot_rl/ArmReach-v0" in result.stdout and "Wilson" in result.stdout
