"""What the web app offers and holds loaded: its spaces, banks and generators, chosen by whoever starts the server.

A page picks among the specs the server was started with and nothing else, so a visitor cannot make the server
load a model or a bank from a path of their choosing. Spaces and banks are loaded once and shared by every job
(their searches and encoders are read-only); each worker thread gets its own generator instances, since a
generator may hold per-call state or a llama.cpp context that takes one caller at a time. The text-embedding
cache of each space is bounded, so a server's memory stays flat however many texts its jobs score.
"""

from __future__ import annotations

import ipaddress
import threading
from dataclasses import dataclass, field
from pathlib import Path

from .. import checks
from ..errors import InputError
from ..generators import Generator, default_generator, load_generator
from ..index import SOURCES, Bank, load_bank, resolve_bank, source_captions
from ..registry import split_spec
from ..renderers import Renderer, load_renderer
from ..spaces import Space, TextEmbeddingCache, load_space
from .uploads import Limits


@dataclass(frozen=True)
class ServeSettings:
    """What `unembed serve` offers and how much it takes. The first space is the page's default."""

    spaces: tuple[str, ...] = ("minibind",)
    banks: tuple[str, ...] = ()  # offered besides each space's own caption source for the input's modality
    generators: tuple[str, ...] = ()  # offered besides each space's default generator
    merge_generator: str = "llama.cpp"  # arithmetic's text mode: the LLM that merges the terms' texts
    workers: int = 1  # jobs run at once
    waiting: int = 32  # jobs that may wait for a worker; more are refused with "busy"
    timeout: float | None = 120.0  # seconds one job may run (its wait in line not counted)
    max_steps: int = 30
    cached_texts: int = 100_000  # text embeddings kept per space
    limits: Limits = field(default_factory=Limits)

    def __post_init__(self):
        if not self.spaces:
            raise InputError("the server offers no space. Give --space, e.g. --space minibind.")
        for name in ("workers", "waiting", "max_steps", "cached_texts"):
            limit = None if name == "cached_texts" else checks.COUNT_LIMIT
            object.__setattr__(self, name, checks.count(getattr(self, name), name, maximum=limit))
        if self.timeout is not None:
            object.__setattr__(self, "timeout", checks.seconds(self.timeout, "timeout"))


class Models:
    """The loaded spaces, banks, caches and per-thread generators of one server."""

    def __init__(self, settings: ServeSettings):
        self.settings = settings
        self._lock = threading.Lock()
        self._spaces: dict[str, Space] = {}
        self._banks: dict[tuple[str, str, str], Bank] = {}
        self._caches: dict[str, TextEmbeddingCache] = {}
        self._threads = threading.local()

    def space(self, spec: str) -> Space:
        """The space `spec` (the default when empty), if this server offers it."""
        spec = spec or self.settings.spaces[0]
        if spec not in self.settings.spaces:
            raise InputError(f"this server does not offer space {spec!r}; it offers {', '.join(self.settings.spaces)}.")
        with self._lock:
            if spec not in self._spaces:
                self._spaces[spec] = load_space(spec)
            return self._spaces[spec]

    def bank(self, space: Space, choice: str, modality: str) -> Bank:
        """The bank `choice` for `space` (empty: the space's caption source for `modality`), if offered."""
        if choice and choice not in self.settings.banks:
            offered = ", ".join(self.settings.banks) or "none besides each space's own captions"
            raise InputError(f"this server does not offer bank {choice!r}; it offers {offered}.")
        key = (space.spec, choice, modality if not choice else "")
        with self._lock:
            if key not in self._banks:
                self._banks[key] = resolve_bank(choice or None, space, modality)
            return self._banks[key]

    def cache(self, space: Space) -> TextEmbeddingCache:
        with self._lock:
            if space.spec not in self._caches:
                self._caches[space.spec] = TextEmbeddingCache(space, limit=self.settings.cached_texts)
            return self._caches[space.spec]

    def generator_spec(self, choice: str, space: Space) -> str:
        """The generator spec `choice` names (empty: the space's default), if offered."""
        if not choice:
            return default_generator(space)
        if choice not in self.settings.generators:
            offered = ", ".join(self.settings.generators) or "none besides each space's default"
            raise InputError(f"this server does not offer generator {choice!r}; it offers {offered}.")
        return choice

    def generator(self, spec: str) -> Generator:
        """This worker thread's instance of generator `spec`, loaded on first use."""
        mine = getattr(self._threads, "generators", None)
        if mine is None:
            mine = self._threads.generators = {}
        if spec not in mine:
            mine[spec] = load_generator(spec)
        return mine[spec]

    def renderer(self, space: Space) -> Renderer:
        """This worker thread's instance of the renderer `space` names (a diffusers pipeline is loaded once per thread)."""
        mine = getattr(self._threads, "renderers", None)
        if mine is None:
            mine = self._threads.renderers = {}
        if space.renderer not in mine:
            mine[space.renderer] = load_renderer(space.renderer)
        return mine[space.renderer]

    def warm(self) -> None:
        """Check the banks offered, then load the default space and its banks before the first visitor waits for them."""
        self.check_banks()
        space = self.space("")
        for modality in ("image", "audio"):
            if modality in space.modalities and modality in space.caption_sources:
                self.bank(space, "", modality)

    def check_banks(self) -> None:
        """Refuse, at start-up, a bank offered that no page could use: a bank folder that does not load (missing,
        damaged: load_bank's message), a caption file that does not read, a name that is neither a file nor a source.
        A page picks its bank's space, so a folder is checked whole here and against its space when a page asks."""
        for choice in self.settings.banks:
            path = Path(choice)  # as resolve_bank reads it when a page asks
            if path.is_dir():
                load_bank(path)
            elif path.is_file() or split_spec(choice)[0] not in SOURCES:
                source_captions(choice)  # a caption file's lines, or "neither a file nor a named source"


def is_local(host: str) -> bool:
    """Whether `host` is only reachable from this machine (a loopback address or localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
