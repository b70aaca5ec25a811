"""Find, measure and kill a sandbox's processes from the host (trusted side).

A sandbox's processes are found by uid (root grader: every sandbox has its own), by pid namespace
(unprivileged bubblewrap) or by session id (the weaker fallback modes).
"""
from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Iterable

_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes(pids: Iterable[int]) -> int:
    """Resident memory of the given processes."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm", "rb") as fh:
                total += int(fh.read().split()[1]) * _PAGE
        except (OSError, ValueError, IndexError):
            pass
    return total


def unmapped_shared_bytes(pids: list[int], scratch: bool = True) -> int:
    """Memory the processes hold that their RSS does not show.

    memfd files open in any of them (unique by inode; their allocated blocks) and, with
    ``scratch`` (bwrap: private tmpfs), the bytes stored in the /tmp and /dev/shm each mount
    namespace among them sees. A memfd that is also mapped counts twice (once in RSS): the sum errs
    towards the budget, never past it.
    """
    total = 0
    files: set[tuple[int, int]] = set()
    namespaces: set[str] = set()
    for pid in pids:
        proc = f"/proc/{pid}"
        try:
            ns = os.readlink(f"{proc}/ns/mnt")
            fds = os.listdir(f"{proc}/fd")
        except OSError:
            continue
        if scratch and ns not in namespaces:
            namespaces.add(ns)
            for mount in ("tmp", "dev/shm"):
                try:
                    vfs = os.statvfs(f"{proc}/root/{mount}")
                    total += (vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize
                except OSError:
                    pass
        for fd in fds:
            try:
                if not os.readlink(f"{proc}/fd/{fd}").startswith("/memfd:"):
                    continue
                st = os.stat(f"{proc}/fd/{fd}")
            except OSError:
                continue
            if (st.st_dev, st.st_ino) not in files:
                files.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total


def session_processes(sid: int) -> list[int]:
    """Host pids of live (non-zombie) processes in session ``sid`` (fallback modes)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as fh:
                    fields = fh.read().rsplit(b")", 1)[1].split()
                if int(fields[3]) == sid and fields[0] != b"Z":
                    pids.append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    return pids


def namespace_processes(bwrap_pid: int) -> list[int]:
    """Host pids of live processes in the pid namespace bwrap ``bwrap_pid`` created."""
    try:
        children = Path(f"/proc/{bwrap_pid}/task/{bwrap_pid}/children").read_text().split()
        ns = os.readlink(f"/proc/{children[0]}/ns/pid")
    except (OSError, IndexError):
        return []
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/ns/pid") == ns and not is_zombie(entry):
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


def is_zombie(pid: str) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return False


def uid_processes(uid: int) -> list[int]:
    """Host pids of live (non-zombie) processes owned by ``uid``."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid and not is_zombie(entry):
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


def kill_uid(uid: int) -> None:
    """SIGKILL every process owned by ``uid`` (sandbox uids are never real accounts)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid == uid:
                os.kill(int(entry), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            pass

