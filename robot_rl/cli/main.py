"""`robot-rl`: argument parsing only; each command calls a function in the module that owns it."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from robot_rl.cli.dataset import add_dataset_command
from robot_rl.cli.finetune import add_finetune_commands
from robot_rl.cli.gate import add_gate_command
from robot_rl.cli.sysid import add_sysid_command
from robot_rl.cli.teleop import add_teleop_command
from robot_rl.deploy.network import confine_to_localhost


def _cmd_envs(args: argparse.Namespace) -> int:
    from robot_rl.cli.listing import env_rows, format_table

    rows = env_rows()
    print(json.dumps(rows, indent=2) if args.json else format_table(rows))
    return 0


def _cmd_baseline(args: argparse.Namespace) -> int:
    from robot_rl.evaluate import run_baseline

    randomize = args.randomize_file or args.randomize
    stats = run_baseline(args.env_id, args.episodes, args.backend, randomize, args.num_envs, args.seed,
                         progress=not args.quiet)
    if args.json:
        print(json.dumps(stats.as_dict(), indent=2))
    else:
        _print_fields(stats.as_dict())
    return 0


def _cmd_crosscheck(args: argparse.Namespace) -> int:
    from robot_rl.evaluate.cross_sim import compare_open_loop
    from robot_rl.evaluate.plots import plot_cross_sim

    result = compare_open_loop(args.env_id, seed=args.seed)
    summary = {"env_id": args.env_id, "quantity": result.quantity, "max_abs_difference": result.max_abs_difference,
               "final_abs_difference": result.final_abs_difference, "backends": list(result.trajectories)}
    if args.plot:
        summary["plot"] = str(plot_cross_sim(result, args.plot))
    print(json.dumps(summary, indent=2) if args.json else "\n".join(f"{k:>20}: {v}" for k, v in summary.items()))
    return 0


def _print_fields(fields: dict) -> None:
    for key, value in fields.items():
        print(f"{key:>22}: {value:.4g}" if isinstance(value, float) else f"{key:>22}: {value}")


def _cmd_export(args: argparse.Namespace) -> int:
    from robot_rl.policy.export import export

    report = export(args.run_dir, args.out, args.episodes, args.num_envs, args.seed, overwrite=args.force)
    summary = {"out_dir": str(report.out_dir), "env_id": report.card.env_id, "sha256": report.card.onnx.sha256,
               "parity_random": report.parity_random, "parity_recorded": report.parity_recorded,
               "evaluation": [e.model_dump() for e in report.card.evaluation]}
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    _print_fields({k: v for k, v in summary.items() if k != "evaluation"})
    for e in report.card.evaluation:
        smooth = "" if e.sm is None else (f", Sm {e.sm:.3g}, action-rate RMS {e.action_rate_rms:.3g}, "
                                          f"> 4 Hz {e.high_freq_energy_share:.1%}")
        print(f"{e.backend:>22}: success {e.success_rate:.0%}, return {e.mean_return:.4g}, length "
              f"{e.mean_episode_length:.4g}, commands at limits {e.command_limit_fraction:.1%}{smooth} "
              f"({e.episodes} ep.)")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from robot_rl.evaluate.policy_eval import evaluate_policy

    stats = evaluate_policy(args.policy_dir, args.episodes, args.backend, not args.nominal, args.num_envs, args.seed,
                            progress=not (args.quiet or args.json))
    if args.json:
        print(json.dumps(stats.as_dict(), indent=2))
    else:
        _print_fields(stats.as_dict())
    return 0


def _add_policy_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a training run to policies/NAME: policy.onnx + card.yaml")
    p.add_argument("run_dir", help="training run folder holding checkpoint.pt (runs/NAME)")
    p.add_argument("--out", required=True, help="policy folder to create (policies/NAME)")
    p.add_argument("--episodes", type=int, default=50,
                   help="evaluation episodes per backend recorded in the card (default 50; 0 skips evaluation)")
    p.add_argument("--force", action="store_true", help="replace an existing policy folder")
    _add_batch_options(p)
    p.set_defaults(func=_cmd_export)
    p = sub.add_parser("eval", help="evaluate an exported policy (ONNX) in simulation")
    p.add_argument("policy_dir", help="policy folder (policies/NAME)")
    p.add_argument("--episodes", type=int, default=50, help="number of episodes (default 50)")
    p.add_argument("--backend", choices=["mujoco", "pybullet"], default="mujoco")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--randomize", action="store_true", help="domain randomization from robot.yaml (default)")
    group.add_argument("--nominal", action="store_true", help="nominal robot: no randomization, noise or latency")
    _add_batch_options(p)
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=_cmd_eval)


def _cmd_train(args: argparse.Namespace) -> int:
    from robot_rl.learn.runner import train

    result = train(args.env_id, args.algo, args.steps, args.out, args.seed, args.num_envs, args.device, args.config,
                   args.resume, progress=not args.quiet, calibration=args.calibration)
    summary = {"out_dir": str(result.out_dir), "checkpoint": str(result.checkpoint), "env_steps": result.env_steps,
               "iterations": result.iterations, "wall_time_s": result.wall_time_s,
               "train_success_rate": result.scalars.get("episode/success_rate", float("nan"))}
    summary.update({f"eval_{k}": v for k, v in (result.evaluation or {}).items()})
    _print_fields(summary)
    if result.interrupted:
        print(f"robot-rl train: interrupted; checkpoint saved to {result.checkpoint}", file=sys.stderr)
        return 130
    return 0


def _add_train_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a policy (PPO, SAC) in randomized simulation; writes runs/NAME")
    p.add_argument("env_id", help="registered environment id, e.g. robot_rl/ArmReach-v0")
    p.add_argument("--algo", choices=["ppo", "sac"], default="ppo", help="learning algorithm (default ppo)")
    p.add_argument("--steps", type=int, required=True, help="total env steps (a resumed run counts earlier ones)")
    p.add_argument("--out", required=True, help="run folder (runs/NAME): config.yaml, checkpoint.pt, tb/")
    p.add_argument("--seed", type=int, default=None, help="seed (default 0; a resumed run keeps its own)")
    p.add_argument("--num-envs", type=int, default=None, help="envs stepped as one batch (default 64)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="torch device (default auto)")
    p.add_argument("--config", metavar="YAML", help="overrides: sections learner, env, runner")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--calibration", metavar="YAML", help="calibration file (robot-rl sysid fit): randomization "
                   "ranges re-centred on the identified parameters")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_train)


def _cmd_launch(args: argparse.Namespace) -> int:
    from robot_rl.deploy.launcher import launch

    return launch(args.params_file, duration_s=args.duration, record=args.record, middleware=args.middleware,
                  sim=not args.no_sim, overrides=args.set, network=args.network, record_default=not args.no_record,
                  operator=args.operator, online=args.online, override_gate=args.override_gate)


def _cmd_bag(args: argparse.Namespace) -> int:
    from robot_rl.data import BagError, bag_info, recover_bag

    try:
        if args.recover:
            report = recover_bag(args.bag_dir)
            print(f"recovered: repaired {report.repaired}, removed {report.removed}, {report.message_count} messages")
        info = bag_info(args.bag_dir)
    except BagError as e:
        print(f"robot-rl bag: error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"{info['path']}: {info['messages']} messages over {info['duration_s']:.2f} s in {len(info['files'])} "
          f"file(s) {info['files']}")
    for topic, t in info["topics"].items():
        print(f"  {t['count']:>8}  {topic}  [{t['type']}]")
    return 0


def _cmd_topic(args: argparse.Namespace) -> int:
    from robot_rl.deploy import topic_tools
    from robot_rl.deploy.transport import make_transport

    transport = make_transport(args.middleware, "robot_rl_topic")
    try:
        if args.action == "pub":
            msg = topic_tools.publish(transport, args.topic, args.type, args.values, args.times, args.rate,
                                      args.latched)
            print(f"published {args.times} x {args.type} on {args.topic}: {msg}")
            return 0
        n = topic_tools.echo(transport, args.topic, args.type, args.count, args.best_effort, timeout_s=args.timeout)
        return 0 if n or not args.count else 1
    finally:
        transport.shutdown()


def _add_topic_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("topic", help="publish or print ROS 2 messages without ROS 2 (like `ros2 topic pub|echo`)")
    p.add_argument("action", choices=["pub", "echo"])
    p.add_argument("topic", help="ROS topic, e.g. /robot_rl/enable")
    p.add_argument("type", help="message type, e.g. std_msgs/msg/Bool")
    p.add_argument("values", nargs="?", default="", help="pub: the message as YAML, e.g. \"{data: true}\"")
    p.add_argument("--times", type=int, default=3, help="pub: how many times (default 3)")
    p.add_argument("--rate", type=float, default=5.0, help="pub: Hz between repeats (default 5)")
    p.add_argument("--latched", action="store_true", help="pub: transient local (late subscribers get it)")
    p.add_argument("--count", type=int, default=0, help="echo: stop after N messages (default: until Ctrl-C)")
    p.add_argument("--timeout", type=float, default=None, help="echo: stop after S seconds")
    p.add_argument("--best-effort", action="store_true", help="echo: best-effort subscription (sensor topics)")
    p.add_argument("--middleware", choices=["auto", "dds", "rclpy"], default="dds")
    p.add_argument("--network", choices=["localhost", "system"], default="localhost",
                   help="localhost (default): DDS on loopback only; system: the operator's DDS configuration")
    p.set_defaults(func=_cmd_topic)


def _add_launch_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("launch", help="start a robot's nodes (sim driver, controller, recorder) without ROS 2 launch")
    p.add_argument("params_file", help="ROS 2 parameter YAML with one section per node (launch/<robot>.yaml)")
    p.add_argument("--duration", type=float, metavar="S", help="stop all nodes after S seconds (default: run until "
                   "a node exits or Ctrl-C)")
    p.add_argument("--record", metavar="DIR", help="write the rosbag2 MCAP bag to DIR (default: the YAML's "
                   "recorder.output_dir, logs/<robot>/{time})")
    p.add_argument("--no-record", action="store_true", help="do not start the recorder")
    p.add_argument("--middleware", choices=["auto", "dds", "rclpy"], default="auto",
                   help="transport of every node (default auto: rclpy where installed, else CycloneDDS)")
    p.add_argument("--no-sim", action="store_true", help="do not start sim_driver (a real robot driver runs): the "
                   "controller then refuses a policy without an intact, passed release gate (robot-rl gate)")
    p.add_argument("--override-gate", action="store_true", help="with --no-sim: run a policy without a passed "
                   "release gate anyway; warns loudly and records the override in the bag")
    p.add_argument("--set", action="append", default=[], metavar="NODE.KEY=VALUE",
                   help="override one parameter of one node, VALUE as YAML (repeatable), e.g. sim_driver.episodes=3")
    p.add_argument("--network", choices=["localhost", "system"], default="localhost",
                   help="localhost (default): DDS on loopback only; system: the operator's DDS configuration")
    p.add_argument("--operator", choices=["none", "joy", "keyboard", "spacemouse", "sim-expert"],
                   help="who may take over (default: the YAML's operator.kind): a gamepad, the terminal keyboard, a "
                   "SpaceMouse, or a simulated operator; set its parameters with --set operator.KEY=VALUE")
    p.add_argument("--online", action="store_true", help="start the online learner: it trains on the ticks as they "
                   "are logged and offers versions; the controller swaps to one between episodes only after its "
                   "check passes, and rolls back when success drops (docs/finetuning.md)")
    p.set_defaults(func=_cmd_launch)


def _add_batch_options(p: argparse.ArgumentParser) -> None:
    """Options shared by the commands that run batched episodes: --num-envs, --seed, --json."""
    p.add_argument("--num-envs", type=int, default=16, help="envs stepped as one batch (default 16)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print a JSON object")


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(prog="robot-rl", description="robot_rl: sim-to-real robot learning stack")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("envs", help="list registered environments (robot, task, backends, rates)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_cmd_envs)
    p = sub.add_parser("baseline", help="run a task's reference controller and report success")
    p.add_argument("env_id", help="registered environment id, e.g. robot_rl/ArmReach-v0")
    p.add_argument("--episodes", type=int, default=50, help="number of episodes (default 50)")
    p.add_argument("--backend", choices=["mujoco", "pybullet"], default="mujoco")
    p.add_argument("--randomize", action="store_true", help="domain randomization from robot.yaml (default nominal)")
    p.add_argument("--randomize-file", metavar="YAML", help="randomize with ranges overridden by this file")
    _add_batch_options(p)
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=_cmd_baseline)
    p = sub.add_parser("crosscheck", help="same open-loop commands in MuJoCo and PyBullet; print (and plot) the gap")
    p.add_argument("env_id", help="registered environment id")
    p.add_argument("--plot", metavar="PNG", help="write a figure of both trajectories and their difference")
    p.add_argument("--seed", type=int, default=0, help="seed of the task reset that gives the start state")
    p.add_argument("--json", action="store_true", help="print a JSON object")
    p.set_defaults(func=_cmd_crosscheck)
    _add_train_command(sub)
    _add_policy_commands(sub)
    _add_launch_command(sub)
    _add_topic_command(sub)
    add_teleop_command(sub)
    add_dataset_command(sub)
    add_finetune_commands(sub)
    add_sysid_command(sub)
    add_gate_command(sub)
    p = sub.add_parser("bag", help="summarize a rosbag2 MCAP bag (like `ros2 bag info`); --recover repairs a bag "
                       "left by a killed recorder")
    p.add_argument("bag_dir", help="bag directory (holds metadata.yaml)")
    p.add_argument("--recover", action="store_true", help="finalize unfinished files first (keeps complete chunks)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_bag)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `robot-rl`; returns the exit code. User errors print one line and exit 2."""
    args = build_parser().parse_args(argv)
    if getattr(args, "network", "localhost") == "localhost":  # before any command can import DDS or rclpy
        confine_to_localhost()
    try:
        return args.func(args)
    except (KeyError, ValueError, TypeError, FileNotFoundError) as e:
        message = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"robot-rl {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"robot-rl {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
