"""A chapter's page: its run's executed notebook in today's prose, each claim directive given its
verdict, the run's parameters shown once."""

from pathlib import Path

import nbformat

from hopbook.book.chapters import Chapter, ChapterError
from hopbook.book.claims import format_measured
from hopbook.book.directives import FENCE
from hopbook.book.rules import names_in
from hopbook.book.runner import label

FOLDER = "book/chapters"


def page(notebook: Path, results: dict, chapter: Chapter | None, banner: str = "",
         source: nbformat.NotebookNode | None = None) -> nbformat.NotebookNode:
    """An executed notebook as the book shows it, in the prose of source if given (see with_prose):
    the declared parameters cell and the one papermill injected hidden, one compact paragraph of
    the run's parameters in their place, and an optional banner under the title. The notebook keeps
    both cells, so a downloaded copy reruns as it ran."""
    nb = nbformat.read(notebook, as_version=4)
    if source is not None:
        nb = with_prose(nb, source, results["chapter"])
    nb = with_verdicts(nb, results)
    position = None
    for index, cell in enumerate(nb.cells):
        tags = cell.metadata.setdefault("tags", [])
        if {"parameters", "injected-parameters"} & set(tags):
            tags.append("remove-cell")
            position = index if position is None else position
    if position is not None:
        nb.cells.insert(position, nbformat.v4.new_markdown_cell(parameters_markdown(results, chapter)))
    if banner:
        titled = bool(nb.cells) and nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
        nb.cells.insert(1 if titled else 0, nbformat.v4.new_markdown_cell(banner))
    return nb


def with_prose(executed: nbformat.NotebookNode, source: nbformat.NotebookNode, slug: str) -> nbformat.NotebookNode:
    """The executed notebook's code cells, outputs and all, in the prose of the chapter's source
    today: a prose edit needs no rerun. Raises ChapterError if their code cells differ."""
    ran = [c for c in executed.cells if c.cell_type == "code"]
    injected = [c for c in ran if "injected-parameters" in c.metadata.get("tags", [])]
    ran = iter(c for c in ran if c not in injected)
    cells = []
    for cell in source.cells:
        if cell.cell_type != "code":
            cells.append(cell)
            continue
        run_cell = next(ran, None)
        if run_cell is None or run_cell.source != cell.source:
            raise ChapterError(f"{slug}: the code cells of its run differ from its source's; rerun it")
        run_cell.metadata["tags"] = list(dict.fromkeys(run_cell.metadata.get("tags", []) + cell.metadata.get("tags", [])))
        cells += [run_cell, *injected] if "parameters" in cell.metadata.get("tags", []) else [run_cell]
    if next(ran, None) is not None:
        raise ChapterError(f"{slug}: its run has more code cells than its source; rerun it")
    shown = nbformat.from_dict(executed)
    shown.cells = cells
    return shown


def with_verdicts(nb: nbformat.NotebookNode, results: dict) -> nbformat.NotebookNode:
    """The notebook with each claim directive given what the run decided, as options the book's
    claim block shows (hopbook.book.claim_block): verdict, reason, measured (the values its rules read)
    and control-verdict."""
    decided = {c["id"]: c for c in results["claims"]}

    def given(match) -> str:
        claim = decided.get(match.group("id"))
        if claim is None or ":verdict:" in match.group("body"):
            return match.group(0)
        reads = names_in(claim["criterion"])
        options = {"verdict": claim["verdict"], "reason": claim.get("reason", ""),
                   "measured": format_measured({k: v for k, v in claim["measured"].items() if k in reads}),
                   "control-verdict": claim.get("control_verdict") or ""}
        added = "".join(f":{name}: {value}\n" for name, value in options.items() if value)
        header = match.group(0)[: match.start("body") - match.start(0)]
        return header + added + match.group("body") + match.group(0)[match.end("body") - match.start(0):]

    shown = nbformat.from_dict(nb)
    for cell in shown.cells:
        if cell.cell_type == "markdown":
            cell.source = FENCE.sub(given, cell.source)
    return shown


def parameters_markdown(results: dict, chapter: Chapter | None) -> str:
    """The parameters of a run in one paragraph, in bold with the default beside those that differ
    from the chapter's defaults."""
    shown = []
    for name, value in results["params"].items():
        param = chapter.params.get(name) if chapter else None
        if param is None or param.default == value:
            shown.append(f"`{name} = {value!r}`")
        else:
            shown.append(f"**`{name} = {value!r}`** (default `{param.default!r}`)")
    return (f"**Parameters of this run** ({label(results, chapter)}; `hopbook list` explains each): "
            + ", ".join(shown) + ".")
