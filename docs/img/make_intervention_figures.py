"""Figures of docs/interventions.md: the data flow, and a recorded handover trace.

    .venv/bin/python docs/img/make_intervention_figures.py [BAG]

Without BAG it records one (robot-rl launch launch/arm.yaml --operator sim-expert, 3 episodes, over DDS on
loopback) into a temporary folder first. Writes docs/img/interventions_flow.png and docs/img/interventions_trace.png.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
BOXES = {  # name: (x, y, w, h, text, colour)
    "devices": (0.2, 6.5, 3.0, 1.3, "person: gamepad (evdev),\nkeyboard, SpaceMouse\n"
                "robot-rl teleop joy|keyboard|spacemouse", "#fde2c8"),
    "sim": (0.2, 4.6, 3.0, 1.3, "simulated operator\n(operator node, sim-expert):\n"
            "expert + RLIF / margin / random rule", "#fde2c8"),
    "policy": (4.6, 7.0, 2.6, 0.8, "policy.onnx proposes", "#d6e9f8"),
    "arb": (4.6, 5.4, 2.6, 1.1, "arbitration\ndeadman (debounced), fresh ≤ 0.5 s,\ne-stop beats all", "#d6e9f8"),
    "filter": (4.6, 3.9, 2.6, 0.8, "SafetyFilter.certify\n(the same for both)", "#cde8cd"),
    "robot": (8.4, 3.9, 2.4, 0.8, "robot or sim_driver", "#eeeeee"),
    "bag": (8.4, 1.5, 2.4, 1.4, "recorder → MCAP bag\n/robot_rl/tick (every tick)\n/robot_rl/intervention\n"
            "/robot_rl/policy (at start)", "#f3e0f3"),
    "dataset": (4.6, 1.6, 2.6, 1.2, "robot-rl dataset\n→ Minari: RLIF, HIL-SERL,\nHG-DAgger labels", "#f3e0f3"),
    "finetune": (0.2, 1.6, 3.0, 1.2, "fine-tuning\n(next: robot-rl finetune)", "#eeeeee"),
}
ARROWS = [  # (from, to, label, curvature)
    ("devices", "arb", "/robot_rl/operator/joy\n(sensor_msgs/Joy)", 0.0),
    ("sim", "arb", "Joy + /robot_rl/operator/command\n(robot units)", 0.0),
    ("policy", "arb", "", 0.0), ("arb", "filter", "", 0.0), ("filter", "robot", "command", 0.0),
    ("robot", "sim", "state", -0.45), ("filter", "bag", "proposed, operator,\napplied, source", 0.0),
    ("bag", "dataset", "bags", 0.0), ("dataset", "finetune", "transitions", 0.0),
]


def _anchor(name: str, toward: tuple[float, float]) -> tuple[float, float]:
    x, y, w, h, *_ = BOXES[name]
    cx, cy = x + w / 2, y + h / 2
    dx, dy = toward[0] - cx, toward[1] - cy
    scale = min(w / 2 / abs(dx) if dx else np.inf, h / 2 / abs(dy) if dy else np.inf)
    return cx + dx * scale, cy + dy * scale


def flow_figure(path: Path) -> None:
    """The data flow of a takeover, from the operator's input to the dataset."""
    fig, ax = plt.subplots(figsize=(11, 6.6))
    for x, y, w, h, text, colour in BOXES.values():
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.05", fc=colour, ec="#555555"))
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=8.5)
    centre = {n: (b[0] + b[2] / 2, b[1] + b[3] / 2) for n, b in BOXES.items()}
    for a, b, label, rad in ARROWS:
        start, end = _anchor(a, centre[b]), _anchor(b, centre[a])
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=14, color="#333333", lw=1.2,
                                     connectionstyle=f"arc3,rad={rad}"))
        dx, dy = end[0] - start[0], end[1] - start[1]  # label at the curve's middle (arc3's control point / 2)
        ax.text((start[0] + end[0]) / 2 + rad * dy / 2 + (0.55 if dx > 0 > dy else 0),
                (start[1] + end[1]) / 2 - rad * dx / 2 + (-0.06 if rad else 0.06), label, fontsize=7.2,
                ha="center", va="top" if rad else "bottom", color="#1f3f77")
    ax.add_patch(FancyBboxPatch((4.4, 3.75), 3.0, 4.2, boxstyle="round,pad=0.05", fc="none", ec="#1f77b4", ls="--"))
    ax.text(5.9, 8.05, "controller node: one tick, no extra hop on the command path", fontsize=8, ha="center",
            style="italic", color="#1f77b4")
    ax.set_xlim(0, 11)
    ax.set_ylim(1.3, 8.3)
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=130)


def trace_figure(bag: Path, path: Path) -> None:
    """One joint of a recorded run: the policy's proposal, the operator's command and the applied command.

    The operator's ticks are shaded.
    """
    from robot_rl.data.bag import read_bag
    from robot_rl.data.ticks import parse_tick

    records = [parse_tick({kv.key: kv.value for kv in m.msg.status[0].values}, 0)
               for m in read_bag(bag, topics=["/robot_rl/tick"])]
    tick = np.array([r.tick for r in records])
    joint = int(np.argmax(np.ptp([r.applied for r in records], axis=0)))
    fig, ax = plt.subplots(figsize=(11, 3.6))
    operator = np.array([r.source == "operator" for r in records])
    for t in tick[operator]:
        ax.axvspan(t - 0.5, t + 0.5, color="#fde2c8", lw=0)
    ax.plot(tick, [r.proposed[joint] for r in records], ".", ms=3, color="#1f77b4", label="policy proposed")
    op = [r.operator[joint] if r.operator is not None else np.nan for r in records]
    ax.plot(tick, op, "o", ms=3.5, color="#d62728", label="operator commanded")
    ax.plot(tick, [r.applied[joint] for r in records], "-", lw=1.2, color="#2ca02c", label="applied (after the filter)")
    for t in tick[np.r_[False, np.diff([r.episode for r in records]) != 0]]:
        ax.axvline(t - 0.5, color="#777777", ls=":", lw=1)
    ax.set_xlabel("controller tick (20 ms); shaded: the operator commands; dotted: a new episode")
    ax.set_ylabel(f"joint {joint + 1} target, rad")
    ax.legend(loc="upper right", fontsize=8, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=130)


def record_bag(folder: Path) -> Path:
    """A 3-episode arm run with the simulated RLIF operator (loopback DDS)."""
    bag = folder / "bag"
    subprocess.run([sys.executable, "-m", "robot_rl.cli.main", "launch", str(REPO / "launch" / "arm.yaml"),
                    "--middleware", "dds", "--operator", "sim-expert", "--record", str(bag), "--duration", "200",
                    "--set", "sim_driver.episodes=3"], cwd=REPO, check=True)
    return bag


def main() -> int:
    """Write both figures."""
    flow_figure(HERE / "interventions_flow.png")
    with tempfile.TemporaryDirectory() as tmp:
        bag = Path(sys.argv[1]) if len(sys.argv) > 1 else record_bag(Path(tmp))
        trace_figure(bag, HERE / "interventions_trace.png")
    print(f"wrote {HERE / 'interventions_flow.png'} and {HERE / 'interventions_trace.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
