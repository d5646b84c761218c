"""Fingerprints: what a cached model or a chapter run is keyed by.

One hash for every key of the book. A fingerprint covers the values that determine a result
(tensors by their bytes, anything else as JSON) and the code that computes it, read as the syntax
tree of each module with its docstrings removed: editing a comment or a docstring changes no key,
editing a line of code does.
"""

import ast
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch

PACKAGE = Path(__file__).resolve().parents[1]  # hopbook/, whose modules are hopbook.A.B = A/B.py


def fingerprint(**parts) -> str:
    """sha256 of named parts: tensors and arrays by dtype, shape and bytes, other values as JSON."""
    h = hashlib.sha256()
    for name, value in sorted(parts.items()):
        h.update(name.encode())
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().contiguous().numpy()
        if isinstance(value, np.ndarray):
            h.update(str((value.dtype, value.shape)).encode())
            h.update(np.ascontiguousarray(value).tobytes())
        else:
            h.update(json.dumps(value, sort_keys=True, default=str).encode())
    return h.hexdigest()


def code(modules: Iterable[str], package: Path = PACKAGE) -> dict[str, str]:
    """The code of each package module ("hopbook.gram", ...) as a hash of its syntax tree without
    docstrings, by module name."""
    return {name: hashlib.sha256(_code_text(_path(name, package).read_text()).encode()).hexdigest()
            for name in sorted(set(modules))}


def imported(source: str, package: Path = PACKAGE) -> set[str]:
    """The package modules that Python code imports, directly or through one another."""
    found, todo = set(), _imports(source, package)
    while todo:
        name = todo.pop()
        if name not in found:
            found.add(name)
            todo |= _imports(_path(name, package).read_text(), package)
    return found


def _path(module: str, package: Path) -> Path:
    """The file of a package module: hopbook.A.B is A/B.py, or A/B/__init__.py for a subpackage."""
    relative = package.joinpath(*module.split(".")[1:])
    return relative / "__init__.py" if relative.is_dir() else relative.with_suffix(".py")


def _imports(source: str, package: Path) -> set[str]:
    """Package modules named by the import statements of source (`from hopbook import x` names hopbook.x)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            # inside the package, `from .x import y` is `from hopbook.x import y`
            module = node.module if node.level == 0 else ".".join(filter(None, [package.name, node.module]))
            names.add(module)
            names |= {f"{module}.{alias.name}" for alias in node.names}
    return {n for n in names if n.split(".")[0] == package.name and _path(n, package).is_file()}


def _code_text(source: str) -> str:
    """The syntax tree of source, docstrings removed, as code text (ast.unparse: unlike ast.dump, the
    same on every Python this book supports)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return ast.unparse(tree)
