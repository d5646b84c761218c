"""The page of the runs made on a lent GPU, committed in runs/gpu/RUN/: how each was made, whether
today's code still matches it, its verdicts, its notebook and its maker's note."""

from pathlib import Path

from hopbook.book.chapters import Chapter
from hopbook.book.runner import label, staleness
from hopbook.book.scorecard import summary

PAGE = "book/gpu.md"
FOLDER = "book/gpu"  # a page per committed run's notebook
NOTE = "NOTE.md"  # what the maker of a GPU run says about it, shown on the GPU page


def gpu_markdown(folder: Path, gpu_runs: dict[str, dict], chapters: dict[str, Chapter], notebooks: set[str],
                 benchmarks: list[Path]) -> str:
    """The page of the committed GPU runs: for each, how it was made (profile, overrides, device,
    commit, command), whether today's code still matches it, its verdicts, its notebook and the note
    its maker left beside it (RUN/NOTE.md, prose only: the numbers are the run's)."""
    parts = [
        "# Runs on a GPU\n",
        "Some chapters are meant for a GPU at the papers' scale (their `paper` profile). Runs made on one are",
        "committed under `runs/gpu/RUN/` and shown here as they came back; `hopbook build` does not re-execute",
        "them, but compares the code each recorded with today's and marks it **stale** when they differ.",
        "`.ci/gpu` makes such runs on any machine with an NVIDIA GPU. This page is generated from the runs.\n",
    ]
    for name, r in gpu_runs.items():
        chapter = chapters.get(r["chapter"])
        stale = staleness(r, chapter)
        commit = f"`{r['commit'][:12]}`" if r.get("commit") else "not recorded"
        command = f"`{r['command']}`" if r.get("command") else "not recorded"
        page_link = f" Its notebook: {{doc}}`gpu/{name}`." if name in notebooks else ""
        parts += [
            f"## `{name}`: {r['title']}\n",
            f"- made with **{label(r, chapter)}** on {r['device']}, {r['elapsed_s']:.0f} s, finished {r['finished']}",
            f"- commit {commit}; command {command}",
            f"- {'**Stale**: ' + stale if stale else 'Current: the code it ran is the code of this book'}",
            f"- {summary(r)}; claims on the {{doc}}`scorecard`.{page_link}\n",
        ]
        note = folder / name / NOTE
        if note.exists():
            parts.append(note.read_text())
    for path in benchmarks:
        parts += [f"## Benchmark `{path.name}`\n",
                  f"```{{literalinclude}} gpu/{path.name}", ":language: text", "```\n"]
    return "\n".join(parts)


def stale_banner(name: str, r: dict, chapter: Chapter | None) -> str:
    stale = staleness(r, chapter)
    kind, says = ("warning", f"Stale: {stale}.") if stale else \
        ("note", "Current: the code it ran is the code of this book.")
    return f":::{{{kind}}}\nRun `{name}` on {r['device']}, {label(r, chapter)}. {says}\n:::"
