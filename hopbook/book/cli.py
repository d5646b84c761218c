"""The `hopbook` command: list chapters, run one, sweep one over a grid, say which runs are stale,
build the book, print the scorecard, fetch data."""

import argparse
import json
import signal
import subprocess
import sys
from pathlib import Path

from papermill.exceptions import PapermillExecutionError

from hopbook.book import plan
from hopbook.book.build import build
from hopbook.book.scorecard import scorecard_table
from hopbook.book.prose import UnrecordedCitation
from hopbook.book.chapters import PROFILES, Chapter, ChapterError, ParameterError, discover, load_chapter
from hopbook.book.claims import verdict_summary
from hopbook.book.runner import run_chapter
from hopbook.book.sweep import FAILED, MAPS, TABLE, sweep
from hopbook.book.warm import RunFailed


def find_root(start: Path) -> Path:
    """The book's root: the nearest folder, from start upwards, holding _toc.yml and notebooks/."""
    for folder in [start, *start.parents]:
        if (folder / "_toc.yml").is_file() and (folder / "notebooks").is_dir():
            return folder
    raise SystemExit(f"hopbook: no book found at or above {start} (a folder with _toc.yml and notebooks/)")


def cmd_list(root: Path, args: argparse.Namespace) -> None:
    for chapter in plan.toc_chapters(root, discover(root)):
        print(f"{chapter.slug}: {chapter.title}")
        print(f"  source: {chapter.source.relative_to(root)}")
        for p in chapter.params.values():
            print(f"  {p.name} ({p.type}, default {p.default!r}, allowed {p.range_text()}): {p.help}")
        for profile in chapter.profile_names:
            changes = chapter.profiles.get(profile, {})
            shown = ", ".join(f"{k}={v!r}" for k, v in changes.items()) or "the defaults"
            print(f"  profile {profile}: {shown}")
        for name, spec in chapter.sweeps.items():
            grid = " x ".join(f"{k} in {','.join(map(str, v))}" for k, v in spec["grid"].items())
            print(f"  sweep {name} ({spec.get('profile', 'default')} profile): {grid}")


def chapter_named(root: Path, slug: str) -> Chapter:
    """The chapter of that slug, read alone (reading all costs half a second)."""
    source = root / "notebooks" / f"{slug}.md"
    if not source.is_file():
        chapters = ", ".join(sorted(p.stem for p in (root / "notebooks").glob("*.md")))
        raise ParameterError(f"unknown chapter {slug!r}; chapters: {chapters}")
    return load_chapter(source)


def given_once(pairs: list[list[str]]) -> dict[str, str]:
    """The -p NAME VALUE pairs as a dictionary; a name given twice is an error."""
    given = dict(pairs)
    if len(given) != len(pairs):
        raise ParameterError("a parameter is given twice")
    return given


def cmd_run(root: Path, args: argparse.Namespace) -> None:
    chapter = chapter_named(root, args.slug)
    params = chapter.resolve(args.profile, given_once(args.param))
    out = args.out or plan.runs_dir(root, args.profile) / chapter.slug
    results = run_chapter(chapter, params, args.profile, out)
    print(f"{chapter.slug}: {verdict_summary(results['claims'])['summary']} ({results['elapsed_s']:.1f} s)")
    print(f"wrote {out / (chapter.slug + '.ipynb')} and {out / 'results.json'}")


def cmd_sweep(root: Path, args: argparse.Namespace) -> None:
    chapter = chapter_named(root, args.slug)
    axes = {name: values.split(",") for name, values in given_once(args.param).items()}
    out = args.out or plan.sweeps_dir(root) / chapter.slug / "-".join([args.profile, *axes])
    table = sweep(chapter, args.profile, axes, out, args.scheduler, args.workers)
    points = table.drop_duplicates("run")
    print(f"{chapter.slug}: {len(points)} points, {(points['verdict'] == FAILED).sum()} failed")
    for claim, rows in table.dropna(subset="claim").groupby("claim", sort=False):
        print(f"  {claim}: holds at {(rows['verdict'] == 'holds').sum()} of {len(points)} points")
    print(f"wrote {out / TABLE} and the maps in {out / MAPS}")


def cmd_status(root: Path, args: argparse.Namespace) -> None:
    rows = plan.status(root, args.profile, given_once(args.param))
    print(json.dumps(rows, indent=2) if args.json else "\n".join(plan.status_lines(rows)))


