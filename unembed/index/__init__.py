"""Caption banks: build, persist, load and search FAISS-indexed captions in any space."""

from .bank import Bank, SearchResult, build_bank, load_bank, make_index, set_search_params
from .sources import MILS_SOURCES, collect_captions, resolve_source

__all__ = [
    "Bank",
    "SearchResult",
    "build_bank",
    "load_bank",
    "make_index",
    "set_search_params",
    "collect_captions",
    "resolve_source",
    "MILS_SOURCES",
]
