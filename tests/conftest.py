import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HOPBOOK = [str(Path(sys.executable).with_name("hopbook"))]  # the installed command


def hopbook(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """Run the hopbook command as a user would, capturing its output."""
    return subprocess.run([*HOPBOOK, *args], capture_output=True, text=True, **kwargs)


def claim(id: str, criterion: str) -> str:
    """A claim directive of a test chapter: its criterion, and no control."""
    return f"```{{claim}} {id}\n:source: test\n:paper: -\n:criterion: {criterion}\n:control: none: a test\n\n{id} holds.\n```\n"


def write_chapter(root: Path, slug: str, body: str, meta: str = "profiles: {smoke: {}}",
                  params: str = "seed: int = 0  # random seed", claims: str = "") -> Path:
    """A minimal chapter source: front matter, a parameters cell, the claims' directives (Markdown),
    then `body` as one code cell."""
    (root / "notebooks").mkdir(parents=True, exist_ok=True)
    (root / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n" + f"  - file: book/chapters/{slug}\n"
    )
    source = root / "notebooks" / f"{slug}.md"
    meta = textwrap.indent(meta, "  ")
    source.write_text(
        "---\nkernelspec:\n  display_name: Python 3\n  language: python\n  name: python3\n"
        f"hopbook:\n  title: {slug}\n{meta}\n---\n\n# {slug}\n\n"
        f"```{{code-cell}} ipython3\n:tags: [parameters]\n\n{params}\n```\n\n{claims}\n"
        f"```{{code-cell}} ipython3\n{textwrap.dedent(body).strip()}\n```\n"
    )
    return source


@pytest.fixture(scope="session", autouse=True)
def checkpoint_folder(tmp_path_factory) -> Path:
    """Model checkpoints of the test runs go to a temporary folder, not the repository's runs/."""
    folder = tmp_path_factory.mktemp("checkpoints")
    os.environ["HOPBOOK_CHECKPOINTS"] = str(folder)  # read by hopbook.models.checkpoints in every chapter run
    return folder


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory) -> Path:
    """A copy of the book, every chapter run with the smoke profile and the HTML built from those runs."""
    root = tmp_path_factory.mktemp("book")
    for name in ("_config.yml", "_toc.yml", "notebooks", "book", "runs/gpu", "runs/kept"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name)
        else:
            shutil.copy2(source, root / name)
    (root / ".cache").mkdir()  # tool caches such as pytest's must not break the build
    (root / ".cache" / "README.md").write_text("# not a page\n")
    done = hopbook("--root", str(root), "build", "--profile", "smoke")
    assert done.returncode == 0, done.stdout + done.stderr
    return root


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test of the smoke book is slow: the fast lane (pytest -m "not slow") leaves them out."""
    for item in items:
        if "smoke_book" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
