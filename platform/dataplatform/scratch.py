"""Per-process scratch space under $DATAPLATFORM_HOME/scratch/<pid>: every temporary file of a
catch-up and of the runs it executes (ingest inflation, localized objects, dbt's target
folders) lands there, through `tempfile`, and is removed when the process ends - or, after a
SIGKILL, by the next process that starts, which removes the folders of processes that are gone."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from dataplatform import settings


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_abandoned() -> list[str]:
    """Scratch folders of processes that no longer exist (killed); returns their names."""
    root = settings.home() / "scratch"
    removed = []
    for entry in sorted(root.iterdir()) if root.is_dir() else ():
        if entry.name.isdigit() and int(entry.name) != os.getpid() and not alive(int(entry.name)):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
    return removed


@contextmanager
def process_scratch() -> Iterator[str]:
    remove_abandoned()
    path = settings.home() / "scratch" / str(os.getpid())
    path.mkdir(parents=True, exist_ok=True)
    saved = tempfile.tempdir, os.environ.get("TMPDIR")
    tempfile.tempdir = os.environ["TMPDIR"] = str(path)  # TMPDIR: for dbt's subprocess too
    try:
        yield str(path)
    finally:
        tempfile.tempdir = saved[0]
        if saved[1] is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved[1]
        shutil.rmtree(path, ignore_errors=True)
