"""The prose of a chapter cites recorded values by name; a name no claim recorded is an error.

Chapters quote numbers with myst-nb's glue roles and directives ({glue:text}`thm-4.1.difference.mean:.4f`,
{glue:md}`verdicts.failing`, ```{glue:figure} NAME```). The names they cite must be among those the
run recorded (hopbook.book.claims.recorded_names); `check` says which are not, before the book is built.
"""

import re

import nbformat

# a role {glue}, {glue:}, {glue:any}, {glue:text}, {glue:md} with its content, or a glue directive with its argument
_ROLE = re.compile(r"\{glue(?::(any|text|md))?:?\}`([^`]+)`")
_DIRECTIVE = re.compile(r"^[`:]{3,}\{glue(?::\w+)?\}\s+(\S+)", re.MULTILINE)


class UnrecordedCitation(ValueError):
    """Prose that cites a value no claim recorded."""


def cited_names(notebook: nbformat.NotebookNode) -> set[str]:
    """The glue names the Markdown cells of a notebook cite (a role's format spec removed)."""
    names = set()
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        for kind, content in _ROLE.findall(cell.source):
            names.add(content.rsplit(":", 1)[0] if kind in ("text", "md") else content)
        names |= set(_DIRECTIVE.findall(cell.source))
    return names


def check(notebook: nbformat.NotebookNode, recorded: set[str], chapter: str) -> None:
    """Raise UnrecordedCitation naming every cited name the run did not record."""
    missing = sorted(cited_names(notebook) - recorded)
    if missing:
        listed = ", ".join(f"`{name}`" for name in missing)
        raise UnrecordedCitation(
            f"{chapter}: the prose cites {listed}, which no claim recorded; record it with claims.measure "
            f"(cited as CLAIM-ID.NAME) or claims.record (cited as run.NAME), or cite a parameter as param.NAME"
        )
