"""Sweeps: a chapter run over a grid of parameters, and where each of its claims holds.

A sweep is the product of the values given for some parameters, every other parameter at its
profile's value. Each point is an ordinary run (hopbook.book.runner) in its own folder, skipped when it
is up to date; the points that need running run on Dask distributed, a local cluster unless an
address names one, each worker warmed once and running every point in a fork of itself with one
thread (hopbook.book.warm). A point that fails is recorded with its error and the others go on. The
verdicts land in one table, a row per point and claim, and one figure of small multiples: a panel
per claim, whether it holds at each point, over the first two parameters (a panel per value of the rest).

Dask rather than Ray: a run is one independent task of a few seconds to minutes, which is what
`Client.submit` does; dask.distributed installs from PyPI as pure Python, runs the same code on a
laptop's LocalCluster or on a cluster named by its scheduler address, and needs no daemon.
"""

import itertools
import re
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # maps are written to files, wherever the sweep runs
import matplotlib.pyplot as plt
import pandas as pd
from tqdm.auto import tqdm

from hopbook.book import warm
from hopbook.book.chapters import Chapter, ParameterError
from hopbook.book import results as recorded
from hopbook.book.runner import current_command, is_up_to_date

TABLE = "sweep.csv"
MAPS = "maps"
MAP = "verdicts.png"  # the sweep's one figure, a panel per claim, in MAPS
POINTS = "points"
FAILED = "error"  # the verdict of every claim at a point whose run failed
_COLOURS = {"holds": "#4c9f70", "does not hold": "#c8553d", "not tested": "#c9a227", FAILED: "#999999"}
_MARKS = {"holds": "✓", "does not hold": "✗", "not tested": "–", FAILED: "!"}


@dataclass(frozen=True)
class Point:
    """One run of a sweep: the swept values, the checked parameters and its folder."""

    values: dict
    params: dict
    out: Path


def grid(chapter: Chapter, profile: str, axes: dict[str, list], out: Path) -> list[Point]:
    """Every point of the grid, its parameters resolved and checked, and its data, weights and
    device required, before anything runs (a bad value raises ParameterError naming the point)."""
    if not axes:
        raise ParameterError("a sweep needs at least one parameter with values (-p NAME v1,v2,...)")
    for name, values in axes.items():
        if not values:
            raise ParameterError(f"sweep values of {name!r} must be given")
    points = []
    for combination in itertools.product(*axes.values()):
        values = dict(zip(axes, combination))
        try:
            params = chapter.resolve(profile, values)
        except ParameterError as err:
            raise ParameterError(f"sweep point {_name(values)}: {err}") from None
        values = {name: params[name] for name in axes}  # as checked: 0 and 0.0 are one point
        points.append(Point(values, params, out / POINTS / _name(values)))
    for name, values in axes.items():
        if len({p.values[name] for p in points}) != len(values):
            raise ParameterError(f"sweep values of {name!r} must be distinct; got {values!r}")
    if len({p.out for p in points}) != len(points):
        raise ParameterError("sweep points must have distinct folder names; some values differ only in "
                             "characters a folder name cannot hold")
    for p in points:
        chapter.check_requirements(p.params)
    return points


def sweep(chapter: Chapter, profile: str, axes: dict[str, list], out: Path, scheduler: str | None = None,
          workers: int = 2, client=None) -> pd.DataFrame:
    """Run a chapter over the grid (see `grid`), skipping up-to-date points, on client (a `cluster`)
    or on a cluster of its own; write out/sweep.csv and a map per claim in out/maps/, and return
    the table."""
    if workers < 1:
        raise ParameterError(f"a sweep needs at least one worker; got {workers}")
    points = grid(chapter, profile, axes, out)
    todo = [p for p in points if not is_up_to_date(chapter, p.params, p.out)]
    errors = {}
    if todo:
        with nullcontext(client) if client else cluster(scheduler, workers) as running:
            errors = run_points(running, chapter, profile, todo, current_command())
    table = _table(points, errors, out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / TABLE, index=False)
    draw_maps(table, list(axes), out / MAPS)
    return table


