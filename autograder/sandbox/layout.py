"""Where things are inside a bubblewrap sandbox, and the command line that builds it.

Shared by :mod:`.launcher` (one sandbox per session) and :mod:`.zygote` (one sandbox that forks a
child per session): the interpreter and allow-listed site-packages views it mounts, the worker's
folder, the scratch tmpfs, the environment, which assignment files a student may see, and the range
of fresh unprivileged uids sandboxes run as.
"""
from __future__ import annotations

import functools
import os
import random
import sys
import sysconfig
from pathlib import Path
from typing import Iterable

from . import packages as _packages
from .policy import SandboxPolicy

HERE = Path(__file__).resolve().parent
WORKER_DIR_IN = "/opt/deepgrade"
SITE_IN = "/opt/site"       # allow-listed views of site-packages outside mounted trees
WORK_IN = "/tmp/work"
COURSE_IN = "/course"
UID_BASE = 1_900_000_000        # sandbox uids: UID_BASE + random, never a real account
HIDDEN_SUFFIXES = (".ipynb",)   # never expose notebooks (the source notebook holds solutions)


def new_uid() -> int:
    """A fresh sandbox uid (never a real account)."""
    return UID_BASE + random.SystemRandom().randrange(1, 100_000_000)


def python_install() -> tuple[Path, Path, Path]:
    """(real interpreter binary, its install prefix, the venv's site-packages)."""
    exe = Path(os.path.realpath(sys.executable))
    base = Path(sys.base_prefix).resolve()
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    return exe, base, site


def privileged() -> bool:
    """True when grading as root: bwrap then runs privileged and each sandbox gets a fresh uid.

    Otherwise bwrap runs in a new user namespace (``--unshare-user``): the separation between
    sandboxes comes from their private user, pid, mount and IPC namespaces instead of a uid.
    """
    return os.geteuid() == 0


