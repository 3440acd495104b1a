"""Output folders that appear whole or not at all, and never destroy a user's files.

Rules (the same for every command that takes ``--out``):

* A command writes into a **new** folder or an **empty** existing one.
* A folder that gutskin made before is recognised by its marker file
  (:data:`MARKER`), which lists every file gutskin wrote there. It may be
  replaced only when the caller passes ``overwrite=True`` (``--overwrite``), and
  only while it holds nothing but those files; a file the user added since is
  never deleted, the command is refused instead.
* Anything else (a non-empty folder without the marker, a file, a path below a
  file) is refused with :class:`OutputDirError` and nothing is touched.

Results are written into a temporary sibling folder ``.NAME.partial-XXXX`` and
moved into place only when everything succeeded. Each partial folder holds a
lock file naming the process that made it; a partial folder left by a killed
run (its process is gone) is removed on the next run into the same place, and
one that cannot be attributed is reported, never removed.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "LOCK",
    "MARKER",
    "OutputDirError",
    "atomic_output_dir",
    "atomic_output_file",
    "check_output_file",
    "check_writable",
    "clean_stale_partials",
]

#: Marker file gutskin writes into every output folder it makes (JSON with the file list).
MARKER = ".gutskin-output.json"
#: Lock file inside a partial folder while a run writes it (JSON with pid and host).
LOCK = ".gutskin-partial.json"


class OutputDirError(ValueError):
    """The output folder cannot be created, written or replaced without touching user files."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _first_existing(p: Path) -> Path:
    q = p
    while not q.exists() and not q.is_symlink():
        if q.parent == q:
            break
        q = q.parent
    return q


