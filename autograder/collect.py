"""``deepgrade collect``: nbgrader's exchange ``inbound/`` -> the course's ``submitted/``, safely.

What arrives in the inbound folder (``<Exchange.root>/<course_id>/inbound/<student>+<assignment>+<time>[+<random>]``)
was written by students, so this replaces ``nbgrader collect`` with the same layout and stricter rules
(see :mod:`autograder.submission_files` for the file rules):

* per student, the newest submission that passes every rule is collected; a refused one (bad or future
  time, a folder owned by someone else, a folder that is a link, a copy over the size limits) is
  reported with its reason and never blocks other students or the same student's valid submissions;
* inside a submission, links, FIFOs, sockets, device files and hard-linked files are refused one by one
  (the rest is kept) and reported; nbgrader's ``CourseDirectory.ignore``/``include``/``max_file_size``/
  ``max_dir_size`` apply as in ``nbgrader collect``;
* the new copy is written beside the old one and swapped in (``renameat2(RENAME_EXCHANGE)``, else two
  renames, repaired on the next run) only once complete: a failed or killed copy loses nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import datetime as dt
import fnmatch
import logging
import os
import re
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from autograder.submission_files import (CLOCK_SKEW, TIMESTAMP_MAX_BYTES, kind_problem, open_regular,
                                         owner_problem, parse_timestamp, read_small, system_uid)

log = logging.getLogger("deepgrade.collect")

DEFAULT_EXCHANGE = "/usr/local/share/nbgrader/exchange"   # nbgrader's Exchange.root default
MAX_ENTRIES = 10_000             # files + folders in one submission
MAX_DEPTH = 32                   # folder nesting in one submission
STUDENT_ID = re.compile(r"[^\x00-\x1f\x7f/\\]{1,128}")    # one safe path component (no leading dot: below)


class CollectError(RuntimeError):
    """The exchange cannot be read at all (no course id, no inbound folder)."""


@dataclass(frozen=True)
class Refusal:
    student: str
    what: str          # the inbound folder or a file inside it
    reason: str

    def line(self) -> str:
        return f"{self.student}: {self.what} {self.reason}"


@dataclass
class CollectReport:
    assignment: str
    collected: list[str] = field(default_factory=list)     # students with a new submitted/ copy
    updated: list[str] = field(default_factory=list)       # ... of which replaced an older copy
    unchanged: list[str] = field(default_factory=list)     # newest valid submission already collected
    refused: list[Refusal] = field(default_factory=list)   # whole submissions refused
    skipped_files: list[Refusal] = field(default_factory=list)  # files refused inside collected ones


@dataclass
class _Record:
    student: str
    name: str                          # inbound folder name
    when: dt.datetime | None
    problem: str | None


@dataclass(frozen=True)
class CollectRules:
    """The nbgrader settings collect honours (CourseDirectory.* and CollectApp.check_owner)."""
    ignore: tuple[str, ...] = (".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback")
    include: tuple[str, ...] = ("*",)
    max_file_bytes: int = 100_000 * 1000
    max_dir_bytes: int = 100_000 * 1000
    check_owner: bool = True
    skew: dt.timedelta = CLOCK_SKEW


# ---------------------------------------------------------------------------------------------- config


def _course_config(course_dir: Path):
    path = course_dir / "nbgrader_config.py"
    if not path.is_file():
        return Config()
    return PyFileConfigLoader(path.name, path=str(course_dir)).load_config()


def _settings(course_dir: Path, exchange_root: str | None):
    """(inbound folder, submitted folder, CollectRules) from the course's nbgrader config."""
    cfg = _course_config(course_dir)
    cd = CourseDirectory(config=cfg)
    if not cd.course_id:
        raise CollectError("no course id: set c.CourseDirectory.course_id in nbgrader_config.py "
                           "(the exchange keeps each course under <Exchange.root>/<course_id>/)")
    root = exchange_root or (cfg.Exchange.root if "root" in cfg.Exchange else DEFAULT_EXCHANGE)
    inbound = Path(root) / cd.course_id / "inbound"
    if not inbound.is_dir():
        raise CollectError(f"no inbound folder for course {cd.course_id!r}: {inbound} does not exist")
    check_owner = cfg.CollectApp.check_owner if "check_owner" in cfg.CollectApp else True
    rules = CollectRules(ignore=tuple(cd.ignore), include=tuple(cd.include),
                         max_file_bytes=1000 * cd.max_file_size, max_dir_bytes=1000 * cd.max_dir_size,
                         check_owner=bool(check_owner))
    return inbound, course_dir / cd.submitted_directory, rules


