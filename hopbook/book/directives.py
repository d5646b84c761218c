"""Claims as a chapter writes them: a MyST directive where the chapter tests them.

    ```{claim} thm-4.1
    :source: Theorem 4.1
    :paper: the outlier's fixed point rises more than the cluster's
    :criterion: difference['mean'] > 3 * difference['se']
    :control: cosine=-0.05 n_cluster=3

    The outlier's fixed point has a larger rotation-averaged energy rise than the cluster's.
    ```

The body is the statement, in the chapter's words, written once. Options:

- `:kind:` `claim` (a statement of a source that could be false; the default) or `check` (an
  identity, an exactness, a fixed point, a bound that holds for any state: it tests our code).
- `:source:`, `:paper:` where the source says it and what it says; `:criterion:` the rule that
  decides, a Python expression over the measured values (hopbook.book.rules).
- `:control:` parameter overrides (`NAME=VALUE ...`, at the smoke profile) under which the criterion
  is expected *not* to hold, or `none: REASON`. Every claim has one; a check needs none.
- `:tested-if:` a rule over the parameters and the measured values, and `:not-tested:` the reason:
  where the rule is false the verdict is "not tested" (this run's model, data or scale cannot test
  the statement), whatever the criterion says.
- `:expect:` the verdict the mathematics dictates at every profile (`holds`, `does not hold`, `not
  tested`), which the tests check.

The runner reads the directives before any cell runs, so every rule is fixed before compute; the
book renders each as a block with its verdict (hopbook.book.claim_block).
"""

import re
from dataclasses import asdict, dataclass, field

import nbformat

from hopbook.book.rules import names_in

KINDS = ("claim", "check")
VERDICTS = ("holds", "does not hold", "not tested")
OPTIONS = ("kind", "source", "paper", "criterion", "control", "tested-if", "not-tested", "expect")
_REQUIRED = ("source", "paper", "criterion")
# a claim directive in a Markdown cell: its fence, id, options and body
FENCE = re.compile(r"^(?P<fence>`{3,})\{claim\}[ \t]*(?P<id>\S*)[ \t]*\n(?P<body>.*?)^(?P=fence)[ \t]*$",
                   re.MULTILINE | re.DOTALL)
_OPTION = re.compile(r"^:([\w-]+):[ \t]*(.*)$")


class ClaimError(ValueError):
    """A claim directive that is malformed."""


@dataclass(frozen=True)
class Declared:
    """A claim as the chapter declares it, before anything is measured."""

    id: str
    statement: str
    source: str
    paper: str
    criterion: str
    kind: str = "claim"
    control: dict = field(default_factory=dict)  # parameter overrides where the criterion should fail
    no_control: str = ""  # why there is no control (`:control: none: REASON`)
    tested_if: str = ""
    not_tested: str = ""
    expect: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def parse(text: str, where: str = "<chapter>") -> list[Declared]:
    """The claims declared in Markdown text, in order; a malformed one raises ClaimError."""
    return [_declared(m.group("id"), m.group("body"), where) for m in FENCE.finditer(text)]


def declared(notebook: nbformat.NotebookNode, where: str = "<chapter>") -> list[Declared]:
    """Every claim a notebook's Markdown cells declare, in order; ids must be distinct."""
    found = [d for cell in notebook.cells if cell.cell_type == "markdown" for d in parse(cell.source, where)]
    ids = [d.id for d in found]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise ClaimError(f"{where}: claim {', '.join(twice)} is declared twice")
    return found


def _declared(id: str, body: str, where: str) -> Declared:
    if not re.fullmatch(r"[\w.-]+", id):
        raise ClaimError(f"{where}: a claim directive needs an id of letters, digits, '.', '-' or '_' ({{claim}} ID)")
    lines = body.splitlines()
    options = {}
    while lines and (match := _OPTION.match(lines[0])):
        name, value = match.groups()
        if name not in OPTIONS:
            raise ClaimError(f"{where}: claim {id!r} has an unknown option :{name}:; options are {', '.join(OPTIONS)}")
        if name in options:
            raise ClaimError(f"{where}: claim {id!r} gives :{name}: twice")
        options[name] = value.strip()
        lines.pop(0)
    statement = " ".join(" ".join(lines).split())
    missing = [name for name in _REQUIRED if not options.get(name)]
    if missing or not statement:
        what = ", ".join(f":{name}:" for name in missing) + (" and a statement (the body)" if not statement else "")
        raise ClaimError(f"{where}: claim {id!r} needs {what.lstrip(', ')}")
    kind = options.get("kind", "claim")
    if kind not in KINDS:
        raise ClaimError(f"{where}: claim {id!r} has kind {kind!r}; kinds are {', '.join(KINDS)}")
    for name in ("criterion", "tested-if"):
        if options.get(name):
            try:
                names_in(options[name])
            except SyntaxError as err:
                raise ClaimError(f"{where}: the {name} of claim {id!r} is not a Python expression: {err.msg}") from None
    if bool(options.get("tested-if")) != bool(options.get("not-tested")):
        raise ClaimError(f"{where}: claim {id!r} needs :tested-if: and :not-tested: (the reason) together")
    if options.get("expect", "holds") not in VERDICTS:
        raise ClaimError(f"{where}: claim {id!r} expects {options['expect']!r}; verdicts are {', '.join(VERDICTS)}")
    control, no_control = _control(options.get("control", ""), id, kind, where)
    return Declared(id, statement, options["source"], options["paper"], options["criterion"], kind, control,
                    no_control, options.get("tested-if", ""), options.get("not-tested", ""), options.get("expect", ""))


def _control(text: str, id: str, kind: str, where: str) -> tuple[dict, str]:
    """The control's overrides, or the reason there is none."""
    if text.startswith("none:") and text[5:].strip():
        return {}, text[5:].strip()
    pairs = text.split()
    if not pairs:
        if kind == "check":
            return {}, ""
        raise ClaimError(f"{where}: claim {id!r} needs :control: NAME=VALUE ... (where its criterion should fail) "
                         "or :control: none: REASON; a statement that cannot have one is a :kind: check")
    if not all(re.fullmatch(r"[A-Za-z_]\w*=\S+", pair) for pair in pairs):
        raise ClaimError(f"{where}: the control of claim {id!r} must read NAME=VALUE ... or none: REASON; got {text!r}")
    return dict(pair.split("=", 1) for pair in pairs), ""


def control_name(overrides: dict) -> str:
    """A control setting's folder name: NAME=VALUE joined by commas, safe as a path."""
    return re.sub(r"[^\w.=,+-]", "_", ",".join(f"{k}={v}" for k, v in sorted(overrides.items())))
