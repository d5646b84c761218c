"""The book: bring every chapter's run and sweep up to date, stage the pages, build with Jupyter Book 1.

Runs live in runs/PROFILE/SLUG/ (SLUG.ipynb and results.json), the sweeps a chapter declares in
runs/sweeps/SLUG/NAME/. `build` reruns only what is stale, copies the executed notebooks to
book/chapters/ (their parameters shown once, compactly), and writes from the results the scorecard,
the robustness maps of the sweeps and the page of the committed GPU runs, each marked stale when
the code that made it has changed; then it builds the HTML with execution off and warnings as errors.
"""

import json
import shutil
import subprocess
import sys
from contextlib import nullcontext
from pathlib import Path

import nbformat
import yaml

from hopbook import controls, prose, sweep, warm
from hopbook.chapters import Chapter, ChapterError, ParameterError, discover
from hopbook.claims import format_measured, recorded_names, summary_line, verdict_summary
from hopbook.directives import FENCE
from hopbook.rules import names_in
from hopbook.runner import (
    RESULTS_FILE, current_command, is_up_to_date, label, read_results, staleness, state as run_state,
)

CHAPTER_PAGES = "book/chapters"
SCORECARD_PAGE = "book/scorecard.md"
GPU_RUNS = "runs/gpu"  # runs made on a lent GPU, committed: RUN/results.json, RUN/SLUG.ipynb for a page
KEPT_RUNS = "runs/kept"  # runs of a chapter's own larger profile (too long for every build), committed likewise
GPU_PAGES = "book/gpu"
GPU_PAGE = "book/gpu.md"
GPU_NOTE = "NOTE.md"  # what the maker of a GPU run says about it, shown on the GPU page
SWEEPS_PAGE = "book/robustness.md"
MAP_IMAGES = "book/robustness"


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
    (hopbook.warm)."""
    if any(row["state"] != "current" for row in rows):
        warm.warm_up()
    command = current_command()
    for row in rows:
        if row["state"] != "current":
            log(f"{row['slug']}: running the {profile} profile")
            warm.run(row["chapter"], row["params"], profile, row["out"], command)


def declared_sweeps(root: Path) -> list[dict]:
    """The sweeps the chapters declare, each with its chapter, name, profile, grid and the number of
    its points to run; every point is checked (see hopbook.sweep.grid): a bad one raises
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
    """Run the stale points of the declared sweeps and the stale control runs (hopbook.controls), on
    one warmed cluster (hopbook.sweep.cluster); return each sweep with its table and the folder of its maps."""
    done = []
    with sweep.cluster() if control_runs or any(s["stale"] for s in declared) else nullcontext() as client:
        for chapter, points in control_runs:
            log(f"{chapter.slug}: {len(points)} control runs ({controls.PROFILE} profile)")
            errors = sweep.run_points(client, chapter, controls.PROFILE, points, current_command())
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
    for path in sorted((root / "runs").glob(f"{profile or '*'}/*/{RESULTS_FILE}")):
        results = read_results(path.parent)
        kept = latest.get(results["chapter"])
        if kept is None or results["finished"] > kept["finished"]:
            latest[results["chapter"]] = results
    return list(latest.values())


def scorecard_table(results: dict) -> str:
    """One chapter's claims in full, as a Markdown table: claim, paper, ours, verdict, criterion, control."""
    lines = ["| claim | paper | ours | verdict | criterion | control |", "|---|---|---|---|---|---|"]
    for c in results["claims"]:
        cells = [
            f"**{c['id']}** ({c['kind']}): {c['statement']}",
            f"{c['source']}: {c['paper']}",
            format_measured(c["measured"]),
            verdict_text(c),
            f"`{c['criterion']}`",
            control_text(c),
        ]
        lines.append(_row(cells))
    return "\n".join(lines)


def scorecard_lines(results: dict) -> str:
    """One chapter's claims a line each: id, kind, verdict, its control's verdict, the paper's
    statement and our deciding values (those the criterion reads), both cut short."""
    lines = ["| claim | kind | verdict | control | paper | ours |", "|---|---|---|---|---|---|"]
    for c in results["claims"]:
        deciding = {k: v for k, v in c["measured"].items() if k in names_in(c["criterion"])}
        cells = [f"`{c['id']}`", c["kind"], verdict_text(c), control_text(c, short=True), _cut(c["paper"]),
                 _cut(format_measured(deciding))]
        lines.append(_row(cells))
    return "\n".join(lines)


