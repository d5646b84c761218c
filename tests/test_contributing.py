"""The example chapter of CONTRIBUTING.md runs as written and follows the pattern it teaches."""

import json
import re

import pytest

from conftest import REPO, hopbook
from hopbook.chapters import load_chapter


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
    assert [(c["id"], c["holds"]) for c in results["claims"]] == [("thm-1", True)]
