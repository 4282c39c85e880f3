"""Where caption texts come from: text files, iterables of strings, and named sources.

A named source is registered with `register_source(name, factory, modality=...)`: `factory(argument,
**options)` returns its captions. unembed registers MILS's own banks here (`mils-image`,
`mils-audio`); other packages register theirs (unembed.minibind registers its world's captions).

MILS's files are looked up in $UNEMBED_MILS_DIR, then in the cache (`unembed.paths`); if absent
they are downloaded into the cache from the MILS repository at a pinned commit. They are licensed
CC BY-NC 4.0, and a bank built from them inherits that: the first read of each in a process issues a
`LicenceWarning` (docs/licences.md).
"""

from __future__ import annotations

import codecs
import functools
import hashlib
import os
import threading
import urllib.error
import warnings
from collections.abc import Iterable
from pathlib import Path

from ..download import download_file
from ..errors import BankError, InputError, LicenceWarning
from ..paths import data_dirs, refuse_special
from ..registry import Registry, split_spec

MILS_COMMIT = "2843135178cadf45ebbf6914418a4b9065f91d8d"
MILS_URL = f"https://raw.githubusercontent.com/facebookresearch/MILS/{MILS_COMMIT}/init_descriptions/"
MILS_ENV = "UNEMBED_MILS_DIR"
# sha256 of the files at MILS_COMMIT: a download must match (sha256sum of the project's copies).
MILS_SHA256 = {
    "image_descriptions_per_class.txt": "651520073306130e3f49d7e857f890da806c964f0ad9e2aa2b8ef1784778a67f",
    "audio_descriptions_per_class_405_v2.txt": "cb2efbf68ca50338784f2e2a52d288b5f6e87020d00d20e76a9ad0674ffc5538",
}

# Named sources whose captions are not free for every use: the licence a bank built from them inherits.
NON_COMMERCIAL = {
    "mils-image": "CC BY-NC 4.0 (https://creativecommons.org/licenses/by-nc/4.0/)",
    "mils-audio": "CC BY-NC 4.0 (https://creativecommons.org/licenses/by-nc/4.0/)",
}
_warned: set[str] = set()
_warned_lock = threading.Lock()

SOURCES: Registry[list] = Registry("source", None, BankError)
register_source = SOURCES.register


def warn_licence(source: str) -> None:
    """Issue a LicenceWarning for a named non-commercial source, once per process and source."""
    licence = NON_COMMERCIAL.get(source)
    with _warned_lock:
        if licence is None or source in _warned:
            return
        _warned.add(source)
    warnings.warn(
        f"{source}: MILS's captions are licensed {licence}; a bank or decoder built from them inherits it "
        "(non-commercial use, with attribution). See the Licences page of the docs.",
        LicenceWarning,
        stacklevel=2,
    )


def mils_file(filename: str) -> Path:
    """One of MILS's caption files, found locally or downloaded into the cache."""
    dirs = data_dirs("mils", MILS_ENV)
    for directory in dirs:
        if (directory / filename).is_file():
            return directory / filename
    return _download(MILS_URL + filename, dirs[-1] / filename, MILS_SHA256.get(filename))


def _mils_captions(source: str, filename: str, argument: str = "") -> list[str]:
    captions = read_captions(mils_file(filename))
    warn_licence(source)
    return captions


register_source(
    "mils-image",
    functools.partial(_mils_captions, "mils-image", "image_descriptions_per_class.txt"),
    modality="image",
    licence=NON_COMMERCIAL["mils-image"],
)
register_source(
    "mils-audio",
    functools.partial(_mils_captions, "mils-audio", "audio_descriptions_per_class_405_v2.txt"),
    modality="audio",
    licence=NON_COMMERCIAL["mils-audio"],
)


def source_modality(source: str | os.PathLike) -> str | None:
    """The modality a named source describes ("image", "audio"), None for files and unknown names."""
    name, _ = split_spec(str(source))
    return SOURCES.info(name).get("modality") if name in SOURCES else None


def _download(url: str, target: Path, sha256: str | None = None) -> Path:
    try:
        return download_file(url, target, sha256=sha256)
    except (urllib.error.URLError, OSError) as error:
        raise InputError(
            f"could not download {url} ({error}). Offline? Put {target.name} in {target.parent} or point {MILS_ENV} at a folder holding it."
        ) from error


