"""One writer run at a time per lakehouse: an exclusive lock on a file under a local root.

Two pipeline runs at once would both ingest the same new landing files, and a compaction
during a run would make the run's commits fail. The second run stops before it reads
anything, naming the run that holds the lock, or first waits for it up to a given time (a
scheduled run that finds the previous one still going). The operating system releases the
lock when the holder's process ends, even when it is killed. An object-store root has no
such lock; there the second run stops at its first commit on a table the first run
committed to since (`ConcurrentCommit`), with nothing of it committed.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO

from aerotwin.lakehouse.delta import Lakehouse

LOCK_FILE = "_pipeline.lock"


class LakehouseBusy(RuntimeError):
    """Another run (pipeline or maintenance) holds the lakehouse; this one changed nothing."""


@contextmanager
def exclusive_run(
    lakehouse: Lakehouse,
    run: str,
    wait_s: float = 0.0,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold the lakehouse's run lock for the block; LakehouseBusy when another run has it
    for longer than `wait_s` seconds (`on_wait` is told once who it waits for).

    `run`: what this run is, as the other would be told ("pipeline run 3f2a9c...").
    """
    root = lakehouse.local_root
    if root is None:
        yield
        return
    path = root / LOCK_FILE
    try:
        root.mkdir(parents=True, exist_ok=True)
        # "a+": opening must not erase the holder's description before the lock is ours.
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 (the with below closes it)
    except OSError as exc:
        raise _naming(exc, path) from None
    with handle:
        _acquire(handle, lakehouse.root, wait_s, on_wait)
        holder = {
            "run": run,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        }
        try:
            _write(handle, json.dumps(holder))
        except OSError as exc:  # a full disk: the error names no file of itself
            raise _naming(exc, path) from None
        try:
            yield
        finally:
            os.ftruncate(handle.fileno(), 0)  # the lock itself goes with the file's closing


def _write(handle: IO[str], text: str) -> None:
    """Replace the file's content with `text`, unbuffered: a write the disk refuses fails
    here, not again when the file is closed."""
    os.ftruncate(handle.fileno(), 0)
    data = text.encode("utf-8")
    while data:
        data = data[os.write(handle.fileno(), data) :]


def _naming(exc: OSError, path: object) -> OSError:
    """`exc` naming `path` (a write's error names no file): "[Errno 28] No space left on
    device: '.../_pipeline.lock'"."""
    if exc.filename is not None:
        return exc
    return OSError(exc.errno, exc.strerror, str(path))


def _acquire(
    handle: IO[str], root: str, wait_s: float, on_wait: Callable[[str], None] | None
) -> None:
    """Take the lock on `handle`, trying again every 0.2 s for up to `wait_s` seconds."""
    deadline = time.monotonic() + wait_s
    waiting = False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            handle.seek(0)
            holder = _describe(handle.read())
        left = deadline - time.monotonic()
        if left <= 0:
            waited = f" after waiting {wait_s:g} s" if wait_s else ""
            raise LakehouseBusy(
                f"lakehouse {root} is in use by another run ({holder}){waited}; this run "
                "changed nothing: run it again when that one has finished"
            )
        if on_wait is not None and not waiting:
            on_wait(holder)
        waiting = True
        time.sleep(min(0.2, left))


def _describe(text: str) -> str:
    """The lock holder as a user reads it: run, process and start time."""
    if not text.strip():
        return "it has just started"
    try:
        holder = json.loads(text)
        return (
            f"{holder['run']}, process {holder['pid']} on {holder['host']}, "
            f"started {holder['started']}"
        )
    except (ValueError, KeyError, TypeError):
        return "its description is not readable"
