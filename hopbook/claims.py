"""Claims: what a chapter tests, the rule that decides it, what it measured and the verdict.

A chapter declares each claim, with its criterion, before computing anything. The criterion is a
Python expression over the names the chapter later measures (for example
"max_residual < 1e-10", see hopbook.rules); the verdict is that expression evaluated on the
measurements, so the rule a reader sees is the rule that decided.
"""

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown

from hopbook.rules import evaluate

CLAIMS_FILE = "claims.json"


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

    def __init__(self, chapter: str, device: str) -> None:
        self.chapter = chapter
        self.device = device
        self._claims: dict[str, Claim] = {}

    def declare(self, id: str, *, statement: str, source: str, paper: str, criterion: str) -> None:
        """Declare a claim and the rule that will decide it, before anything is measured."""
        if id in self._claims:
            raise ValueError(f"claim {id!r} is declared twice")
        compile(criterion, f"<criterion of {id}>", "eval")  # a malformed rule fails here, early
        self._claims[id] = Claim(id, statement, source, paper, criterion)

    def measure(self, id: str, **measured) -> bool:
        """Record the measurements of a declared claim and return its verdict."""
        claim = self._claims[id]
        if claim.holds is not None:
            raise ValueError(f"claim {id!r} is measured twice")
        claim.measured = {name: _plain(value) for name, value in measured.items()}
        try:
            verdict = evaluate(claim.criterion, claim.measured)
        except NameError as err:
            raise ValueError(f"criterion of claim {id!r} uses a name that was not measured: {err}") from None
        if not isinstance(verdict, (bool, np.bool_)):
            raise TypeError(f"criterion of claim {id!r} gave {verdict!r}, not a boolean")
        claim.holds = bool(verdict)
        return claim.holds

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
        """Save the claims and glue the summary the verdict prose quotes: n_hold, n_claims and failing
        (the ids of the claims that do not hold, as Markdown). Returns the table of verdicts."""
        from myst_nb import glue

        self.save()
        table = self.table()
        failing = [f"`{id}`" for id, c in self._claims.items() if not c.holds]
        glue("n_hold", len(self._claims) - len(failing), display=False)
        glue("n_claims", len(self._claims), display=False)
        glue("failing", Markdown(", ".join(failing) or "none"), display=False)
        return table

    def save(self, path: str | Path = CLAIMS_FILE) -> None:
        """Write the claims as JSON; every declared claim must have been measured."""
        missing = [c.id for c in self._claims.values() if c.holds is None]
        if missing:
            raise RuntimeError(f"claims declared but never measured: {', '.join(missing)}")
        payload = {"chapter": self.chapter, "device": self.device, "claims": [asdict(c) for c in self._claims.values()]}
        Path(path).write_text(json.dumps(payload, indent=2) + "\n")


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