def normalise_caption(text: str) -> str:
    """Collapse runs of whitespace (newlines included) to one space, so a caption is one line."""
    return " ".join(text.split())


def read_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 text file; a byte-order mark is dropped, binary and UTF-16 files are refused."""
    refuse_special(path, "text file")
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}. Check the path and its permissions.") from error
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InputError(f"{path} is UTF-16 text. Re-encode it as UTF-8, e.g. `iconv -f utf-16 -t utf-8`.")
    raw = raw.removeprefix(codecs.BOM_UTF8)  # editors on Windows write one; it is not part of the first caption
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        raise InputError(
            f"{path} holds NUL bytes (first at line {line}): it is a binary file, not text. "
            "Give a UTF-8 text file with one caption per line."
        )
    try:
        return raw.decode("utf-8").splitlines()
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise InputError(
            f"{path} is not UTF-8 text (bad byte at line {line}). Re-encode it as UTF-8, e.g. `iconv -f latin1 -t utf-8`."
        ) from error


def read_captions(path: Path) -> list[str]:
    """A caption file's non-empty lines, whitespace-normalised; an error when it holds none."""
    captions = [caption for caption in map(normalise_caption, read_lines(path)) if caption]
    if not captions:
        raise InputError(f"{path} holds no captions (empty or whitespace only). Give a file with one caption per line.")
    return captions


def source_captions(source: str | os.PathLike) -> list[str]:
    """The captions of a text file or a named source."""
    path = refuse_special(source, "caption file")
    if path.is_file():
        return read_captions(path)
    if path.is_dir():
        raise InputError(f"{path} is a folder. Give the caption files in it (one caption per line), e.g. {path}/*.txt.")
    if split_spec(str(source))[0] not in SOURCES:
        raise InputError(
            f"{str(source)!r} is neither a file nor a named source. "
            f"Give a text file with one caption per line, or one of: {', '.join(SOURCES.available())}."
        )
    return SOURCES.load(str(source))


def _source_name(source: object) -> str | os.PathLike:
    """`source` as a caption source: a path or a source's name, neither empty nor blank (Path('') is the current folder)."""
    if not isinstance(source, (str, os.PathLike)) or not isinstance(os.fspath(source), str):
        raise InputError(
            f"a caption source is a text file's path or a named source's name (a str or os.PathLike); got {source!r}. "
            f"Give a file with one caption per line, or one of: {', '.join(SOURCES.available())}."
        )
    if not str(source).strip():
        raise InputError(
            f"a caption source's name is empty ({str(source)!r}). Give a text file with one caption per line, or one of: "
            f"{', '.join(SOURCES.available())}."
        )
    return source


def collect_captions(sources: Iterable[str | os.PathLike] | None = None, texts: Iterable[str] = ()) -> list[str]:
    """Captions from files/named sources and from `texts`: whitespace-normalised, non-empty, unique, in order."""
    if isinstance(texts, str) or isinstance(sources, str):
        raise InputError("sources and texts are lists: wrap a single caption or file name in a list, e.g. texts=['a dog'].")
    for name, given in (("sources", sources or ()), ("texts", texts)):
        if not isinstance(given, Iterable):
            raise InputError(f"{name} is a list; got {given!r} ({type(given).__name__}). Give a list, e.g. {name}=[...].")
    seen: dict[str, None] = {}
    for source in sources or ():
        seen.update(dict.fromkeys(source_captions(_source_name(source))))
    for text in texts:
        if not isinstance(text, str):
            raise InputError(f"captions must be strings; got {type(text).__name__}. Convert them with str() first.")
        if "\x00" in text:
            raise InputError(f"caption {text[:40]!r} holds a NUL character. Give text, not binary data.")
        caption = normalise_caption(text)
        if caption:
            seen.setdefault(caption, None)
    if not seen:
        raise InputError("no captions to index: every source was empty. Give at least one non-empty caption.")
    return list(seen)


# One caption in HELD_OUT_SHARE, picked by a hash of its text, is never trained on (unembed.decoder.training)
# and is where `unembed bench invert` and the captions eval sets draw held-out targets from: any seed's
# targets are unseen by a decoder trained on the same source.
HELD_OUT_SHARE = 50


def is_held_out(caption: str) -> bool:
    """Whether `caption` is in its source's held-out split (the same answer in every process and version)."""
    digest = hashlib.blake2b(normalise_caption(caption).lower().encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % HELD_OUT_SHARE == 0
