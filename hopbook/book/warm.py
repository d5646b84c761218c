"""Warm runs: each chapter executed in a fork of a process that imported its libraries once.

A fresh Jupyter kernel spends 5-8 s importing torch, transformers, pandas, seaborn and matplotlib
before a small chapter's first line, often longer than the chapter computes. A warm process imports them once
(`warm_up`); `run` then forks it, and the child executes the chapter through papermill in an
in-process IPython kernel (`KernelManager`) and exits. The parent only imports and never runs a
chapter, so every run starts from the same state, that of a fresh kernel that has imported these
libraries: its results.json records what `hopbook run` would (tests/test_warm.py compares them).
"""

import importlib
import os
import signal
from pathlib import Path

import torch
from ipykernel.inprocess.blocking import BlockingInProcessKernelClient
from ipykernel.inprocess.manager import InProcessKernelManager
from traitlets import DottedObjectName

from hopbook.book.chapters import Chapter
from hopbook.book.runner import run_chapter

LIBRARIES = (  # what the chapters import, heaviest first: seconds each in a fresh kernel
    "transformers", "diffusers", "torchvision", "pandas", "matplotlib.pyplot", "seaborn", "scipy.stats", "sklearn",
    "myst_nb", "IPython.display",
)


class KernelClient(BlockingInProcessKernelClient):
    """The in-process client, with the signature nbclient calls."""

    def wait_for_ready(self, timeout: float | None = None) -> None:
        """An in-process kernel is ready once started: exchange its kernel info, drop its start-up messages."""
        self.kernel_info()
        self._handle_kernel_info_reply(self.shell_channel.get_msg(timeout=timeout))
        self.iopub_channel.get_msgs()


class KernelManager(InProcessKernelManager):
    """An IPython kernel in this process, as nbclient drives a kernel; figures shown inline, as in a
    fresh ipykernel."""

    client_class = DottedObjectName("hopbook.book.warm.KernelClient")

    def start_kernel(self, **kwargs) -> None:
        super().start_kernel()
        self.kernel.shell.enable_matplotlib("inline")

    def shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
        super().shutdown_kernel()


class RunFailed(RuntimeError):
    """A chapter run that failed in its forked process; .error says how, in one line."""

    def __init__(self, slug: str, error: str) -> None:
        super().__init__(f"{slug}: {error}")
        self.error = error


def warm_up(threads: int | None = None) -> None:
    """Import the libraries chapters use, once; with threads, pin torch to that many (a sweep's
    workers run one each)."""
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # ipykernel's debugger: no warning per kernel
    for name in LIBRARIES:
        importlib.import_module(name)
    if threads:
        torch.set_num_threads(threads)


def run(chapter: Chapter, params: dict, profile: str, out: Path, command: str) -> None:
    """Run a chapter (see runner.run_chapter) in a fork of this process; raise RunFailed with its
    error if it fails. Stopping the parent stops the child, which then leaves no results."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: run, report the error (if any) through the pipe, exit without cleanup
        os.close(read)
        error = ""
        try:
            run_chapter(chapter, params, profile, out, command, progress=False, kernel_manager=KernelManager)
        except BaseException as err:  # noqa: BLE001 - every failure is reported to the parent
            error = describe(err)
        os.write(write, error.encode())
        os._exit(0)
    os.close(write)
    try:
        with os.fdopen(read) as pipe:
            error = pipe.read()
        _, status = os.waitpid(pid, 0)
    except BaseException:
        os.kill(pid, signal.SIGTERM)  # interrupted or terminated: the child cleans up as a run does
        os.waitpid(pid, 0)
        raise
    if not error and status:
        error = f"its process ended with status {os.waitstatus_to_exitcode(status)}"
    if error:
        raise RunFailed(chapter.slug, error)


def describe(err: BaseException) -> str:
    """An error in one line; papermill's names the cell's exception (its traceback stays in the log)."""
    if hasattr(err, "exec_count"):
        return f"failed in cell {err.exec_count}: {err.ename}: {err.evalue}"
    return f"{type(err).__name__}: {err}"
