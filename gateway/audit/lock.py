"""One writer per journal: an exclusive ``flock`` on ``<journal>.lock``, held while open.

Two processes appending to one journal would fork its hash chain; the second one to start
is refused with :class:`JournalLocked`, which names the journal and the holder's pid. The
lock belongs to the open file description, so it is released when the holder exits, even
on ``kill -9``; a stale lock file is harmless.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

__all__ = ["JournalLock", "JournalLocked", "lock_path"]


class JournalLocked(Exception):
    """Another process holds the journal's lock."""

    def __init__(self, journal: Path, holder: str) -> None:
        who = f" (pid {holder})" if holder else ""
        super().__init__(
            f"audit journal {journal} is in use by another labgate process{who}; "
            "only one process may write a journal"
        )
        self.journal = journal


def lock_path(journal: Path) -> Path:
    return journal.with_name(journal.name + ".lock")


class JournalLock:
    def __init__(self, journal: Path) -> None:
        self.journal = journal
        self.path = lock_path(journal)
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`JournalLocked` (OSError when the file cannot be made)."""
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            raise JournalLocked(self.journal, holder) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the only descriptor drops the flock
