"""The lock file `make setup` installs from holds exactly what this suite runs with (`make lock` refreshes it)."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UNPINNED = {"torch", "robot-rl", "pip", "setuptools", "wheel", "distribute"}
"""torch is pinned in the Makefile (CPU or CUDA build); the project is editable; pip's own tools are not frozen."""


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: Path) -> dict[str, str]:
    """Package (normalized name) -> exact version of a constraints file; ValueError names a line without '=='."""
    pins = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        if not sep or not version or any(c in version for c in "<>=!~*, "):
            raise ValueError(f"{path}:{number}: {line!r} is not an exact pin 'name==version'")
        pins[_norm(name)] = version
    return pins


def test_the_lock_pins_exactly_what_is_installed():
    pins = read_lock(ROOT / "constraints.txt")
    installed = {_norm(d.metadata["Name"]): d.version for d in metadata.distributions()}
    installed = {k: v for k, v in installed.items() if k not in UNPINNED}
    drift = {k: (pins.get(k), v) for k, v in installed.items() if pins.get(k) != v}
    assert not drift, f"constraints.txt (locked, installed) differ: {drift}; run `make lock` after a passing suite"
    assert not set(pins) - set(installed), f"locked but not installed: {sorted(set(pins) - set(installed))}"
    assert "torch" not in pins and pins["mujoco"]  # the CPU/CUDA choice stays in the Makefile


def test_the_ros_lock_is_well_formed():
    pins = read_lock(ROOT / "constraints-ros.txt")
    assert pins.get("ros-jazzy-rclpy") and pins.get("cyclonedds") and "robot-rl" not in pins
