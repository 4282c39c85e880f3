"""Where caption texts come from: text files, iterables of strings, and MILS's named banks."""

from __future__ import annotations

import os
import urllib.error
from pathlib import Path
from typing import Iterable

from ..download import download_file
from ..errors import InputError

MILS_COMMIT = "2843135178cadf45ebbf6914418a4b9065f91d8d"
MILS_URL = f"https://raw.githubusercontent.com/facebookresearch/MILS/{MILS_COMMIT}/init_descriptions/"
MILS_SOURCES = {
    "mils-image": "image_descriptions_per_class.txt",
    "mils-audio": "audio_descriptions_per_class_405_v2.txt",
}
# Banks generated in process rather than read from a file: MiniBind's world, one canonical caption per scene.
WORLD_SOURCES = {"minibind-image": "image", "minibind-audio": "audio"}


def _mils_dirs() -> list[Path]:
    """Directories searched for MILS's files, first hit wins; the last one is the download cache."""
    project_root = Path(__file__).resolve().parents[2]
    dirs = [Path(os.environ["UNEMBED_MILS_DIR"])] if os.environ.get("UNEMBED_MILS_DIR") else []
    dirs += [project_root.parent / "shared" / "data" / "mils", Path.cwd().parent / "shared" / "data" / "mils"]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "unembed" / "mils"
    return dirs + [cache]


def resolve_source(source: str | os.PathLike) -> Path:
    """A text file's path, or a named source (`mils-image`, `mils-audio`) found locally or downloaded."""
    path = Path(source)
    if path.is_file():
        return path
    name = str(source)
    if name not in MILS_SOURCES:
        raise InputError(
            f"{name!r} is neither a file nor a named source. "
            f"Give a text file with one caption per line, or one of: {', '.join([*MILS_SOURCES, *WORLD_SOURCES])}."
        )
    filename = MILS_SOURCES[name]
    dirs = _mils_dirs()
    for directory in dirs:
        if (directory / filename).is_file():
            return directory / filename
    return _download(MILS_URL + filename, dirs[-1] / filename)


def _download(url: str, target: Path) -> Path:
    try:
        return download_file(url, target)
    except (urllib.error.URLError, OSError) as error:
        raise InputError(
            f"could not download {url} ({error}). Offline? Put {target.name} in {target.parent} "
            "or point UNEMBED_MILS_DIR at a folder holding it."
        ) from error


def normalise_caption(text: str) -> str:
    """Collapse runs of whitespace (newlines included) to one space, so a caption is one line."""
    return " ".join(text.split())


def read_lines(path: Path) -> list[str]:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}. Check the path and its permissions.") from error
    try:
        return raw.decode("utf-8").splitlines()
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise InputError(
            f"{path} is not UTF-8 text (bad byte at line {line}). "
            "Re-encode it as UTF-8, e.g. `iconv -f latin1 -t utf-8`."
        ) from error


def collect_captions(sources: Iterable[str | os.PathLike] | None = None, texts: Iterable[str] = ()) -> list[str]:
    """Captions from files/named sources and from `texts`: whitespace-normalised, non-empty, unique, in order."""
    seen: dict[str, None] = {}
    for source in sources or ():
        if str(source) in WORLD_SOURCES:
            from ..spaces.minibind import world

            seen.update(dict.fromkeys(world.canonical_captions(WORLD_SOURCES[str(source)])))
            continue
        path = resolve_source(source)
        captions = [caption for caption in map(normalise_caption, read_lines(path)) if caption]
        if not captions:
            raise InputError(f"{path} holds no captions (empty or whitespace only). Give a file with one caption per line.")
        seen.update(dict.fromkeys(captions))
    for text in texts:
        if not isinstance(text, str):
            raise InputError(f"captions must be strings; got {type(text).__name__}. Convert them with str() first.")
        caption = normalise_caption(text)
        if caption:
            seen.setdefault(caption, None)
    if not seen:
        raise InputError("no captions to index: every source was empty. Give at least one non-empty caption.")
    return list(seen)