# ---------------------------------------------------------------------------------------------- inbound


def _parse_name(name: str, assignment: str, now: dt.datetime, skew: dt.timedelta) -> _Record | None:
    """``<student>+<assignment>+<time>[+<random>]`` -> a record (None: another assignment)."""
    m = re.fullmatch(rf"(?P<student>.+)\+{re.escape(assignment)}\+(?P<time>[^+]+)(?:\+[^+]*)?", name, re.S)
    if m is None:
        return None
    student = m["student"]
    if not STUDENT_ID.fullmatch(student) or student.startswith("."):
        return _Record(student, name, None, "has a student id that is not a safe folder name")
    when, problem = parse_timestamp(m["time"], now=now, skew=skew)
    return _Record(student, name, when, None if problem is None else f"has a submission time that {problem}")


def _scan_inbound(inbound: Path, assignment: str, now: dt.datetime, skew: dt.timedelta) -> dict[str, list[_Record]]:
    by_student: dict[str, list[_Record]] = {}
    with os.scandir(inbound) as it:
        names = sorted(e.name for e in it)
    for name in names:
        rec = _parse_name(name, assignment, now, skew)
        if rec is not None:
            by_student.setdefault(rec.student, []).append(rec)
    for recs in by_student.values():     # newest first; unreadable times last
        recs.sort(key=lambda r: (r.when is not None, r.when or dt.datetime.min), reverse=True)
    return by_student


def _open_submission(inbound_fd: int, rec: _Record, rules: CollectRules, others: set[str],
                     now: dt.datetime) -> tuple[int, str]:
    """Open an inbound folder (never through a link) and read its timestamp; ``ValueError(reason)``
    if the submission must be refused. Returns (folder fd, timestamp text)."""
    st = os.stat(rec.name, dir_fd=inbound_fd, follow_symlinks=False)
    problem = kind_problem(st, allow_dir=True)
    if problem is None and not stat.S_ISDIR(st.st_mode):
        problem = "is not a folder"
    if problem:
        raise ValueError(problem)
    fd = os.open(rec.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=inbound_fd)
    try:
        st = os.fstat(fd)
        if rules.check_owner:
            problem = owner_problem(rec.student, st.st_uid, others)
            if problem:
                raise ValueError(problem)
        try:
            text = read_small("timestamp.txt", TIMESTAMP_MAX_BYTES, dir_fd=fd).decode("utf-8", "replace")
        except FileNotFoundError:
            text = rec.when.strftime("%Y-%m-%d %H:%M:%S.%f UTC")
        except OSError as exc:
            raise ValueError(f"has a timestamp.txt that cannot be used: {exc}") from None
        _, problem = parse_timestamp(text, now=now, skew=rules.skew)
        if problem:
            raise ValueError(f"has a timestamp.txt that {problem}")
        return fd, text.strip()
    except BaseException:
        os.close(fd)
        raise


def _existing_time(dest: Path, now: dt.datetime, skew: dt.timedelta) -> dt.datetime | None:
    """Time of the copy already in submitted/ (None if absent, unreadable or in the future: then any
    valid submission replaces it, so a bad copy never blocks later work)."""
    try:
        text = read_small(str(dest / "timestamp.txt"), TIMESTAMP_MAX_BYTES).decode("utf-8", "replace")
    except OSError:
        return None
    when, problem = parse_timestamp(text, now=now, skew=skew)
    if problem:
        log.warning("%s/timestamp.txt %s: any valid submission replaces it", dest, problem)
    return when


# ---------------------------------------------------------------------------------------------- copy


class _TooLarge(ValueError):
    pass


