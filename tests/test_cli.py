"""The hopbook command: listing, refusing bad input before any compute, failing loudly, atomic results."""

import json
import shutil
import signal
import subprocess
import time

import pytest
import torch

from conftest import HOPBOOK, REPO, claim, hopbook, write_chapter
from hopbook.book.cli import main

SLOW = """
import time
from hopbook.book.claims import Claims
claims = Claims()
time.sleep(seed)
claims.measure("waited", seconds=seed)
claims.conclude()
"""


def test_list_shows_chapters_parameters_and_profiles():
    done = hopbook("--root", str(REPO), "list")
    assert done.returncode == 0, done.stderr
    assert "linear-attention: Linear-attention impossibility" in done.stdout
    assert "d (int, default 16, allowed [2, 512]): key (head) dimension" in done.stdout
    assert "key_dist (str, default 'gaussian', allowed {gaussian, sphere, rademacher, anisotropic})" in done.stdout
    for profile in ("smoke", "default", "paper"):
        assert f"profile {profile}:" in done.stdout
    assert "sweep cosine-beta (smoke profile): cosine in -0.08,0,0.35,0.7 x beta in 2,8,32" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-p", "sede", "1"], "chapter 'linear-attention' has no parameter 'sede'"),
        (["-p", "d", "abc"], "parameter 'd' expects int, got 'abc'"),
        (["-p", "n_trials", "2.5"], "parameter 'n_trials' expects int, got '2.5'"),
        (["-p", "d", "1"], "parameter 'd' must lie in [2, 512]; got 1"),
        (["-p", "key_dist", "cauchy"], "parameter 'key_dist' must be one of gaussian, sphere, rademacher, anisotropic"),
        (["-p", "span", "16"], "parameters must satisfy span < d (here d=16, span=16)"),
        (["-p", "d", "4", "-p", "d", "5"], "a parameter is given twice"),
    ],
)
def test_bad_parameters_exit_nonzero_naming_the_parameter_and_write_nothing(tmp_path, capsys, args, message):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit:
        main(["--root", str(REPO), "run", "linear-attention", *args, "--out", str(out)])
    assert exit.value.code.startswith("hopbook: ")  # a message as exit code: status 1
    assert message in exit.value.code
    assert not out.exists()


@pytest.mark.parametrize(
    ("chapter", "args", "message"),
    [
        ("intrinsic-forgetting", ["-p", "beta", "nan"], "parameter 'beta' must be a finite number; got nan"),
        ("intrinsic-forgetting", ["-p", "eps", "inf"], "parameter 'eps' must be a finite number; got inf"),
        ("relational-disruption", ["-p", "model_path", "/nonexistent"], "parameter 'model_path': model '/nonexistent' is not on this machine"),
        pytest.param("diffusion-forgetting", ["-p", "device", "cuda"], "parameter 'device': device 'cuda' was asked for, but torch sees no GPU",
                     marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")),
    ],
)
def test_inputs_that_cannot_run_here_are_refused_before_any_compute(tmp_path, chapter, args, message):
    out = tmp_path / "out"
    start = time.monotonic()
    done = hopbook("--root", str(REPO), "run", chapter, "--profile", "smoke", *args, "--out", str(out))
    assert done.returncode == 1
    assert f"hopbook: {message}" in done.stderr
    assert not out.exists()
    assert time.monotonic() - start < 60  # refused at start-up, not after cells ran


def test_unknown_chapter_and_profile_are_refused(tmp_path, capsys):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit:
        main(["--root", str(REPO), "run", "nope", "--out", str(out)])
    assert exit.value.code.startswith("hopbook: unknown chapter 'nope'; chapters: ")
    assert "linear-attention" in exit.value.code
    with pytest.raises(SystemExit) as exit:
        main(["--root", str(REPO), "run", "linear-attention", "--profile", "huge", "--out", str(out)])
    assert exit.value.code == "hopbook: unknown profile 'huge'; choose one of smoke, default, paper"
    assert not out.exists()


def test_bad_parameter_from_the_real_command_exits_1(tmp_path):
    done = hopbook("--root", str(REPO), "run", "linear-attention", "-p", "d", "0", "--out", str(tmp_path / "out"))
    assert done.returncode == 1
    assert "hopbook: parameter 'd' must lie in [2, 512]; got 0" in done.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("raise RuntimeError('claim code failed')", "RuntimeError: claim code failed"),
        (
            """
            from hopbook.book.claims import Claims
            claims = Claims()
            claims.conclude()
            """,
            "claims declared but never measured: c",
        ),
        ("print('no claims here')", "broken ran but saved no claims"),
    ],
)
def test_a_chapter_whose_claim_code_fails_fails_the_run_and_leaves_no_results(tmp_path, body, error):
    write_chapter(tmp_path, "broken", body, claims=claim("c", "value > 0"))
    out = tmp_path / "out"
    done = hopbook("--root", str(tmp_path), "run", "broken", "--out", str(out))
    assert done.returncode == 1
    assert error in done.stderr
    assert list(out.iterdir()) == []


