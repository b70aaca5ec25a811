"""Which installed Python packages a sandbox sees: an allow-list, never the whole site-packages.

However deepgrade was installed (editable, ``pip install .``, a wheel, a venv anywhere, the system
Python), its trusted packages (``reference``, ``autograder`` with the hidden checks, ``quizzes``
with the answer banks) may sit in the same site-packages folder as numpy. The sandbox therefore
never mounts a site-packages folder as is. It mounts an empty read-only tmpfs in its place and
binds into it only the top-level entries (packages, modules, ``*.libs`` folders, ``*.dist-info``)
that belong to the distributions student code needs -- :data:`STUDENT_DISTRIBUTIONS` and their
run-time requirements, found from the installed metadata. deepgrade's own distribution is never
among them (:func:`site_views` raises if a requirement pulls it in), and no entry named like one of
:data:`TRUSTED_PACKAGES` is ever bound. The launcher also proves it once per process by importing
inside the sandbox (see ``launcher._bwrap_available``).
"""
from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import shutil
import sys
import sysconfig
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

__all__ = ["STUDENT_DISTRIBUTIONS", "TRUSTED_PACKAGES", "SiteView", "site_views",
           "allowed_distributions", "python_path_dirs", "linked_view"]

log = logging.getLogger(__name__)

# What notebooks of this course may import (their requirements come along).
STUDENT_DISTRIBUTIONS = ("numpy", "scipy", "matplotlib", "h5py", "scikit-learn", "tensorflow",
                         "tensorflow-cpu", "keras", "ipython")
TRUSTED_DISTRIBUTION = "deepgrade"
TRUSTED_PACKAGES = ("reference", "autograder", "quizzes")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class SiteView:
    """One site-packages folder of the trusted interpreter, as the sandbox sees it.

    ``host_dir`` is the folder; ``entries`` the top-level names bound into the sandbox's view of it
    (may be empty: the folder is then hidden behind an empty tmpfs if it is otherwise visible).
    """

    host_dir: str
    entries: tuple[str, ...]


def _installed_dist(name: str) -> metadata.Distribution | None:
    """The first distribution called ``name`` on ``sys.path`` (as Python picks), or None.

    Looked up by name: reading every installed distribution's metadata instead cost 0.6-0.8 s of each
    grading command's start-up with ~400 distributions installed (cProfile, 2026-12-07)."""
    try:
        return metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return None


def _requirements(dist: metadata.Distribution) -> list[str]:
    """Names of the run-time requirements of ``dist`` that apply here (no extras)."""
    names = []
    for text in dist.requires or []:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue
        try:
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
        except Exception:  # noqa: BLE001 - an unknown marker: keep the requirement
            pass
        names.append(_norm(req.name))
    return names


def allowed_distributions(roots: tuple[str, ...] = STUDENT_DISTRIBUTIONS
                          ) -> dict[str, metadata.Distribution]:
    """The installed distributions among ``roots`` plus everything they require, transitively."""
    todo = [_norm(r) for r in roots]
    seen: dict[str, metadata.Distribution] = {}
    absent: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or name in absent:
            continue
        dist = _installed_dist(name)
        if dist is None:
            absent.add(name)
            continue
        if name == TRUSTED_DISTRIBUTION:
            raise RuntimeError(f"a student package requires {TRUSTED_DISTRIBUTION!r}; refusing to "
                               "mount it into the sandbox")
        seen[name] = dist
        todo.extend(_requirements(dist))
    return seen


def _top_level(dist: metadata.Distribution) -> tuple[Path, set[str]]:
    """(site folder of ``dist``, the top-level names it installed there)."""
    site = Path(str(dist.locate_file(""))).resolve()
    names: set[str] = set()
    for line in (dist.read_text("RECORD") or "").splitlines():   # faster than dist.files
        first = line.split(",", 1)[0].split("/", 1)[0]
        if first and first not in ("..", "") and not first.startswith("__pycache__") \
                and not first.endswith(".pth"):
            names.add(first)
    if not names:    # no RECORD: fall back to top_level.txt and the metadata folder itself
        names.update(n.strip() for n in (dist.read_text("top_level.txt") or "").split() if n.strip())
        meta_dir = getattr(dist, "_path", None)
        if meta_dir is not None:
            names.add(Path(str(meta_dir)).name)
    present = set()
    for n in names:
        for cand in (n, n + ".py"):
            if (site / cand).exists() and not (site / cand).is_symlink():
                present.add(cand)
    return site, present


def _stdlib_dirs() -> set[Path]:
    paths = sysconfig.get_paths()
    out = {Path(paths[k]).resolve() for k in ("stdlib", "platstdlib") if k in paths}
    return out | {d / "lib-dynload" for d in out}


