"""Controls: the build runs each claim where its criterion should fail, and flags a claim that holds there too."""

import pytest

from hopbook.book import controls, scorecard
from hopbook.book.chapters import load_chapter
from hopbook.book.results import read as read_results
from hopbook.book.runner import run_chapter

CHAPTER = '''---
kernelspec: {display_name: Python 3, language: python, name: python3}
hopbook:
  title: Two claims and their control
  ranges: {seed: [0, 10]}
  profiles: {smoke: {}}
---

# Two claims and their control

```{code-cell} ipython3
:tags: [parameters]

seed: int = 0  # random seed
```

```{code-cell} ipython3
from hopbook.book.claims import Claims

claims = Claims()
```

```{claim} sensitive
:source: Lemma 1
:paper: the value is positive at seed 0 only
:criterion: value > 0
:control: seed=1

A statement whose criterion fails at its control.
```

```{code-cell} ipython3
claims.measure("sensitive", value=1 if seed == 0 else -1)
```

```{claim} robust
:source: Lemma 2
:paper: the value is always positive
:criterion: value > 0
:control: seed=1

A statement whose criterion cannot fail at its control.
```

```{code-cell} ipython3
claims.measure("robust", value=1)
claims.conclude()
```
'''


@pytest.mark.slow
def test_a_claim_whose_control_holds_is_flagged_and_one_whose_control_fails_is_not(tmp_path):
    source = tmp_path / "notebooks" / "two-claims.md"
    source.parent.mkdir()
    source.write_text(CHAPTER)
    chapter = load_chapter(source)
    (point,) = controls.points(tmp_path, chapter)  # one setting serves both claims
    assert point.out == tmp_path / controls.FOLDER / "two-claims" / "seed=1" and point.params == {"seed": 1}
    assert controls.to_run(tmp_path, [chapter]) == [(chapter, [point])]  # not yet run
    out = tmp_path / "runs" / "smoke" / "two-claims"
    for params, folder in ((chapter.resolve("smoke"), out), (point.params, point.out)):
        run_chapter(chapter, params, "smoke", folder, progress=False)
    assert controls.to_run(tmp_path, [chapter]) == []  # cached like any run
    assert controls.verdicts(tmp_path, chapter) == {"sensitive": "does not hold", "robust": "holds"}
    results = controls.record(out, controls.verdicts(tmp_path, chapter))
    assert read_results(out) == results
    flagged = {c["id"]: controls.cannot_fail(c) for c in results["claims"]}
    assert flagged == {"sensitive": False, "robust": True}
    lines = scorecard.scorecard_lines(results)
    assert "| `robust` | claim | **holds, cannot fail at this setting** | holds |" in lines
    assert "| `sensitive` | claim | holds | does not hold |" in lines
    assert "cannot fail at this setting: `robust`" in scorecard.scorecard_markdown([results], {}, {"two-claims": chapter})


def test_a_control_that_breaks_the_chapters_declaration_is_refused_when_the_chapter_loads(tmp_path):
    source = tmp_path / "two-claims.md"
    source.write_text(CHAPTER.replace(":control: seed=1\n\nA statement whose criterion cannot", ":control: seed=11\n\nA statement whose criterion cannot"))
    with pytest.raises(ValueError, match=r"the control of claim 'robust': parameter 'seed' must lie in \[0, 10\]"):
        load_chapter(source)
