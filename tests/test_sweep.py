"""`hopbook sweep`: a grid checked before anything runs, points run on a local Dask cluster and cached,
a failed point recorded while the others go on, one table and one figure, a panel per claim."""

import itertools
import json

import pandas as pd
import pytest

from conftest import claim, hopbook, write_chapter
from hopbook.book import sweep as sweep_module
from hopbook.book.chapters import load_chapter
from hopbook.book.sweep import grid

BODY = """
from hopbook.book.claims import Claims
claims = Claims()
if seed == 2:
    raise RuntimeError("point two breaks")
claims.measure("small", size=size)
claims.measure("even", seed=seed)
claims.conclude()
"""
PARAMS = "seed: int = 0  # random seed\nsize: int = 2  # a size"
META = "ranges: {size: [1, 10]}\nprofiles: {smoke: {}}"
CLAIMS = claim("small", "size < 3") + claim("even", "seed % 2 == 0")


@pytest.mark.slow
def test_a_sweep_runs_every_point_records_failures_and_maps_each_claim(tmp_path):
    write_chapter(tmp_path, "toy", BODY, META, PARAMS, CLAIMS)
    out = tmp_path / "sweep"
    done = hopbook("--root", str(tmp_path), "sweep", "toy", "-p", "seed", "0,1,2", "-p", "size", "2,4",
                   "--profile", "smoke", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "toy: 6 points, 2 failed" in done.stdout
    assert "small: holds at 2 of 6 points" in done.stdout and "even: holds at 2 of 6 points" in done.stdout
    table = pd.read_csv(out / "sweep.csv", keep_default_na=False)
    verdicts = {(r.seed, r.size, r.claim): r.verdict for r in table.itertuples()}
    assert verdicts[(0, 2, "small")] == "holds" and verdicts[(1, 4, "small")] == "does not hold"
    assert verdicts[(1, 2, "even")] == "does not hold" and verdicts[(0, 4, "even")] == "holds"
    failed = table[table["seed"] == 2]
    assert len(failed) == 2 and set(failed["verdict"]) == {"error"}
    assert set(failed["error"]) == {"failed in cell 3: RuntimeError: point two breaks"}
    assert set(table["run"]) == {f"points/seed={a},size={b}" for a in (0, 1, 2) for b in (2, 4)}  # relative to out
    assert [p.name for p in (out / "maps").iterdir()] == ["verdicts.png"]  # one figure, a panel per claim
    point = out / "points" / "seed=0,size=2"
    results = json.loads((point / "results.json").read_text())
    assert results["params"] == {"seed": 0, "size": 2} and results["overrides"] == {}  # the profile's own values
    assert results["command"].startswith("hopbook --root ") and " sweep toy -p seed 0,1,2 -p size 2,4 " in results["command"]
    assert not list((out / "points" / "seed=2,size=2").glob("results.json"))  # a failed run leaves no results

    finished = (point / "results.json").stat().st_mtime_ns
    again = hopbook("--root", str(tmp_path), "sweep", "toy", "-p", "seed", "0,1,2", "-p", "size", "2,4",
                    "--profile", "smoke", "--out", str(out))
    assert again.returncode == 0, again.stderr
    assert (point / "results.json").stat().st_mtime_ns == finished  # up to date: skipped, not rerun
    assert "toy: 6 points, 2 failed" in again.stdout  # the failed points were tried again, and failed again


def test_a_bad_point_is_refused_before_anything_runs(tmp_path):
    write_chapter(tmp_path, "toy", BODY, META, PARAMS, CLAIMS)
    out = tmp_path / "sweep"
    for args, message in [
        (["-p", "size", "2,11"], "hopbook: sweep point size=11: parameter 'size' must lie in [1, 10]; got 11"),
        (["-p", "size", "2,x"], "hopbook: sweep point size=x: parameter 'size' expects int, got 'x'"),
        (["-p", "sise", "2"], "hopbook: sweep point sise=2: chapter 'toy' has no parameter 'sise'"),
        (["-p", "size", "2,2"], "hopbook: sweep values of 'size' must be distinct; got ['2', '2']"),
        (["-p", "size", "2,02"], "hopbook: sweep values of 'size' must be distinct; got ['2', '02']"),
        ([], "hopbook: a sweep needs at least one parameter"),
        (["-p", "size", "2", "--workers", "0"], "hopbook: a sweep needs at least one worker; got 0"),
    ]:
        done = hopbook("--root", str(tmp_path), "sweep", "toy", *args, "--out", str(out))
        assert done.returncode == 1 and message in done.stderr, (args, done.stderr)
        assert not out.exists()


def test_grid_points_are_named_by_their_checked_values(tmp_path):
    chapter = load_chapter(write_chapter(tmp_path, "toy", BODY, META, PARAMS, CLAIMS))
    points = grid(chapter, "smoke", {"size": ["3", 5]}, tmp_path)
    assert [p.values for p in points] == [{"size": 3}, {"size": 5}]
    assert [p.params for p in points] == [{"seed": 0, "size": 3}, {"seed": 0, "size": 5}]
    assert [p.out.name for p in points] == ["size=3", "size=5"]


@pytest.mark.parametrize("axes", [["a"], ["a", "b"], ["a", "b", "c"], ["a", "b", "c", "d"]])
def test_the_figure_has_a_panel_per_claim_and_facets_the_parameters_beyond_two(tmp_path, axes, monkeypatch):
    grid_values = {"a": [1, 2, 3], "b": ["x", "y"], "c": [0.1, 0.2], "d": [True, False]}
    points = list(itertools.product(*(grid_values[name] for name in axes)))
    rows = [{**dict(zip(axes, p)), "claim": "c1", "statement": "s", "verdict": "holds" if i % 2 else "does not hold",
             "error": "", "run": str(i)} for i, p in enumerate(points) if i > 0]  # the first point failed:
    rows.insert(0, {**dict(zip(axes, points[0])), "claim": None, "statement": None, "verdict": "error",
                    "error": "boom", "run": "failed"})
    rows += [{**row, "claim": "c2"} for row in rows if row["claim"]]  # a second claim
    panels = []  # (points, x, y, order of the values) of every panel drawn

    def record(ax, panel, x, y, order):
        panels.append((len(panel), x, y, order))

    monkeypatch.setattr(sweep_module, "_panel", record)
    path = sweep_module.draw_maps(pd.DataFrame(rows), axes, tmp_path)
    assert path == tmp_path / "verdicts.png" and path.stat().st_size > 0
    n_facets = len(list(itertools.product(*(grid_values[name] for name in axes[2:]))))
    assert len(panels) == 2 * n_facets  # a panel per claim and value of the parameters beyond the first two
    assert sum(n for n, _, _, _ in panels) == 2 * len(points)  # every point once a claim, the failed one as error
    assert {(x, y) for _, x, y, _ in panels} == {("a", axes[1] if len(axes) > 1 else None)}
    assert all(order == {name: grid_values[name] for name in axes} for *_, order in panels)  # the grid's order


@pytest.mark.slow
def test_a_running_cluster_named_by_its_address_runs_the_points_with_one_thread_per_worker(tmp_path):
    from dask.distributed import LocalCluster

    write_chapter(tmp_path, "toy", BODY, META, PARAMS, CLAIMS)
    out = tmp_path / "sweep"
    done = hopbook("--root", str(tmp_path), "sweep", "toy", "-p", "size", "2,4", "--out", str(out),
                   "--scheduler", "tcp://127.0.0.1:9")
    assert done.returncode == 1 and "hopbook: no Dask scheduler answers at tcp://127.0.0.1:9" in done.stderr, done.stderr
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp://",
                      dashboard_address=None) as cluster:
        done = hopbook("--root", str(tmp_path), "sweep", "toy", "-p", "size", "2,4", "--out", str(out),
                       "--scheduler", cluster.scheduler_address)
    assert done.returncode == 1 and "run 2 threads each; a sweep needs one per worker" in done.stderr, done.stderr
    assert not (out / "points" / "size=2" / "results.json").exists()
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        done = hopbook("--root", str(tmp_path), "sweep", "toy", "-p", "size", "2,4", "--out", str(out),
                       "--scheduler", cluster.scheduler_address)
    assert done.returncode == 0, done.stderr
    assert "toy: 2 points, 0 failed" in done.stdout and "small: holds at 1 of 2 points" in done.stdout