def python_path_dirs() -> list[Path]:
    """Folders on the trusted interpreter's ``sys.path`` other than the standard library."""
    stdlib = _stdlib_dirs()
    out: list[Path] = []
    for entry in sys.path:
        if not entry or not os.path.isdir(entry):
            continue
        p = Path(entry).resolve()
        if p not in stdlib and p not in out:
            out.append(p)
    extras = [sysconfig.get_paths().get("purelib"), sysconfig.get_paths().get("platlib")]
    # every package folder of the base install and of the system Pythons, even if not on sys.path:
    # the sandbox mounts those trees whole, so a wheel installed there must be hidden too
    for root in {Path(sys.base_prefix).resolve(), Path("/usr"), Path("/usr/local")}:
        for pattern in ("lib/python3*/site-packages", "lib/python3*/dist-packages",
                        "lib64/python3*/site-packages", "lib/python3/dist-packages"):
            extras.extend(str(p) for p in root.glob(pattern))
    for extra in extras:
        if extra and os.path.isdir(extra) and Path(extra).resolve() not in out:
            out.append(Path(extra).resolve())
    return out


@functools.lru_cache(maxsize=None)
def site_views(roots: tuple[str, ...] = STUDENT_DISTRIBUTIONS) -> tuple[SiteView, ...]:
    """Every non-stdlib folder of ``sys.path`` with the allow-listed entries it contributes.

    Ordered as on ``sys.path``. Folders that contribute nothing are listed with no entries (the
    launcher hides them if they lie inside a mounted tree, e.g. the system Python's dist-packages).
    """
    by_site: dict[Path, set[str]] = {}
    for dist in allowed_distributions(roots).values():
        site, names = _top_level(dist)
        by_site.setdefault(site, set()).update(names)
    trusted = set(TRUSTED_PACKAGES) | {p + ".py" for p in TRUSTED_PACKAGES}
    views = []
    for d in python_path_dirs():
        names = by_site.pop(d, set())
        leaked = names & trusted
        if leaked:
            log.warning("not mounting %s from %s: trusted names", sorted(leaked), d)
        views.append(SiteView(str(d), tuple(sorted(names - trusted))))
    for d, names in by_site.items():      # found via a path not on sys.path (unusual): still allow
        views.append(SiteView(str(d), tuple(sorted(names - trusted))))
    return tuple(views)


def _link_tree(src: str, dst: str) -> None:
    """Recreate ``src`` at ``dst`` with hard links for files and copies of symlinks."""
    if os.path.islink(src):
        os.symlink(os.readlink(src), dst)
        return
    if not os.path.isdir(src):
        os.link(src, dst)
        return
    os.mkdir(dst, 0o755)
    for root, dirs, files in os.walk(src):
        out = os.path.join(dst, os.path.relpath(root, src))
        for name in list(dirs):
            if os.path.islink(os.path.join(root, name)):
                dirs.remove(name)
                files.append(name)
            else:
                os.mkdir(os.path.join(out, name), 0o755)
        for name in files:
            path = os.path.join(root, name)
            if os.path.islink(path):
                os.symlink(os.readlink(path), os.path.join(out, name))
            else:
                os.link(path, os.path.join(out, name))


@functools.lru_cache(maxsize=None)
def linked_view(view: SiteView) -> str | None:
    """A folder beside ``view.host_dir`` holding exactly its allowed entries, as hard links.

    Mounting it costs one bind mount instead of one per entry (~2 ms each). Built once per machine
    (the name hashes the entries and their modification times, so an upgrade builds a new one; older
    views are removed) in a temporary folder renamed into place. None if it cannot be built (not
    writable, another file system, protected hard links): the caller then binds entry by entry.
    """
    if not view.entries:
        return None
    host = Path(view.host_dir)
    try:
        stamp = [(e, os.lstat(host / e).st_mtime_ns) for e in view.entries]
    except OSError:
        return None
    key = hashlib.sha256(repr((str(host), stamp)).encode()).hexdigest()[:16]
    prefix = ".deepgrade-sandbox-view-"
    final = host.parent / f"{prefix}{host.name}-{key}"
    if final.is_dir():
        return str(final)
    tmp = host.parent / f"{prefix}tmp-{os.getpid()}-{key}"
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        os.mkdir(tmp, 0o755)
        for entry in view.entries:
            _link_tree(str(host / entry), str(tmp / entry))
        os.chmod(tmp, 0o755)
        os.rename(tmp, final)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if final.is_dir():          # another process built it first
            return str(final)
        log.info("no linked site-packages view beside %s (%s); binding entry by entry", host, exc)
        return None
    for old in host.parent.glob(f"{prefix}{host.name}-*"):
        if old != final:
            shutil.rmtree(old, ignore_errors=True)
    return str(final)
