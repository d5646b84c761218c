"""Controls: each claim's criterion, run where it is expected not to hold.

A "holds" means something only if the criterion could have said otherwise. A claim's `:control:`
(hopbook.book.directives) names parameter overrides under which its criterion should fail: outside the
theorem's hypotheses, a β where the regime cannot appear, a load past the cliff, a null input. The
book runs each distinct control setting of a chapter once, at the smoke profile, as an ordinary
cached run in runs/controls/SLUG/NAME/ on the sweep machinery, and records per claim the verdict its
criterion reached there (`control_verdict`). A claim whose control holds too cannot fail at this
setting: the scorecard says so and counts it apart.
"""

from pathlib import Path

from hopbook.book.chapters import Chapter, ParameterError
from hopbook.book.directives import control_name
from hopbook.book import results as recorded
from hopbook.book.runner import state
from hopbook.book.sweep import Point

PROFILE = "smoke"
FOLDER = "runs/controls"
FAILED = "failed"  # the control verdict of a claim whose control run failed
CANNOT_FAIL = "cannot fail at this setting"


def points(root: Path, chapter: Chapter) -> list[Point]:
    """A run per distinct control setting of the chapter's claims, its parameters checked (its data
    and device required) before anything runs."""
    found = []
    for name, overrides in chapter.controls().items():
        try:
            params = chapter.resolve(PROFILE, overrides)
            chapter.check_requirements(params)
        except ParameterError as err:
            raise ParameterError(f"{chapter.slug}: control {name}: {err}") from None
        found.append(Point(overrides, params, root / FOLDER / chapter.slug / name))
    return found


def to_run(root: Path, chapters: list[Chapter]) -> list[tuple[Chapter, list[Point]]]:
    """The control runs of each chapter that are not current."""
    todo = [(c, [p for p in points(root, c) if state(c, p.params, p.out)[0] != "current"]) for c in chapters]
    return [(chapter, stale) for chapter, stale in todo if stale]


def verdicts(root: Path, chapter: Chapter) -> dict[str, str]:
    """The control verdict of each claim with a control: the verdict its criterion reached in its
    control's run, or FAILED where that run failed or is missing."""
    found = {}
    for claim in chapter.claims:
        if claim.control:
            results = recorded.read(root / FOLDER / chapter.slug / control_name(claim.control))
            measured = {c["id"]: c["verdict"] for c in results["claims"]} if results else {}
            found[claim.id] = measured.get(claim.id, FAILED)
    return found


def annotate(results: dict, control_verdicts: dict[str, str]) -> dict:
    """The results with each claim's control verdict (None where it has no control)."""
    claims = [{**c, "control_verdict": control_verdicts.get(c["id"])} for c in results["claims"]]
    return {**results, "claims": claims}


def record(out: Path, control_verdicts: dict[str, str]) -> dict:
    """Write the control verdicts into the run in folder out (atomically); return its results."""
    results = annotate(recorded.read(out), control_verdicts)
    recorded.write(out, results)
    return results


def cannot_fail(claim: dict) -> bool:
    """A claim that holds, and holds at its control too."""
    return claim["kind"] == "claim" and claim["verdict"] == "holds" and claim.get("control_verdict") == "holds"
