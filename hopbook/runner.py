"""Run a chapter: execute its source through papermill and record results.json atomically.

A run works in a hidden staging folder inside the output folder and moves the executed notebook,
then results.json, into place only when every cell has run and every claim has a verdict. So
results.json marks a finished run: a failed or killed run leaves none behind.
"""

import hashlib
import json
import platform
import shutil
import tempfile
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import papermill

import hopbook
from hopbook.chapters import Chapter, ChapterError
from hopbook.claims import CLAIMS_FILE

RESULTS_FILE = "results.json"
_RECORDED_VERSIONS = (
    "hopbook", "torch", "numpy", "scipy", "matplotlib", "seaborn", "papermill", "jupytext", "transformers", "peft",
    "diffusers", "torchvision",
)


def fingerprint(chapter: Chapter, params: dict) -> str:
    """Hash of everything a run's results depend on: parameters, chapter source, package code."""
    h = hashlib.sha256(json.dumps(params, sort_keys=True).encode())
    h.update(chapter.source.read_bytes())
    package = Path(hopbook.__file__).parent
    for path in sorted(package.rglob("*.py")):
        h.update(path.relative_to(package).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def read_results(out: Path) -> dict | None:
    """The results of the finished run in folder out, or None if there is none."""
    path = out / RESULTS_FILE
    return json.loads(path.read_text()) if path.exists() else None


def is_up_to_date(chapter: Chapter, params: dict, out: Path) -> bool:
    """Whether out holds a finished run with these parameters, this source and this package code."""
    results = read_results(out)
    notebook = out / f"{chapter.slug}.ipynb"
    return bool(results) and notebook.exists() and results["fingerprint"] == fingerprint(chapter, params)


def run_chapter(chapter: Chapter, params: dict, profile: str, out: Path) -> dict:
    """Execute a chapter with checked parameters (see Chapter.resolve); return its results.

    Writes out/SLUG.ipynb and out/results.json. Raises papermill's PapermillExecutionError if a
    cell fails, ChapterError if the chapter saved no claims; then neither file is left in out.
    ParameterError, before anything runs, if data or weights it names are not on disk.
    """
    chapter.check_requirements(params)
    out.mkdir(parents=True, exist_ok=True)
    (out / RESULTS_FILE).unlink(missing_ok=True)  # results first: they mark a finished run
    (out / f"{chapter.slug}.ipynb").unlink(missing_ok=True)
    for stale in out.glob(f".partial-{chapter.slug}-*"):
        shutil.rmtree(stale, ignore_errors=True)  # left by a killed run
    staging = Path(tempfile.mkdtemp(prefix=f".partial-{chapter.slug}-", dir=out))
    try:
        executed = staging / f"{chapter.slug}.ipynb"
        start = time.perf_counter()
        papermill.execute_notebook(
            chapter.notebook(), executed, parameters=params, cwd=staging,
            kernel_name="python3", progress_bar=True,
        )
        elapsed = time.perf_counter() - start
        if not (staging / CLAIMS_FILE).exists():
            raise ChapterError(f"{chapter.slug} ran but recorded no claims: end it with claims.save()")
        recorded = json.loads((staging / CLAIMS_FILE).read_text())
        results = {
            "chapter": chapter.slug,
            "title": chapter.title,
            "profile": profile,
            "params": params,
            "claims": recorded["claims"],
            "device": recorded["device"],
            "elapsed_s": round(elapsed, 2),
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "versions": {name: metadata.version(name) for name in _RECORDED_VERSIONS},
            "python": platform.python_version(),
            "platform": platform.platform(),
            "fingerprint": fingerprint(chapter, params),
        }
        (staging / RESULTS_FILE).write_text(json.dumps(results, indent=2) + "\n")
        executed.replace(out / executed.name)
        (staging / RESULTS_FILE).replace(out / RESULTS_FILE)
        return results
    finally:
        shutil.rmtree(staging, ignore_errors=True)