def _marker_files(folder: Path) -> set[str] | None:
    """The files listed in ``folder``'s gutskin marker, or None if it has no valid marker."""
    path = folder / MARKER
    if not path.is_file():
        return None
    try:
        rec = json.loads(path.read_text())
        files = rec["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return None
    return set(files)


def _relative_files(folder: Path) -> set[str]:
    """Every file and link below ``folder`` (relative POSIX paths; links not followed)."""
    out: set[str] = set()
    for root, dirs, files in os.walk(folder):
        r = Path(root)
        for name in files:
            out.add((r / name).relative_to(folder).as_posix())
        for name in dirs:
            d = r / name
            if d.is_symlink():  # os.walk does not descend into links: count them as entries
                out.add(d.relative_to(folder).as_posix())
    return out


def _relative_dirs(folder: Path) -> set[str]:
    """Every real sub-folder below ``folder``, as ``"a/b/"`` (links not followed)."""
    out: set[str] = set()
    for root, dirs, _ in os.walk(folder):
        r = Path(root)
        for name in dirs:
            d = r / name
            if not d.is_symlink():
                out.add(d.relative_to(folder).as_posix() + "/")
    return out


def _foreign_files(folder: Path) -> list[str]:
    """Files and folders in a gutskin-made ``folder`` that gutskin did not write (sorted).

    A sub-folder is gutskin's only when it holds a listed file (at any depth); any other
    folder, empty or not, is the user's, like a file gutskin did not list.
    """
    listed = _marker_files(folder)
    assert listed is not None
    listed_dirs = {p.rsplit("/", k)[0] + "/" for p in listed for k in range(1, p.count("/") + 1)}
    files = _relative_files(folder) - listed - {MARKER}
    dirs = _relative_dirs(folder) - listed_dirs
    # a foreign folder is named once, not with each file inside it
    top = sorted(d for d in dirs if not any(d != o and d.startswith(o) for o in dirs))
    return top + sorted(f for f in files if not any(f.startswith(d) for d in top))


def write_file_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` through a new temporary sibling and a rename.

    Never writes through a link: the temporary file is created exclusively (``mkstemp``)
    and :func:`os.replace` replaces a link at ``path`` itself, not its target.
    """
    p = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode() if isinstance(data, str) else data)
        os.chmod(name, 0o666 & ~_umask())
        os.replace(name, p)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return p


def _check_parent(p: Path, out: str | Path) -> None:
    """The nearest existing ancestor of ``p`` must be a writable folder."""
    anc = _first_existing(p.parent)
    if not anc.is_dir():
        raise OutputDirError(f"--out {out}: {anc} is a file, not a folder")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise OutputDirError(f"--out {out}: folder {anc} is not writable")


def _examples(names: list[str], k: int = 3) -> str:
    shown = ", ".join(repr(n) for n in names[:k])
    return shown + (f" and {len(names) - k} more" if len(names) > k else "")


def check_writable(out: str | Path, *, overwrite: bool = False) -> Path:
    """Check that ``out`` may be written as an output folder; return its resolved path.

    Parameters
    ----------
    out
        The ``--out`` folder.
    overwrite
        Allow replacing a folder that gutskin made earlier (it carries :data:`MARKER`
        and holds only the files gutskin wrote).

    Raises
    ------
    OutputDirError
        With a one-line message saying what is wrong and what to do.
    """
    p = Path(out).expanduser().absolute()
    if p.is_symlink():
        raise OutputDirError(f"--out {out}: is a symbolic link; give a real folder path")
    if p.exists() and not p.is_dir():
        raise OutputDirError(f"--out {out}: is a file, not a folder; give a new folder path")
    _check_parent(p, out)
    if p.is_dir():
        entries = sorted(e.name for e in p.iterdir())
        if entries:
            if _marker_files(p) is None:
                raise OutputDirError(
                    f"--out {out}: folder exists and is not empty ({_examples(entries)}); "
                    "gutskin writes only into a new or empty folder and never replaces "
                    "files it did not make: choose a new folder"
                )
            if not overwrite:
                raise OutputDirError(
                    f"--out {out}: holds an earlier gutskin output; pass --overwrite to "
                    "replace it, or choose a new folder"
                )
            foreign = _foreign_files(p)
            if foreign:
                raise OutputDirError(
                    f"--out {out}: holds an earlier gutskin output plus files gutskin did not "
                    f"write ({_examples(foreign)}); move them away or choose a new folder"
                )
        if not os.access(p, os.W_OK | os.X_OK) or not os.access(p.parent, os.W_OK | os.X_OK):
            raise OutputDirError(f"--out {out}: folder is not writable")
    return p


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_partials(final: Path, *, report: bool = True) -> list[Path]:
    """Remove partial folders beside ``final`` that a killed gutskin run left behind.

    A partial folder is removed only when its lock file names a process on this
    host that no longer exists. Partial folders without a readable lock are
    reported on stderr and left alone.

    Returns
    -------
    list of Path
        The folders removed.
    """
    removed: list[Path] = []
    parent = final.parent
    if not parent.is_dir():
        return removed
    host = socket.gethostname()
    for d in sorted(parent.glob(f".{final.name}.partial-*")):
        if not d.is_dir() or d.is_symlink():
            continue
        try:
            lock = json.loads((d / LOCK).read_text())
            pid, lock_host = int(lock["pid"]), str(lock["host"])
        except (OSError, ValueError, KeyError, TypeError):
            if report:
                print(
                    f"gutskin: note: {d} looks like an unfinished output but carries no gutskin "
                    "lock; it was left alone (remove it if it is not yours)",
                    file=sys.stderr,
                )
            continue
        if lock_host == host and not _pid_alive(pid):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed


def _write_marker(folder: Path) -> None:
    from gutskin._version import __version__
    from gutskin.io.provenance import now_iso

    files = sorted(_relative_files(folder) - {MARKER, LOCK})
    rec = {
        "written_by": "gutskin",
        "gutskin_version": __version__,
        "created": now_iso(),
        "command": sys.argv,
        "files": files,
    }
    (folder / MARKER).write_text(json.dumps(rec, indent=1) + "\n")


def _fix_permissions(folder: Path) -> None:
    """Give a ``mkdtemp`` folder (mode 0700) the mode a plain ``mkdir`` would have."""
    os.chmod(folder, 0o777 & ~_umask())


@contextmanager
def atomic_output_dir(out: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder that becomes ``out`` when the block succeeds.

    ``out`` is checked by :func:`check_writable` before and again after the block;
    if the folder changed meanwhile so that replacing it would touch files gutskin
    did not write, nothing is replaced, the results stay in the partial folder
    and :class:`OutputDirError` says where.
    """
    final = check_writable(out, overwrite=overwrite)
    clean_stale_partials(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.partial-", dir=final.parent))
    _fix_permissions(tmp)
    (tmp / LOCK).write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    try:
        yield tmp
        (tmp / LOCK).unlink()
        _write_marker(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        check_writable(out, overwrite=overwrite)
    except OutputDirError as exc:
        raise OutputDirError(f"{exc} (it changed during the run; results kept in {tmp})") from None
    if not final.exists():
        os.replace(tmp, final)
        return
    if not any(final.iterdir()):
        # keep the user's (empty) folder itself: it may be their working directory
        for entry in tmp.iterdir():
            os.replace(entry, final / entry.name)
        tmp.rmdir()
        return
    old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
    os.replace(final, old / "previous")
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def check_output_file(out: str | Path, *, overwrite: bool = False) -> Path:
    """Check that ``out`` may be written as an output file; return its absolute path.

    An existing file is replaced only with ``overwrite=True``; a folder, a path
    below a file or an unwritable folder is refused.
    """
    p = Path(out).expanduser().absolute()
    if p.is_dir():
        raise OutputDirError(f"--out {out}: is a folder; give a file name")
    if p.is_symlink() and not overwrite:
        raise OutputDirError(
            f"--out {out}: is a symbolic link; pass --overwrite to replace the link (its "
            "target is never written), or choose a new name"
        )
    if p.exists() and not overwrite:
        raise OutputDirError(
            f"--out {out}: file exists; pass --overwrite to replace it, or choose a new name"
        )
    _check_parent(p, out)
    return p


def atomic_output_file(out: str | Path, text: str, *, overwrite: bool = False) -> Path:
    """Write ``text`` to ``out`` atomically (temporary sibling, then rename)."""
    p = check_output_file(out, overwrite=overwrite)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{p.name}.partial-", dir=p.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(name, 0o666 & ~_umask())
        if (p.exists() or p.is_symlink()) and not overwrite:
            raise OutputDirError(f"--out {out}: file appeared during the run; not replaced")
        os.replace(name, p)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return p
