"""The example chapter of CONTRIBUTING.md runs as written, follows the pattern it teaches, and its control fails."""

import json
import re

import pytest

from conftest import REPO, hopbook
from hopbook.book.chapters import load_chapter


@pytest.mark.slow
def test_the_contributing_example_runs_and_its_prose_cites_what_it_recorded(tmp_path):
    guide = (REPO / "CONTRIBUTING.md").read_text()
    (example,) = re.findall(r"^````markdown\n(.*?)^````$", guide, flags=re.S | re.M)
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "energy-descent.md").write_text(example)
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n  - file: book/chapters/energy-descent\n")
    chapter = load_chapter(tmp_path / "notebooks" / "energy-descent.md")
    assert chapter.resolve("smoke")["n_starts"] == 50
    done = hopbook("--root", str(tmp_path), "run", "energy-descent", "--profile", "smoke", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["chapter"] == "energy-descent"
    assert [(c["id"], c["kind"], c["verdict"]) for c in results["claims"]] == [("thm-1", "check", "holds"),
                                                                               ("thm-4", "claim", "holds")]
    # its control is a setting where the claim fails: the criterion can fail
    (control,) = [c.control for c in chapter.claims if c.control]
    done = hopbook("--root", str(tmp_path), "run", "energy-descent", "--profile", "smoke",
                   *[arg for name, value in control.items() for arg in ("-p", name, value)], "--out", str(tmp_path / "control"))
    assert done.returncode == 0, done.stderr[-2000:]
    verdicts = {c["id"]: c["verdict"] for c in json.loads((tmp_path / "control" / "results.json").read_text())["claims"]}
    assert verdicts["thm-4"] == "does not hold"
