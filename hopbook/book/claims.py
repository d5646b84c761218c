"""Claims: what a chapter tests, the rule that decides it, what it measured and the verdict.

A chapter declares each claim where it tests it, as a `{claim}` directive in its Markdown
(hopbook.book.directives); the runner reads them before any cell runs and hands them to the kernel, so
`Claims()` starts with every claim declared and every rule fixed. The criterion is a Python
expression over the names the chapter later measures (for example "max_residual < 1e-10", see
hopbook.book.rules); the verdict is that expression evaluated on the measurements, so the rule a reader
sees is the rule that decided. A claim with a `tested-if` rule is "not tested", with its reason,
where that rule is false: the verdict is one of hopbook.book.directives.VERDICTS.

A measured value is named once. `claims.measure("thm-3.2-i", max_rel_trace_error=e)` gives the
criterion its `max_rel_trace_error`, writes it to results.json and glues it for the prose as
`thm-3.2-i.max_rel_trace_error` (a dictionary's entries as `NAME.KEY`, a list's as `NAME.INDEX`).
Values the prose cites that no criterion reads are recorded with `claims.record`, glued as
`run.NAME`; the run's parameters are glued as `param.NAME`, the verdict summary as `verdicts.NAME`
(see verdict_summary). The prose cites these names only (hopbook.book.prose checks it).
"""

import json
import math
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from hopbook.book.directives import Declared, declared
from hopbook.book.rules import evaluate

RUN_ENVIRONMENT = "HOPBOOK_RUN"  # set by hopbook.book.runner for the kernel that executes a chapter


@dataclass(frozen=True)
class Run:
    """What the runner tells a chapter about the run it is in: its name, profile, device, parameters,
    the claims its source declares and the file to save them to. A chapter executed by hand, outside
    `hopbook run`, reads its claims from its own source (the notebook Jupyter has open), has no
    parameters (so nothing is glued as param.NAME) and saves nothing."""

    chapter: str = "unnamed"
    profile: str = "none"
    device: str = "cpu"
    params: dict = field(default_factory=dict)
    claims: list = field(default_factory=list)  # Declared.as_dict() of each claim, in order
    save_to: str = ""

    @classmethod
    def from_environment(cls) -> "Run":
        text = os.environ.get(RUN_ENVIRONMENT)
        return cls(**json.loads(text)) if text else cls(claims=_claims_of_open_notebook())


@dataclass
class Claim:
    id: str
    kind: str
    statement: str
    source: str
    paper: str
    criterion: str
    control: str  # NAME=VALUE ... where the criterion should fail, "none: REASON", or "" (a check)
    measured: dict = field(default_factory=dict)
    verdict: str | None = None  # holds, does not hold or not tested; None until measured
    holds: bool | None = None  # the verdict of a tested claim; None when not tested
    reason: str = ""  # why it was not tested


class Claims:
    """The claims of one chapter run, in the order its source declares them."""

    def __init__(self, run: Run | None = None) -> None:
        self.run = run or Run.from_environment()
        self._declared = {d["id"]: Declared(**d) for d in self.run.claims}
        self._claims = {id: _claim(d) for id, d in self._declared.items()}
        self.recorded: dict = {}
        _glue(leaves("param", self.run.params))

    def measure(self, id: str, **measured) -> None:
        """Record the measurements of a declared claim, decide its verdict and glue them as ID.NAME.
        Nothing is returned, so a cell that ends in a measurement shows no output; the verdict is
        claims[ID].verdict."""
        if id not in self._claims:
            raise ValueError(f"claim {id!r} is not declared: write a {{claim}} {id} directive in the chapter's Markdown")
        claim, declaration = self._claims[id], self._declared[id]
        if claim.verdict is not None:
            raise ValueError(f"claim {id!r} is measured twice")
        measured = {name: _plain(value) for name, value in measured.items()}
        if declaration.tested_if and not _decide(id, "tested-if rule", declaration.tested_if,
                                                 {**self.run.params, **measured}):
            claim.verdict, claim.reason = "not tested", declaration.not_tested
        else:
            claim.holds = _decide(id, "criterion", claim.criterion, measured)
            claim.verdict = "holds" if claim.holds else "does not hold"
        claim.measured = measured
        _glue(leaves(id, measured))

    def record(self, **values) -> None:
        """Record values of the run that the prose cites but no criterion reads (sizes of the data,
        of the model); glued as run.NAME."""
        values = {name: _plain(value) for name, value in values.items()}
        twice = values.keys() & self.recorded.keys()
        if twice:
            raise ValueError(f"recorded twice: {', '.join(sorted(twice))}")
        self.recorded.update(values)
        _glue(leaves("run", values))

    def __getitem__(self, id: str) -> Claim:
        return self._claims[id]

    def table(self) -> pd.DataFrame:
        """The claims as a table, for display in the chapter."""
        rows = [
            {
                "claim": c.id,
                "kind": c.kind,
                "criterion": c.criterion,
                "measured": format_measured(c.measured),
                "verdict": c.verdict + (f": {c.reason}" if c.reason else ""),
            }
            for c in self._claims.values()
        ]
        return pd.DataFrame(rows).set_index("claim")

    def conclude(self) -> pd.DataFrame:
        """Save the claims (when run by hopbook), glue the verdict summary (verdicts.NAME, see
        verdict_summary) and return the table of verdicts; every claim must have been measured."""
        missing = [c.id for c in self._claims.values() if c.verdict is None]
        if missing:
            raise RuntimeError(f"claims declared but never measured: {', '.join(missing)}")
        if self.run.save_to:
            Path(self.run.save_to).write_text(json.dumps(self.payload(), indent=2) + "\n")
        _glue(leaves("verdicts", verdict_summary(self.payload()["claims"])))
        return self.table()

    def payload(self) -> dict:
        """What the run recorded: its chapter, parameters, claims and other recorded values."""
        return {
            "chapter": self.run.chapter, "params": self.run.params,
            "claims": [asdict(c) for c in self._claims.values()], "recorded": self.recorded,
        }