def cmd_build(root: Path, args: argparse.Namespace) -> None:
    html = build(root, args.profile, given_once(args.param))
    print(f"book built: {html / 'index.html'}")


def cmd_keep_gpu_runs(root: Path, args: argparse.Namespace) -> None:
    kept = plan.keep_gpu_runs(root, args.profile)
    for copy in kept:
        print(f"kept {copy.relative_to(root)}")
    print(f"{len(kept)} runs of the {args.profile} profile made on a GPU kept in {plan.GPU_RUNS}/")


def cmd_scorecard(root: Path, args: argparse.Namespace) -> None:
    results = plan.latest_results(root, args.profile)
    if not results:
        raise SystemExit("hopbook: no results yet; run `hopbook run SLUG` or `hopbook build` first")
    for r in results:
        print(f"\n{r['title']} ({r['chapter']}, profile {r['profile']}, finished {r['finished']})\n")
        print(scorecard_table(r))


def cmd_fetch(root: Path, args: argparse.Namespace) -> None:
    from hopbook.data import images

    images.fetch(args.dataset)
    print(f"{args.dataset} is in {images.DATA}")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="hopbook", description=__doc__)
    top.add_argument("--root", type=Path, help="the book's folder (default: found from the current one)")
    sub = top.add_subparsers(dest="command", required=True)

    sub.add_parser("list", help="chapters, their parameters and profiles").set_defaults(func=cmd_list)

    run = sub.add_parser("run", help="execute one chapter and record its results")
    run.add_argument("slug")
    run.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    run.add_argument("--profile", default="default", help=f"{', '.join(PROFILES)} or one the chapter declares")
    run.add_argument("--out", type=Path, help="output folder (default: runs/PROFILE/SLUG)")
    run.set_defaults(func=cmd_run)

    grid = sub.add_parser("sweep", help="run one chapter over a grid of parameters on Dask; map where each claim holds")
    grid.add_argument("slug")
    grid.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "V1,V2,..."))
    grid.add_argument("--profile", default="default", help=f"{', '.join(PROFILES)} or one the chapter declares")
    grid.add_argument("--out", type=Path, help="output folder (default: runs/sweeps/SLUG/PROFILE-NAMES)")
    grid.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler (default: a local cluster)")
    grid.add_argument("--workers", type=int, default=2, help="workers of the local cluster (default: 2)")
    grid.set_defaults(func=cmd_sweep)

    state = sub.add_parser("status", help="whether each chapter's run is current, stale (and why) or missing")
    state.add_argument("--profile", choices=PROFILES, default="default")
    state.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                       help="as for build: a parameter set in every chapter that declares it")
    state.add_argument("--json", action="store_true", help="a list of objects with slug, state and reason")
    state.set_defaults(func=cmd_status)

    build = sub.add_parser("build", help="run what is stale, then build the HTML book")
    build.add_argument("--profile", choices=PROFILES, default="default")
    build.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                       help="set a parameter in every chapter that declares it (e.g. -p device cuda)")
    build.set_defaults(func=cmd_build)

    keep = sub.add_parser("keep-gpu-runs", help="copy a profile's runs made on a GPU to runs/gpu/, to commit")
    keep.add_argument("--profile", choices=PROFILES, default="paper")
    keep.set_defaults(func=cmd_keep_gpu_runs)

    score = sub.add_parser("scorecard", help="every claim from the latest results")
    score.add_argument("--profile", choices=PROFILES, help="only runs of this profile")
    score.set_defaults(func=cmd_scorecard)
    fetch = sub.add_parser("fetch", help="download an image dataset into data/ (needs network)")
    fetch.add_argument("dataset", choices=("mnist", "cifar10"))
    fetch.set_defaults(func=cmd_fetch)
    return top


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    root = (args.root or find_root(Path.cwd())).resolve()
    # a terminated run unwinds like an interrupted one, so its staging folder is removed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        args.func(root, args)
    except (ParameterError, ChapterError, UnrecordedCitation, RunFailed) as err:
        sys.exit(f"hopbook: {err}")
    except PapermillExecutionError as err:
        sys.exit(f"hopbook: chapter failed in cell {err.exec_count}: {err.ename}: {err.evalue}")
    except subprocess.CalledProcessError:
        sys.exit("hopbook: the Jupyter Book build failed (see its messages above)")
