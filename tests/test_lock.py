"""requirements.lock (written by .ci/lock) pins every dependency of pyproject.toml to an allowed version."""

import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from conftest import REPO


def pins() -> dict[str, Version]:
    """Normalised name -> version of each line of requirements.lock, which must all be name==version."""
    found = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if line.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line)
        assert match, f"requirements.lock: not name==version: {line!r}"
        found[canonicalize_name(match[1])] = Version(match[2])
    return found


def test_lock_pins_every_dependency():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    locked = pins()
    assert "hopbook" not in locked  # installed from the checkout, not the lock
    for dependency in project["dependencies"] + project["optional-dependencies"]["test"]:
        wanted = Requirement(dependency)
        name = canonicalize_name(wanted.name)
        assert name in locked, f"{wanted.name} is not in requirements.lock"
        assert wanted.specifier.contains(locked[name], prereleases=True), f"{name}=={locked[name]} is not {wanted}"
