"""CITATION.cff is valid Citation File Format, carries the package's version and cites every entry of
the book's bibliography."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

from conftest import REPO

CITATION = REPO / "CITATION.cff"


def bibliography() -> dict[str, tuple[str, int]]:
    """Key -> (title without LaTeX braces, year) of each entry of book/references.bib."""
    text = (REPO / "book" / "references.bib").read_text()
    entries = {}
    for key, body in re.findall(r"^@\w+\{([^,]+),(.*?)^\}", text, re.M | re.S):
        fields = dict(re.findall(r"^\s*(\w+)\s*=\s*\{(.*)\},?\s*$", body, re.M))
        entries[key] = (re.sub(r"[{}]", "", fields["title"]), int(fields["year"]))
    assert len(entries) == len(re.findall(r"^@", text, re.M)), "an entry of references.bib was not read"
    return entries


def test_citation_is_valid_cff():
    done = subprocess.run([Path(sys.executable).with_name("check-jsonschema"), "--builtin-schema",
                           "vendor.citation-file-format", CITATION], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    citation = yaml.safe_load(CITATION.read_text())
    assert {"cff-version", "message", "title", "authors"} <= citation.keys()


def test_citation_version_is_the_package_version():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert str(yaml.safe_load(CITATION.read_text())["version"]) == project["version"]


def test_citation_cites_every_bibliography_entry():
    cited = {(ref["title"], ref["year"]) for ref in yaml.safe_load(CITATION.read_text())["references"]}
    missing = {key: entry for key, entry in bibliography().items() if entry not in cited}
    assert not missing, f"references.bib entries not in CITATION.cff (title, year): {missing}"
