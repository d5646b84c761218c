"""Run a chapter: execute its source through papermill and record results.json atomically.

A run works in a hidden staging folder inside the output folder and moves the executed notebook,
then results.json, into place only when every cell has run, every claim has a verdict and the
prose cites only recorded values. So results.json marks a finished run: a failed or killed run
leaves none behind. The kernel learns its chapter, profile, device and parameters from the
environment variable hopbook.book.claims.RUN_ENVIRONMENT.

A run is keyed by what can change its outputs: its parameters, its code (the chapter's code cells
and the `hopbook` modules they import), the shipped data and the library versions; never by the
prose between the cells, which the book puts around the recorded outputs when it stages a page. A
run records each of these parts, so `state` can say what made it stale, and the command that made it
and the parameters it changed from its profile, so a run kept elsewhere (a GPU's, committed) can be
checked against the code of today (`staleness`) and labelled truthfully (`label`).

`kernel_manager` runs the chapter in another kind of kernel than papermill's fresh one: hopbook.book.warm
passes an in-process kernel in a forked, warmed process.
"""

import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import papermill

from hopbook.book import devices, fingerprint as fp, prose, results as recorded_results
from hopbook.data import corpus
from hopbook.book.chapters import Chapter, ChapterError
from hopbook.book.claims import RUN_ENVIRONMENT, Run, recorded_names

CLAIMS_FILE = "claims.json"  # where the kernel saves its claims, in the run's staging folder

CLAIMS_PART = "#claims"  # the key of a chapter's declared claims in a run's code record
_LIBRARIES = (  # whose versions a run depends on; hopbook's own code counts instead of its version
    "torch", "numpy", "scipy", "matplotlib", "seaborn", "papermill", "jupytext", "transformers", "peft",
    "diffusers", "torchvision",
)


def code_record(chapter: Chapter) -> dict[str, str]:
    """The code a run of chapter executes, as a hash per file: the code cells of its source
    (notebooks/SLUG.md; its prose does not count), the claims it declares (their rules decide) and
    the hopbook modules they import, directly or through one another (docstrings and comments aside)."""
    source, name = chapter.code(), f"notebooks/{chapter.source.name}"
    return {name: fp.fingerprint(code_cells=source),
            f"{name}{CLAIMS_PART}": fp.fingerprint(claims=[c.as_dict() for c in chapter.claims]),
            **fp.code(fp.imported(source))}


def versions() -> dict[str, str]:
    """The versions of the libraries a run depends on."""
    return {name: metadata.version(name) for name in _LIBRARIES}


def run_key(chapter: Chapter, params: dict, code: dict[str, str] | None = None) -> str:
    """Hash of what a run's results depend on: its parameters, its code (code_record, unless given),
    the text shipped in data/ and the versions of the libraries it runs on."""
    return fp.fingerprint(params=params, code=code or code_record(chapter), data=corpus.shipped(), versions=versions())


def state(chapter: Chapter, params: dict, out: Path) -> tuple[str, str]:
    """How the run in folder out stands for these parameters: ("current", ""), ("missing", why) or
    ("stale", what changed since it ran: parameters, code cells, modules, data, versions)."""
    results = recorded_results.read(out)
    if results is None or not (out / f"{chapter.slug}.ipynb").exists():
        return "missing", f"no finished run in {out}"
    if results["fingerprint"] == run_key(chapter, params):
        return "current", ""
    return "stale", "; ".join(changes(results, chapter, params)) or "recorded under an older kind of key"


def changes(results: dict, chapter: Chapter, params: dict) -> list[str]:
    """What differs between a recorded run and a run of chapter with params today, in words."""
    then_params = results["params"]
    found = [f"parameter {name} {then_params.get(name)!r} -> {params.get(name)!r}"
             for name in sorted(params.keys() | then_params.keys()) if then_params.get(name) != params.get(name)]
    now, then = code_record(chapter), results.get("code", {})
    for name in sorted(now.keys() | then.keys()):
        if now.get(name) != then.get(name):
            found.append(_part(name))
    if "data" in results and results["data"] != corpus.shipped():
        found.append("shipped data")
    found += [f"{name} {results['versions'].get(name)} -> {version}" for name, version in versions().items()
              if results["versions"].get(name) != version]
    return found


def _part(name: str) -> str:
    """A part of the code record in words."""
    if name.endswith(CLAIMS_PART):
        return f"claims of {name.removesuffix(CLAIMS_PART)}"
    return f"code cells of {name}" if name.startswith("notebooks/") else f"module {name}"


def staleness(results: dict, chapter: Chapter | None) -> str | None:
    """Why a kept run no longer matches today's code, or None if it does: the files whose code
    changed since it ran (edited, added or removed), or what is missing to compare."""
    if chapter is None:
        return f"its chapter {results['chapter']!r} is gone"
    if "code" not in results:
        return "it recorded no code to compare with"
    now, then = code_record(chapter), results["code"]
    changed = sorted(name for name in now.keys() | then.keys() if now.get(name) != then.get(name))
    return "changed since it ran: " + ", ".join(changed) if changed else None


