"""Chapters and their parameters.

A chapter is one jupytext notebook in `notebooks/`, and that file is the single source of truth
for its parameters. The cell tagged `parameters` declares each one as `name: type = default  #
meaning`; the notebook's `hopbook` metadata (YAML front matter) adds its title, the allowed
ranges or choices, and the profiles:

    hopbook:
      title: Linear-attention impossibility
      ranges: {d: [2, 1024]}             # inclusive; null for an open end
      choices: {key_dist: [gaussian, sphere]}
      constraints: [span < d]           # Python expressions over the parameters (see hopbook.book.rules)
      requires: {dataset: hopbook.data.images:require}  # parameters naming data that must be on disk,
                                         # each with the function that checks it (raises if absent)
      profiles:
        smoke: {d: 6}                    # seconds: what the tests run
        paper: {d: 64}                   # the papers' own scale
        full: {d: 32}                    # any other name: a profile of this chapter only
      sweeps:                            # grids the book maps the verdicts over (hopbook.book.sweep)
        d-p: {profile: smoke, grid: {d: [4, 8], p: [8, 16]}}
    # `default` is the parameters cell itself: what the book shows.

Two chapters about one system share its parameters: the second says `shares: FIRST` instead of
declaring ranges, choices, constraints, requires and profiles, and its parameters cell must be the
first chapter's, line for line, so the two cannot drift apart. Sweeps are each chapter's own.
"""

import ast
import difflib
import importlib
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import jupytext
import nbformat
from papermill.translators import papermill_translators

from hopbook.book.directives import ClaimError, Declared, control_name, declared
from hopbook.book.rules import evaluate, names_in

PROFILES = ("smoke", "default", "paper")
_TYPES = {"int": int, "float": float, "str": str, "bool": bool}
_DECLARATIONS = ("ranges", "choices", "constraints", "requires", "profiles")


class ParameterError(ValueError):
    """A parameter that does not fit its chapter's declaration."""


class ChapterError(ValueError):
    """A chapter source whose declaration is malformed."""


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    default: object
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None

    def parse(self, text: str) -> object:
        """Convert a command-line string to this parameter's type, then check it."""
        if self.type == "bool":
            if text.lower() not in ("true", "false"):
                raise ParameterError(f"parameter {self.name!r} expects true or false, got {text!r}")
            return self.check(text.lower() == "true")
        if self.type == "str":
            return self.check(text)
        try:
            value = _TYPES[self.type](text)
        except ValueError:
            raise ParameterError(f"parameter {self.name!r} expects {self.type}, got {text!r}") from None
        return self.check(value)

    def check(self, value: object) -> object:
        """Return value if it has this parameter's type and lies in its range or choices."""
        expected = _TYPES[self.type]
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if type(value) is not expected:
            raise ParameterError(
                f"parameter {self.name!r} expects {self.type}, got {type(value).__name__} {value!r}"
            )
        if expected is float and not math.isfinite(value):
            raise ParameterError(f"parameter {self.name!r} must be a finite number; got {value!r}")
        if self.choices is not None and value not in self.choices:
            allowed = ", ".join(map(str, self.choices))
            raise ParameterError(f"parameter {self.name!r} must be one of {allowed}; got {value!r}")
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise ParameterError(f"parameter {self.name!r} must lie in {self.range_text()}; got {value!r}")
        return value

    def range_text(self) -> str:
        """The allowed values, as a reader would write them."""
        if self.choices is not None:
            return "{" + ", ".join(map(str, self.choices)) + "}"
        if self.low is None and self.high is None:
            return "any"
        low = "-inf" if self.low is None else self.low
        high = "inf" if self.high is None else self.high
        return f"[{low}, {high}]"


