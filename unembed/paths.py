"""Where unembed keeps files it makes or fetches: one lookup for every room.

Cache root: $UNEMBED_CACHE_DIR, else $XDG_CACHE_HOME/unembed, else ~/.cache/unembed. It holds
cached banks (`banks/`), downloaded MILS caption files (`mils/`) and MiniBind's caption embeddings
(`minibind/`). A data folder (`data_dirs`) is looked up in its environment variable first, then in
its cache folder, where downloads go. `exclusive` is the one lock for a destination that a command fills
(a bank, a run's output folder); `named_paths` finds the places on this machine a spec names.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import filelock

from . import atomic
from .errors import InputError
from .registry import parse_spec

log = logging.getLogger(__name__)


def cache_dir(name: str) -> Path:
    """The cache folder `name` under the cache root (not created).

    A root that is a file, or lies under one, is an InputError naming the variable that chose it
    ($UNEMBED_CACHE_DIR, else $XDG_CACHE_HOME) and asking for a folder, not an error about some file inside it.
    """
    if os.environ.get("UNEMBED_CACHE_DIR"):
        variable, root = "UNEMBED_CACHE_DIR", Path(os.environ["UNEMBED_CACHE_DIR"]).expanduser()
    elif os.environ.get("XDG_CACHE_HOME"):
        variable, root = "XDG_CACHE_HOME", Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "unembed"
    else:
        variable, root = "", Path.home() / ".cache" / "unembed"
    folder = root / name
    blocker = next((path for path in (folder, *folder.parents) if exists(path) and not os.path.isdir(path)), None)
    if blocker is not None:
        where = f"{variable}={os.environ[variable]}" if variable else f"the cache folder {root}"
        fix = (
            f"Point {variable} at a folder (it is created if missing), or unset it"
            if variable
            else "Move that file away, or set UNEMBED_CACHE_DIR to a folder (it is created if missing)"
        )
        raise InputError(f"{where}: {blocker} is a file, not a folder, so unembed cannot keep its cache in {folder}. {fix}.")
    return folder


def data_dirs(name: str, env: str) -> list[Path]:
    """Folders searched for data files, first hit wins: `$env` if set, then the cache folder `name`.

    `$env` naming a file, or a path under one, is an InputError naming the variable at once: its files would never be
    found there, and the command would go on to download them (and fail offline) before saying why."""
    given = os.environ.get(env)
    if given:
        folder = Path(given).expanduser()
        blocker = next((path for path in (folder, *folder.parents) if exists(path) and not os.path.isdir(path)), None)
        if blocker is not None:
            raise InputError(
                f"{env}={given}: {blocker} is a file, not a folder, so unembed cannot look for its data files in it. "
                f"Point {env} at the folder that holds them, or unset it."
            )
    return ([Path(given).expanduser()] if given else []) + [cache_dir(name)]


def safe_name(text: str) -> str:
    """`text` as one file name: characters other than letters, digits and -_. become _."""
    return "".join(character if character.isalnum() or character in "-_." else "_" for character in text)


def is_file(path: str | os.PathLike) -> bool:
    """Path.is_file, but False (not an exception) for a name no file can have: too long, or with a NUL byte."""
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False


def exists(path: str | os.PathLike) -> bool:
    """Path.exists, with the same tolerance as `is_file`."""
    try:
        return Path(path).exists()
    except (OSError, ValueError):
        return False


def refuse_special(path: str | os.PathLike, what: str = "input") -> Path:
    """`path`, unless it names something that is neither a regular file nor a folder (a FIFO, a device, a socket):
    reading one can block forever or never end, so every door that reads a caller's file asks here first. A path
    that does not exist, or a folder, is left to the caller's own message."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except (OSError, ValueError):
        return path
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        raise InputError(
            f"{what} {str(path)!r} is not a regular file (a FIFO, a device or a socket): unembed reads only regular "
            "files, which cannot block it. Save the data to a file first."
        )
    return path


@contextlib.contextmanager
def exclusive(destination: str | os.PathLike, doing: str) -> Iterator[None]:
    """Hold `.NAME.lock` beside `destination` while the caller fills it: one writer per destination, and a second
    one says it waits (`doing` names the work: "build", "run") and goes on when the first ends. The lock file stays
    (removing it would let a third writer lock a new file while the second holds the old); the system releases
    the lock when a process dies."""
    path = Path(os.path.abspath(Path(destination).expanduser()))
    lock_file = path.with_name(f".{path.name}.lock")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock_file.touch()  # filelock takes a folder it cannot write in for a held lock, and would wait forever
    except OSError as error:
        raise atomic.write_error(lock_file, error) from error
    lock = filelock.FileLock(lock_file)
    try:
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            log.info("another %s of %s is running; waiting for it to finish.", doing, path)
            lock.acquire()
    except OSError as error:  # e.g. the lock's name is a link that loops
        raise atomic.write_error(lock_file, error) from error
    try:
        yield
    finally:
        lock.release()


def named_paths(spec: str) -> list[str]:
    """The parts of a component spec (its ARGUMENT, its option values) that name a place on this machine: an
    absolute, home or ./ path, or a name that exists here (`st:models/mine`). Loading such a spec reads that
    place (a model, weights, code it ships), so a spec found in a file is loaded only where the caller named it."""
    _, argument, options = parse_spec(spec)
    parts = [argument, *(value for value in options.values() if isinstance(value, str))]
    return [part for part in parts if part and (part.startswith(("/", "~", "./", "../")) or exists(part))]
