"""``python -m autograder.sandbox [--tensorflow] [--n N]``: report the sandbox mode and measured overheads.

Prints one JSON object: the mode, and median milliseconds for a session start, a no-op round trip,
a call with a small array, a session close and (bwrap only) a session forked from a zygote. Use it
to check a grading machine before a run.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from . import SandboxPolicy, StudentSession, sandbox_mode
from .layout import privileged
from .zygote import Zygote


def _ms(samples: list[float]) -> float:
    return round(1000 * statistics.median(samples), 3)


def measure(n: int = 5, use_tensorflow: bool = False) -> dict:
    """Median overheads over ``n`` sessions (and 100 calls) in the current sandbox mode."""
    policy = SandboxPolicy()
    out: dict = {"mode": sandbox_mode(), "tensorflow": use_tensorflow}
    starts, closes = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        s = StudentSession(None, policy, use_tensorflow=use_tensorflow, zygote=False)
        s.start()
        starts.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        s.close()
        closes.append(time.perf_counter() - t0)
    out["session_start_ms"] = _ms(starts)
    out["session_close_ms"] = _ms(closes)
    with StudentSession(None, policy, use_tensorflow=use_tensorflow, zygote=False) as s:
        s.load([{"index": 0, "source": "def echo(x):\n    return x"}])
        out["ping_ms"] = _ms([s.ping() for _ in range(100)])
        arr = np.random.rand(10, 10)
        calls = []
        for _ in range(100):
            t0 = time.perf_counter()
            s.call("echo", arr)
            calls.append(time.perf_counter() - t0)
        out["call_10x10_ms"] = _ms(calls)
    if out["mode"] == "bwrap" and privileged():      # zygotes need a root grader
        with Zygote(None, policy, use_tensorflow=use_tensorflow) as z:
            out["zygote_start_ms"] = round(1000 * z.start_s, 1)
            forks = []
            for _ in range(n):
                t0 = time.perf_counter()
                with StudentSession(None, policy, use_tensorflow=use_tensorflow, zygote=z):
                    forks.append(time.perf_counter() - t0)
            out["zygote_session_start_ms"] = _ms(forks)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.sandbox", description=__doc__)
    parser.add_argument("--tensorflow", action="store_true", help="measure TensorFlow sessions")
    parser.add_argument("--n", type=int, default=5, help="sessions to start per measurement")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.n, args.tensorflow), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
