"""Cache and staleness keys: what determines a result changes them, a docstring or the command line does not."""

import shutil

import pytest
import torch

from conftest import REPO
from hopbook.book import fingerprint
from hopbook.models import checkpoints
from hopbook.book.chapters import discover

CHAPTERS = discover(REPO)


@pytest.fixture
def package(tmp_path):
    """A copy of the hopbook package to edit."""
    return shutil.copytree(fingerprint.PACKAGE, tmp_path / "hopbook")


def keys(package):
    """The code part of every chapter's run key, and of the checkpoint key, from a package folder."""
    runs = {slug: fingerprint.code(fingerprint.imported(c.code(), package), package) for slug, c in CHAPTERS.items()}
    return runs, fingerprint.code(checkpoints.TRAINING_CODE, package)


def edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_a_chapter_depends_on_the_modules_it_imports_and_theirs():
    modules = fingerprint.imported(CHAPTERS["diffusion-forgetting"].code())
    assert {"hopbook.models.ddpm", "hopbook.models.checkpoints", "hopbook.continual", "hopbook.hopfield", "hopbook.book.claims"} <= modules
    assert not modules & {"hopbook.book.cli", "hopbook.book", "hopbook.book.runner"}
    assert "hopbook.models.ddpm" not in fingerprint.imported(CHAPTERS["linear-attention"].code())


def test_docstrings_comments_and_the_command_line_change_no_key(package):
    before = keys(package)
    edit(package / "models" / "ddpm.py", '"""A linear schedule,', '"""A linear noise schedule,')  # a function's docstring
    edit(package / "models" / "checkpoints.py", '"""Trained diffusion models', '"""Trained DDPM models')  # the module's
    edit(package / "gram.py", "\nimport ", "\n# a comment\nimport ")
    (package / "book" / "cli.py").write_text((package / "book" / "cli.py").read_text() + "\n\ndef new_command():\n    pass\n")
    assert keys(package) == before


def test_a_line_of_training_code_retrains_and_reruns_what_uses_it(package):
    runs, training = keys(package)
    edit(package / "models" / "ddpm.py", "beta_end=0.02", "beta_end=0.03")
    new_runs, new_training = keys(package)
    assert new_training != training
    assert {slug for slug in runs if runs[slug] != new_runs[slug]} == {"diffusion-forgetting"}


def test_values_are_hashed_by_content():
    a = torch.arange(6, dtype=torch.float32)
    assert fingerprint.fingerprint(x=a, y={"k": 1}) == fingerprint.fingerprint(y={"k": 1}, x=a.clone())
    assert fingerprint.fingerprint(x=a) != fingerprint.fingerprint(x=a.double())
    assert fingerprint.fingerprint(x=a) != fingerprint.fingerprint(x=a.flip(0))
