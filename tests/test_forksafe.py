"""A forked grading worker must not inherit what can hang it (autograder.forksafe)."""
from __future__ import annotations

import json
import subprocess
import sys

# A parent thread is inside a write to stderr (the pipe is full, so it holds the stream's buffer lock)
# when another thread forks, as Dask's nanny logs while it forks a new worker. The child then logs.
HELD_STREAM = r"""
import logging, os, sys, threading, time
if sys.argv[1] == "ours":
    import autograder.forksafe  # noqa: F401
r, w = os.pipe()
stream = open(w, "w", buffering=1 << 16)
sys.stderr = stream
logging.getLogger().addHandler(logging.StreamHandler(stream))
threading.Thread(target=lambda: (stream.write("x" * 300_000), stream.flush()), daemon=True).start()
time.sleep(0.3)                      # the writer now waits on the full pipe, holding the lock
pid = os.fork()
if pid == 0:
    logging.getLogger().error("the child logs")
    print("and prints", file=sys.stderr, flush=True)
    os._exit(0)
threading.Thread(target=lambda: [os.read(r, 1 << 16) for _ in iter(int, 1)], daemon=True).start()
deadline = time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    time.sleep(0.05)
else:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    status = None
print(json.dumps({"exit": None if status is None else os.waitstatus_to_exitcode(status)}), file=sys.__stdout__)
"""


def _child_exit(mode: str, wait_s: float):
    code = "import json\n" + HELD_STREAM
    out = subprocess.run([sys.executable, "-c", code, mode, str(wait_s)], capture_output=True, text=True, timeout=60)
    return json.loads(out.stdout.strip().splitlines()[-1])["exit"]


def test_a_child_forked_while_a_thread_writes_to_stderr_can_still_log():
    """Dask's local cluster forks a replacement worker while its nanny logs (found hung in a CI dry run:
    the new worker waited forever on stderr's buffer lock). The control shows the hang is real."""
    assert _child_exit("plain", 3) is None          # without forksafe: the child never finishes
    assert _child_exit("ours", 20) == 0
