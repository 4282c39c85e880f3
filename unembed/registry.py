"""One registry for every pluggable kind (spaces, generators, renderers, caption sources, ...).

A spec is `NAME` or `NAME:ARGUMENT`: NAME picks a factory, ARGUMENT (a model id, a path) is passed
to it as a string, and options are keyword arguments: `factory(argument, **options)`. The same spec
string is used in code, on the command line and in logs, and every component keeps the spec that
rebuilds it (`component.spec`).

Built-in factories are registered as "module:attribute" strings and imported on first use, so
a component's optional dependencies are needed only when that component is loaded.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, TypeVar

from .errors import MissingDependencyError, UnembedError

T = TypeVar("T")


def split_spec(spec: str) -> tuple[str, str]:
    """`"openclip:ViT-B-32/openai"` -> `("openclip", "ViT-B-32/openai")`; `"minilm"` -> `("minilm", "")`."""
    name, _, argument = str(spec).partition(":")
    return name, argument


def require(module: str, *, extra: str, needed_by: str):
    """Import an optional dependency, or say what installs it: `extra` is an unembed extra or a PyPI package name."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        install = extra if "-" in extra else f"'unembed[{extra}]'"
        raise MissingDependencyError(
            f"{needed_by} needs the Python package {module!r} ({error}). Install it with `pip install {install}`."
        ) from error


@dataclass
class _Entry:
    factory: Callable[..., Any] | str  # a callable, or "module:attribute" imported on first use
    info: dict = field(default_factory=dict)


class Registry(Generic[T]):
    """`register(name, factory)`, `load(spec, **options)`, `available()` for one kind of component.

    kind: how errors name the component ("space"); base: the type every loaded component has (an
    instance of it passed to `load` is returned unchanged); error: the room's error type.
    """

    def __init__(self, kind: str, base: type | None, error: type[UnembedError]):
        self.kind, self.base, self.error = kind, base, error
        self._entries: dict[str, _Entry] = {}

    def register(self, name: str, factory: Callable[..., T] | str, **info) -> None:
        """Make `load("NAME[:ARGUMENT]", **options)` call `factory(ARGUMENT, **options)`.

        `info` is kept for `info(name)`; `extra="..."` names the unembed extra that installs what a
        "module:attribute" factory imports, for the error when it is missing.
        """
        if not name or ":" in name or "+" in name:
            raise self.error(f"{self.kind} name {name!r} must be non-empty and contain no ':' or '+'.")
        self._entries[name] = _Entry(factory, info)

    def available(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def info(self, name: str) -> dict:
        return self._entry(name).info

    def factory(self, name: str) -> Callable[..., T]:
        entry = self._entry(name)
        if isinstance(entry.factory, str):
            module_name, attribute = entry.factory.split(":")
            try:
                module = importlib.import_module(module_name)
            except ImportError as error:
                if "extra" not in entry.info:
                    raise
                raise MissingDependencyError(
                    f"{self.kind} {name!r} needs a package that is not installed ({error}). "
                    f"Install it with `pip install 'unembed[{entry.info['extra']}]'`."
                ) from error
            entry.factory = getattr(module, attribute)
        return entry.factory

    def load(self, spec: str | T, **options) -> T:
        """The component named by `spec`; a component instance is returned unchanged."""
        if self.base is not None and isinstance(spec, self.base):
            return spec
        if not isinstance(spec, str):
            raise self.error(
                f"{type(spec).__name__} is not a {self.kind}: give a {self.kind} spec such as "
                f"{self.available()[0]!r} or a {self.base.__name__ if self.base else self.kind} instance."
            )
        name, argument = split_spec(spec)
        component = self.factory(name)(argument, **options)
        if self.base is not None and not isinstance(component, self.base):
            raise self.error(f"the factory registered for {self.kind} {name!r} returned a {type(component).__name__}, not a {self.base.__name__}.")
        return component

    def _entry(self, name: str) -> _Entry:
        if name not in self._entries:
            raise self.error(
                f"unknown {self.kind} {name!r}. Known: {', '.join(self.available())}. "
                f"Use one of those, or register your own with unembed.register_{self.kind.replace(' ', '_')}()."
            )
        return self._entries[name]
