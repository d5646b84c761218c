"""The `{claim}` directive in the book: the claim where the chapter tests it, its verdict beside it.

A Sphinx extension (`_config.yml` lists it). Staging (hopbook.book.chapter_page.with_verdicts) adds what the run
decided to each directive as options: `:verdict:`, `:reason:` (why it was not tested), `:measured:`
(the values its criterion read) and `:control-verdict:`. The block shows the kind and id, the source,
the verdict, the statement, then the paper's words, the criterion, the measurement and the control.
It also adds the book's stylesheet (claim blocks; wide display equations scroll inside their box).
"""

from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

from hopbook.book import controls
from hopbook.book.directives import OPTIONS

STAGED = ("verdict", "reason", "measured", "control-verdict")  # what staging adds from the run
STATIC = Path(__file__).resolve().parent / "static"


class ClaimBlock(SphinxDirective):
    """```{claim} ID``` with the options of hopbook.book.directives and those staging adds."""

    required_arguments = 1
    has_content = True
    option_spec = {name: directives.unchanged for name in OPTIONS + STAGED}

    def run(self) -> list[nodes.Node]:
        kind, verdict = self.options.get("kind", "claim"), self.options.get("verdict", "not run")
        shown = "passes" if kind == "check" and verdict == "holds" else verdict
        box = nodes.container(classes=["hopbook-claim", f"hopbook-{kind}", "verdict-" + verdict.replace(" ", "-")])
        title = nodes.paragraph(classes=["hopbook-claim-title"])
        title += [nodes.strong(text=kind.capitalize() + " "), nodes.literal(text=self.arguments[0]),
                  nodes.Text(f" · {self.options.get('source', '')} "), nodes.inline(text=shown, classes=["hopbook-verdict"])]
        box += title
        box += self.parse_content_to_nodes()
        fields = nodes.field_list(classes=["hopbook-claim-fields"])
        for name, text, literal in self._fields(kind):
            body = nodes.paragraph()
            body += nodes.literal(text=text) if literal else nodes.Text(text)
            fields += nodes.field("", nodes.field_name(text=name), nodes.field_body("", body))
        box += fields
        return [box]

    def _fields(self, kind: str) -> list[tuple[str, str, bool]]:
        """(name, text, shown as code) for each detail the directive has."""
        o = self.options
        shown = [("Paper", o.get("paper", ""), False), ("Criterion", o.get("criterion", ""), True)]
        if o.get("tested-if"):
            shown.append(("Tested if", o["tested-if"], True))
        if o.get("reason"):
            shown.append(("Not tested", o["reason"], False))
        if o.get("measured"):
            shown.append(("Measured", o["measured"], False))
        control = o.get("control", "")
        if control.startswith("none:"):
            shown.append(("Control", "none: " + control[5:].strip(), False))
        elif control:
            said = o.get("control-verdict", "not run")
            decided = {"kind": kind, "verdict": o.get("verdict"), "control_verdict": said}
            warn = f" ({controls.CANNOT_FAIL})" if controls.cannot_fail(decided) else ""
            shown.append(("Control", f"{control} ({controls.PROFILE} profile): {said}{warn}", False))
        elif kind == "check":
            shown.append(("Control", "none: a check of our code, not a statement that could be false", False))
        return [(name, text, literal) for name, text, literal in shown if text]


def _add_static(app: Sphinx) -> None:
    app.config.html_static_path.append(str(STATIC))


def setup(app: Sphinx) -> dict:
    app.add_directive("claim", ClaimBlock)
    app.connect("builder-inited", _add_static)
    app.add_css_file("hopbook.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