@contextmanager
def cluster(scheduler: str | None = None, workers: int = 2) -> Iterator["Client"]:
    """A Dask client whose workers are warmed (hopbook.book.warm) and run one thread each (a point sets its
    run's environment process-wide): a local cluster of `workers` processes, or the running one at
    address scheduler, which must share the output folders with this machine."""
    from dask.distributed import Client

    try:
        client = Client(scheduler, timeout="10s") if scheduler else Client(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    except OSError as err:  # no scheduler answers at that address
        raise ParameterError(f"no Dask scheduler answers at {scheduler}: {err}") from None
    with client:
        threads = client.nthreads()
        if any(n > 1 for n in threads.values()):
            raise ParameterError(f"the workers of {scheduler} run {max(threads.values())} threads each; "
                                 "a sweep needs one per worker (dask worker --nthreads 1)")
        client.run(warm.warm_up, 1)  # every worker imports once, for all its points
        yield client


def run_points(client, chapter: Chapter, profile: str, points: list[Point], command: str,
               what: str = "sweep") -> dict[Path, str]:
    """Run the points on the client's workers, each recording command as what made it (`what` names
    them in the progress bar); return the error of each point that failed, by its folder."""
    from dask.distributed import as_completed

    futures = {client.submit(_run_point, chapter, p.params, profile, p.out, command, pure=False): p for p in points}
    errors = {}
    for future in tqdm(as_completed(futures), total=len(futures), desc=f"{chapter.slug} {what}", unit="point"):
        # a point fails inside its run (the error it returns) or with its worker (lost, killed)
        failed = future.status != "finished"
        errors[futures[future].out] = warm.describe(future.exception()) if failed else future.result()
    return {out: error for out, error in errors.items() if error}


def _run_point(chapter: Chapter, params: dict, profile: str, out: Path, command: str) -> str:
    """Run one point on a warmed worker; return the error it failed with, or an empty string."""
    try:
        warm.run(chapter, params, profile, out, command)
    except warm.RunFailed as err:  # a failed point is recorded and the sweep goes on
        return err.error
    return ""


def _table(points: list[Point], errors: dict[Path, str], out: Path) -> pd.DataFrame:
    """A row per point and claim: the swept values, the claim and its statement, its verdict (or error
    for a point that failed, with its message) and the point's folder, relative to out."""
    rows = []
    for p in points:
        results = None if p.out in errors else recorded.read(p.out)
        missing = f"no {p.out.name}/results.json (is the folder shared with the workers?)"
        error = errors.get(p.out) or ("" if results else missing)
        claims = results["claims"] if results else [{"id": None, "statement": None}]
        for claim in claims:
            rows.append({**p.values, "claim": claim["id"], "statement": claim["statement"],
                         "verdict": claim["verdict"] if results else FAILED,
                         "error": error, "run": p.out.relative_to(out).as_posix()})
    return pd.DataFrame(rows)


def draw_maps(table: pd.DataFrame, axes: list[str], folder: Path, columns: int = 4) -> Path:
    """The sweep's verdicts as one figure of small multiples, folder/MAP: a panel per claim (and per
    value of the swept parameters beyond the first two), each a map of its verdict over the first two
    (one row if only one is swept), every panel in the grid's order, `columns` panels a row. A point
    that failed shows as error in every claim's panel."""
    folder.mkdir(parents=True, exist_ok=True)
    order = {name: list(dict.fromkeys(table[name])) for name in axes}
    x, y, facets = axes[0], (axes[1] if len(axes) > 1 else None), axes[2:]
    keys = list(itertools.product(*(order[name] for name in facets)))  # [()] when nothing is faceted
    panels = [(claim, key) for claim in table["claim"].dropna().unique() for key in keys] or [(None, key) for key in keys]
    n_columns = min(columns, len(panels))
    n_rows = -(-len(panels) // n_columns)
    width, height = 1.0 + 0.45 * len(order[x]), 1.0 + 0.3 * (len(order[y]) if y else 1)  # inches per panel
    fig, axs = plt.subplots(n_rows, n_columns, figsize=(width * n_columns, height * n_rows + 0.4), squeeze=False)
    for ax, (claim, key) in zip(axs.flat, panels):
        rows = table[(table["claim"] == claim) | table["claim"].isna()]
        panel = rows[(rows[facets] == list(key)).all(axis=1)] if facets else rows
        _panel(ax, panel, x, y, order)
        ax.set_title(", ".join([str(claim or "no claims")] + [f"{n}={v}" for n, v in zip(facets, key)]), fontsize=8)
    for ax in list(axs.flat)[len(panels):]:
        ax.axis("off")
    handles = [plt.Rectangle((0, 0), 1, 1, color=colour) for colour in _COLOURS.values()]
    fig.legend(handles, [f"{_MARKS[v]} {v}" for v in _COLOURS], loc="lower center", ncol=len(_COLOURS), fontsize=8,
               frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    path = folder / MAP
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _panel(ax, panel: pd.DataFrame, x: str, y: str | None, order: dict[str, list]) -> None:
    """One map of verdicts: a coloured, marked cell per point, the values in the grid's order."""
    xs, ys = order[x], order[y] if y else [""]
    for _, row in panel.iterrows():
        i, j = xs.index(row[x]), ys.index(row[y]) if y else 0
        ax.add_patch(plt.Rectangle((i, j), 1, 1, color=_COLOURS[row["verdict"]]))
        ax.text(i + 0.5, j + 0.5, _MARKS[row["verdict"]], ha="center", va="center", fontsize=8, color="white")
    ax.set(xlim=(0, len(xs)), ylim=(0, len(ys)))
    ax.set_xlabel(x, fontsize=7)
    ax.set_ylabel(y or "", fontsize=7)
    ax.set_xticks([i + 0.5 for i in range(len(xs))], [str(v) for v in xs], fontsize=7)
    ax.set_yticks([j + 0.5 for j in range(len(ys))], [str(v) for v in ys], fontsize=7)


def _name(values: dict) -> str:
    """A point's folder name: NAME=VALUE joined by commas, safe as a path."""
    return re.sub(r"[^\w.=,+-]", "_", ",".join(f"{k}={v}" for k, v in values.items()))
