"""environment.yml lists the same dependencies as pyproject.toml."""

import tomllib

import yaml

from conftest import REPO


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["test"]
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip = next(dep["pip"] for dep in env["dependencies"] if isinstance(dep, dict))
    python = next(dep for dep in env["dependencies"] if isinstance(dep, str) and dep.startswith("python="))
    assert sorted(dep for dep in pip if dep != "-e .") == sorted(wanted)
    assert "-e ." in pip
    assert project["requires-python"] == ">=" + python.removeprefix("python=")