@pytest.mark.slow
def test_a_run_into_a_relative_folder_records_its_claims(tmp_path):
    write_chapter(tmp_path, "quick", SLOW, claims=claim("waited", "seconds >= 0"))
    done = subprocess.run([*HOPBOOK, "--root", str(tmp_path), "run", "quick", "--out", "relative/out"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads((tmp_path / "relative" / "out" / "results.json").read_text())
    assert [c["verdict"] for c in results["claims"]] == ["holds"]


def start_slow_run(root, out, seconds):
    run = subprocess.Popen(
        [*HOPBOOK, "--root", str(root), "run", "slow", "-p", "seed", str(seconds), "--out", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not list(out.glob(".partial-slow-*/slow.ipynb")):  # the kernel is executing cells
        assert time.monotonic() < deadline and run.poll() is None
        time.sleep(0.2)
    return run


@pytest.mark.slow
def test_a_terminated_run_cleans_up_and_a_killed_one_leaves_no_results(tmp_path):
    write_chapter(tmp_path, "slow", SLOW, claims=claim("waited", "seconds >= 0"))
    out = tmp_path / "out"
    run = start_slow_run(tmp_path, out, 60)
    run.send_signal(signal.SIGTERM)
    assert run.wait(timeout=60) != 0
    assert list(out.iterdir()) == []

    run = start_slow_run(tmp_path, out, 60)
    run.kill()
    run.wait(timeout=60)
    assert not (out / "results.json").exists() and not (out / "slow.ipynb").exists()

    done = hopbook("--root", str(tmp_path), "run", "slow", "--out", str(out))  # a rerun clears the debris
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["results.json", "slow.ipynb"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-p", "devise", "cuda"], "hopbook: no chapter has a parameter 'devise'"),
        (["-p", "device", "tpu"], "hopbook: rank-collapse: parameter 'device' must be one of auto, cpu, cuda, mps; got 'tpu'"),
        pytest.param(["-p", "device", "cuda"], "parameter 'device': device 'cuda' was asked for, but torch sees no GPU",
                     marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")),
    ],
)
def test_a_build_with_parameters_is_checked_for_every_chapter_before_any_compute(tmp_path, args, message):
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(REPO / name, tmp_path / name)
    shutil.copytree(REPO / "notebooks", tmp_path / "notebooks")
    start = time.monotonic()
    done = hopbook("--root", str(tmp_path), "build", "--profile", "smoke", *args)
    assert done.returncode == 1 and message in done.stderr, done.stderr
    assert time.monotonic() - start < 60  # refused at start-up, not after a chapter ran


def test_keep_gpu_runs_copies_the_runs_made_on_a_gpu_by_the_day_they_finished(tmp_path):
    for name, device in [("a", "NVIDIA H200"), ("b", "cpu")]:
        run = tmp_path / "runs" / "paper" / name
        run.mkdir(parents=True)
        (run / "results.json").write_text(json.dumps({"chapter": name, "device": device, "finished": "2026-12-01T10:00:00+00:00",
                                                    "claims": []}))
        (run / f"{name}.ipynb").write_text("{}")
    (tmp_path / "runs" / "paper" / "c").mkdir()  # a run that did not finish
    earlier = tmp_path / "runs" / "gpu" / "a-paper-20261201"
    earlier.mkdir(parents=True)
    (earlier / "stale.txt").touch()
    done = hopbook("--root", str(tmp_path), "keep-gpu-runs")
    assert done.returncode == 0, done.stderr
    assert "kept runs/gpu/a-paper-20261201" in done.stdout and "1 runs of the paper profile" in done.stdout
    assert sorted(p.name for p in (tmp_path / "runs" / "gpu").iterdir()) == ["a-paper-20261201"]
    assert sorted(p.name for p in earlier.iterdir()) == ["a.ipynb", "results.json"]  # the earlier copy replaced