@dataclass(frozen=True)
class Chapter:
    slug: str
    title: str
    source: Path
    params: dict[str, Param]
    profiles: dict[str, dict]
    constraints: tuple[str, ...] = ()
    requires: tuple[tuple[str, str], ...] = ()
    sweeps: dict[str, dict] = field(default_factory=dict)  # NAME: {profile: P, grid: {PARAM: [values]}}
    claims: tuple[Declared, ...] = ()  # as its Markdown declares them (hopbook.book.directives)

    @property
    def profile_names(self) -> tuple[str, ...]:
        """The profiles every chapter has, then those this one declares besides."""
        return PROFILES + tuple(name for name in self.profiles if name not in PROFILES)

    def resolve(self, profile: str = "default", overrides: dict[str, object] | None = None) -> dict:
        """The full, checked parameter set of a run: defaults, then the profile, then overrides.

        Override values may be command-line strings (parsed by type) or Python values (checked). A
        parameter named device set to auto becomes the device the run will use (CUDA, MPS or cpu).
        """
        if profile not in self.profile_names:
            raise ParameterError(f"unknown profile {profile!r}; choose one of {', '.join(self.profile_names)}")
        values = {name: p.default for name, p in self.params.items()}
        for name, value in {**self.profiles.get(profile, {}), **(overrides or {})}.items():
            if name not in self.params:
                known = ", ".join(self.params)
                raise ParameterError(f"chapter {self.slug!r} has no parameter {name!r}; it has {known}")
            param = self.params[name]
            values[name] = param.parse(value) if isinstance(value, str) else param.check(value)
        for rule in self.constraints:
            if not evaluate(rule, values):
                involved = ", ".join(f"{n}={values[n]!r}" for n in sorted(names_in(rule)))
                raise ParameterError(f"parameters must satisfy {rule} (here {involved})")
        if values.get("device") == "auto":  # the best device here, which the run records (hopbook.book.devices)
            from hopbook.book.devices import pick  # imports torch, so only when asked

            values["device"] = pick("auto")
        return values

    def check_requirements(self, values: dict) -> None:
        """Raise ParameterError, before any compute, if data or weights a run names are not on disk."""
        for name, checker in self.requires:
            module, function = checker.split(":")
            try:
                getattr(importlib.import_module(module), function)(values[name])
            except (LookupError, RuntimeError, ValueError) as err:
                raise ParameterError(f"parameter {name!r}: {err}") from None

    def notebook(self) -> nbformat.NotebookNode:
        """The chapter source as a notebook, ready for papermill."""
        return jupytext.read(self.source)

    def controls(self) -> dict[str, dict]:
        """The distinct control settings of its claims, by name (hopbook.book.directives.control_name)."""
        return {control_name(c.control): c.control for c in self.claims if c.control}

    def code(self) -> str:
        """The Python code of the chapter: its code cells, in order."""
        return "\n".join(c.source for c in self.notebook().cells if c.cell_type == "code")


