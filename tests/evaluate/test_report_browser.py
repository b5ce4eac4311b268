"""The HTML reports as a person sees them: a real headless browser (Debian's chromium) opens them with the network
blocked, and the screenshot must show the plots (their colours, not a broken-image box). Skips where no browser
is installed (`make setup` installs Debian's chromium where apt-get runs as root)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from robot_rl.evaluate.gate import CaseResult
from robot_rl.evaluate.gate_report import write_report

ROOT = Path(__file__).resolve().parents[2]
BROWSER = next((b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
PLOT_BLUE = np.array([0x1F, 0x77, 0xB4]) / 255  # matplotlib's first colour: every curve and bar of the reports


def screenshot(page: Path, out: Path, height: int = 2400) -> np.ndarray:
    """A headless screenshot `[H, W, 3]` of `page`, every name resolution and proxy blocked (nothing fetched)."""
    if BROWSER is None:
        pytest.skip("no headless browser here: install Debian's chromium (make setup does where apt-get runs as root)")
    result = subprocess.run([BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                             "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
                             f"--window-size=1200,{height}", f"--screenshot={out}", page.resolve().as_uri()],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0 and out.exists(), result.stderr[-2000:]
    import matplotlib.image

    return matplotlib.image.imread(out)[..., :3]


def plot_pixels(image: np.ndarray) -> int:
    """Pixels within a few levels of matplotlib's blue."""
    return int((np.abs(image - PLOT_BLUE).max(axis=-1) < 0.06).sum())


def _case(name: str, kind: str, parameter: str, value: float, success: float, threshold: float | None) -> CaseResult:
    return CaseResult(name, kind, parameter, value, 32, success, max(0.0, success - 0.15), min(1.0, success + 0.05),
                      threshold, True, -0.5, 0.0, 1.0)


def test_the_gate_report_shows_its_table_and_every_sweep_curve(tmp_path):
    params = ["link_mass_scale", "payload_mass_kg", "joint_damping_scale", "joint_friction_scale",
              "actuator_gain_scale", "push_force_n"]
    results = [_case("nominal", "nominal", "", 0.0, 0.97, 0.8)]
    for p in params:
        results += [_case(f"{p} = {v}", "sweep", p, v, s, 0.7 if 0 < i < 3 else None)
                    for i, (v, s) in enumerate([(0.5, 0.8), (1.0, 1.0), (1.5, 0.95), (2.0, 0.6)])]
    page = write_report(tmp_path / "report.html", Path("policies/arm-reach"), "arm", results, True, [], 32)
    image = screenshot(page, tmp_path / "gate.png")
    assert (image < 0.95).any(axis=-1).mean() > 0.05  # not a blank page
    # six sweep panels of four points each, lines and markers: a cut-off or broken figure shows far fewer
    assert plot_pixels(image) > 2000
    # nothing drawn beyond the page's right margin: the figure scales to the page (it was cut off before)
    assert (image[:, 1150:] < 0.95).any(axis=-1).sum() == 0


def test_the_shipped_gate_reports_fit_the_page(tmp_path):
    for policy in ("arm-reach", "quadrotor-hover", "mobile-base-goal"):  # every column: events, smoothness, ...
        image = screenshot(ROOT / "policies" / policy / "gate" / "report.html", tmp_path / f"{policy}.png")
        assert plot_pixels(image) > 2000, policy
        assert (image[:, 1150:] < 0.95).any(axis=-1).sum() == 0, f"{policy}: the table runs off the page"


def test_the_shipped_reality_gap_report_shows_its_plots(tmp_path):
    image = screenshot(ROOT / "calibration" / "mobile_base" / "worn_wheels_slipping.html", tmp_path / "gap.png",
                       height=4000)
    assert plot_pixels(image) > 2000