@dataclass
class _Copy:
    rules: CollectRules
    expected_uid: int | None
    skipped: list[tuple[str, str]] = field(default_factory=list)   # (relative path, reason)
    entries: int = 0
    total: int = 0

    def folder(self, src_fd: int, dest: Path, rel: str, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise _TooLarge(f"nests folders deeper than {MAX_DEPTH}")
        os.mkdir(dest, 0o755)
        with os.scandir(src_fd) as it:
            names = sorted(e.name for e in it)
        for name in names:
            self.entries += 1
            if self.entries > MAX_ENTRIES:
                raise _TooLarge(f"holds more than {MAX_ENTRIES} files and folders")
            if any(fnmatch.fnmatch(name, g) for g in self.rules.ignore):
                continue
            path = f"{rel}{name}"
            st = os.stat(name, dir_fd=src_fd, follow_symlinks=False)
            problem = kind_problem(st, allow_dir=True)
            if problem is None and self.expected_uid is not None and st.st_uid != self.expected_uid:
                problem = f"is owned by uid {st.st_uid}, not by the student"
            if problem:
                self.skipped.append((path, problem))
                continue
            if stat.S_ISDIR(st.st_mode):
                fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src_fd)
                try:
                    self.folder(fd, dest / name, f"{path}/", depth + 1)
                finally:
                    os.close(fd)
            elif any(fnmatch.fnmatch(name, g) for g in self.rules.include):
                self.file(src_fd, name, dest / name, path)

    def file(self, src_fd: int, name: str, dest: Path, path: str) -> None:
        try:
            fd, st = open_regular(name, dir_fd=src_fd)
        except OSError as exc:                       # swapped for a link/FIFO since the check, or gone
            self.skipped.append((path, f"cannot be copied safely ({exc.strerror or exc})"))
            return
        try:
            if st.st_size > self.rules.max_file_bytes:
                self.skipped.append((path, f"is larger than the course's max_file_size "
                                           f"({self.rules.max_file_bytes} bytes)"))
                return
            out = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
            try:
                copied = 0
                while chunk := os.read(fd, 1 << 20):
                    copied += len(chunk)
                    self.total += len(chunk)
                    if copied > self.rules.max_file_bytes or self.total > self.rules.max_dir_bytes:
                        raise _TooLarge(f"is larger than the course's max_dir_size ({self.rules.max_dir_bytes} "
                                        "bytes) or grew while being copied")
                    os.write(out, chunk)
            finally:
                os.close(out)
        finally:
            os.close(fd)


# ---------------------------------------------------------------------------------------------- swap

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    fn = getattr(_libc, "renameat2", None)
    if fn is None:
        return False
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (22, 38, 95):   # EINVAL, ENOSYS, EOPNOTSUPP: file system or kernel without exchange
        return False
    raise OSError(err, os.strerror(err), str(a))


def _staging(dest: Path, tag: str) -> Path:
    return dest.with_name(f".{dest.name}.collect-{tag}")


def repair(dest: Path) -> None:
    """Undo what a killed collect left beside ``dest``: a partial new copy is removed; an old copy set
    aside before the swap comes back if ``dest`` is missing."""
    for leftover in sorted(dest.parent.glob(f".{dest.name}.collect-*")):
        if leftover.name.endswith("-old") and not os.path.lexists(dest):
            os.rename(leftover, dest)
            log.warning("restored %s from an interrupted collect", dest)
        else:
            shutil.rmtree(leftover, ignore_errors=True)


def swap_in(new: Path, dest: Path) -> None:
    """Make the complete copy ``new`` the submission at ``dest``; the old one is removed afterwards."""
    if not os.path.lexists(dest):
        os.rename(new, dest)
        return
    if _exchange(new, dest):
        shutil.rmtree(new)                  # now holds the previous submission
        return
    old = _staging(dest, f"{os.getpid()}-old")
    os.rename(dest, old)
    os.rename(new, dest)
    shutil.rmtree(old)


