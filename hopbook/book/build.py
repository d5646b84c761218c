"""The build: bring every chapter's run, its controls and the declared sweeps up to date (hopbook.book.plan),
stage the pages under _build/, and build the HTML with Jupyter Book 1.

The staged site (_build/site/) is the book's own sources (_config.yml, _toc.yml, book/) with the pages
the runs make: the chapters' executed notebooks in today's prose, the robustness figures, the GPU runs
and the scorecard, each marked stale where the code that made it has changed. Nothing generated is
written into book/. Jupyter Book then builds _build/site into _build/html, execution off and warnings
as errors.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from hopbook.book import chapter_page, controls, gpu_page, prose, robustness_page, scorecard
from hopbook.book.chapters import discover
from hopbook.book.claims import recorded_names
from hopbook.book.plan import (
    GPU_RUNS, KEPT_RUNS, bring_sweeps_up_to_date, bring_up_to_date, committed_results, declared_sweeps, plan,
    runs_dir, status_lines,
)

SITE = "_build/site"  # the staged Jupyter Book source
SOURCES = ("_config.yml", "_toc.yml", "book")  # the book's own, copied into the site


def stage(root: Path, all_results: list[dict], sweeps: list[dict]) -> Path:
    """Stage the site in root/_build/site and return it: the book's own sources, the chapters' executed
    notebooks (in today's prose, which must cite only what their runs recorded), those of the committed
    GPU runs and their page, the robustness figures and their page, the scorecard."""
    site = root / SITE
    shutil.rmtree(site, ignore_errors=True)
    site.mkdir(parents=True)
    for name in SOURCES:
        copy = shutil.copytree if (root / name).is_dir() else shutil.copy2
        copy(root / name, site / name)
    for folder in (chapter_page.FOLDER, gpu_page.FOLDER, robustness_page.FOLDER):
        (site / folder).mkdir(parents=True)
    chapters = discover(root)
    for r in all_results:
        run, chapter = runs_dir(root, r["profile"]) / r["chapter"], chapters[r["chapter"]]
        nb = chapter_page.page(run / f"{r['chapter']}.ipynb", r, chapter, source=chapter.notebook())
        prose.check(nb, recorded_names(r), chapter.slug)  # today's prose cites what the run recorded
        nbformat.write(nb, site / chapter_page.FOLDER / f"{r['chapter']}.ipynb")
    gpu_runs = committed_results(root, GPU_RUNS)
    notebooks = set()
    for name, r in gpu_runs.items():
        notebook = root / GPU_RUNS / name / f"{r['chapter']}.ipynb"
        if notebook.exists():
            chapter = chapters.get(r["chapter"])
            shown = chapter_page.page(notebook, r, chapter, gpu_page.stale_banner(name, r, chapter))
            nbformat.write(shown, site / gpu_page.FOLDER / f"{name}.ipynb")
            notebooks.add(name)
    benchmarks = sorted((root / GPU_RUNS).glob("*.txt"))
    for path in benchmarks:  # shown on the GPU page, beside its runs' notebooks
        shutil.copy2(path, site / gpu_page.FOLDER / path.name)
    (site / gpu_page.PAGE).write_text(gpu_page.gpu_markdown(root / GPU_RUNS, gpu_runs, chapters, notebooks, benchmarks))
    for s in sweeps:
        shutil.copytree(s["maps"], site / robustness_page.FOLDER / s["chapter"].slug / s["name"])
    (site / robustness_page.PAGE).write_text(robustness_page.sweeps_markdown(sweeps))
    kept_runs = committed_results(root, KEPT_RUNS)
    for committed in (gpu_runs, kept_runs):  # their claims' controls are their chapters'
        for name, r in committed.items():
            if r["chapter"] in chapters:
                committed[name] = controls.annotate(r, controls.verdicts(root, chapters[r["chapter"]]))
    (site / scorecard.PAGE).write_text(scorecard.scorecard_markdown(all_results, gpu_runs, chapters, kept_runs))
    return site


def build(root: Path, profile: str = "default", overrides: dict | None = None, log=print) -> Path:
    """Print the plan (see hopbook.book.plan), bring the profile's runs (with overrides), the declared
    sweeps and the claims' controls (hopbook.book.controls) up to date, record each claim's control
    verdict in its run, stage the site and build the HTML into root/_build/html; return that folder."""
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
    site = stage(root, results, sweeps)
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    subprocess.run([str(jupyter_book), "build", str(site), "--path-output", str(root), "--all", "--warningiserror",
                    "--keep-going", "--quiet"], check=True)
    return root / "_build" / "html"
