"""The gate's report: one self-contained HTML file (figures inline as PNG, nothing fetched)."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

_STYLE = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}table{border-collapse:collapse}"
          "table{font-size:12px}td,th{border:1px solid #ccc;padding:2px 5px;text-align:right}"
          "td:first-child{text-align:left}"
          ".fail{background:#fdd}.pass{color:#070;font-size:1.4em}.failed{color:#b00;font-size:1.4em}"
          "img{max-width:100%;height:auto}")


def _img(png: bytes, alt: str) -> str:
    """An <img> tag carrying `png` inline."""
    return f'<img alt="{alt}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _png(fig: Any) -> str:  # noqa: ANN401 - a matplotlib figure
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return _img(buf.getvalue(), "figure")


def sweep_figure(results: Sequence[Any]) -> str:
    """Success rate (Wilson 95 % bars) vs value, one panel per swept parameter; '' when nothing was swept."""
    names = list(dict.fromkeys(r.parameter for r in results if r.kind == "sweep"))
    if not names:
        return ""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(3, len(names))  # a grid three wide: a row of six was cut off (or unreadably small) in a browser
    rows_n = -(-len(names) // cols)
    fig, axes = plt.subplots(rows_n, cols, figsize=(3.6 * cols, 3.0 * rows_n), squeeze=False)
    for ax in axes.ravel()[len(names):]:
        ax.set_visible(False)
    for ax, name in zip(axes.ravel(), names, strict=False):
        rows = [r for r in results if r.kind == "sweep" and r.parameter == name]
        x = [r.value for r in rows]
        y = [r.success for r in rows]
        err = [[r.success - r.success_low for r in rows], [r.success_high - r.success for r in rows]]
        ax.errorbar(x, y, yerr=err, marker="o", capsize=3)
        trained = [r.value for r in rows if r.threshold is not None]
        if trained:
            ax.axvspan(min(trained), max(trained), color="g", alpha=0.1, label="trained range")
        ax.set_ylim(-0.05, 1.05)
        ax.set_title(name, fontsize=9)
        ax.set_ylabel("success")
    if axes[0][0].get_legend_handles_labels()[0]:
        axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def _image(rgb: Any) -> str:  # noqa: ANN401 - an image array [H, W, 3] uint8
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    plt.imsave(buf, rgb, format="png")
    return _img(buf.getvalue(), "frames")


def worst_section(case: str, episodes: Sequence[dict[str, Any]], frames: Sequence[Any], note: str,
                  dt_s: float) -> str:
    """The worst episodes of the weakest case: positions vs time (one panel per axis), then each one's frames."""
    if not episodes:
        return ""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    axes_n = episodes[0]["trace"].shape[1]
    fig, axes = plt.subplots(1, axes_n, figsize=(3.6 * axes_n, 2.8), squeeze=False)
    for k, ep in enumerate(episodes):
        t = (1 + np.arange(len(ep["trace"]))) * dt_s
        for j, ax in enumerate(axes[0]):
            ax.plot(t, ep["trace"][:, j], label=f"episode {ep['episode']} (error {ep['task_error']:.3f} m)",
                    color=f"C{k}")
            ax.set_title("xyz"[j] + " (m)", fontsize=9)
            ax.set_xlabel("s")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    parts = [f"<h2>Worst episodes: {html.escape(case)}</h2><p>The weakest case (lowest success) run again with the "
             f"same seed; its {len(episodes)} episodes that ended farthest from their goal. Frames: MuJoCo's "
             f"offscreen renderer, from the first step to the last, with the episode's obstacles and its goal (green)."
             f"</p>",
             _png(fig)]
    for ep, rgb in zip(episodes, frames, strict=True):
        parts.append(f"<p>episode {ep['episode']}: task error {ep['task_error']:.3f} m at its end, "
                     f"{len(ep['trace'])} steps</p>" + (_image(rgb) if rgb is not None else ""))
    if note:
        parts.append(f"<p><i>frames not rendered: {html.escape(note)}</i></p>")
    return "".join(parts)


def _events(events: dict[str, int]) -> str:
    """'name n, ...' of a case's safety-filter events (empty when none)."""
    return html.escape(", ".join(f"{k} {v}" for k, v in events.items()))


def _smoothness(r: Any) -> str:  # noqa: ANN401 - a CaseResult
    """'Sm / rate RMS / >4 Hz share' of a case ('' when its episodes were too short to measure)."""
    if r.sm is None:
        return ""
    return f"{r.sm:.4f} / {r.action_rate_rms:.3f} / {r.high_freq_energy_share:.0%}"


def write_report(path: Path, policy: Path, robot: str, results: Sequence[Any], passed: bool,
                 reasons: Sequence[str], episodes: int, worst: str = "") -> Path:
    """Write the report: verdict, reasons, one row per case, the sweep curves, `worst` (`worst_section`)."""
    rows = "".join(
        f"<tr class=\"{'' if r.passed else 'fail'}\"><td>{html.escape(r.name)}</td><td>{r.kind}</td>"
        f"<td>{r.success:.1%}</td><td>[{r.success_low:.2f}, {r.success_high:.2f}]</td>"
        f"<td>{'' if r.threshold is None else f'{r.threshold:g}'}</td><td>{r.mean_return:.1f}</td>"
        f"<td>{r.command_limit_share:.1%}</td><td>{r.task_error:.3f}</td><td>{r.task_error_cvar:.3f}</td>"
        f"<td>{r.violation_steps:.2f}</td><td>{r.filter_share:.1%}</td><td>{_events(r.filter_events)}</td>"
        f"<td>{_smoothness(r)}</td>"
        f"<td>{'ok' if r.passed else 'FAIL'}</td></tr>" for r in results)
    why = "".join(f"<li>{html.escape(x)}</li>" for x in reasons) or "<li>every case met its threshold</li>"
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>Release gate: {html.escape(str(policy))}</title>
<style>{_STYLE}</style></head><body><h1>Release gate: {html.escape(str(policy))} ({html.escape(robot)})</h1>
<p class="{'pass' if passed else 'failed'}">{'PASSED' if passed else 'FAILED'}</p><ul>{why}</ul>
<p>{episodes} episodes per case; success with its Wilson 95 % interval; a case fails when the interval's lower
bound is below its threshold (sweep points beyond the trained range are reported only).</p>
<p>Task error: at the episodes' ends (m: fingertip to target, to the setpoint, to the goal), mean and CVaR at 0.5
(the mean of the worst half). The safety filter runs in the loop as on the robot: the share of steps whose command
it changed and its events by kind; constraint-violation steps: per episode, the measured state beyond a limit of
robot.yaml (joints or workspace, geofence or tilt, an obstacle inside footprint + stop distance). Smoothness of
the applied commands, normalized to [-1, 1] by the command range: CAPS Sm, the RMS of their step-to-step change, and
the share of their spectral energy above 4 Hz (lower is smoother).</p>
<table><tr><th>case</th><th>kind</th><th>success</th><th>95 % interval</th><th>threshold</th><th>mean return</th>
<th>commands at a limit</th><th>task error</th><th>CVaR 0.5</th><th>violation steps</th><th>filter changed</th>
<th>filter events</th><th>Sm / rate RMS / &gt;4 Hz</th><th></th></tr>{rows}</table>
<h2>Success vs parameter, beyond the trained ranges</h2>{sweep_figure(results)}
{worst}
</body></html>"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page)
    return path
