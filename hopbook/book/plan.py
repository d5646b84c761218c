"""The plan of a build: which chapter runs, control runs and sweep points are current, stale or missing,
and bringing them up to date.

Runs live in runs/PROFILE/SLUG/ (SLUG.ipynb and results.json), the sweeps a chapter declares in
runs/sweeps/SLUG/NAME/, its controls in runs/controls/SLUG/NAME/ (hopbook.book.controls); runs kept
elsewhere (a lent GPU's, a larger profile's) are committed in runs/gpu/ and runs/kept/. Only what is
stale reruns, each run in a fork of a warmed process, sweeps and controls on one Dask cluster.
"""

import shutil
from contextlib import nullcontext
from pathlib import Path

import yaml

from hopbook.book import controls, results as recorded, sweep, warm
from hopbook.book.chapter_page import FOLDER as CHAPTER_PAGES
from hopbook.book.chapters import Chapter, ChapterError, ParameterError, discover
from hopbook.book.runner import current_command, is_up_to_date, state as run_state

GPU_RUNS = "runs/gpu"  # runs made on a lent GPU, committed: RUN/results.json, RUN/SLUG.ipynb for a page
KEPT_RUNS = "runs/kept"  # runs of a chapter's own larger profile (too long for every build), committed likewise


def runs_dir(root: Path, profile: str) -> Path:
    """Where runs of a profile live."""
    return root / "runs" / profile


def sweeps_dir(root: Path) -> Path:
    """Where sweeps live: SLUG/NAME/ for those the chapters declare."""
    return root / "runs" / "sweeps"


def toc_chapters(root: Path, chapters: dict[str, Chapter]) -> list[Chapter]:
    """The chapters in the order of _toc.yml; the toc and notebooks/ must list the same ones."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files = []
    for part in toc.get("parts", [toc]):
        files += [entry["file"] for entry in part.get("chapters", [])]
    slugs = [f.removeprefix(CHAPTER_PAGES + "/") for f in files if f.startswith(CHAPTER_PAGES + "/")]
    if sorted(slugs) != sorted(chapters):
        raise ChapterError(
            f"_toc.yml lists chapters {sorted(slugs)} but notebooks/ holds {sorted(chapters)}; "
            f"add each chapter to _toc.yml as {CHAPTER_PAGES}/SLUG"
        )
    return [chapters[slug] for slug in slugs]


def plan(root: Path, profile: str, overrides: dict | None = None) -> list[dict]:
    """Per chapter of the book: its slug, the state of its run of the profile (current, stale or
    missing) and the reason (what changed since it ran, or where no run was found); for the build,
    the chapter, its checked parameters and its run's folder.

    overrides set a parameter in every chapter that declares it (such as device); each must be
    declared by some chapter, and every chapter's parameters, data and device are checked here,
    before anything runs.
    """
    chapters = toc_chapters(root, discover(root))
    overrides = overrides or {}
    unknown = [name for name in overrides if not any(name in c.params for c in chapters)]
    if unknown:
        raise ParameterError(f"no chapter has a parameter {', '.join(map(repr, unknown))}")
    checked = []
    for chapter in chapters:
        try:
            params = chapter.resolve(profile, {k: v for k, v in overrides.items() if k in chapter.params})
            chapter.check_requirements(params)
        except ParameterError as err:
            raise ParameterError(f"{chapter.slug}: {err}") from None
        checked.append((chapter, params))
    rows = []
    for chapter, params in checked:
        out = runs_dir(root, profile) / chapter.slug
        state, reason = run_state(chapter, params, out)
        rows.append({"slug": chapter.slug, "state": state, "reason": reason,
                     "chapter": chapter, "params": params, "out": out})
    return rows


def status(root: Path, profile: str, overrides: dict | None = None) -> list[dict]:
    """The plan's slug, state and reason per chapter, as `hopbook status --json` prints them."""
    return [{key: row[key] for key in ("slug", "state", "reason")} for row in plan(root, profile, overrides)]


