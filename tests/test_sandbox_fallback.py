"""Fallback sandbox modes (no bubblewrap): they warn once, still run code, and still contain forks."""
from __future__ import annotations

import time

import pytest

from autograder.sandbox import SandboxPolicy, StudentError, StudentSession, launcher, processes, sandbox_mode


def test_fallback_mode_warns(monkeypatch):
    original = sandbox_mode()
    monkeypatch.setenv("DEEPGRADE_SANDBOX", "rlimit")
    launcher._reset_mode_cache()
    try:
        with pytest.warns(RuntimeWarning, match="rlimit"):
            assert sandbox_mode() == "rlimit"
        with StudentSession(None, SandboxPolicy(call_timeout_s=3, max_processes=20)) as s:
            assert s.mode == "rlimit"
            s.load([{"index": 0, "source": "import os\ndef f():\n    return 3\n"
                     "def bomb():\n    while True:\n        try:\n            os.fork()\n"
                     "        except OSError:\n            pass\n"}])
            assert s.call("f") == 3
            sid = s._h.proc.pid
            t0 = time.monotonic()
            with pytest.raises(StudentError):      # as root NPROC is void: the watchdog counts
                s.call("bomb")
            assert time.monotonic() - t0 < 8
            assert processes.session_processes(sid) == []
    finally:
        monkeypatch.delenv("DEEPGRADE_SANDBOX")
        launcher._reset_mode_cache()
    assert sandbox_mode() == original


def test_unshare_mode_has_no_network(monkeypatch):
    import socket
    original = sandbox_mode()
    monkeypatch.setenv("DEEPGRADE_SANDBOX", "unshare")
    launcher._reset_mode_cache()
    try:
        with pytest.warns(RuntimeWarning):
            mode = sandbox_mode()
        if mode != "unshare":
            pytest.skip("unshare --net is not available here")
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        try:
            with StudentSession(None, SandboxPolicy(call_timeout_s=5)) as s:
                s.load([{"index": 0, "source": "import socket\ndef connect(port):\n    s = socket.socket()\n"
                         "    s.settimeout(2)\n    try:\n        s.connect(('127.0.0.1', port))\n"
                         "        return 'connected'\n    except OSError as exc:\n"
                         "        return type(exc).__name__"}])
                assert s.call("connect", port) != "connected"
        finally:
            server.close()
    finally:
        monkeypatch.delenv("DEEPGRADE_SANDBOX")
        launcher._reset_mode_cache()
    assert sandbox_mode() == original
