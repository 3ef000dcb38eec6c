"""The daemon's single-instance lock: an flock(2) on ``<data_dir>/lockerkey.lock``.

An flock belongs to an open file description, not to a process or a path: the lock lasts as
long as the descriptor ``RunLock`` opened stays open, so the daemon keeps it open for its whole
lifetime. The kernel drops the lock when the process dies, even by SIGKILL or a power cut, so a
crash never leaves a stale lock; the pid written into the file serves only the messages. The
descriptor is close-on-exec, so a program the daemon starts does not inherit the lock. The file
is never deleted: a process that had opened the old file would lock a different inode than one
opening the new, and both would believe they were alone.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

__all__ = ["LOCK_NAME", "AlreadyRunning", "RunLock", "running_pid"]

LOCK_NAME = "lockerkey.lock"
# running_pid() takes a shared lock for an instant; a daemon starting in that instant retries
# for up to this long before it reports the lock as held (never longer: it must not hang).
_RETRIES, _RETRY_S = 20, 0.01


class AlreadyRunning(Exception):
    """Another process holds the run lock; ``pid`` is its pid, 0 if it has not written it yet."""

    def __init__(self, path: Path, pid: int) -> None:
        self.path = path
        self.pid = pid
        holder = f"pid {pid}" if pid else "a process that has not written its pid yet"
        super().__init__(f"lockerkey is already running ({holder} holds {path})")


class RunLock:
    """The exclusive run lock of one data directory, held until ``release()`` or exit."""

    def __init__(self, data_dir: Path, name: str = LOCK_NAME) -> None:
        self.path = data_dir / name
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock without waiting, and write our pid; AlreadyRunning if it is held."""
        if self._fd is not None:
            raise RuntimeError(f"{self.path}: this RunLock is already held")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            self._lock(fd)
            data = f"{os.getpid()}\n".encode()
            # Overwrite, then cut: the file is never empty in between, so a reader sees a
            # whole pid, the old one or ours (ours from the first line alone).
            os.pwrite(fd, data, 0)
            os.ftruncate(fd, len(data))
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def _lock(self, fd: int) -> None:
        for attempt in range(_RETRIES):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = _read_pid(fd)
                # A live pid is a real holder. A dead or missing one is a holder that has not
                # written its pid yet, or running_pid() probing: both last an instant.
                if _alive(pid) or attempt == _RETRIES - 1:
                    raise AlreadyRunning(self.path, pid) from None
                time.sleep(_RETRY_S)
            else:
                return

    def release(self) -> None:
        """Drop the lock (the file stays); a no-op when not held."""
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def running_pid(data_dir: Path) -> int | None:
    """The pid of the process holding ``data_dir``'s run lock (0 if not yet written), or None.

    Only the lock counts: a pid left in an unlocked file is a daemon that has stopped. The file
    is neither created nor deleted here.
    """
    try:
        fd = os.open(data_dir / LOCK_NAME, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_pid(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_pid(fd: int) -> int:
    try:
        first = os.pread(fd, 32, 0).decode("ascii").split("\n", 1)[0]
        return max(int(first), 0)
    except (OSError, ValueError):
        return 0


def _alive(pid: int) -> bool:
    if pid <= 0:  # kill(0, ...) would mean our whole process group
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, but belongs to another user
        return True
    return True
