"""A small seccomp filter for the sandbox (handed to ``bwrap --seccomp FD``).

Student code needs nothing beyond ordinary process, file and thread syscalls. The filter refuses
(EPERM) the syscalls that only widen the kernel attack surface or the sandbox itself: new namespaces
(unshare, setns, clone with CLONE_NEW* flags), mounts, ptrace and cross-process memory access,
keyrings, bpf, perf events, userfaultfd, io_uring, module loading, reboot/kexec, System V shared
memory and message queues (memory no RSS shows), and every non-x86-64 ABI (i386 and x32 numbering). ``clone3`` gets ENOSYS so glibc falls back to ``clone``, whose flags
the filter can inspect. Built as classic BPF by hand (no libseccomp needed); x86-64 only --
:func:`supported` says whether this machine can use it.
"""
from __future__ import annotations

import errno
import os
import platform
import struct

__all__ = ["supported", "program", "BLOCKED_SYSCALLS", "write_program_fd"]

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000

# classic BPF opcodes
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06

# x86-64 syscall numbers
BLOCKED_SYSCALLS = {
    "ptrace": 101, "syslog": 103, "acct": 163, "mount": 165, "umount2": 166, "swapon": 167,
    "swapoff": 168, "reboot": 169, "sethostname": 170, "setdomainname": 171, "init_module": 175,
    "delete_module": 176, "quotactl": 179, "pivot_root": 155, "chroot": 161, "kexec_load": 246,
    "add_key": 248, "request_key": 249, "keyctl": 250, "unshare": 272, "perf_event_open": 298,
    "name_to_handle_at": 303, "open_by_handle_at": 304, "setns": 308, "process_vm_readv": 310,
    "process_vm_writev": 311, "finit_module": 313, "kexec_file_load": 320, "bpf": 321,
    "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
    "fspick": 433, "mount_setattr": 442,
    # System V shared memory and message queues: memory no process's RSS shows once detached
    "shmget": 29, "msgget": 68,
}
_CLONE = 56
_CLONE3 = 435
# CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET
_CLONE_NS_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 \
    | 0x40000000
# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]
_OFF_NR, _OFF_ARCH, _OFF_ARG0 = 0, 4, 16


def supported() -> bool:
    """True on x86-64 Linux (the only ABI this hand-built filter knows)."""
    return platform.system() == "Linux" and platform.machine() in ("x86_64", "AMD64")


def _ins(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def program() -> bytes:
    """The compiled filter: a sequence of ``struct sock_filter``."""
    deny = SECCOMP_RET_ERRNO | errno.EPERM
    out = [
        _ins(_LD_W_ABS, _OFF_ARCH),
        _ins(_JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        _ins(_RET_K, deny),                         # i386 / other ABIs
        _ins(_LD_W_ABS, _OFF_NR),
        _ins(_JGE_K, X32_SYSCALL_BIT, 0, 1),
        _ins(_RET_K, deny),                         # x32 ABI
    ]
    for nr in sorted(BLOCKED_SYSCALLS.values()):
        out += [_ins(_JEQ_K, nr, 0, 1), _ins(_RET_K, deny)]
    out += [
        _ins(_JEQ_K, _CLONE3, 0, 1),
        _ins(_RET_K, SECCOMP_RET_ERRNO | errno.ENOSYS),   # glibc falls back to clone()
        _ins(_JEQ_K, _CLONE, 0, 3),
        _ins(_LD_W_ABS, _OFF_ARG0),                  # clone flags (low 32 bits)
        _ins(_JSET_K, _CLONE_NS_FLAGS, 0, 1),
        _ins(_RET_K, deny),
        _ins(_RET_K, SECCOMP_RET_ALLOW),
    ]
    return b"".join(out)


def write_program_fd() -> int:
    """A readable fd holding the program (a pipe's read end; the caller passes it to bwrap)."""
    data = program()
    r, w = os.pipe()
    try:
        os.write(w, data)          # a few hundred bytes: fits the pipe buffer, never blocks
    finally:
        os.close(w)
    return r
