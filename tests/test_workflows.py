"""The GitHub workflows pass two linters (which do reject broken workflows) and run .ci scripts that
exist, parse and, for .ci/gpu, do what they say."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
SCRIPTS = sorted((REPO / ".ci").iterdir())


def lint(*files: Path) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    """SchemaStore's workflow schema and zizmor's offline audits (non-zero exit on any finding)."""
    tool = Path(sys.executable).with_name
    schema = [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *files]
    audit = [tool("zizmor"), "--offline", *files]
    return tuple(subprocess.run(command, capture_output=True, text=True) for command in (schema, audit))


def test_workflows_pass_the_linters():
    assert {"ci.yml", "gpu.yml"} <= {path.name for path in WORKFLOWS}
    for done in lint(*WORKFLOWS):
        assert done.returncode == 0, done.stdout + done.stderr


def test_schema_rejects_an_unknown_key(tmp_path):
    workflow = tmp_path / "typo.yml"
    workflow.write_text("on: push\njobs:\n  j:\n    runs-onn: ubuntu-latest\n    steps:\n      - run: echo hi\n")
    schema, _ = lint(workflow)
    assert schema.returncode != 0 and "runs-onn" in schema.stdout, schema.stdout


def test_zizmor_rejects_script_injection(tmp_path):
    workflow = tmp_path / "injection.yml"
    workflow.write_text(
        "on: issues\npermissions: {}\njobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n"
        '      - run: echo "${{ github.event.issue.title }}"\n'
    )
    schema, audit = lint(workflow)
    assert schema.returncode == 0, schema.stdout  # a valid workflow: only the audit sees the flaw
    assert audit.returncode != 0 and "template-injection" in audit.stdout, audit.stdout + audit.stderr


def test_workflows_run_scripts_that_exist():
    steps = [step for path in WORKFLOWS for job in yaml.safe_load(path.read_text())["jobs"].values()
             for step in job["steps"]]
    named = {name for step in steps for name in re.findall(r"\.ci/[\w.-]+", step.get("run", ""))}
    assert named, "no workflow runs a .ci script"
    for name in sorted(named):
        assert (REPO / name).is_file() and os.access(REPO / name, os.X_OK), f"{name}: missing or not executable"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_ci_scripts_parse(script):
    assert os.access(script, os.X_OK), f"{script.name} is not executable"
    done = subprocess.run(["bash", "-n", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def fake_command(path: Path, body: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/usr/bin/env bash\n" + body)
    path.chmod(0o755)


def run_gpu_script(root: Path, path: str, *args: str) -> subprocess.CompletedProcess:
    """.ci/gpu copied into root and run there with only `path` on PATH."""
    (root / ".ci").mkdir(exist_ok=True)
    shutil.copy2(REPO / ".ci" / "gpu", root / ".ci" / "gpu")
    return subprocess.run([shutil.which("bash"), root / ".ci" / "gpu", *args], env={"PATH": path},
                          capture_output=True, text=True)


def test_gpu_script_stops_without_nvidia_smi(tmp_path):
    bin = tmp_path / "bin"
    bin.mkdir()
    (bin / "dirname").symlink_to(shutil.which("dirname"))  # and no nvidia-smi, python3 or pip
    done = run_gpu_script(tmp_path, str(bin))
    assert done.returncode == 1 and "nvidia-smi" in done.stderr, done.stdout + done.stderr


@pytest.mark.parametrize("build_fails", [False, True])
def test_gpu_script_builds_the_paper_profile_and_keeps_the_gpu_runs_whatever_happens(tmp_path, build_fails):
    fake_command(tmp_path / "bin" / "nvidia-smi")
    fake_command(tmp_path / "bin" / "python3")  # `python3 -m venv .venv` finds the fake .venv below
    fake_command(tmp_path / ".venv" / "bin" / "pip")
    fake_command(tmp_path / ".venv" / "bin" / "hopbook", 'echo "$@" >> calls\n'
                 + ('if [ "$1" = build ]; then exit 3; fi\n' if build_fails else ""))
    done = run_gpu_script(tmp_path, f"{tmp_path / 'bin'}:/usr/bin:/bin", "-p", "dataset", "digits")
    assert done.returncode == (3 if build_fails else 0), done.stdout + done.stderr
    assert (tmp_path / "calls").read_text().splitlines() == [
        "fetch mnist", "fetch cifar10",
        "build --profile paper -p device cuda -p dataset digits",
        "keep-gpu-runs --profile paper",  # also after a failed build: what finished is kept
    ]