def status_lines(rows: list[dict]) -> list[str]:
    """The status rows as lines: SLUG: STATE (REASON)."""
    return [f"{r['slug']}: {r['state']}" + (f" ({r['reason']})" if r["reason"] else "") for r in rows]


def bring_up_to_date(rows: list[dict], profile: str, log=print) -> None:
    """Run every chapter of the plan whose run is not current, each in a fork of this warmed process
    (hopbook.book.warm)."""
    if any(row["state"] != "current" for row in rows):
        warm.warm_up()
    command = current_command()
    for row in rows:
        if row["state"] != "current":
            log(f"{row['slug']}: running the {profile} profile")
            warm.run(row["chapter"], row["params"], profile, row["out"], command)


def declared_sweeps(root: Path) -> list[dict]:
    """The sweeps the chapters declare, each with its chapter, name, profile, grid and the number of
    its points to run; every point is checked (see hopbook.book.sweep.grid): a bad one raises
    ParameterError before anything runs."""
    declared = []
    for chapter in toc_chapters(root, discover(root)):
        for name, spec in chapter.sweeps.items():
            out = sweeps_dir(root) / chapter.slug / name
            profile = spec.get("profile", "default")
            points = sweep.grid(chapter, profile, spec["grid"], out)
            stale = sum(not is_up_to_date(chapter, p.params, p.out) for p in points)
            declared.append({"chapter": chapter, "name": name, "profile": profile, "grid": spec["grid"], "out": out,
                             "points": len(points), "stale": stale})
    return declared


def bring_sweeps_up_to_date(declared: list[dict], control_runs: list[tuple[Chapter, list]], log=print) -> list[dict]:
    """Run the stale points of the declared sweeps and the stale control runs (hopbook.book.controls), on
    one warmed cluster (hopbook.book.sweep.cluster); return each sweep with its table and the folder of its maps."""
    done = []
    with sweep.cluster() if control_runs or any(s["stale"] for s in declared) else nullcontext() as client:
        for chapter, points in control_runs:
            log(f"{chapter.slug}: {len(points)} control runs ({controls.PROFILE} profile)")
            errors = sweep.run_points(client, chapter, controls.PROFILE, points, current_command(), "controls")
            for out, error in errors.items():
                log(f"{chapter.slug}: control {out.name} failed: {error}")
        for s in declared:
            log(f"{s['chapter'].slug}: sweep {s['name']} ({s['profile']} profile)")
            table = sweep.sweep(s["chapter"], s["profile"], s["grid"], s["out"], client=client)
            done.append({**s, "table": table, "maps": s["out"] / sweep.MAPS})
    return done


def latest_results(root: Path, profile: str | None = None) -> list[dict]:
    """The most recently finished run of each chapter, over all profiles or the one given."""
    latest: dict[str, dict] = {}
    for path in sorted((root / "runs").glob(f"{profile or '*'}/*/{recorded.FILE}")):
        results = recorded.read(path.parent)
        kept = latest.get(results["chapter"])
        if kept is None or results["finished"] > kept["finished"]:
            latest[results["chapter"]] = results
    return list(latest.values())


def committed_results(root: Path, folder: str = GPU_RUNS) -> dict[str, dict]:
    """The committed runs in folder (GPU_RUNS or KEPT_RUNS), by run name (their folder's name)."""
    return {p.parent.name: recorded.read(p.parent) for p in sorted((root / folder).glob(f"*/{recorded.FILE}"))}


def keep_gpu_runs(root: Path, profile: str) -> list[Path]:
    """Copy each finished run of the profile that was made on a GPU to runs/gpu/SLUG-PROFILE-DAY/ (the
    day it finished), to commit, replacing an earlier copy of it; return the copies."""
    kept = []
    for run in sorted(runs_dir(root, profile).glob(f"*/{recorded.FILE}")):
        results = recorded.read(run.parent)
        if results["device"] == "cpu":
            continue
        copy = root / GPU_RUNS / f"{results['chapter']}-{profile}-{results['finished'][:10].replace('-', '')}"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(run.parent, copy, ignore=shutil.ignore_patterns(".partial-*"))
        kept.append(copy)
    return kept
