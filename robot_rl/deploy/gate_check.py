"""The controller's release-gate check: on real hardware only a policy whose gate passed may drive the robot.

`robot-rl launch --no-sim` sets `controller.require_gate`; `--override-gate` sets `controller.gate_override`, which
runs an ungated policy anyway with a loud warning. Whatever happens is recorded: the values returned here go into
the `/robot_rl/policy` message of the bag (`gate`, `gate_required`, `gate_override`), in simulation too.
"""

from __future__ import annotations

import sys
from pathlib import Path

from robot_rl.policy import PolicyCard, PolicyError
from robot_rl.policy.gate import gate_status


def hardware_gate(folder: str | Path, card: PolicyCard, required: bool, override: bool) -> dict[str, str]:
    """Check `folder`'s gate; the bag values, or PolicyError when `required` and it did not pass (no `override`)."""
    status = gate_status(folder, card)
    values = {"gate": status.summary, "gate_passed": str(status.ok).lower(), "gate_required": str(required).lower(),
              "gate_override": "false"}
    if required and not status.ok:
        if not override:
            raise PolicyError(f"{folder}: refused on real hardware: {status.summary}. `--override-gate` runs it "
                              f"anyway (recorded in the bag)")
        values["gate_override"] = "true"
        bar = "!" * 100
        print(f"{bar}\nWARNING: release gate OVERRIDDEN for {folder} on real hardware: {status.summary}.\n"
              f"The override is recorded in the bag (/robot_rl/policy, gate_override: true).\n{bar}", file=sys.stderr,
              flush=True)
    return values