def parents(path: str) -> list[str]:
    parts = Path(path).parts[1:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def mounted_trees(base: Path) -> list[Path]:
    """Host trees the sandbox binds whole (anything inside them is visible unless hidden)."""
    trees = [Path("/usr")] + [Path(t) for t in ("/bin", "/sbin", "/lib", "/lib32", "/lib64",
                                                "/libx32") if os.path.isdir(t)]
    return [t.resolve() for t in trees] + [base]


@functools.lru_cache(maxsize=None)
def site_plan() -> tuple[tuple[str, ...], list[str]]:
    """bwrap arguments that mount the allow-listed view of each site-packages, and its sys.path.

    Every non-stdlib folder of the trusted ``sys.path`` that lies inside a tree the sandbox mounts
    whole (the Python install, /usr) is covered: by the hard-link view of its allow-listed entries
    (:func:`.packages.linked_view`) or an empty read-only tmpfs with the entries bound one by one.
    Folders outside those trees are not mounted; their allow-listed entries appear under
    /opt/site/N. Nothing else of any site-packages is seen.
    """
    _exe, base, _site = python_install()
    trees = mounted_trees(base)
    args: list[str] = []
    sys_path: list[str] = []
    for i, view in enumerate(_packages.site_views()):
        host = Path(view.host_dir)
        if any(host == t or host.is_relative_to(t) for t in trees):
            dest = str(host)
        elif view.entries:
            dest = f"{SITE_IN}/{i}"
        else:
            continue
        linked = _packages.linked_view(view)
        if linked:       # one mount: a host folder of hard links to exactly the allowed entries
            args += ["--ro-bind", linked, dest]
        else:
            args += ["--perms", "0755", "--tmpfs", dest]
            for entry in view.entries:
                args += ["--ro-bind", f"{host}/{entry}", f"{dest}/{entry}"]
            args += ["--remount-ro", dest]
        if view.entries:
            sys_path.append(dest)
    return tuple(args), sys_path


def bwrap_prefix(cwd_in: str | None, policy: SandboxPolicy,
                 workdir_binds: Iterable[tuple[str, str]], extra_caps: tuple[str, ...] = (),
                 extra_dirs: tuple[str, ...] = ()) -> list[str]:
    """The bwrap arguments up to (not including) the command to run.

    ``workdir_binds``: (host path, sandbox path) read-only binds; ``extra_caps``: capabilities kept
    besides SETUID/SETGID (root only); ``extra_dirs``: empty root-owned folders (mount points).
    """
    exe, base, site = python_install()
    args = ["bwrap"] + ([] if privileged() else ["--unshare-user"]) + [
        "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
        "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    if privileged():    # the worker switches to a fresh uid once, before any student code
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    for cap in extra_caps:
        args += ["--cap-add", cap]
    args += ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    args += ["--perms", "0755", "--dir", "/etc"]
    for etc in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/localtime", "/etc/nsswitch.conf"):
        if os.path.exists(etc):
            args += ["--ro-bind", etc, etc]
    made: set[str] = set()

    def mkdirs(dest: str) -> None:
        for parent in parents(dest):
            if parent not in made and parent not in ("/usr",) and not parent.startswith("/usr/"):
                args.extend(["--perms", "0755", "--dir", parent])
                made.add(parent)

    if not str(base).startswith("/usr/"):
        mkdirs(str(base) + "/x")
        args += ["--ro-bind", str(base), str(base)]
    site_args, _ = site_plan()
    for dest in site_plan()[1]:            # parents of the /opt/site/N views, mode 0755
        if dest.startswith(SITE_IN + "/"):
            mkdirs(dest)
    args += site_args
    mkdirs(WORKER_DIR_IN + "/x")
    for name in ("worker.py", "wire.py"):
        args += ["--ro-bind", str(HERE / name), f"{WORKER_DIR_IN}/{name}"]
    # /dev/shm and /tmp: private size-capped tmpfs (their pages also count in the watchdog's sum)
    args += ["--proc", "/proc", "--dev", "/dev",
             "--size", str(int(policy.scratch_bytes)), "--perms", "01777", "--tmpfs", "/dev/shm",
             "--size", str(int(policy.scratch_bytes)), "--perms", "01777", "--tmpfs", "/tmp",
             "--perms", "01777", "--dir", WORK_IN]
    for src, dest in workdir_binds:
        if not dest.startswith(WORK_IN + "/"):
            mkdirs(dest)
        args += ["--ro-bind", src, dest]
    for folder in extra_dirs:
        mkdirs(folder)
        args += ["--perms", "0755", "--dir", folder]
    # nothing else is writable (without this, an unprivileged sandbox owns / and /dev: unbounded)
    args += ["--remount-ro", "/dev", "--remount-ro", "/", "--clearenv"]
    if cwd_in:
        args += ["--chdir", cwd_in]
    return args


def sandbox_env(home: str) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": "/tmp" if home.startswith("/tmp") else home,
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": home + "/.mpl",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "TF_NUM_INTEROP_THREADS": "1",
        "TF_NUM_INTRAOP_THREADS": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONHASHSEED": "0",
    }


def student_files(assignment_dir: Path) -> list[Path]:
    """Top-level entries of the assignment folder a student may see (no notebooks/hidden files)."""
    if not assignment_dir.is_dir():
        raise FileNotFoundError(f"assignment folder {assignment_dir} does not exist")
    out = []
    for entry in sorted(assignment_dir.iterdir()):
        if entry.name.startswith(".") or entry.name == "__pycache__" \
                or entry.name.endswith(HIDDEN_SUFFIXES):
            continue
        out.append(entry)
    return out


def world_readable(path: Path) -> bool:
    """True if every ancestor of ``path`` is world-searchable and ``path`` is world-readable."""
    path = Path(path).resolve()
    for parent in list(path.parents)[::-1]:
        try:
            if not os.stat(parent).st_mode & 0o001:
                return False
        except OSError:
            return False
    try:
        return bool(os.stat(path).st_mode & 0o004)
    except OSError:
        return False