def load_chapter(source: Path) -> Chapter:
    """Read a chapter's declaration from its jupytext source; a malformed one raises ChapterError."""
    nb = jupytext.read(source)
    meta = nb.metadata.get("hopbook")
    if not meta or "title" not in meta:
        raise ChapterError(f"{source}: no `hopbook: title:` in the notebook metadata")
    cell = _parameters_cell(nb, source)
    if "shares" in meta:
        return _with_claims(_with_sweeps(_sharing(source, meta, cell), meta.get("sweeps", {})), nb)
    translator = papermill_translators.find_translator(nb.metadata.kernelspec.name, "python")
    ranges, choices = meta.get("ranges", {}), meta.get("choices", {})
    declared = translator.inspect(cell)
    lines = [ln for ln in cell.source.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if len(declared) != len(lines):
        raise ChapterError(f"{source}: write each parameter on one line as `name: type = value  # meaning`")
    params = {}
    for p in declared:
        if p.inferred_type_name not in _TYPES:
            raise ChapterError(f"{source}: parameter {p.name!r} needs a type annotation (int, float, str or bool)")
        low, high = ranges.get(p.name, (None, None))
        options = tuple(choices[p.name]) if p.name in choices else None
        param = Param(p.name, p.inferred_type_name, None, p.help, low, high, options)
        try:
            default = param.check(ast.literal_eval(p.default))
        except ParameterError as err:
            raise ChapterError(f"{source}: default of {err}") from None
        params[p.name] = replace(param, default=default)
    for key in list(ranges) + list(choices):
        if key not in params:
            raise ChapterError(f"{source}: range or choices given for unknown parameter {key!r}")
    constraints = tuple(meta.get("constraints", []))
    requires = tuple(meta.get("requires", {}).items())
    for name, checker in requires:
        if name not in params or checker.count(":") != 1:
            raise ChapterError(f"{source}: requires needs `parameter: module:function`, got {name}: {checker}")
    for rule in constraints:
        unknown = names_in(rule) - set(params)
        if unknown:
            raise ChapterError(f"{source}: constraint {rule!r} names unknown parameters {sorted(unknown)}")
    chapter = Chapter(source.stem, meta["title"], source, params, meta.get("profiles", {}), constraints, requires)
    for profile in chapter.profiles:
        if not re.fullmatch(r"[a-z][a-z0-9-]*", str(profile)):
            raise ChapterError(f"{source}: profile {profile!r} needs a name of lower-case letters, digits and '-'")
        try:
            chapter.resolve(profile)
        except ParameterError as err:
            raise ChapterError(f"{source}: profile {profile!r}: {err}") from None
    return _with_claims(_with_sweeps(chapter, meta.get("sweeps", {})), nb)


def _with_claims(chapter: Chapter, nb: nbformat.NotebookNode) -> Chapter:
    """The chapter with the claims its Markdown declares, each control a valid smoke-profile run."""
    try:
        claims = tuple(declared(nb, str(chapter.source)))
    except ClaimError as err:
        raise ChapterError(str(err)) from None
    for claim in (c for c in claims if c.control):
        try:
            chapter.resolve("smoke", claim.control)
        except ParameterError as err:
            raise ChapterError(f"{chapter.source}: the control of claim {claim.id!r}: {err}") from None
    return replace(chapter, claims=claims)


def _with_sweeps(chapter: Chapter, sweeps: object) -> Chapter:
    """The chapter with its declared sweeps, each a profile and a grid of value lists over its
    parameters (the values themselves are checked with the grid, see hopbook.book.sweep.grid)."""
    if not isinstance(sweeps, dict):
        raise ChapterError(f"{chapter.source}: `sweeps:` must map names to {{profile: P, grid: {{PARAM: [values]}}}}")
    for name, spec in sweeps.items():
        grid = spec.get("grid") if isinstance(spec, dict) else None
        if (not re.fullmatch(r"[\w.-]+", str(name)) or not isinstance(grid, dict) or set(spec) - {"profile", "grid"}
                or spec.get("profile", "default") not in PROFILES
                or not all(isinstance(values, list) and values for values in grid.values())):
            raise ChapterError(f"{chapter.source}: sweep {name!r} needs a name of letters, digits, '.', '-' or '_', "
                               "`grid: {PARAM: [v1, v2, ...]}` and an optional profile")
        unknown = set(grid) - set(chapter.params)
        if unknown:
            raise ChapterError(f"{chapter.source}: sweep {name!r} names unknown parameters {sorted(unknown)}")
    return replace(chapter, sweeps=sweeps)


def _parameters_cell(nb: nbformat.NotebookNode, source: Path) -> nbformat.NotebookNode:
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    if len(cells) != 1:
        raise ChapterError(f"{source}: needs exactly one cell tagged 'parameters', found {len(cells)}")
    return cells[0]


def _sharing(source: Path, meta: dict, cell: nbformat.NotebookNode) -> Chapter:
    """A chapter that shares the parameters of another (`shares: SLUG`): that chapter's declaration,
    under this chapter's slug, title and source, provided the parameters cells agree line for line."""
    own = [key for key in _DECLARATIONS if key in meta]
    if own:
        raise ChapterError(f"{source}: it shares the parameters of {meta['shares']!r}; declare {', '.join(own)} there")
    first = source.with_name(f"{meta['shares']}.md")
    if not first.is_file():
        raise ChapterError(f"{source}: shares the parameters of {meta['shares']!r}, but there is no {first.name}")
    first_nb = jupytext.read(first)
    if "shares" in first_nb.metadata.get("hopbook", {}):
        raise ChapterError(f"{source}: {first.name} shares its parameters too; share those of the chapter that declares them")
    theirs = _parameters_cell(first_nb, first).source.splitlines()
    differing = [ln for ln in difflib.unified_diff(theirs, cell.source.splitlines(), lineterm="", n=0)
                 if ln[:1] in "+-" and ln[:3] not in ("+++", "---")]
    if differing:
        raise ChapterError(
            f"{source}: its parameters cell must be that of {first.name}, which it shares; they differ in\n"
            + "\n".join(differing)
        )
    return replace(load_chapter(first), slug=source.stem, title=meta["title"], source=source)


def discover(root: Path) -> dict[str, Chapter]:
    """All chapters under root/notebooks, by slug (the file name without extension)."""
    return {c.slug: c for c in map(load_chapter, sorted((root / "notebooks").glob("*.md")))}
