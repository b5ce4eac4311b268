"""Gymnasium faces of `BatchedRobotEnv`: `RobotEnv` (one env) and `RobotVectorEnv` (batched, same-step reset)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from robot_rl.envs.core import BatchedRobotEnv


def _spaces(core: BatchedRobotEnv) -> tuple[gym.spaces.Box, gym.spaces.Box]:
    n_obs = core.task.observation_spec.size
    obs = gym.spaces.Box(-np.inf, np.inf, (n_obs,), np.float32)
    act = gym.spaces.Box(core.action_low.astype(np.float32), core.action_high.astype(np.float32), dtype=np.float32)
    return obs, act


def _row(info: Any, i: int) -> Any:  # noqa: ANN401
    """Env `i`'s slice of a batched info tree."""
    if isinstance(info, dict):
        return {k: _row(v, i) for k, v in info.items()}
    return info[i]


class RobotEnv(gym.Env):
    """One robot_rl environment. Build with `gymnasium.make("robot_rl/ArmReach-v0", backend=..., randomize=...)`.

    Keyword arguments: `backend` ("mujoco" | "pybullet"), `randomize` (True | False | path to a ranges YAML),
    `calibration` (path to a calibration YAML), `task_config` (fields of the task's config dataclass),
    `reward_scales` (per reward term). Anything else is a TypeError.
    """

    metadata = {"render_modes": []}  # noqa: RUF012

    def __init__(self, env_id: str, **kwargs: Any) -> None:  # noqa: ANN401
        from robot_rl.envs.registry import entry

        self.core = BatchedRobotEnv(entry(env_id), num_envs=1, **kwargs)
        self.observation_space, self.action_space = _spaces(self.core)
        self.spec_robot = self.core.spec
        self.control_dt_s, self.physics_dt_s = self.core.control_dt_s, self.core.physics_dt_s

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        """Start an episode; `seed` makes parameters, start state and noise reproducible."""
        super().reset(seed=seed)
        self.core.rng = self.np_random
        obs = self.core.reset()
        return obs[0], {"params": {k: float(v[0]) for k, v in self.core.params.items()},
                        "task": _row(self.core.task.task_info(), 0)}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        """One control step with a command in physical units (see `robot.yaml` `command`)."""
        obs, reward, term, trunc, info = self.core.step(np.asarray(action)[None])
        return obs[0], float(reward[0]), bool(term[0]), bool(trunc[0]), _row(info, 0)

    def close(self) -> None:
        """Release the physics engine."""
        self.core.close()


class RobotVectorEnv(gym.vector.VectorEnv):
    """`num_envs` robot_rl environments stepped together; finished envs reset in the same step.

    `infos["final_obs"]` `[num_envs, n_obs]` holds the last observation of envs that finished (mask
    `infos["_final_obs"]`); every other info entry is batched over envs.
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}  # noqa: RUF012

    def __init__(self, env_id: str, num_envs: int, **kwargs: Any) -> None:  # noqa: ANN401
        from robot_rl.envs.registry import entry

        self.core = BatchedRobotEnv(entry(env_id), num_envs=num_envs, **kwargs)
        self.num_envs = num_envs
        self.single_observation_space, self.single_action_space = _spaces(self.core)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.control_dt_s, self.physics_dt_s = self.core.control_dt_s, self.core.physics_dt_s

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        """Reset every env; `seed` seeds the shared generator."""
        if seed is not None:
            self.core.seed(seed)
            self.action_space.seed(seed)
        obs = self.core.reset()
        return obs, {"params": {k: v.copy() for k, v in self.core.params.items()}, "task": self.core.task.task_info()}

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        """Step all envs; those that terminate or truncate are reset before returning."""
        obs, reward, term, trunc, info = self.core.step(actions)
        done = term | trunc
        info["final_obs"] = obs.copy()
        info["_final_obs"] = done
        if done.any():
            fresh = self.core.reset(np.flatnonzero(done))
            obs = np.where(done[:, None], fresh, obs)
        return obs, reward, term, trunc, info

    def close_extras(self, **kwargs: Any) -> None:  # noqa: ANN401
        """Release the physics engine."""
        self.core.close()
