"""A run's folders: held for the run's whole life, written aside, swapped in when the run has finished.

A run writes two folders: the work folder (record-level, ``data/processed``)
and the report folder (what may be published, ``reports``). Each must only
ever hold one whole run, so:

- a run holds a lock on each for its whole life (:func:`hold_folder`); a second
  run on either refuses at once, naming the folder and the run that holds it.
  The lock is the operating system's (``flock``) on a hidden file beside the
  folder, so it goes when its process goes, however that ends;
- a run writes into a new hidden folder beside each (``.reports.staging-...``)
  and swaps it in for the old one only when it has finished
  (:meth:`StagedFolder.commit`). A run that fails, is interrupted or runs out of
  disk leaves both folders as the last good run left them;
- the next run clears what a killed run left beside them: its staging folders,
  and a swap cut off between its two renames (the old folder is restored).

Locks are POSIX ``flock`` (Linux and macOS).

Examples
--------
>>> import tempfile
>>> root = Path(tempfile.mkdtemp())
>>> with staged_folders([(root / "reports", "report folder")]) as (reports,):
...     _ = (reports.staging / "index.html").write_text("<p>new</p>")
>>> sorted(p.name for p in root.iterdir())
['.reports.lock', 'reports']
>>> (root / "reports" / "index.html").read_text()
'<p>new</p>'
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from toolkit.errors import ToolkitError

__all__ = ["StagedFolder", "describe_os_error", "hold_folder", "staged_folders"]


def describe_os_error(error: OSError, what: str) -> str:
    """One sentence for an operating-system error on a folder a run writes: the path and the cause.

    Examples
    --------
    >>> describe_os_error(OSError(28, "No space left on device", "/srv/reports/x.html"), "the report folder")
    'cannot write the report folder: /srv/reports/x.html: No space left on device'
    """
    path = f": {error.filename}" if error.filename else ""
    cause = error.strerror or str(error)
    if error.errno == errno.ENOSPC:
        cause = "No space left on device"
    return f"cannot write {what}{path}: {cause}"


def _lock_path(target: Path) -> Path:
    return target.parent / f".{target.name}.lock"


def _describe_holder(stream: IO[str]) -> str:
    """Who holds a lock, as its holder wrote it (pid, host, start, command), or a plain 'another run'."""
    stream.seek(0)
    try:
        holder = json.loads(stream.read() or "{}")
    except ValueError:
        holder = {}
    if not holder.get("pid"):
        return "another run"
    return (
        f"another run (process {holder['pid']} on {holder.get('host', 'this machine')}, started "
        f"{holder.get('started_utc', 'at an unknown time')}: {holder.get('command', '')})"
    ).replace(": )", ")")


@contextmanager
def hold_folder(target: Path, purpose: str) -> Iterator[None]:
    """Hold ``target`` for a run's whole life; refuse at once if another run holds it.

    Parameters
    ----------
    target : pathlib.Path
        The folder (it need not exist); the lock is a hidden file beside it.
    purpose : str
        What the folder is, for the message ("work folder").

    Raises
    ------
    ToolkitError
        Another process holds the folder, or its parent cannot be written.
    """
    target = Path(target)
    lock = _lock_path(target)
    for folder in (target, *target.parents):
        if folder.exists() and not folder.is_dir():
            raise ToolkitError(f"the {purpose} {target} cannot be made: {folder} is a file, not a folder")
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        stream = open(lock, "a+", encoding="utf-8")  # noqa: SIM115 - held open for the run's whole life
    except OSError as error:
        raise ToolkitError(describe_os_error(error, f"the {purpose}")) from None
    try:
        try:
            fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ToolkitError(
                f"the {purpose} {target} is in use by {_describe_holder(stream)}; wait for it to finish, "
                f"or give this run a {purpose} of its own"
            ) from None
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": " ".join(["python -m toolkit", *sys.argv[1:]])[:300],
        }
        stream.seek(0)
        stream.truncate()
        stream.write(json.dumps(holder))
        stream.flush()
        yield
    finally:
        stream.close()  # releases the lock; the file stays (removing it would race a run taking it)


def _clear_leftovers(target: Path) -> None:
    """Remove what a killed run left beside ``target``; restore ``target`` if a swap was cut off.

    Called with the folder held, so no other run is writing these.
    """
    parent = target.parent
    for left in parent.glob(f".{target.name}.staging-*"):
        shutil.rmtree(left, ignore_errors=True)
    for previous in sorted(parent.glob(f".{target.name}.previous-*")):
        if not target.exists():  # the old folder was moved aside and the new one never moved in
            os.rename(previous, target)
        else:
            shutil.rmtree(previous, ignore_errors=True)


@dataclass
class StagedFolder:
    """A folder a run writes aside (:attr:`staging`) and swaps in for :attr:`target` when it has finished."""

    target: Path
    purpose: str
    staging: Path

    @classmethod
    def open(cls, target: Path, purpose: str) -> StagedFolder:
        """Make the staging folder beside ``target`` (which the caller holds), checking it can be written.

        Raises
        ------
        ToolkitError
            ``target`` is a file, or its parent cannot be written (the cause named).
        """
        target = Path(target)
        if target.exists() and not target.is_dir():
            raise ToolkitError(f"the {purpose} {target} is a file, not a folder: give a folder")
        try:
            _clear_leftovers(target)
            staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.staging-", dir=target.parent))
            os.chmod(staging, 0o755)  # mkdtemp makes it private; the folder it becomes is for reading
        except OSError as error:
            raise ToolkitError(describe_os_error(error, f"the {purpose}")) from None
        return cls(target, purpose, staging)

    def commit(self) -> None:
        """Swap the staging folder in for the target; the old target is removed after."""
        previous = self.target.parent / f".{self.target.name}.previous-{self.staging.name.rsplit('-', 1)[1]}"
        if self.target.exists():
            os.rename(self.target, previous)
        os.rename(self.staging, self.target)  # a reader sees the old folder or the whole new one
        shutil.rmtree(previous, ignore_errors=True)

    def abort(self) -> None:
        """Remove the staging folder: the target stays as it was."""
        shutil.rmtree(self.staging, ignore_errors=True)


@contextmanager
def staged_folders(folders: list[tuple[Path, str]]) -> Iterator[tuple[StagedFolder, ...]]:
    """Hold each (folder, purpose), stage it, and swap every one in if the block finishes; else none.

    Every folder is held and checked before the block runs, so a run learns of
    an unwritable or busy folder before any work. If the block raises
    (including ``KeyboardInterrupt``), every staging folder is removed and every
    target is left as it was.

    Raises
    ------
    ToolkitError
        A folder is held by another run, is a file, or cannot be written; or a
        swap failed (the cause named).
    """
    with ExitStack() as held:
        for target, purpose in folders:
            held.enter_context(hold_folder(target, purpose))
        staged: list[StagedFolder] = []
        try:
            for target, purpose in folders:
                staged.append(StagedFolder.open(target, purpose))
            yield tuple(staged)
        except BaseException:
            for folder in staged:
                folder.abort()
            raise
        for folder in staged:
            try:
                folder.commit()
            except OSError as error:
                raise ToolkitError(describe_os_error(error, f"the {folder.purpose}")) from None
