"""CPU seconds of a whole process tree, counted by the kernel (a cgroup), sandboxes included.

``os.wait4``'s rusage only counts descendants that were *reaped by a process that was itself reaped*:
a sandboxed Python under bubblewrap that is killed (with its bwrap) at the end of a session, a zygote
child reaped inside its own PID namespace, or a Dask worker torn down by its nanny is missed — a
measured NumPy run showed 0.003 s of children CPU per notebook where each notebook starts a Python
sandbox. A cgroup counts every process that ever ran in it, however it ended.

    meter = CgroupMeter.create("bench-runner-2")        # None when no cgroup can be made (not root, ...)
    subprocess.Popen(cmd, preexec_fn=meter.join_self)  # the child and everything it starts
    meter.cpu_s()                                       # user+system CPU seconds so far
    meter.close()

cgroup v1 (``cpuacct.usage``, nanoseconds) or v2 (``cpu.stat`` ``usage_usec``), whichever is mounted
and writable.
"""
from __future__ import annotations

import os
from pathlib import Path

V1 = Path("/sys/fs/cgroup/cpuacct")
V2_CANDIDATES = (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified"))


class CgroupMeter:
    def __init__(self, path: Path, v1: bool):
        self.path, self.v1 = path, v1

    @classmethod
    def create(cls, name: str) -> "CgroupMeter | None":
        """A fresh cgroup named ``name``-<pid>-<n> (None if this machine does not let us make one)."""
        uniq = f"{name}-{os.getpid()}-{os.urandom(3).hex()}"
        roots = [(V1, True)] + [(p, False) for p in V2_CANDIDATES if (p / "cgroup.procs").is_file()
                                and (p / "cgroup.controllers").is_file()]
        for root, v1 in roots:
            if v1 and not (root / "cpuacct.usage").is_file():
                continue
            path = root / uniq
            try:
                path.mkdir()
            except OSError:
                continue
            meter = cls(path, v1)
            try:
                meter.cpu_s()
            except OSError:
                path.rmdir()
                continue
            return meter
        return None

    @classmethod
    def of_self(cls) -> "CgroupMeter | None":
        """The meter of the cgroup this process runs in when a bench parent made it (its name starts
        with ``deepgrade-bench``), so a child can read its whole tree's CPU at moments it chooses."""
        try:
            lines = Path("/proc/self/cgroup").read_text().splitlines()
        except OSError:
            return None
        for line in lines:
            _, controllers, path = line.split(":", 2)
            if not Path(path).name.startswith("deepgrade-bench"):
                continue
            if "cpuacct" in controllers.split(","):
                return cls(V1 / path.lstrip("/"), True)
            if controllers == "":
                root = next((p for p in V2_CANDIDATES if (p / path.lstrip("/") / "cpu.stat").is_file()), None)
                if root is not None:
                    return cls(root / path.lstrip("/"), False)
        return None

    def join_self(self) -> None:
        """Move the calling process (e.g. in ``preexec_fn``, before exec) into the cgroup."""
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def add(self, pid: int) -> None:
        (self.path / "cgroup.procs").write_text(str(pid))

    def pids(self) -> list[int]:
        return [int(x) for x in (self.path / "cgroup.procs").read_text().split()]

    def cpu_s(self) -> float:
        if self.v1:
            return int((self.path / "cpuacct.usage").read_text()) / 1e9
        for line in (self.path / "cpu.stat").read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "usage_usec":
                return int(value) / 1e6
        raise OSError("cpu.stat has no usage_usec")

    def close(self) -> None:
        """Remove the cgroup (once its processes are gone; left behind quietly otherwise)."""
        try:
            self.path.rmdir()
        except OSError:
            pass