def copy_submission(src_fd: int, dest: Path, rules: CollectRules, expected_uid: int | None,
                    timestamp: str) -> list[tuple[str, str]]:
    """Copy the open inbound folder ``src_fd`` to ``dest`` (staged, then swapped in); returns the
    refused files. ``ValueError(reason)`` if the whole submission is refused (too large); any error
    leaves ``dest`` as it was."""
    new = _staging(dest, f"{os.getpid()}-new")
    shutil.rmtree(new, ignore_errors=True)
    job = _Copy(rules, expected_uid)
    try:
        job.folder(src_fd, new, "", 0)
        stamp = new / "timestamp.txt"
        stamp.unlink(missing_ok=True)
        stamp.write_text(timestamp + "\n")      # the time this collect validated
        swap_in(new, dest)
    except _TooLarge as exc:
        shutil.rmtree(new, ignore_errors=True)
        raise ValueError(str(exc)) from None
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
    return job.skipped


# ---------------------------------------------------------------------------------------------- main


def collect_assignment(course_dir: str | Path, assignment: str, *, exchange_root: str | None = None,
                       now: dt.datetime | None = None) -> CollectReport:
    """Collect every student's newest valid submission of ``assignment`` into ``submitted/``."""
    course_dir = Path(course_dir).resolve()
    inbound, submitted, rules = _settings(course_dir, exchange_root)
    now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    report = CollectReport(assignment)
    by_student = _scan_inbound(inbound, assignment, now, rules.skew)
    others = set(by_student) | ({p.name for p in submitted.iterdir()} if submitted.is_dir() else set())
    inbound_fd = os.open(inbound, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for student, records in sorted(by_student.items()):
            _collect_student(student, records, inbound_fd, submitted, rules, others, now, report)
    finally:
        os.close(inbound_fd)
    for student in report.collected:
        log.info("collect %s: collected %r%s", assignment, student, " (updated)" if student in report.updated else "")
    for r in report.refused:             # %r: names come from students (no forged log lines)
        log.warning("collect %s: REFUSED submission %r", assignment, r.line())
    for r in report.skipped_files:
        log.warning("collect %s: REFUSED file %r", assignment, r.line())
    return report


def log_to_file(path: Path) -> logging.Handler:
    """Append this module's log (every collected and refused submission) to ``path``; returns the
    handler (remove it with ``log.removeHandler``)."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    return handler


def _collect_student(student, records, inbound_fd, submitted: Path, rules, others, now, report) -> None:
    student_dir = submitted / student
    if os.path.islink(student_dir) or (os.path.lexists(student_dir) and not student_dir.is_dir()):
        report.refused.append(Refusal(student, f"submitted/{student}", "is not a plain folder; nothing written"))
        return
    dest = student_dir / report.assignment
    if student_dir.is_dir():
        repair(dest)
        if os.path.lexists(dest) and (os.path.islink(dest) or not dest.is_dir()):
            log.warning("%s is not a plain folder (placed by hand?): removed, the link's target untouched", dest)
            os.unlink(dest)
    had_copy = dest.is_dir()
    existing = _existing_time(dest, now, rules.skew) if had_copy else None
    for rec in records:                     # unreadable or future times: always reported
        if rec.problem:
            report.refused.append(Refusal(student, rec.name, rec.problem))
    for rec in (r for r in records if r.problem is None):       # newest first
        if existing is not None and rec.when <= existing:
            report.unchanged.append(student)
            return
        try:
            fd, stamp = _open_submission(inbound_fd, rec, rules, others - {student}, now)
        except ValueError as exc:
            report.refused.append(Refusal(student, rec.name, str(exc)))
            continue
        except OSError as exc:
            report.refused.append(Refusal(student, rec.name, f"cannot be read ({exc.strerror or exc})"))
            continue
        try:
            student_dir.mkdir(parents=True, exist_ok=True)
            expected_uid = system_uid(student) if rules.check_owner else None
            skipped = copy_submission(fd, dest, rules, expected_uid, stamp)
        except ValueError as exc:
            report.refused.append(Refusal(student, rec.name, str(exc)))
            continue
        except OSError as exc:               # e.g. disk full: the previous copy is untouched
            report.refused.append(Refusal(student, rec.name, f"could not be copied ({exc}); the previous "
                                                             "copy in submitted/ is kept"))
            return
        finally:
            os.close(fd)
        report.collected.append(student)
        if had_copy:
            report.updated.append(student)
        report.skipped_files += [Refusal(student, f"{rec.name}/{path}", why) for path, why in skipped]
        return
