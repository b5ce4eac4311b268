"""The reality-gap report: one self-contained HTML file (figures inline as PNG, no network fetches).

Sections: the identified parameters with their 95 % intervals (and the truth, when a benchmark knows it), the
latency search, per-joint NRMSE of open-loop replay at 0.5 s, 2 s and the full horizon on held-out ticks
(nominal vs calibrated), and the held-out trajectories themselves.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from robot_rl.robots import RobotSpec
from robot_rl.sysid.gap import horizon_ticks, mean_nrmse, position_names, replay_positions
from robot_rl.sysid.replay import SysidLog, replay_class

_STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}.good{color:#1a7f37}.bad{color:#b42318}
.big{font-size:1.4em;font-weight:600}img{max-width:100%}code{background:#f5f5f5;padding:1px 4px}"""


def _png(fig: Any) -> str:  # noqa: ANN401 - a matplotlib figure
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return f'<img alt="figure" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _pyplot() -> Any:  # noqa: ANN401 - the pyplot module
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def nrmse_figure(table: Mapping[str, Mapping[str, Sequence[float]]], joints: Sequence[str]) -> str:
    """Bars of per-joint NRMSE, one panel per horizon, nominal vs calibrated; an <img> tag."""
    plt = _pyplot()
    horizons = list(next(iter(table.values())))
    fig, axes = plt.subplots(1, len(horizons), figsize=(4.2 * len(horizons), 3.2), sharey=False)
    x = np.arange(len(joints))
    for ax, h in zip(np.atleast_1d(axes), horizons, strict=True):
        for i, (model, rows) in enumerate(table.items()):
            ax.bar(x + 0.4 * i - 0.2, np.maximum(rows[h], 1e-6), 0.4, label=model)
        ax.set_yscale("log")  # calibrated errors are often orders of magnitude below nominal ones
        ax.set_title(f"open-loop replay, {h}")
        ax.set_xticks(x, [j.replace("joint", "j") for j in joints])
        ax.set_ylabel("NRMSE (log)")
    np.atleast_1d(axes)[0].legend()
    return _png(fig)


def trajectory_figure(spec: RobotSpec, log: SysidLog, span: tuple[int, int],
                      models: Mapping[str, Mapping[str, float]]) -> str:
    """Measured vs replayed positions (joints or axes) over the first held-out segment (full horizon); an <img> tag."""
    plt = _pyplot()
    ticks = horizon_ticks(log, span, None, replay_class(spec).warmup_s)
    names = position_names(spec)
    n = len(names)
    fig, axes = plt.subplots(n, 1, figsize=(10, 1.3 * n), sharex=True)
    t = np.arange(1, ticks + 1) * log.dt_s
    measured = None
    for (model, params), style in zip(models.items(), ("--", "-"), strict=False):
        pred, measured = replay_positions(spec, log, span, params, ticks)
        for j in range(n):
            axes[j].plot(t, pred[0, :, j], style, lw=1, label=model)
    for j in range(n):
        axes[j].plot(t, measured[0, :, j], color="k", lw=0.8, alpha=0.6, label="measured")
        axes[j].set_ylabel(names[j], fontsize=8)
    axes[0].legend(ncol=3, fontsize=8)
    axes[-1].set_xlabel("s since the window's measured start")
    return _png(fig)


def _param_rows(doc: Mapping[str, Any], truth: Mapping[str, float] | None, nominal: Mapping[str, float]) -> str:
    rows, loose = [], " <i>not identified: not applied</i>"
    for name, p in {**doc["parameters"], **doc.get("not_identified", {})}.items():
        ci = p.get("ci95") or (p["mean"], p["mean"])
        tr = "" if truth is None else f"<td>{truth.get(name, nominal.get(name, float('nan'))):.4g}</td>"
        rows.append(f"<tr><td>{html.escape(name)}</td><td>{html.escape(p.get('unit', ''))}</td>"
                    f"<td>{nominal.get(name, float('nan')):.4g}</td><td><b>{p['mean']:.4g}</b></td>"
                    f"<td>[{ci[0]:.4g}, {ci[1]:.4g}]{loose if name in doc.get('not_identified', {}) else ''}"
                    f"</td>{tr}</tr>")
    head = "<tr><th>parameter</th><th>unit</th><th>nominal</th><th>identified</th><th>95 % interval</th>"
    return head + ("<th>truth</th>" if truth is not None else "") + "</tr>" + "".join(rows)


def _nrmse_rows(table: Mapping[str, Mapping[str, Sequence[float]]]) -> str:
    models = list(table)
    means = {m: mean_nrmse(table[m]) for m in models}
    out = "<tr><th>horizon</th>" + "".join(f"<th>{html.escape(m)}</th>" for m in models) + "<th>change</th></tr>"
    for h in means[models[0]]:
        first, last = means[models[0]][h], means[models[-1]][h]
        change = (last - first) / first if first > 0 else 0.0
        css = "good" if change < 0 else "bad"
        out += (f"<tr><td>{h}</td>" + "".join(f"<td>{means[m][h]:.4f}</td>" for m in models)
                + f'<td class="{css}">{change:+.0%}</td></tr>')
    return out


def write_report(path: str | Path, spec: RobotSpec, doc: Mapping[str, Any], log: SysidLog, heldout: tuple[int, int],
                 table: Mapping[str, Mapping[str, Sequence[float]]], models: Mapping[str, Mapping[str, float]],
                 latency_costs: Mapping[int, float], truth: Mapping[str, float] | None = None) -> Path:
    """Write the HTML report of calibration document `doc` (see `robot_rl.sysid.calibrate`); returns its path."""
    path = Path(path)
    joints = position_names(spec)
    nominal = models.get("nominal", {})
    lat = int(doc["parameters"]["action_latency_steps"]["mean"])
    logs = "".join(f"<li><code>{html.escape(s['path'])}</code> sha256 <code>{s['sha256'][:16]}…</code></li>"
                   for s in doc["source_logs"])
    costs = ", ".join(f"{k}: {v:.3g}" for k, v in latency_costs.items())
    unid = "".join(f"<li>{html.escape(u)}</li>" for u in doc.get("unidentifiable", [])) or "<li>none</li>"
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>Reality gap: {spec.name}</title>
<style>{_STYLE}</style></head><body>
<h1>Reality gap: {html.escape(spec.name)}</h1>
<p>Fitted {html.escape(doc.get('created', ''))} with MuJoCo {html.escape(doc.get('mujoco_version', ''))},
robot_rl {html.escape(doc.get('project_commit', ''))}. Logs:</p><ul>{logs}</ul>
<p class="big">Latency found: {lat} control steps ({lat * spec.control_dt_s * 1000:.0f} ms) ·
held-out NRMSE (full horizon) {doc['nrmse'].get('heldout_nominal', float('nan')):.3f} nominal →
{doc['nrmse'].get('heldout', float('nan')):.3f} calibrated</p>
<h2>Identified parameters</h2><table>{_param_rows(doc, truth, nominal)}</table>
<p>Latency search (best cost per candidate, control steps: mean squared scaled residual): {costs}</p>
<p>Directions the logs do not constrain:</p><ul>{unid}</ul>
<h2>Open-loop replay on held-out ticks</h2>
<p>Each window starts from the measured state and runs the recorded commands; NRMSE is the RMS position error
over the joint's (axis') own standard deviation, averaged over joints (axes).</p><table>{_nrmse_rows(table)}</table>
{nrmse_figure(table, joints)}
<h2>Held-out trajectories (full horizon)</h2>{trajectory_figure(spec, log, heldout, models)}
</body></html>"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page)
    return path
