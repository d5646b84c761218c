"""The prose cites recorded values only: citations are found as myst-nb parses them, and an unrecorded one is an error."""

import jupytext
import pytest

from conftest import claim, hopbook, write_chapter
from hopbook.book.prose import UnrecordedCitation, check, cited_names

MARKDOWN = """
The rise is {glue:text}`thm-4.1.difference.mean:.4f` ± {glue:text}`thm-4.1.difference.se`, the word
{glue:md}`param.concept`, the count {glue}`run.n_task1`, {glue:any}`run.n_params` and {glue:}`run.pixels`.

```{glue:figure} run.figure
```
"""


def notebook(markdown):
    return jupytext.reads(markdown, fmt="md:myst")


def test_citations_are_read_as_myst_nb_reads_them():
    assert cited_names(notebook(MARKDOWN)) == {
        "thm-4.1.difference.mean", "thm-4.1.difference.se", "param.concept", "run.n_task1", "run.n_params",
        "run.pixels", "run.figure",
    }


def test_an_unrecorded_citation_is_named():
    recorded = cited_names(notebook(MARKDOWN))
    check(notebook(MARKDOWN), recorded, "demo")
    with pytest.raises(UnrecordedCitation, match=r"demo: the prose cites `run.figure`, `thm-4.1.difference.se`"):
        check(notebook(MARKDOWN), recorded - {"run.figure", "thm-4.1.difference.se"}, "demo")


CITING = """
from hopbook.book.claims import Claims
claims = Claims()
claims.measure("c", value=1.0)
claims.conclude()
```

The value is {glue:text}`c.value:.2f` and the seed {glue:text}`param.seed`; {glue:text}`verdicts.n_hold` holds.
The typo {glue:text}`c.valeu:.2f` was never recorded.

```{code-cell} ipython3
print("done")
"""


@pytest.mark.slow
def test_a_chapter_citing_an_unrecorded_name_fails_its_run_and_the_build(tmp_path):
    write_chapter(tmp_path, "cites", CITING, claims=claim("c", "value > 0"))
    out = tmp_path / "out"
    done = hopbook("--root", str(tmp_path), "run", "cites", "--out", str(out))
    assert done.returncode == 1
    assert "hopbook: cites: the prose cites `c.valeu`, which no claim recorded" in done.stderr
    assert list(out.iterdir()) == []
    done = hopbook("--root", str(tmp_path), "build", "--profile", "smoke")
    assert done.returncode == 1 and "the prose cites `c.valeu`" in done.stderr
    assert not (tmp_path / "_build").exists()