def overrides(chapter: Chapter | None, profile: str, params: dict) -> dict:
    """The parameters of a run that differ from its profile's values (all of them if the chapter is gone)."""
    if chapter is None:
        return dict(params)
    declared = chapter.resolve(profile)
    return {name: value for name, value in params.items() if name not in declared or declared[name] != value}


def label(results: dict, chapter: Chapter | None) -> str:
    """How a run was made, truthfully: its profile and the parameters it overrode (as recorded, or
    for a run that recorded none, against the chapter's declaration today)."""
    changed = results.get("overrides")
    if changed is None:
        changed = overrides(chapter, results["profile"], results["params"])
    return f"profile {results['profile']}" + (
        " with " + ", ".join(f"{name}={value}" for name, value in changed.items()) if changed else "")


def current_command() -> str:
    """This process's command line, as a user would type it (`hopbook run ...`)."""
    return shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]])


def git_state(folder: Path) -> dict:
    """The commit checked out in folder and whether the work tree differs from it (None outside git)."""
    def git(*args: str) -> str | None:
        done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    return {"commit": commit, "dirty": bool(git("status", "--porcelain")) if commit else None}


def is_up_to_date(chapter: Chapter, params: dict, out: Path) -> bool:
    """Whether out holds a finished run with these parameters, this code, data and library versions."""
    return state(chapter, params, out)[0] == "current"


def run_chapter(chapter: Chapter, params: dict, profile: str, out: Path, command: str | None = None,
                progress: bool = True, kernel_manager: type | None = None) -> recorded_results.Results:
    """Execute a chapter with checked parameters (see Chapter.resolve); return its results.

    command is the command line the results record (default: this process's); progress shows
    papermill's bar of cells; kernel_manager, a jupyter_client kernel manager class, replaces
    papermill's fresh kernel (hopbook.book.warm's in-process one).

    Writes out/SLUG.ipynb and out/results.json. Raises papermill's PapermillExecutionError if a
    cell fails, ChapterError if the chapter saved no claims; then neither file is left in out.
    ParameterError, before anything runs, if data, weights or a device it names are not here;
    prose.UnrecordedCitation if the prose cites a value the run did not record.
    """
    chapter.check_requirements(params)
    device = params.get("device", "cpu")
    # what runs is what the key and the commit describe, whatever is edited while it runs
    notebook, code, commit = chapter.notebook(), code_record(chapter), git_state(chapter.source.parent)
    key, command = run_key(chapter, params, code), command or current_command()
    out.mkdir(parents=True, exist_ok=True)
    (out / recorded_results.FILE).unlink(missing_ok=True)  # results first: they mark a finished run
    (out / f"{chapter.slug}.ipynb").unlink(missing_ok=True)
    for stale in out.glob(f".partial-{chapter.slug}-*"):
        shutil.rmtree(stale, ignore_errors=True)  # left by a killed run
    staging = Path(tempfile.mkdtemp(prefix=f".partial-{chapter.slug}-", dir=out))
    try:
        executed = staging / f"{chapter.slug}.ipynb"
        start = time.perf_counter()
        claims = [c.as_dict() for c in chapter.claims]
        told = Run(chapter.slug, profile, device, params, claims, str((staging / CLAIMS_FILE).resolve()))  # the kernel runs in staging
        with _environment(RUN_ENVIRONMENT, json.dumps(asdict(told))):
            papermill.execute_notebook(
                notebook, executed, parameters=params, cwd=staging, kernel_name="python3", progress_bar=progress,
                **({"kernel_manager_class": kernel_manager} if kernel_manager else {}),
            )
        elapsed = time.perf_counter() - start
        if not (staging / CLAIMS_FILE).exists():
            raise ChapterError(f"{chapter.slug} ran but saved no claims: end it with claims.conclude()")
        recorded = json.loads((staging / CLAIMS_FILE).read_text())
        prose.check(notebook, recorded_names(recorded), chapter.slug)
        results: recorded_results.Results = {
            "chapter": chapter.slug,
            "title": chapter.title,
            "profile": profile,
            "params": params,
            "overrides": overrides(chapter, profile, params),
            "command": command,
            "claims": recorded["claims"],
            "recorded": recorded["recorded"],
            "device": devices.describe(device),
            "elapsed_s": round(elapsed, 2),
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "versions": {"hopbook": metadata.version("hopbook"), **versions()},
            "data": corpus.shipped(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "fingerprint": key,
            "code": code,
            **commit,
        }
        executed.replace(out / executed.name)
        recorded_results.write(out, results)
        return results
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    """Set an environment variable, which the kernel inherits, for the duration of a with block."""
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            del os.environ[name]
        else:
            os.environ[name] = previous
