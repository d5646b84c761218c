"""Claims: what a chapter tests, the rule that decides it, what it measured and the verdict.

A chapter declares each claim, with its criterion, before computing anything. The criterion is a
Python expression over the names the chapter later measures (for example
"max_residual < 1e-10", see hopbook.rules); the verdict is that expression evaluated on the
measurements, so the rule a reader sees is the rule that decided.

A measured value is named once. `claims.measure("thm-3.2-i", max_rel_trace_error=e)` gives the
criterion its `max_rel_trace_error`, writes it to results.json and glues it for the prose as
`thm-3.2-i.max_rel_trace_error` (a dictionary's entries as `NAME.KEY`, a list's as `NAME.INDEX`).
Values the prose cites that no criterion reads are recorded with `claims.record`, glued as
`run.NAME`; the run's parameters are glued as `param.NAME`, the verdict summary as
`verdicts.n_hold`, `verdicts.n_claims` and `verdicts.failing`. The prose cites these names only
(hopbook.prose checks it).
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

from hopbook.rules import evaluate

CLAIMS_FILE = "claims.json"
RUN_ENVIRONMENT = "HOPBOOK_RUN"  # set by hopbook.runner for the kernel that executes a chapter


@dataclass(frozen=True)
class Run:
    """What the runner tells a chapter about the run it is in: its name, profile, device and
    parameters. A chapter executed by hand, outside `hopbook run`, gets the defaults (no parameters,
    so nothing is glued as param.NAME)."""

    chapter: str = "unnamed"
    profile: str = "none"
    device: str = "cpu"
    params: dict = field(default_factory=dict)

    @classmethod
    def from_environment(cls) -> "Run":
        text = os.environ.get(RUN_ENVIRONMENT)
        return cls(**json.loads(text)) if text else cls()


@dataclass
class Claim:
    id: str
    statement: str
    source: str
    paper: str
    criterion: str
    measured: dict = field(default_factory=dict)
    holds: bool | None = None


class Claims:
    """The claims of one chapter run, in the order they were declared."""

    def __init__(self, run: Run | None = None) -> None:
        self.run = run or Run.from_environment()
        self._claims: dict[str, Claim] = {}
        self.recorded: dict = {}
        _glue(leaves("param", self.run.params))

    def declare(self, id: str, *, statement: str, source: str, paper: str, criterion: str) -> None:
        """Declare a claim and the rule that will decide it, before anything is measured."""
        if id in self._claims:
            raise ValueError(f"claim {id!r} is declared twice")
        compile(criterion, f"<criterion of {id}>", "eval")  # a malformed rule fails here, early
        self._claims[id] = Claim(id, statement, source, paper, criterion)

    def measure(self, id: str, **measured) -> bool:
        """Record the measurements of a declared claim, glue them as ID.NAME and return its verdict."""
        claim = self._claims[id]
        if claim.holds is not None:
            raise ValueError(f"claim {id!r} is measured twice")
        measured = {name: _plain(value) for name, value in measured.items()}
        try:
            verdict = evaluate(claim.criterion, measured)
        except NameError as err:
            raise ValueError(f"criterion of claim {id!r} uses a name that was not measured: {err}") from None
        if not isinstance(verdict, (bool, np.bool_)):
            raise TypeError(f"criterion of claim {id!r} gave {verdict!r}, not a boolean")
        claim.measured, claim.holds = measured, bool(verdict)
        _glue(leaves(id, measured))
        return claim.holds

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
                "criterion": c.criterion,
                "measured": format_measured(c.measured),
                "verdict": verdict_label(c.holds),
            }
            for c in self._claims.values()
        ]
        return pd.DataFrame(rows).set_index("claim")

    def conclude(self) -> pd.DataFrame:
        """Save the claims, glue the verdict summary (verdicts.n_hold, verdicts.n_claims and
        verdicts.failing, the ids of the claims that do not hold) and return the table of verdicts."""
        self.save()
        _glue(leaves("verdicts", verdict_summary(self.payload()["claims"])))
        return self.table()

    def payload(self) -> dict:
        """What the run recorded: its chapter, parameters, claims and other recorded values."""
        return {
            "chapter": self.run.chapter, "params": self.run.params,
            "claims": [asdict(c) for c in self._claims.values()], "recorded": self.recorded,
        }

    def save(self, path: str | Path = CLAIMS_FILE) -> None:
        """Write the claims as JSON; every declared claim must have been measured."""
        missing = [c.id for c in self._claims.values() if c.holds is None]
        if missing:
            raise RuntimeError(f"claims declared but never measured: {', '.join(missing)}")
        Path(path).write_text(json.dumps(self.payload(), indent=2) + "\n")


class Words(str):
    """A string glued for the prose: {glue:text} shows it plain, {glue:md} as Markdown."""

    def _repr_markdown_(self) -> str:
        return str(self)


def verdict_summary(claims: list[dict]) -> dict:
    """n_hold, n_claims and failing (the ids of the claims that do not hold, as Markdown)."""
    failing = [f"`{c['id']}`" for c in claims if not c["holds"]]
    return {"n_hold": len(claims) - len(failing), "n_claims": len(claims), "failing": ", ".join(failing) or "none"}


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


def verdict_label(holds: bool | None) -> str:
    """Human-readable verdict."""
    return {True: "holds", False: "does not hold", None: "not measured"}[holds]


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
