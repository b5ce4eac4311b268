"""The release gate's verdict in a policy's card, chained to the files it judged, and its check before hardware.

A verdict (`card.gate`) names what it judged by sha256: the ONNX file, the card without its verdict, the gate
suite and the gate report, the last two kept in the policy folder (`gate/suite.yaml`, `gate/report.html`), so the
folder verifies on its own wherever it is copied. Editing the card or the ONNX file, or replacing the suite or the
report, breaks the chain: `gate_status` then treats the policy as ungated and says which file changed.

The controller refuses, on real hardware, a policy whose gate did not pass for its robot (`robot_rl.deploy`);
`robot-rl launch --no-sim --override-gate` runs it anyway, warns, and records the override in the bag.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from robot_rl.policy.card import CARD_FILE, ONNX_FILE, GateVerdict, PolicyCard, load_card, save_card
from robot_rl.policy.runner import sha256_file

SUITE_FILE = "gate/suite.yaml"
REPORT_FILE = "gate/report.html"


def card_body_sha256(card: PolicyCard) -> str:
    """sha256 of the card without its verdict (canonical YAML: sorted keys), the verdict's link to the card."""
    body = card.model_dump(mode="json", exclude={"gate"})
    return hashlib.sha256(yaml.safe_dump(body, sort_keys=True).encode()).hexdigest()


def record_verdict(folder: str | Path, passed: bool, reasons: Sequence[str], when: dt.datetime | None = None
                   ) -> GateVerdict:
    """Write the verdict into `folder`'s card, chained to its ONNX file, card, `SUITE_FILE` and `REPORT_FILE`.

    Raises:
        FileNotFoundError: the suite or the report is not in the folder yet (the gate writes them first).

    """
    folder = Path(folder)
    for name in (SUITE_FILE, REPORT_FILE):
        if not (folder / name).is_file():
            raise FileNotFoundError(f"{folder / name}: the gate writes its suite and report before the verdict")
    card = load_card(folder / CARD_FILE)
    verdict = GateVerdict(
        passed=passed, reasons=list(reasons), robot=card.robot,
        date=(when or dt.datetime.now(dt.timezone.utc)).isoformat(timespec="seconds"),
        onnx_sha256=sha256_file(folder / ONNX_FILE), card_sha256=card_body_sha256(card),
        suite_sha256=sha256_file(folder / SUITE_FILE), report_sha256=sha256_file(folder / REPORT_FILE))
    save_card(card.model_copy(update={"gate": verdict}), folder / CARD_FILE)
    return verdict


@dataclass(frozen=True)
class GateStatus:
    """Whether a policy may drive real hardware, and why (one line)."""

    ok: bool
    summary: str


def chain_breaks(folder: Path, card: PolicyCard, verdict: GateVerdict) -> list[str]:
    """The files whose sha256 no longer matches the verdict (empty: the chain holds)."""
    expected = {ONNX_FILE: verdict.onnx_sha256, SUITE_FILE: verdict.suite_sha256, REPORT_FILE: verdict.report_sha256}
    broken = [name for name, sha in expected.items()
              if not sha or not (folder / name).is_file() or sha256_file(folder / name) != sha]
    if verdict.card_sha256 != card_body_sha256(card):
        broken.insert(0, f"{CARD_FILE} (edited after the gate)")
    return broken


def gate_status(folder: str | Path, card: PolicyCard | None = None) -> GateStatus:
    """A passing, intact verdict for the card's robot: ok; anything else is no gate, with the reason."""
    folder = Path(folder)
    card = card or load_card(folder / CARD_FILE)
    verdict = card.gate
    if verdict is None:
        return GateStatus(False, "the card has no release-gate verdict (run `robot-rl gate` on it)")
    if verdict.robot != card.robot:
        return GateStatus(False, f"the gate verdict is for robot {verdict.robot!r}, the policy is for '{card.robot}'")
    broken = chain_breaks(folder, card, verdict)
    if broken:
        return GateStatus(False, f"the gate verdict of {verdict.date} does not match {', '.join(broken)}: treated "
                                 f"as no gate (run `robot-rl gate` again)")
    if not verdict.passed:
        return GateStatus(False, f"the release gate of {verdict.date} failed: {'; '.join(verdict.reasons)}")
    return GateStatus(True, f"release gate passed {verdict.date} (suite sha256 {verdict.suite_sha256[:12]})")
