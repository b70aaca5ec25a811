"""Which files of a student's submission the grader may touch: the rules shared by ``deepgrade collect``
(nbgrader's exchange ``inbound/`` -> ``submitted/``) and ``deepgrade grade`` (``submitted/``).

Everything in a submission folder was written by a student (or by a tool on their behalf), so:

* only regular files and folders are ever opened; a symbolic link, FIFO, socket or device file is
  refused (never followed, never read), and so is a regular file with several hard links (it may be
  another name of a file the student could not otherwise copy);
* a file is opened with ``O_NOFOLLOW | O_NONBLOCK`` and checked again with ``fstat`` on the open
  descriptor, so swapping a file for a link or a FIFO after the check gains nothing;
* a ``timestamp.txt`` must hold a date nbgrader can read, and not one in the future beyond
  :data:`CLOCK_SKEW`;
* ownership: when a student id is also a system user, the folder must belong to that user's uid
  (nbgrader's own ``check_owner`` compares the owner's name with the student id). When it is not a
  system user (JupyterHub without system accounts, a shared exchange written by one service uid),
  the owner cannot name the student; the folder is then refused only if its owner is a system user
  who is a *different* student of the course.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import stat
from pathlib import Path

try:
    import pwd
except ImportError:  # pragma: no cover - not on Linux
    pwd = None  # type: ignore[assignment]

from nbgrader.utils import parse_utc as _nbgrader_parse_utc

CLOCK_SKEW = dt.timedelta(minutes=10)   # how far in the future a submission time may be
TIMESTAMP_MAX_BYTES = 256               # a timestamp.txt larger than this is not a timestamp


def kind_problem(st: os.stat_result, *, allow_dir: bool = False) -> str | None:
    """Why a file with this ``lstat`` result may not be copied or read (None if it may)."""
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        return "is a symbolic link (never followed)"
    if stat.S_ISDIR(mode):
        return None if allow_dir else "is a folder"
    if stat.S_ISFIFO(mode):
        return "is a FIFO (named pipe), not a file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device file, not a file"
    if not stat.S_ISREG(mode):
        return "is not a regular file"
    if st.st_nlink > 1:
        return f"has {st.st_nlink} hard links (another name of a file elsewhere)"
    return None


def open_regular(name: str, *, dir_fd: int | None = None) -> tuple[int, os.stat_result]:
    """Open ``name`` for reading without following a link or blocking on a FIFO; raise ``OSError``
    with the reason unless it is a regular file with one link. Returns (fd, fstat)."""
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    st = os.fstat(fd)
    problem = kind_problem(st)
    if problem:
        os.close(fd)
        raise OSError(f"{name} {problem}")
    return fd, st


def read_small(name: str, limit: int, *, dir_fd: int | None = None) -> bytes:
    """Bytes of a regular file (see :func:`open_regular`); ``OSError`` if larger than ``limit``."""
    fd, _ = open_regular(name, dir_fd=dir_fd)
    try:
        data = os.read(fd, limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise OSError(f"{name} is larger than {limit} bytes")
    return data


_NBGRADER_TIME = re.compile(r"(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d{6})?) UTC")


def parse_utc(text: str) -> dt.datetime:
    """nbgrader's ``parse_utc`` (naive UTC), with a fast path for the form nbgrader's exchange writes
    (``2026-12-07 19:00:00.123456 UTC``; dateutil takes ~0.5 ms, twice per submission graded): the
    same datetime, anything else goes to nbgrader's."""
    m = _NBGRADER_TIME.fullmatch(text) if isinstance(text, str) else None
    if m is not None:
        try:
            return dt.datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}")
        except ValueError:          # e.g. month 13: nbgrader's parser says why
            pass
    return _nbgrader_parse_utc(text)


def parse_timestamp(text: str, *, now: dt.datetime | None = None,
                    skew: dt.timedelta | None = CLOCK_SKEW) -> tuple[dt.datetime | None, str | None]:
    """``(naive UTC datetime, None)`` for a valid submission time, else ``(None, reason)``:
    not a date nbgrader can read, or later than ``now + skew`` (``skew=None``: any date)."""
    text = text.strip()
    if not text:
        return None, "is empty"
    try:
        when = parse_utc(text)
    except Exception as exc:  # noqa: BLE001 - dateutil raises ParserError, OverflowError, TypeError ...
        return None, f"is not a date ({type(exc).__name__}: {_short(str(exc))})"
    now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    if skew is not None and when > now + skew:
        return None, f"is in the future ({when:%Y-%m-%d %H:%M:%S} UTC; now {now:%Y-%m-%d %H:%M:%S} UTC)"
    return when, None


def _short(text: str, n: int = 80) -> str:
    return text if len(text) <= n else text[:n] + "..."


# ---------------------------------------------------------------------------------------------- owners


def system_uid(name: str) -> int | None:
    """uid of the system user called ``name`` (None when there is none)."""
    if pwd is None:
        return None
    try:
        return pwd.getpwnam(name).pw_uid
    except (KeyError, ValueError):   # ValueError: a name with a NUL byte
        return None


def user_name(uid: int) -> str | None:
    if pwd is None:
        return None
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


def owner_problem(student: str, owner_uid: int, other_students: set[str]) -> str | None:
    """Why a folder owned by ``owner_uid`` cannot be ``student``'s submission (None if it can); see the
    module docstring for what "the student's uid" means."""
    expected = system_uid(student)
    owner = user_name(owner_uid)
    owner_txt = f"{owner} (uid {owner_uid})" if owner else f"uid {owner_uid}"
    if expected is not None:
        if owner_uid != expected:
            return (f"claims to be {student}'s but is owned by {owner_txt}, not by {student} (uid {expected}): "
                    "possible cheating attempt (nbgrader's check_owner)")
        return None
    if owner is not None and owner != student and owner in other_students:
        return (f"claims to be {student}'s but is owned by {owner_txt}, another student of the course: "
                "possible cheating attempt (nbgrader's check_owner)")
    return None


# ---------------------------------------------------------------------------------------------- submitted/


def submitted_problem(assignment_dir: Path, notebook: str) -> str | None:
    """Why ``submitted/<student>/<assignment>/`` may not be graded as it is (None if it may): the
    student folder, the assignment folder, the notebook and ``timestamp.txt`` must be what they claim
    (no links, no special files, a readable date). Checked by ``deepgrade grade`` before any read."""
    where = f"submitted/{assignment_dir.parent.name}/{assignment_dir.name}"
    for folder in (assignment_dir.parent, assignment_dir):
        try:
            problem = kind_problem(os.lstat(folder), allow_dir=True)
        except OSError as exc:
            return f"refused: {folder.name} cannot be read ({exc.strerror})"
        if problem:
            return f"refused: the folder {folder.name} {problem}"
    nb_path = assignment_dir / f"{notebook}.ipynb"
    try:
        problem = kind_problem(os.lstat(nb_path))
    except FileNotFoundError:
        problem = None                    # graded as "missing" by the runner
    if problem:
        return f"refused: {where}/{nb_path.name} {problem}"
    stamp = assignment_dir / "timestamp.txt"
    if os.path.lexists(stamp):
        try:
            text = read_small(str(stamp), TIMESTAMP_MAX_BYTES).decode("utf-8", "replace")
        except OSError as exc:
            return f"refused: {where}/timestamp.txt: {exc}"
        _, problem = parse_timestamp(text, skew=None)     # a future date only makes the work late
        if problem:
            return f"refused: {where}/timestamp.txt {problem}"
    return None
