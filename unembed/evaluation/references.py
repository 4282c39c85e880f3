"""Reference captions: what a prediction is scored against, read from the three formats the field uses.

- COCO captions, `.json`: `{"annotations": [{"image_id": ..., "caption": ...}, ...]}`; an image's
  several annotations are its references (ids become strings: `391895`, `"391895"` are one image).
- Clotho, `.csv`: a header `file_name,caption_1,...,caption_5`; the file name is the id.
- JSON Lines, `.jsonl`: one `{"id": ..., "references": [caption, ...]}` per line (what `eval-set` writes).

Every reader returns `{id: [caption, ...]}` with captions on one line (`normalise_caption`) and no
empty ones; a problem names the file, the line or entry, and the fix.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from .. import jsontext
from ..errors import InputError
from ..index import normalise_caption
from ..paths import refuse_special

FORMATS = {".json": "coco", ".csv": "clotho", ".jsonl": "jsonl"}
_FORMATS_HELP = (
    'a COCO-captions .json ({"annotations": [{"image_id", "caption"}]}), a Clotho .csv '
    '(file_name, caption_1..caption_5) or a .jsonl of {"id", "references": [...]}'
)


def reference_format(path: str | os.PathLike) -> str:
    """ "coco", "clotho" or "jsonl", from the file's extension."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InputError(f"unknown references format {suffix or '(no extension)'!r} of {str(path)!r}: give {_FORMATS_HELP}.")
    return FORMATS[suffix]


def read_references(path: str | os.PathLike) -> dict[str, list[str]]:
    """`{id: [reference caption, ...]}` from a COCO `.json`, a Clotho `.csv` or a `.jsonl` file."""
    path = refuse_special(path, "references file")
    kind = reference_format(path)
    if not path.is_file():
        raise InputError(f"references file {str(path)!r} does not exist. Give the path of {_FORMATS_HELP}.")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(f"references file {str(path)!r} is not UTF-8 text ({error}). Save it as UTF-8.") from error
    references = {"coco": _coco, "clotho": _clotho, "jsonl": _jsonl}[kind](text, path)
    if not references:
        raise InputError(f"references file {str(path)!r} holds no reference caption. Give {_FORMATS_HELP}.")
    return references


def _add(references: dict[str, list[str]], key, captions, where: str) -> None:
    if isinstance(key, bool) or not isinstance(key, (str, int)) or str(key) == "":
        raise InputError(f"{where}: the id {key!r} is not a non-empty string or integer.")
    for caption in captions:
        if not isinstance(caption, str):
            raise InputError(f"{where}: a reference caption is a {type(caption).__name__}, not a string ({caption!r}).")
    kept = [normalise_caption(caption) for caption in captions if caption.strip()]
    references.setdefault(str(key), []).extend(kept)


def _coco(text: str, path: Path) -> dict[str, list[str]]:
    try:
        data = jsontext.parse(text)
    except ValueError as error:
        raise InputError(f"{path} is not valid JSON ({error}). A .json references file is COCO captions: {_FORMATS_HELP}.") from error
    annotations = data.get("annotations") if isinstance(data, dict) else None
    if not isinstance(annotations, list):
        raise InputError(
            f'{path} has no "annotations" list: a .json references file is COCO captions, '
            '{"annotations": [{"image_id": ..., "caption": ...}]}.'
        )
    references: dict[str, list[str]] = {}
    for index, annotation in enumerate(annotations):
        if not isinstance(annotation, dict) or "image_id" not in annotation or "caption" not in annotation:
            raise InputError(f'{path}: annotation {index} ({str(annotation)[:80]}) lacks "image_id" or "caption".')
        _add(references, annotation["image_id"], [annotation["caption"]], f"{path}: annotation {index}")
    return _without_empty(references, path)


def _clotho(text: str, path: Path) -> dict[str, list[str]]:
    reader = csv.DictReader(io.StringIO(text))  # quoted captions may span lines
    columns = reader.fieldnames or []
    caption_columns = [column for column in columns if column.startswith("caption")]
    if "file_name" not in columns or not caption_columns:
        raise InputError(
            f"{path}: a .csv references file is Clotho's, with the columns file_name and caption_1..caption_5; its header is {columns}."
        )
    references: dict[str, list[str]] = {}
    for line, row in enumerate(reader, start=2):
        if row["file_name"] in references:
            raise InputError(f"{path}, line {line}: file_name {row['file_name']!r} appears twice. Give each file one row.")
        _add(references, row["file_name"], [row[column] or "" for column in caption_columns], f"{path}, line {line}")
    return _without_empty(references, path)


def _jsonl(text: str, path: Path) -> dict[str, list[str]]:
    references: dict[str, list[str]] = {}
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            entry = jsontext.parse(raw)
        except ValueError as error:
            raise InputError(f'{path}, line {line} is not JSON ({error}). Each line is {{"id": ..., "references": [...]}}.') from error
        if not isinstance(entry, dict) or "id" not in entry or not isinstance(entry.get("references"), list):
            raise InputError(f'{path}, line {line}: each line is {{"id": ..., "references": [caption, ...]}}; got {raw[:80]}.')
        if str(entry["id"]) in references:
            raise InputError(f"{path}, line {line}: id {entry['id']!r} appears twice. Put all its references on one line.")
        _add(references, entry["id"], entry["references"], f"{path}, line {line}")
    return _without_empty(references, path)


def _without_empty(references: dict[str, list[str]], path: Path) -> dict[str, list[str]]:
    empty = [key for key, captions in references.items() if not captions]
    if empty:
        raise InputError(
            f"{path}: {len(empty)} id(s) have no non-empty reference caption (e.g. {empty[:3]}). "
            "Give each id at least one caption, or drop it."
        )
    return references