def _claim(d: Declared) -> Claim:
    control = " ".join(f"{k}={v}" for k, v in d.control.items()) or (f"none: {d.no_control}" if d.no_control else "")
    return Claim(d.id, d.kind, d.statement, d.source, d.paper, d.criterion, control)


def _decide(id: str, what: str, rule: str, names: dict) -> bool:
    try:
        verdict = evaluate(rule, names)
    except NameError as err:
        raise ValueError(f"{what} of claim {id!r} uses a name that was not measured: {err}") from None
    if not isinstance(verdict, (bool, np.bool_)):
        raise TypeError(f"{what} of claim {id!r} gave {verdict!r}, not a boolean")
    return bool(verdict)


def _claims_of_open_notebook() -> list[dict]:
    """The claims of the notebook Jupyter has open in this kernel (its path is `__session__`), if any."""
    from IPython import get_ipython

    shell = get_ipython()
    path = Path(str(shell.user_ns.get("__session__", ""))) if shell else None
    if not path or not path.is_file():
        return []
    import jupytext

    return [d.as_dict() for d in declared(jupytext.read(path), str(path))]


class Words(str):
    """A string glued for the prose: {glue:text} shows it plain, {glue:md} as Markdown."""

    def _repr_markdown_(self) -> str:
        return str(self)


def verdict_summary(claims: list[dict]) -> dict:
    """The verdicts in numbers and words: n_hold of n_tested claims hold (n_claims in all,
    n_not_tested not tested), n_pass of n_checks checks pass; failing and not_tested name the claims
    and checks that do not hold and those not tested (Markdown); summary says it in one line."""
    tested = [c for c in claims if c["kind"] == "claim" and c["verdict"] != "not tested"]
    checks = [c for c in claims if c["kind"] == "check"]
    counts = {
        "n_claims": sum(c["kind"] == "claim" for c in claims), "n_tested": len(tested),
        "n_hold": sum(c["verdict"] == "holds" for c in tested),
        "n_not_tested": sum(c["verdict"] == "not tested" for c in claims),
        "n_checks": len(checks), "n_pass": sum(c["verdict"] == "holds" for c in checks),
    }
    return {
        **counts,
        "failing": ", ".join(f"`{c['id']}`" for c in claims if c["verdict"] == "does not hold") or "none",
        "not_tested": ", ".join(f"`{c['id']}`" for c in claims if c["verdict"] == "not tested") or "none",
        "summary": summary_line(counts),
    }


def summary_line(counts: dict) -> str:
    """claims: H of T hold (U not tested) · checks: P of C pass."""
    untested = f" ({counts['n_not_tested']} not tested)" if counts["n_not_tested"] else ""
    line = f"claims: {counts['n_hold']} of {counts['n_tested']} hold{untested}"
    return line + (f" · checks: {counts['n_pass']} of {counts['n_checks']} pass" if counts["n_checks"] else "")


def recorded_names(payload: dict) -> set[str]:
    """Every name a run glues for its prose, from what it recorded (see Claims.payload)."""
    parts = [leaves("param", payload["params"]), leaves("run", payload["recorded"]),
             leaves("verdicts", verdict_summary(payload["claims"]))]
    parts += [leaves(c["id"], c["measured"]) for c in payload["claims"]]
    return {name for part in parts for name, _ in part}


def leaves(prefix: str, value) -> Iterator[tuple[str, object]]:
    """(name, value) for every number, boolean and string inside value: entries of a dictionary as
    PREFIX.KEY, of a list as PREFIX.INDEX."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(f"{prefix}.{key}", item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(f"{prefix}.{index}", item)
    elif value is not None:
        yield prefix, value


def _glue(named: Iterator[tuple[str, object]]) -> None:
    """Glue values for the prose when running in a notebook kernel; elsewhere there is no prose."""
    from IPython import get_ipython
    from myst_nb import glue

    if get_ipython() is None:
        return
    for name, value in named:
        glue(name, Words(value) if isinstance(value, str) else value, display=False)


def format_measured(measured: dict) -> str:
    """One line: name = value, numbers to four significant digits, lists shortened."""
    return ", ".join(f"{name} = {_short(value)}" for name, value in measured.items())


def _short(value) -> str:
    if isinstance(value, dict) and {"mean", "se", "n"} <= value.keys():
        return f"{value['mean']:.4g} ± {value['se']:.2g} (n={value['n']})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_short(v)}" for k, v in value.items()) + "}"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        shown = ", ".join(_short(v) for v in value[:4])
        return f"[{shown}{', ...' if len(value) > 4 else ''}]"
    return str(value)


def _plain(value):
    """Convert numbers, arrays and tensors to JSON-ready Python values; reject NaN."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, float) and math.isnan(value):
        raise ValueError("a measured value is NaN")
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    raise TypeError(f"cannot record a measured value of type {type(value).__name__}")
