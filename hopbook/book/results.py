"""A run's results.json, read and written in one place.

`Results` names the fields a finished run records (hopbook.book.runner writes them, the build adds each
claim's control verdict); each claim is a `ClaimRecord`. `read` returns None where there is no finished
run; a run recorded before claims had kinds and three verdicts reads as claims decided by `holds`.
`write` replaces the file atomically, so no reader ever sees half of one.
"""

import json
from pathlib import Path
from typing import TypedDict

FILE = "results.json"


class ClaimRecord(TypedDict, total=False):
    id: str
    kind: str  # claim or check
    statement: str
    source: str
    paper: str
    criterion: str
    control: str  # NAME=VALUE ..., "none: REASON", or "" for a check
    measured: dict
    verdict: str  # holds, does not hold or not tested
    holds: bool | None  # None when not tested
    reason: str  # why it was not tested
    control_verdict: str | None  # its verdict at its control (hopbook.book.controls); None without one


class Results(TypedDict, total=False):
    chapter: str
    title: str
    profile: str
    params: dict
    overrides: dict  # the parameters that differ from the profile's
    command: str
    claims: list[ClaimRecord]
    recorded: dict  # values the prose cites that no criterion reads
    device: str
    elapsed_s: float
    finished: str
    versions: dict
    data: dict
    python: str
    platform: str
    fingerprint: str  # the run key (hopbook.book.runner.run_key)
    code: dict  # the code it ran, a hash per file
    commit: str | None
    dirty: bool | None


def read(out: Path) -> Results | None:
    """The results of the finished run in folder out, or None if there is none."""
    path = out / FILE
    if not path.exists():
        return None
    results = json.loads(path.read_text())
    for claim in results["claims"]:
        claim.setdefault("kind", "claim")
        claim.setdefault("verdict", {True: "holds", False: "does not hold"}.get(claim["holds"], "not tested"))
    return results


def write(out: Path, results: Results) -> None:
    """Write out/results.json atomically."""
    staged = out / f".{FILE}.partial"
    staged.write_text(json.dumps(results, indent=2) + "\n")
    staged.replace(out / FILE)
