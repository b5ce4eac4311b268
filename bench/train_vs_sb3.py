"""Wall time to a success threshold: robot_rl PPO vs stable-baselines3 PPO, same env, same machine, same run.

Both learners get the same batched environment (SB3 through a `VecEnv` adapter over `make_vec`), the same action
parametrization (the task's action map), observation normalization (ours in the policy, SB3's `VecNormalize`),
and SB3's PPO configured with our rollout length, batch, epochs, learning rate, discount, GAE lambda, clip range,
network sizes and activation. Every `--eval-every` env steps the deterministic policy is evaluated on
`--eval-episodes` randomized episodes (evaluation time is not counted); the clock stops at the first evaluation
at or above `--threshold`.

    .venv/bin/python bench/train_vs_sb3.py [--env robot_rl/ArmReach-v0] [--threshold 0.9] [--max-minutes 20]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO as SB3PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

import robot_rl.envs as envs
from robot_rl.envs.rollout import run_episodes
from robot_rl.learn.networks import ACTIVATIONS
from robot_rl.learn.ppo import PPO, PPOConfig


class BatchedVecEnv(VecEnv):
    """SB3 `VecEnv` over a robot_rl `RobotVectorEnv`; actions are normalized and go through the task's action map."""

    def __init__(self, env_id: str, num_envs: int, seed: int) -> None:
        self.venv = envs.make_vec(env_id, num_envs, randomize=True)
        self.map = envs.entry(env_id).action_map(self.venv.core.spec)
        self.spec_obs = self.venv.core.task.observation_spec
        n_act = len(self.venv.core.action_low)
        super().__init__(num_envs, self.venv.single_observation_space, gym.spaces.Box(-1.0, 1.0, (n_act,), np.float32))
        self._seed, self._obs, self._actions = seed, None, None

    def reset(self) -> np.ndarray:
        """Reset all envs."""
        self._obs, _ = self.venv.reset(seed=self._seed)
        return self._obs

    def step_async(self, actions: np.ndarray) -> None:
        """Store normalized actions `[N, n_act]`."""
        self._actions = actions

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict]]:
        """Step with commands from the action map; SB3's terminal-observation convention for finished envs."""
        command = self.map.to_command(self._obs.astype(np.float64), np.asarray(self._actions), self.spec_obs)
        obs, reward, term, trunc, info = self.venv.step(command)
        done = term | trunc
        infos: list[dict] = [{} for _ in range(self.num_envs)]
        for i in np.flatnonzero(done):
            infos[i] = {"terminal_observation": info["final_obs"][i], "TimeLimit.truncated": bool(trunc[i]),
                        "is_success": bool(info["is_success"][i])}
        self._obs = obs
        return obs, reward.astype(np.float32), done, infos

    def close(self) -> None:
        """Release the physics engine."""
        self.venv.close()

    def get_attr(self, attr_name: str, indices: object = None) -> list:
        """Not used by PPO beyond render_mode."""
        return [getattr(self, attr_name, None)] * self.num_envs

    def set_attr(self, attr_name: str, value: object, indices: object = None) -> None:
        """No per-env attributes."""

    def env_method(self, method_name: str, *args: object, indices: object = None, **kwargs: object) -> list:
        """No per-env methods."""
        return [None] * self.num_envs

    def env_is_wrapped(self, wrapper_class: type, indices: object = None) -> list[bool]:
        """Nothing is wrapped."""
        return [False] * self.num_envs


def success_rate(env_id: str, act: Callable[[np.ndarray], np.ndarray], episodes: int) -> float:
    """Success of `act` (raw obs -> command) over randomized episodes on a fresh evaluation env."""
    venv = envs.make_vec(env_id, min(episodes, 50), randomize=True)
    try:
        results = run_episodes(venv, act, episodes, seed=999)
    finally:
        venv.close()
    return float(np.mean([r[1] for r in results]))