def verdict_text(claim: dict) -> str:
    """holds, does not hold, not tested (with its reason), or passes for a check that holds; a claim
    that cannot fail at this setting says so."""
    if claim["kind"] == "check" and claim["verdict"] == "holds":
        return "passes"
    if claim["verdict"] == "not tested":
        return f"not tested: {claim.get('reason', '')}".rstrip(": ")
    return f"**{claim['verdict']}, {controls.CANNOT_FAIL}**" if controls.cannot_fail(claim) else claim["verdict"]


def control_text(claim: dict, short: bool = False) -> str:
    """The claim's control and the verdict there (none, with the reason, where it has none)."""
    control = claim.get("control", "")
    if not control:
        return "none (a check)" if claim["kind"] == "check" else "not declared"
    if control.startswith("none:"):
        return "none" if short else control
    said = claim.get("control_verdict") or "not run"
    return f"{said}" if short else f"`{control}`: {said}"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in cells) + " |"


def _cut(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."


def committed_results(root: Path, folder: str = GPU_RUNS) -> dict[str, dict]:
    """The committed runs in folder (GPU_RUNS or KEPT_RUNS), by run name (their folder's name)."""
    return {p.parent.name: read_results(p.parent) for p in sorted((root / folder).glob(f"*/{RESULTS_FILE}"))}


def keep_gpu_runs(root: Path, profile: str) -> list[Path]:
    """Copy each finished run of the profile that was made on a GPU to runs/gpu/SLUG-PROFILE-DAY/ (the
    day it finished), to commit, replacing an earlier copy of it; return the copies."""
    kept = []
    for run in sorted(runs_dir(root, profile).glob(f"*/{RESULTS_FILE}")):
        results = json.loads(run.read_text())
        if results["device"] == "cpu":
            continue
        copy = root / GPU_RUNS / f"{results['chapter']}-{profile}-{results['finished'][:10].replace('-', '')}"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(run.parent, copy, ignore=shutil.ignore_patterns(".partial-*"))
        kept.append(copy)
    return kept


def _summary(r: dict) -> str:
    """The verdicts of a run in one line, and the claims that cannot fail at this setting."""
    line = verdict_summary(r["claims"])["summary"]
    weak = [f"`{c['id']}`" for c in r["claims"] if controls.cannot_fail(c)]
    return line + (f"; {controls.CANNOT_FAIL}: {', '.join(weak)}" if weak else "")


def scorecard_markdown(all_results: list[dict], gpu_runs: dict[str, dict], chapters: dict[str, Chapter],
                       kept_runs: dict[str, dict] | None = None) -> str:
    """The scorecard page: a line per claim of every chapter, the full criteria, measurements and
    parameters a click away; then the claims of the committed GPU runs and kept runs, stale ones marked."""
    claims = [c for r in all_results for c in r["claims"]]
    counts = verdict_summary(claims)
    weak = sum(controls.cannot_fail(c) for c in claims)
    parts = [
        "# Scorecard\n",
        f"**{summary_line(counts)}** in the runs this book was built from; of the claims that hold, {weak}",
        f"{'holds' if weak == 1 else 'hold'} at {'its' if weak == 1 else 'their'} control too, so cannot fail at",
        "that setting, and say little.\n",
        "A *claim* is a statement of a source that could be false; a *check* tests our code (an identity, an",
        "exactness, a bound that holds for any state) and is never counted as a reproduced claim. A verdict is",
        "the chapter's declared criterion evaluated on the measured values, or *not tested* where the chapter's",
        "declared rule says this run's model, data or scale cannot test the statement. Each claim's *control*",
        f"is a run ({controls.PROFILE} profile) at parameters where its criterion should fail; a claim that holds",
        f"there too is marked *{controls.CANNOT_FAIL}*. *Ours* shows the values the criterion reads. This page",
        "is generated by `hopbook build`; `hopbook scorecard` prints the full tables.\n",
    ]
    def title(r: dict) -> str:
        return f"{{doc}}`{r['title']} <chapters/{r['chapter']}>`"

    # (heading, run, where a stale mark points to; None for this build's own runs, current by construction)
    headed = [(title(r), r, None) for r in all_results]
    headed += [(f"Run `{name}` of {title(r)} on a GPU", r, "; see {doc}`gpu`") for name, r in gpu_runs.items()]
    headed += [(f"Kept run `{name}` of {title(r)}", r, "") for name, r in (kept_runs or {}).items()]
    for heading, r, see in headed:
        params = ", ".join(f"`{k}={v}`" for k, v in r["params"].items())
        stale = None if see is None else staleness(r, chapters.get(r["chapter"]))
        mark = f" **Stale**: {stale}{see}." if stale else ""
        parts += [
            f"## {heading}\n",
            f"On {r['device']}, {label(r, chapters.get(r['chapter']))}, {r['elapsed_s']:.0f} s: {_summary(r)}.{mark}\n",
            scorecard_lines(r) + "\n",
            ":::{dropdown} Statements, criteria, measurements and parameters\n",
            scorecard_table(r) + "\n",
            f"Parameters: {params}. Finished {r['finished']}.",
            ":::\n",
        ]
    return "\n".join(parts)


def parameters_markdown(results: dict, chapter: Chapter | None) -> str:
    """The parameters of a run in one paragraph, in bold with the default beside those that differ
    from the chapter's defaults."""
    shown = []
    for name, value in results["params"].items():
        param = chapter.params.get(name) if chapter else None
        if param is None or param.default == value:
            shown.append(f"`{name} = {value!r}`")
        else:
            shown.append(f"**`{name} = {value!r}`** (default `{param.default!r}`)")
    return (f"**Parameters of this run** ({label(results, chapter)}; `hopbook list` explains each): "
            + ", ".join(shown) + ".")


def with_prose(executed: nbformat.NotebookNode, source: nbformat.NotebookNode, slug: str) -> nbformat.NotebookNode:
    """The executed notebook's code cells, outputs and all, in the prose of the chapter's source
    today: a prose edit needs no rerun. Raises ChapterError if their code cells differ."""
    ran = [c for c in executed.cells if c.cell_type == "code"]
    injected = [c for c in ran if "injected-parameters" in c.metadata.get("tags", [])]
    ran = iter(c for c in ran if c not in injected)
    cells = []
    for cell in source.cells:
        if cell.cell_type != "code":
            cells.append(cell)
            continue
        run_cell = next(ran, None)
        if run_cell is None or run_cell.source != cell.source:
            raise ChapterError(f"{slug}: the code cells of its run differ from its source's; rerun it")
        run_cell.metadata["tags"] = list(dict.fromkeys(run_cell.metadata.get("tags", []) + cell.metadata.get("tags", [])))
        cells += [run_cell, *injected] if "parameters" in cell.metadata.get("tags", []) else [run_cell]
    if next(ran, None) is not None:
        raise ChapterError(f"{slug}: its run has more code cells than its source; rerun it")
    shown = nbformat.from_dict(executed)
    shown.cells = cells
    return shown


def with_verdicts(nb: nbformat.NotebookNode, results: dict) -> nbformat.NotebookNode:
    """The notebook with each claim directive given what the run decided, as options the book's
    claim block shows (hopbook.claim_block): verdict, reason, measured (the values its rules read)
    and control-verdict."""
    decided = {c["id"]: c for c in results["claims"]}

    def given(match) -> str:
        claim = decided.get(match.group("id"))
        if claim is None or ":verdict:" in match.group("body"):
            return match.group(0)
        reads = names_in(claim["criterion"])
        options = {"verdict": claim["verdict"], "reason": claim.get("reason", ""),
                   "measured": format_measured({k: v for k, v in claim["measured"].items() if k in reads}),
                   "control-verdict": claim.get("control_verdict") or ""}
        added = "".join(f":{name}: {value}\n" for name, value in options.items() if value)
        header = match.group(0)[: match.start("body") - match.start(0)]
        return header + added + match.group("body") + match.group(0)[match.end("body") - match.start(0):]

    shown = nbformat.from_dict(nb)
    for cell in shown.cells:
        if cell.cell_type == "markdown":
            cell.source = FENCE.sub(given, cell.source)
    return shown


def page(notebook: Path, results: dict, chapter: Chapter | None, banner: str = "",
         source: nbformat.NotebookNode | None = None) -> nbformat.NotebookNode:
    """An executed notebook as the book shows it, in the prose of source if given (see with_prose):
    the declared parameters cell and the one papermill injected hidden, one compact paragraph of
    the run's parameters in their place, and an optional banner under the title. The notebook keeps
    both cells, so a downloaded copy reruns as it ran."""
    nb = nbformat.read(notebook, as_version=4)
    if source is not None:
        nb = with_prose(nb, source, results["chapter"])
    nb = with_verdicts(nb, results)
    position = None
    for index, cell in enumerate(nb.cells):
        tags = cell.metadata.setdefault("tags", [])
        if {"parameters", "injected-parameters"} & set(tags):
            tags.append("remove-cell")
            position = index if position is None else position
    if position is not None:
        nb.cells.insert(position, nbformat.v4.new_markdown_cell(parameters_markdown(results, chapter)))
    if banner:
        titled = bool(nb.cells) and nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
        nb.cells.insert(1 if titled else 0, nbformat.v4.new_markdown_cell(banner))
    return nb


def gpu_markdown(folder: Path, gpu_runs: dict[str, dict], chapters: dict[str, Chapter], notebooks: set[str],
                 benchmarks: list[Path]) -> str:
    """The page of the committed GPU runs: for each, how it was made (profile, overrides, device,
    commit, command), whether today's code still matches it, its verdicts, its notebook and the note
    its maker left beside it (RUN/NOTE.md, prose only: the numbers are the run's)."""
    parts = [
        "# Runs on a GPU\n",
        "Some chapters are meant for a GPU at the papers' scale (their `paper` profile). Runs made on one are",
        "committed under `runs/gpu/RUN/` and shown here as they came back; `hopbook build` does not re-execute",
        "them, but compares the code each recorded with today's and marks it **stale** when they differ.",
        "`.ci/gpu` makes such runs on any machine with an NVIDIA GPU. This page is generated from the runs.\n",
    ]
    for name, r in gpu_runs.items():
        chapter = chapters.get(r["chapter"])
        stale = staleness(r, chapter)
        commit = f"`{r['commit'][:12]}`" if r.get("commit") else "not recorded"
        command = f"`{r['command']}`" if r.get("command") else "not recorded"
        page_link = f" Its notebook: {{doc}}`gpu/{name}`." if name in notebooks else ""
        parts += [
            f"## `{name}`: {r['title']}\n",
            f"- made with **{label(r, chapter)}** on {r['device']}, {r['elapsed_s']:.0f} s, finished {r['finished']}",
            f"- commit {commit}; command {command}",
            f"- {'**Stale**: ' + stale if stale else 'Current: the code it ran is the code of this book'}",
            f"- {_summary(r)}; claims on the {{doc}}`scorecard`.{page_link}\n",
        ]
        note = folder / name / GPU_NOTE
        if note.exists():
            parts.append(note.read_text())
    for path in benchmarks:
        parts += [f"## Benchmark `{path.name}`\n",
                  f"```{{literalinclude}} ../{GPU_RUNS}/{path.name}", ":language: text", "```\n"]
    return "\n".join(parts)


def _stale_banner(name: str, r: dict, chapter: Chapter | None) -> str:
    stale = staleness(r, chapter)
    kind, says = ("warning", f"Stale: {stale}.") if stale else \
        ("note", "Current: the code it ran is the code of this book.")
    return f":::{{{kind}}}\nRun `{name}` on {r['device']}, {label(r, chapter)}. {says}\n:::"


def sweeps_markdown(sweeps: list[dict]) -> str:
    """The robustness page: for each declared sweep, its grid and its figure, a panel per claim."""
    parts = [
        "# Where the verdicts hold\n",
        "A verdict holds at the parameters of its run. Each chapter below declares a sweep in its front matter:",
        "`hopbook build` runs the chapter at every point of a grid (an ordinary run each, cached like any run, on",
        "Dask), and each figure shows, a panel per claim, whether it holds at each point. A grid reaches past the",
        "hypotheses where it can, so a map shows where a claim stops holding. `hopbook sweep SLUG -p NAME v1,v2,...`",
        "draws such a figure over any grid.\n",
    ]
    for s in sweeps:
        chapter, table = s["chapter"], s["table"]
        points = table.drop_duplicates("run")
        grid = "; ".join(f"`{k}` in {', '.join(map(str, v))}" for k, v in s["grid"].items())
        failed = points[points["verdict"] == sweep.FAILED]
        parts += [
            f"## {{doc}}`{chapter.title} <chapters/{chapter.slug}>`: sweep `{s['name']}`\n",
            f"Profile `{s['profile']}`, the other parameters at the profile's values; {grid}: {len(points)} points,"
            f" {len(failed)} failed.\n",
        ]
        parts += [f"- point `{Path(run).name}`: {error}" for run, error in zip(failed["run"], failed["error"])]
        claims = table.dropna(subset="claim").drop_duplicates("claim")
        parts += [f"```{{figure}} robustness/{chapter.slug}/{s['name']}/{sweep.MAP}",
                  f":alt: where the claims of {chapter.slug} hold over {' and '.join(s['grid'])}\n",
                  "Panels: " + "; ".join(f"`{c}`: {statement}" for c, statement in claims[["claim", "statement"]].values),
                  "```\n"]
    return "\n".join(parts)


def stage(root: Path, all_results: list[dict], sweeps: list[dict]) -> None:
    """Stage the pages: the chapters' executed notebooks in book/chapters/ (in today's prose, which
    must cite only what their runs recorded), those of the committed GPU runs in book/gpu/RUN.ipynb
    and their page book/gpu.md, the robustness maps and their page, the scorecard."""
    for folder in (CHAPTER_PAGES, GPU_PAGES, MAP_IMAGES):
        shutil.rmtree(root / folder, ignore_errors=True)
        (root / folder).mkdir(parents=True)
    chapters = discover(root)
    for r in all_results:
        run, chapter = runs_dir(root, r["profile"]) / r["chapter"], chapters[r["chapter"]]
        nb = page(run / f"{r['chapter']}.ipynb", r, chapter, source=chapter.notebook())
        prose.check(nb, recorded_names(r), chapter.slug)  # today's prose cites what the run recorded
        nbformat.write(nb, root / CHAPTER_PAGES / f"{r['chapter']}.ipynb")
    gpu_runs = committed_results(root, GPU_RUNS)
    notebooks = set()
    for name, r in gpu_runs.items():
        notebook = root / GPU_RUNS / name / f"{r['chapter']}.ipynb"
        if notebook.exists():
            chapter = chapters.get(r["chapter"])
            shown = page(notebook, r, chapter, _stale_banner(name, r, chapter))
            nbformat.write(shown, root / GPU_PAGES / f"{name}.ipynb")
            notebooks.add(name)
    benchmarks = sorted((root / GPU_RUNS).glob("*.txt"))
    (root / GPU_PAGE).write_text(gpu_markdown(root / GPU_RUNS, gpu_runs, chapters, notebooks, benchmarks))
    for s in sweeps:
        shutil.copytree(s["maps"], root / MAP_IMAGES / s["chapter"].slug / s["name"])
    (root / SWEEPS_PAGE).write_text(sweeps_markdown(sweeps))
    kept_runs = committed_results(root, KEPT_RUNS)
    (root / SCORECARD_PAGE).write_text(scorecard_markdown(all_results, gpu_runs, chapters, kept_runs))


def build(root: Path, profile: str = "default", overrides: dict | None = None, log=print) -> Path:
    """Print the plan (see plan and declared_sweeps), bring the profile's runs (with overrides, see
    plan), the declared sweeps and the claims' controls (hopbook.controls) up to date, record each
    claim's control verdict in its run and build the HTML book; return its folder."""
    sweeps, rows = declared_sweeps(root), plan(root, profile, overrides)
    control_runs = controls.to_run(root, [row["chapter"] for row in rows])
    for line in status_lines(rows):
        log(line)
    for s in sweeps:
        log(f"{s['chapter'].slug}: sweep {s['name']}: {s['stale']} of {s['points']} points to run")
    for chapter, points in control_runs:
        log(f"{chapter.slug}: {len(points)} of {len(chapter.controls())} control runs to run")
    bring_up_to_date(rows, profile, log)
    sweeps = bring_sweeps_up_to_date(sweeps, control_runs, log)
    results = [controls.record(row["out"], controls.verdicts(root, row["chapter"])) for row in rows]
    stage(root, results, sweeps)
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    subprocess.run(
        [str(jupyter_book), "build", str(root), "--all", "--warningiserror", "--keep-going", "--quiet"],
        check=True,
    )
    return root / "_build" / "html"
