"""Smoke run of bench/control_loop.py: the entry point end to end with tiny durations (compute rows for the arm,
one DDS configuration with the echo and the controller at 100 Hz), checked through its JSON output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_control_loop_bench_runs_and_reports(tmp_path: Path, ros_domain_id: str) -> None:
    out = tmp_path / "control_loop.json"
    cmd = [sys.executable, str(ROOT / "bench" / "control_loop.py"), "--duration", "0.5", "--warmup", "0.2",
           "--startup-timeout", "12", "--rates", "100", "--middlewares", "dds", "--iterations", "200",
           "--robots", "arm", "--json", str(out)]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(out.read_text())
    (arm,) = report["compute"]
    assert arm["robot"] == "arm" and arm["mode"] == "active"
    assert 0 < arm["rows"]["compute"]["p50_us"] <= arm["rows"]["compute"]["p99_us"]
    rows = {row["peer"]: row for row in report["latency"]}
    assert set(rows) == {"echo", "controller"}
    for row in rows.values():
        assert "error" not in row, row
        assert row["n"] == 50  # 0.5 s at 100 Hz
        assert row["n"] - row["misses"] > 0 and row["p50_us"] > 0
    assert [(r["rate_hz"], r["middleware"]) for r in report["ratios"]] == [(100.0, "dds")]
    assert "(b, c) /joint_states published -> command received" in result.stdout
