"""`robot-rl finetune` (a policy + intervention datasets -> a new policy) and `robot-rl hil` (the loop in sim)."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from dataclasses import fields

from robot_rl.learn.finetune_config import METHODS, FinetuneConfig


def _add_method_options(p: argparse.ArgumentParser, default_method: str) -> None:
    p.add_argument("--method", choices=METHODS, default=default_method,
                   help=f"rlif: RL on the intervention labels alone; hil-serl: sparse success reward, interventions as "
                        f"the demo half of RLPD batches; hg-dagger: regression on operator labels; bc: cloning of "
                        f"successful episodes (default {default_method})")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a FinetuneConfig setting, e.g. --set updates=4000 (names: "
                        + ", ".join(f.name for f in fields(FinetuneConfig) if f.name != "method") + ")")


def _config(method: str, sets: list[str]) -> FinetuneConfig:
    """The method's config with `KEY=VALUE` overrides (types from the defaults; unknown keys name themselves)."""
    defaults, values = FinetuneConfig(method=method), {}
    for item in sets:
        key, sep, raw = item.partition("=")
        if not sep or not hasattr(defaults, key) or key == "method":
            raise ValueError(f"--set {item!r}: expected KEY=VALUE with KEY one of the FinetuneConfig settings")
        try:
            values[key] = type(getattr(defaults, key))(raw)
        except ValueError:
            raise ValueError(f"--set {item!r}: {key} expects a {type(getattr(defaults, key)).__name__} value") from None
    return FinetuneConfig(method=method, **values)


def add_finetune_commands(sub: argparse._SubParsersAction) -> None:
    """Register `robot-rl finetune` and `robot-rl hil`."""
    p = sub.add_parser("finetune", help="fine-tune a deployed policy on intervention datasets; export it with its "
                       "lineage (parent and dataset hashes, method, settings) in the card")
    p.add_argument("policy", help="parent policy folder (policy.onnx, card.yaml, checkpoint.pt)")
    p.add_argument("--data", nargs="+", required=True, metavar="DATASET",
                   help="`robot-rl dataset` outputs (aggregated in order), recorded with the parent or its ancestors")
    p.add_argument("--out", required=True, metavar="DIR", help="the new policy folder")
    _add_method_options(p, "rlif")
    p.add_argument("--episodes", type=int, default=50,
                   help="randomized evaluation episodes per simulator in the card (default 50; 0: none)")
    p.add_argument("--seed", type=int, default=0, help="evaluation seed")
    p.add_argument("--force", action="store_true", help="replace an existing --out folder")
    p.add_argument("--json", action="store_true", help="print the card's lineage and evaluation as JSON")
    p.set_defaults(func=run_finetune)
    p = sub.add_parser("hil", help="close the loop in sim: deploy over DDS with a simulated operator against a hidden "
                       "reality, record, build the dataset, fine-tune, evaluate; round after round")
    p.add_argument("env_id", help="registered environment id, e.g. robot_rl/ArmReach-v0")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the rounds, hil.json and hil.png")
    p.add_argument("--policy", default="", help="starting policy folder (default: the launch file's)")
    p.add_argument("--reality", default="", metavar="YAML", help="hidden physics (default sim/<robot>/realities/...)")
    p.add_argument("--rounds", type=int, default=3, help="fine-tuning rounds (default 3)")
    p.add_argument("--episodes", type=int, default=30, help="deployed episodes per round (default 30)")
    p.add_argument("--quality", default="expert90", help="simulated operator preset (default expert90)")
    p.add_argument("--rule", default="margin", help="simulated operator's intervention rule (default margin: when "
                   "the robot stalls or nears a limit; rlif: when its action is judged worse than the operator's)")
    p.add_argument("--eval-episodes", type=int, default=64, help="hidden-reality evaluation episodes (default 64)")
    p.add_argument("--export-episodes", type=int, default=16,
                   help="randomized evaluation episodes per simulator in each card (default 16)")
    p.add_argument("--seed", type=int, default=0)
    _add_method_options(p, "hg-dagger")
    p.add_argument("--ray", metavar="auto|HOST:PORT", help="evaluate each round on the hidden reality as a Ray task "
                   "while the round deploys and fine-tunes (same numbers; pip install 'robot_rl[ray]')")
    p.add_argument("--workers", type=int, help="with --ray auto: CPUs of the local instance (default: all)")
    p.add_argument("--json", action="store_true", help="print hil.json at the end")
    p.set_defaults(func=run_hil_command)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_finetune(args: argparse.Namespace) -> int:
    """Fine-tune and export; one error line naming the file and field at fault (exit 2)."""
    from robot_rl.data import DatasetError
    from robot_rl.learn.checkpoint import CheckpointError
    from robot_rl.policy import PolicyError
    from robot_rl.policy.export import ExportError
    from robot_rl.policy.finetune import finetune

    try:
        report = finetune(args.policy, args.data, args.out, _config(args.method, args.set), episodes=args.episodes,
                          seed=args.seed, overwrite=args.force, progress=_say)
    except (DatasetError, CheckpointError, PolicyError, ExportError) as e:
        print(f"robot-rl finetune: error: {e}", file=sys.stderr)
        return 2
    card = report.export.card
    if args.json:
        print(json.dumps({"out": str(report.export.out_dir), "lineage": card.lineage.model_dump(mode="json"),
                          "evaluation": [e.model_dump(mode="json") for e in card.evaluation]}, indent=2))
        return 0
    print(f"wrote {report.export.out_dir}: {report.method} on {report.transitions} transitions in "
          f"{report.wall_time_s:.1f} s; parent {card.lineage.parent_sha256[:12]} -> {card.onnx.sha256[:12]}")
    for parent_eval, child_eval in zip(card.lineage.parent_evaluation, card.evaluation, strict=False):
        print(f"  randomized {child_eval.backend}: success {parent_eval.success_rate:.0%} (parent) -> "
              f"{child_eval.success_rate:.0%}")
    return 0


def run_hil_command(args: argparse.Namespace) -> int:
    """Run `robot_rl.deploy.hil.run_hil` with the command line's settings."""
    from robot_rl.deploy.hil import HilConfig, run_hil

    config = HilConfig(env_id=args.env_id, out=args.out, parent=args.policy, reality_file=args.reality,
                       rounds=args.rounds, episodes=args.episodes, quality=args.quality, rule=args.rule,
                       eval_episodes=args.eval_episodes, export_episodes=args.export_episodes, seed=args.seed,
                       finetune=_config(args.method, args.set))
    from robot_rl.evaluate.executor import make_executor

    executor = make_executor(args.ray, args.workers)
    try:
        with contextlib.redirect_stdout(sys.stderr):  # the nodes' output: stdout stays the JSON alone
            summary = run_hil(config, _say, executor.submit if args.ray else None)
    finally:
        executor.close()
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        first, last = summary["rounds"][0], summary["rounds"][-1]
        rounds = len(summary["rounds"]) - 1
        print(f"hil: {summary['env_id']}: hidden-reality success {first['success']:.0%} -> {last['success']:.0%} in "
              f"{rounds} round{'' if rounds == 1 else 's'}, {summary['operator_steps']} operator steps, "
              f"{summary['robot_time_s']:.0f} s of robot time; {args.out}/hil.json, {args.out}/hil.png")
    return 0
