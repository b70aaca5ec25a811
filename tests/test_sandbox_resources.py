"""Issue 17, class 4: memory no RSS shows counts against the budget; zygote children get a private /tmp.

Budgets here are small (256 MiB for all processes of a sandbox) so the payloads can try to hold twice
the budget without straining a shared machine.
"""
from __future__ import annotations

import time

import pytest

from autograder.sandbox import SandboxPolicy, StudentError, StudentSession

BUDGET_MIB = 256
POLICY = SandboxPolicy(max_total_memory_bytes=BUDGET_MIB << 20, call_timeout_s=10)

HOARDERS = f'''
import os, time
held = []
def memfd_hoard(mib={2 * BUDGET_MIB}):
    """write() into memfd files, 64 MiB each (the file-size limit): no RSS shows it."""
    for i in range(mib // 64):
        fd = os.memfd_create(f"h{{i}}")
        for _ in range(64):
            os.write(fd, b"x" * (1 << 20))
        held.append(fd)
    time.sleep(1.0)
    return "survived"
def grab(mib):
    fd = os.memfd_create("g")
    for _ in range(mib):
        os.write(fd, b"x" * (1 << 20))
    held.append(fd)
    return "ok"
def fill(folder, mib):
    """Files of 32 MiB in folder until mib are written or the tmpfs is full; returns MiB written."""
    n = 0
    try:
        for i in range(mib // 32):
            with open(f"{{folder}}/f{{i}}", "wb") as f:
                for _ in range(32):
                    f.write(b"x" * (1 << 20))
                    n += 1
    except OSError:
        pass
    return n
def sysv_shm():
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    return [libc.shmget(0, 1 << 20, 0o1600), ctypes.get_errno()]
'''


def _session(**kw) -> StudentSession:
    s = StudentSession(None, POLICY, zygote=False, **kw)
    s.start()
    report = s.load([{"index": 0, "source": HOARDERS}])
    assert not report.errors, report.errors
    return s


def test_memfd_beyond_the_budget_kills_the_sandbox():
    with _session() as s:
        with pytest.raises(StudentError) as err:
            s.call("memfd_hoard")
        assert err.value.kind == "memory"
        assert not s.alive
        with pytest.raises(StudentError, match="dead"):
            s.call("grab", 1)


def test_memfd_held_between_quick_calls_is_counted():
    with _session() as s:
        with pytest.raises(StudentError) as err:
            for _ in range(2 * BUDGET_MIB // 32):
                s.call("grab", 32)      # each call returns at once; the memory stays held
            time.sleep(0.3)             # quick calls may all fall inside one 0.25 s check interval; the
            s.call("grab", 0)           # next request after it is checked first
        assert err.value.kind == "memory"


def test_dev_shm_and_tmp_are_size_capped_and_counted():
    small = SandboxPolicy(max_total_memory_bytes=BUDGET_MIB << 20, scratch_bytes=64 << 20)
    with StudentSession(None, small, zygote=False) as s:
        s.load([{"index": 0, "source": HOARDERS}])
        assert s.call("fill", "/dev/shm", 2 * BUDGET_MIB) <= 64
        assert s.call("fill", "/tmp", 2 * BUDGET_MIB) <= 64
    with StudentSession(None, SandboxPolicy(max_total_memory_bytes=128 << 20,
                                            scratch_bytes=64 << 20), zygote=False) as s:
        s.load([{"index": 0, "source": HOARDERS}])
        assert s.call("fill", "/dev/shm", 64) >= 60
        with pytest.raises(StudentError) as err:   # ~64 MiB in each tmpfs + the worker > 128 MiB
            s.call("fill", "/tmp", 64)
            time.sleep(0.3)                        # the next request is checked first
            s.call("fill", "/tmp", 0)
        assert err.value.kind == "memory"


def test_system_v_shared_memory_is_refused():
    with _session() as s:
        assert s.call("sysv_shm") == [-1, 1]     # EPERM from the seccomp filter


# ---------------------------------------------------------------- zygote children: private scratch
SCRATCH = '''
import glob, os
def plant(secret):
    for path in ("/tmp/secret.txt", "/dev/shm/secret.txt", "secret.txt"):
        with open(path, "w") as f:
            f.write(secret)
        os.chmod(path, 0o666)
    try:
        os.chmod("/tmp", 0o777)          # drop the sticky bit if it can
    except OSError:
        pass
    return sorted(glob.glob("/tmp/*") + glob.glob("/dev/shm/*"))
def look():
    found = []
    for pattern in ("/tmp/*", "/tmp/*/*", "/dev/shm/*", "/proc/*/cwd/*", "/proc/*/root/tmp/*"):
        for path in glob.glob(pattern):
            try:
                with open(path) as f:
                    found.append(f.read(100))
            except OSError:
                pass
    return [x for x in found if "TOPSECRET" in x]
'''


@pytest.fixture(scope="module")
def numpy_zygote():
    from autograder.sandbox.zygote import Zygote
    with Zygote(None, SandboxPolicy(scratch_bytes=64 << 20), use_tensorflow=False) as z:
        yield z


def _child(zygote) -> StudentSession:
    s = StudentSession(None, SandboxPolicy(scratch_bytes=64 << 20), zygote=zygote)
    s.start()
    assert not s.load([{"index": 0, "source": HOARDERS + SCRATCH}]).errors
    return s


def test_zygote_children_cannot_read_each_others_tmp(numpy_zygote):
    first = _child(numpy_zygote)
    try:
        assert "/tmp/secret.txt" in first.call("plant", "TOPSECRET-1")
        with _child(numpy_zygote) as concurrent:      # alive at the same time
            assert concurrent.call("look") == []
    finally:
        first.close()
    with _child(numpy_zygote) as later:               # the next student's session
        assert later.call("look") == []


def test_a_child_filling_tmp_does_not_break_the_next(numpy_zygote):
    with _child(numpy_zygote) as filler:
        assert filler.call("fill", "/tmp", 256) <= 64     # its own budget, then ENOSPC
        with _child(numpy_zygote) as other:
            assert other.call("fill", "/tmp", 32) == 32
    with _child(numpy_zygote) as later:
        assert later.call("fill", "/tmp", 32) == 32


def test_zygote_child_keeps_the_seccomp_filter(numpy_zygote):
    with _child(numpy_zygote) as s:
        s.load([{"index": 1, "source": "def unshare():\n    import ctypes\n"
                 "    libc = ctypes.CDLL(None, use_errno=True)\n"
                 "    return [libc.unshare(0x20000), ctypes.get_errno(), os.getuid() != 0]"}])
        assert s.call("unshare") == [-1, 1, True]


@pytest.mark.tensorflow
def test_tensorflow_zygote_children_have_private_tmp():
    pytest.importorskip("tensorflow")
    from autograder.sandbox.zygote import Zygote
    policy = SandboxPolicy(scratch_bytes=64 << 20)
    with Zygote(None, policy, use_tensorflow=True) as z:
        with StudentSession(None, policy, use_tensorflow=True, zygote=z) as first:
            first.load([{"index": 0, "source": SCRATCH + "import tensorflow as tf\n"
                         "def op():\n    return float(tf.reduce_sum(tf.ones((2, 2))))\n"}])
            assert first.call("op") == 4.0
            first.call("plant", "TOPSECRET-TF")
        with StudentSession(None, policy, use_tensorflow=True, zygote=z) as second:
            second.load([{"index": 0, "source": SCRATCH}])
            assert second.call("look") == []
