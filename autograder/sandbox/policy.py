"""Resource policy for one student sandbox session."""
from __future__ import annotations

from dataclasses import dataclass, replace

GIB = 1024 ** 3
MIB = 1024 ** 2


@dataclass(frozen=True)
class SandboxPolicy:
    """Limits applied to one :class:`~autograder.sandbox.launcher.StudentSession`.

    Wall-clock limits are enforced by the trusted side (it kills the whole sandbox); the others are
    kernel rlimits set inside the sandbox before any student code runs. ``None`` for
    ``address_space_bytes``/``max_processes`` means "pick the default for the session kind"
    (see :meth:`resolved`).
    """

    call_timeout_s: float = 10.0          # one call()/get()
    cell_timeout_s: float = 30.0          # one notebook cell during load()
    submission_timeout_s: float = 300.0   # everything one session does, start-up included
    startup_timeout_s: float = 30.0       # interpreter + numpy (+ TensorFlow) import
    cpu_seconds: int = 300                # RLIMIT_CPU of the worker (cumulative, per session)
    address_space_bytes: int | None = None   # RLIMIT_AS; default 2 GiB, 4 GiB with TensorFlow
    max_processes: int | None = None      # RLIMIT_NPROC (counts threads); default 32, 512 with TF
    max_total_memory_bytes: int | None = None  # resident memory of ALL sandbox processes together,
    #                                     polled by the trusted side; default address space + 1 GiB
    max_output_bytes: int = 64 * 1024     # captured stdout/stderr per op (each)
    max_file_bytes: int = 64 * MIB        # RLIMIT_FSIZE: largest file student code may write
    scratch_bytes: int = 256 * MIB        # size of the private tmpfs scratch (bwrap mode)
    max_open_files: int = 256             # RLIMIT_NOFILE
    network: bool = False                 # True is not supported: sandboxes never get a network
    seccomp: bool = True                  # bwrap mode: refuse namespace/mount/ptrace/... syscalls

    def __post_init__(self) -> None:
        if self.network:
            raise ValueError("SandboxPolicy(network=True) is not supported: sandboxes have no network")
        for name in ("call_timeout_s", "cell_timeout_s", "submission_timeout_s", "startup_timeout_s",
                     "cpu_seconds", "max_output_bytes", "max_file_bytes", "scratch_bytes",
                     "max_open_files"):
            if getattr(self, name) <= 0:
                raise ValueError(f"SandboxPolicy.{name} must be positive, got {getattr(self, name)!r}")

    def resolved(self, use_tensorflow: bool) -> "SandboxPolicy":
        """Fill the session-kind dependent defaults (TensorFlow needs more memory and threads)."""
        address_space = self.address_space_bytes or ((4 if use_tensorflow else 2) * GIB)
        return replace(
            self,
            address_space_bytes=address_space,
            max_total_memory_bytes=self.max_total_memory_bytes or address_space + GIB,
            max_processes=self.max_processes or (512 if use_tensorflow else 32),
            startup_timeout_s=max(self.startup_timeout_s, 60.0) if use_tensorflow
            else self.startup_timeout_s,
        )

    def rlimits(self, use_tensorflow: bool) -> dict[str, tuple[int, int]]:
        """rlimit name -> (soft, hard) as applied inside the sandbox."""
        p = self.resolved(use_tensorflow)
        cpu = int(p.cpu_seconds)
        return {
            "RLIMIT_AS": (p.address_space_bytes, p.address_space_bytes),
            "RLIMIT_CPU": (cpu, cpu + 2),
            "RLIMIT_NPROC": (p.max_processes, p.max_processes),
            "RLIMIT_FSIZE": (p.max_file_bytes, p.max_file_bytes),
            "RLIMIT_NOFILE": (p.max_open_files, p.max_open_files),
            "RLIMIT_CORE": (0, 0),
        }
