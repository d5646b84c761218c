"""Rules written as Python expressions: claims' criteria and chapters' parameter constraints.

A rule is shown to the reader as written and evaluated as written, over named values only, with a
few harmless builtins; so the text a reader audits is the rule that decided.
"""

import ast

BUILTINS = {f.__name__: f for f in (abs, all, any, int, len, max, min, sorted, sum, zip)}


def evaluate(rule: str, names: dict) -> object:
    """The value of the expression `rule` over `names`."""
    return eval(rule, {"__builtins__": BUILTINS, **names})


def names_in(rule: str) -> set[str]:
    """The free names of the expression: those it needs from `names` (loop variables and builtins excluded)."""
    tree = ast.parse(rule, mode="eval")
    bound = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - bound - set(BUILTINS)
