"""Warm runs: a chapter run in a fork of a warmed worker records what a fresh `hopbook run` does."""

import json

import pytest

from conftest import REPO, hopbook, write_chapter

pytestmark = pytest.mark.slow


def test_a_sweep_point_records_what_a_fresh_run_records(tmp_path):
    fresh, swept = tmp_path / "fresh", tmp_path / "sweep"
    done = hopbook("--root", str(REPO), "run", "linear-attention", "--profile", "smoke", "-p", "seed", "3",
                   "--out", str(fresh))
    assert done.returncode == 0, done.stderr
    done = hopbook("--root", str(REPO), "sweep", "linear-attention", "--profile", "smoke", "-p", "seed", "3",
                   "--out", str(swept))
    assert done.returncode == 0, done.stderr
    a = json.loads((fresh / "results.json").read_text())
    b = json.loads((swept / "points" / "seed=3" / "results.json").read_text())
    assert a["claims"] == b["claims"] and a["recorded"] == b["recorded"]  # every measured value, bit for bit
    assert a["fingerprint"] == b["fingerprint"] and a["code"] == b["code"]
    shown = [json.loads((out / "linear-attention.ipynb").read_text()) for out in (fresh, swept / "points" / "seed=3")]
    kinds = [[sorted(o.get("data", {})) or o["output_type"] for c in nb["cells"] if c["cell_type"] == "code"
              for o in c["outputs"]] for nb in shown]
    assert kinds[0] == kinds[1] and ["image/png", "text/plain"] in kinds[1]  # figures shown inline, as in a kernel


FAILING = """
from hopbook.book.claims import Claims
print("about to fail")
raise ValueError("point broke")
"""


def test_a_failing_build_chapter_names_the_cell_and_leaves_no_results(tmp_path):
    write_chapter(tmp_path, "broken", FAILING)
    done = hopbook("--root", str(tmp_path), "build", "--profile", "smoke")
    assert done.returncode == 1
    assert "hopbook: broken: failed in cell 3: ValueError: point broke" in done.stderr, done.stderr
    assert not list((tmp_path / "runs" / "smoke" / "broken").iterdir())
