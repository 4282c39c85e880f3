"""Caption banks: build, persist, load and search FAISS-indexed captions in any space; caption sources."""

from ..errors import BankError, SpaceMismatchError
from .bank import Bank, SearchResult, build_bank, load_bank, make_index, resolve_bank, set_search_params
from .sources import (
    HELD_OUT_SHARE,
    SOURCES,
    collect_captions,
    is_held_out,
    mils_file,
    normalise_caption,
    register_source,
    source_captions,
    source_modality,
)
from .vector_file import VectorFile, write_vector_file

__all__ = [
    "Bank",
    "BankError",
    "SpaceMismatchError",
    "SearchResult",
    "build_bank",
    "load_bank",
    "resolve_bank",
    "make_index",
    "set_search_params",
    "VectorFile",
    "write_vector_file",
    "collect_captions",
    "normalise_caption",
    "source_captions",
    "source_modality",
    "mils_file",
    "register_source",
    "SOURCES",
    "HELD_OUT_SHARE",
    "is_held_out",
]
