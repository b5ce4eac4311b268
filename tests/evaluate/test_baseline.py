"""Reference controllers solve their tasks: >= 90 % success on nominal parameters on every backend."""

import pytest

from robot_rl.envs import BACKENDS, ENVS
from robot_rl.evaluate import run_baseline


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("env_id", list(ENVS))
def test_reference_controller_reaches_90_percent(env_id, backend):
    stats = run_baseline(env_id, episodes=20, backend=backend, randomize=False, num_envs=10, seed=1, progress=False)
    assert stats.episodes == 20
    assert stats.success_rate >= 0.9, stats
    assert stats.mean_episode_length > 0


def test_episode_quota_is_per_env():
    stats = run_baseline("robot_rl/ArmReach-v0", episodes=5, num_envs=2, progress=False)
    assert stats.episodes == 5
