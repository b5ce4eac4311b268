"""`robot-rl sysid excite`: choose an excitation and play it through the real stack, recorded like any run.

1. The excitation: `--design FILE` (an excitation file), or the D-optimal candidate of the robot's family
   (`robot_rl.sysid.design`), written next to the bag as `<record>-excitation.yaml` with its scores.
2. The run: `robot-rl launch launch/<robot>.yaml` with `controller.excitation` set, so the controller proposes
   the excitation's targets instead of the policy's, through the same takeover and safety filter, on the robot's
   command topic; the recorder writes the bag. With the simulated robot (default) one episode lasts the
   excitation plus a second, starts at rest (arm: at home; quadrotor: at the hover setpoint) and never ends early
   (`sim_driver.task_config`); `--no-sim` runs the same nodes against a real robot driver (move the arm to its
   home posture first: the excitation starts there; fly the quadrotor to its setpoint: the excitation perturbs
   the hover controller, `robot_rl.sysid.replay_quadrotor.excitation_command`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from robot_rl.deploy.launcher import launch, load_params
from robot_rl.robots import RobotSpec, load_robot
from robot_rl.sysid.design import choose, score_designs
from robot_rl.sysid.fit import FIT_EXCLUDED, SPREAD_FITTED
from robot_rl.sysid.logs import SysidError
from robot_rl.sysid.schedule import design_candidates, load_excitation, write_excitation


def design_excitation(spec: RobotSpec, duration_s: float, path: Path, draws: int = 2, seed: int = 0,
                      progress: Callable[[str], None] = print) -> Path:
    """Score the robot's candidate excitations (D-optimal) and write the best as an excitation file at `path`."""
    candidates = design_candidates(spec, duration_s)
    names = [n for n in spec.randomization if n not in FIT_EXCLUDED + SPREAD_FITTED]  # least-squares parameters
    progress(f"sysid excite: scoring {len(candidates)} excitations of {duration_s:g} s over {draws} prior draws "
             f"(Fisher information of {names})")
    scores = score_designs(spec, candidates, spec.randomization, names, duration_s, draws=draws, seed=seed,
                           progress=progress)
    best = choose(scores)
    progress(f"sysid excite: D-optimal: {best.design.label()} (log det {best.logdet:.2f})")
    return write_excitation(path, spec, best.design, duration_s,
                            {"criterion": "D-optimal (mean log det of the Fisher information over prior draws)",
                             "draws": draws, "seed": seed, "scores": [s.row() for s in scores]})


def at_rest_task(spec: RobotSpec, ticks: int) -> str:
    """The simulated task's config (YAML flow) for one excitation of `ticks`: start at rest, last a second longer."""
    config: dict[str, float | int] = {"max_episode_steps": ticks + round(spec.control_rate_hz)}
    if spec.quadrotor is not None:
        config |= {"start_position_range_m": 0.0, "start_velocity_range_m_s": 0.0, "start_tilt_range_rad": 0.0,
                   "start_rate_range_rad_s": 0.0}
    elif spec.mobile_base is not None:  # at the origin, no obstacles, no goal to reach
        config |= {"spawn_half_size_m": 0.0, "goal_distance_range_m": [0.0, 0.0], "goal_radius_m": 0.0,
                   "num_obstacles": 0}
    else:
        config |= {"start_noise_rad": 0.0, "hold_steps": 10**9}
    return yaml.safe_dump(config, default_flow_style=True, width=10**6).strip()


def excite(params_file: str | Path, duration_s: float, record: str | Path, design: str | Path | None = None,
           sim: bool = True, overrides: Sequence[str] = (), middleware: str = "auto", draws: int = 2,
           progress: Callable[[str], None] = print) -> dict[str, Any]:
    """Play an excitation through the stack and record it; returns {bag, excitation, exit_code}."""
    params = load_params(params_file)
    robot = params.get("controller", {}).get("robot")
    if not isinstance(robot, str):
        raise SysidError(f"{params_file}: section 'controller' has no parameter 'robot'")
    spec = load_robot(robot)
    record = Path(record)
    if record.exists():
        raise SysidError(f"--record {record}: exists; choose a new bag directory")
    if design is None:
        design = design_excitation(spec, duration_s, Path(f"{record}-excitation.yaml"), draws, progress=progress)
    schedule = load_excitation(design, spec)
    ticks = len(schedule.commands)
    sets = [f"controller.excitation={Path(design).resolve()}"]
    if sim:
        sets += ["sim_driver.episodes=1", f"sim_driver.task_config={at_rest_task(spec, ticks)}"]
    progress(f"sysid excite: playing {schedule.design.label()} ({ticks} ticks) through the controller and safety "
             f"filter; recording {record}")
    code = launch(params_file, duration_s=duration_s + 120.0 if sim else duration_s + 2.0, record=record,
                  middleware=middleware, sim=sim, overrides=[*sets, *overrides])
    return {"bag": str(record), "excitation": str(design), "excitation_sha256": schedule.sha256, "exit_code": code}