def torch_act(policy: torch.nn.Module) -> Callable[[np.ndarray], np.ndarray]:
    """Raw observations -> commands through a torch `DeterministicPolicy`."""

    def act(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return policy(torch.as_tensor(obs, dtype=torch.float32)).numpy()

    return act


def run_ours(args: argparse.Namespace, config: PPOConfig) -> dict:
    """Our PPO until the threshold; returns wall time and env steps."""
    venv = envs.make_vec(args.env, args.num_envs, randomize=True)
    ppo = PPO(venv, config, seed=args.seed, device="cpu")
    train_s, history = 0.0, []
    while train_s < args.max_minutes * 60:
        start = time.perf_counter()
        next_eval = ppo.env_steps + args.eval_every
        while ppo.env_steps < next_eval:
            ppo.iterate()
        train_s += time.perf_counter() - start
        rate = success_rate(args.env, torch_act(ppo.policy()), args.eval_episodes)
        history.append((ppo.env_steps, train_s, rate))
        print(f"  robot_rl PPO  steps {ppo.env_steps:>9,}  train {train_s:7.1f} s  success {rate:.2f}", flush=True)
        if rate >= args.threshold:
            return {"reached": True, "wall_time_s": train_s, "env_steps": ppo.env_steps, "history": history}
    return {"reached": False, "wall_time_s": train_s, "env_steps": ppo.env_steps, "history": history}


class _EvalStop(BaseCallback):
    """Pause the clock, evaluate every `eval_every` env steps, stop at the threshold."""

    def __init__(self, args: argparse.Namespace, vec: VecNormalize, adapter: BatchedVecEnv) -> None:
        super().__init__()
        self.args, self.vec, self.adapter = args, vec, adapter
        self.train_s, self.mark, self.next_eval, self.history, self.reached = 0.0, 0.0, args.eval_every, [], False

    def _on_training_start(self) -> None:
        self.mark = time.perf_counter()

    def _on_step(self) -> bool:
        if self.num_timesteps < self.next_eval:
            return True
        self.train_s += time.perf_counter() - self.mark
        self.next_eval += self.args.eval_every

        def act(obs: np.ndarray) -> np.ndarray:
            action, _ = self.model.predict(self.vec.normalize_obs(obs), deterministic=True)
            return self.adapter.map.to_command(obs.astype(np.float64), action, self.adapter.spec_obs)

        rate = success_rate(self.args.env, act, self.args.eval_episodes)
        self.history.append((self.num_timesteps, self.train_s, rate))
        print(f"  SB3 PPO       steps {self.num_timesteps:>9,}  train {self.train_s:7.1f} s  success {rate:.2f}",
              flush=True)
        self.reached = rate >= self.args.threshold
        self.mark = time.perf_counter()
        return not self.reached and self.train_s < self.args.max_minutes * 60


def run_sb3(args: argparse.Namespace, config: PPOConfig) -> dict:
    """SB3 PPO with our hyper-parameters until the threshold."""
    adapter = BatchedVecEnv(args.env, args.num_envs, args.seed)
    vec = VecNormalize(adapter, norm_obs=True, norm_reward=False, clip_obs=10.0, gamma=config.gamma)
    batch = args.num_envs * config.rollout_steps
    act_fn = ACTIVATIONS[config.activation]
    model = SB3PPO("MlpPolicy", vec, learning_rate=config.learning_rate, n_steps=config.rollout_steps,
                   batch_size=batch // config.minibatches, n_epochs=config.epochs, gamma=config.gamma,
                   gae_lambda=config.lam, clip_range=config.clip, ent_coef=config.entropy_coef,
                   vf_coef=config.value_coef, max_grad_norm=config.max_grad_norm, seed=args.seed, device="cpu",
                   policy_kwargs={"net_arch": {"pi": list(config.actor_hidden), "vf": list(config.critic_hidden)},
                                  "activation_fn": act_fn, "log_std_init": config.init_log_std})
    callback = _EvalStop(args, vec, adapter)
    model.learn(total_timesteps=10**9, callback=callback)
    return {"reached": callback.reached, "wall_time_s": callback.train_s, "env_steps": model.num_timesteps,
            "history": callback.history}


def main() -> None:
    """Run both and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="robot_rl/ArmReach-v0")
    parser.add_argument("--threshold", type=float, default=0.9)
    parser.add_argument("--num-envs", type=int, default=64)
    parser.add_argument("--eval-every", type=int, default=100_000, help="env steps between evaluations")
    parser.add_argument("--eval-episodes", type=int, default=100)
    parser.add_argument("--max-minutes", type=float, default=20.0, help="training time limit per learner")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)  # as robot-rl train: MuJoCo's rollout threads own the cores (same for both learners)
    config = PPOConfig.for_env(args.env)
    print(f"{args.env}: time to {args.threshold:.0%} randomized success, {args.num_envs} envs, 2 learners")
    ours, theirs = run_ours(args, config), run_sb3(args, config)
    ratio = theirs["wall_time_s"] / ours["wall_time_s"] if ours["reached"] and theirs["reached"] else None
    result = {"env_id": args.env, "threshold": args.threshold, "robot_rl": ours, "sb3": theirs,
              "sb3_over_robot_rl": ratio}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for name, r in (("robot_rl PPO", ours), ("SB3 PPO", theirs)):
            state = "reached" if r["reached"] else "NOT reached"
            print(f"{name:>13}: {state} in {r['wall_time_s']:.1f} s, {r['env_steps']:,} env steps")
        print(f"speed-up (SB3 time / robot_rl time): {ratio:.2f}x" if ratio else "speed-up: n/a (not reached)")


if __name__ == "__main__":
    main()
