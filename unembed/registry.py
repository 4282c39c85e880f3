"""One registry for every pluggable kind (spaces, generators, renderers, caption sources, ...).

A spec is `NAME[:ARGUMENT][,KEY=VALUE]...`: NAME picks a factory, ARGUMENT (a model id, a path) is
passed to it as a string, and options are keyword arguments: `factory(argument, **options)`. Options
come from the spec's trailing `,KEY=VALUE` parts (FAISS-style: `edit:lexicon,beam=8,judge=/models/qwen.gguf`,
`edit,beam=5`; a value reads as an int, a float, true/false, else a string) and from keyword arguments
given in Python, which win over the spec's. The same spec string is used in code, on the command line
and in logs, and every component keeps the spec that rebuilds it (`component.spec`; `format_spec`
writes one). Where specs are pooled (`A+B`), each part is a spec: `edit,beam=5+mutate`.

Built-in factories are registered as "module:attribute" strings and imported on first use, so
a component's optional dependencies are needed only when that component is loaded.

Plugins: an installed package declares an entry point in the group `unembed.plugins` naming a callable
(`mypkg.unembed_plugin:register`), or a module, that registers its components when called (or imported).
Every registry loads the group once, the first time a name is not found or `available()` is asked, so
`load_space("mypkg-space")` works without importing the package by hand. A name registered before the
plugins load keeps its factory: a plugin neither replaces a built-in nor what a user registered.
MiniBind is registered this way (`minibind = unembed.minibind:register`).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

from .checks import TERMINAL_CONTROLS
from .errors import InputError, MissingDependencyError, UnembedError

T = TypeVar("T")

_OPTION = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", re.DOTALL)
_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?([0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)([eE][+-]?[0-9]+)?")
_TWICE = object()  # an option the spec gives twice (`parse_spec` refuses it)

log = logging.getLogger(__name__)

PLUGIN_GROUP = "unembed.plugins"
# unembed's own plugins, as its metadata declares them (pyproject.toml): also loaded from a source tree whose
# installed metadata predates them, so `load_space("minibind")` never depends on reinstalling.
BUNDLED_PLUGINS = {"minibind": "unembed.minibind:register"}
_plugins_lock = threading.RLock()
_plugins_loaded = False
_loading_plugins = False
_plugin_failures: dict[str, str] = {}  # entry point name -> why it did not load


def load_plugins() -> dict[str, str]:
    """Load every `unembed.plugins` entry point (once per process) and return those that failed, name -> reason.

    An entry point names a callable, called with no arguments, or a module (imported; its `register()`
    called if it has one). A plugin that raises is logged as a warning and left out; the others load.
    Registries call this themselves the first time a name is not found, so there is rarely a need to.
    """
    global _plugins_loaded, _loading_plugins
    with _plugins_lock:
        if _plugins_loaded or _loading_plugins:
            return dict(_plugin_failures)
        _loading_plugins = True
        try:
            for entry_point in _plugin_entry_points():
                try:
                    target = entry_point.load()
                    if inspect.ismodule(target):
                        target = getattr(target, "register", None)
                    if callable(target):
                        target()
                    log.debug("loaded plugin %s (%s)", entry_point.name, entry_point.value)
                except Exception as error:  # a broken plugin must not break unembed, nor the other plugins
                    _plugin_failures[entry_point.name] = f"{type(error).__name__}: {error}"
                    log.warning("plugin %r (%s) did not load: %s: %s", entry_point.name, entry_point.value, type(error).__name__, error)
            _plugins_loaded = True
        finally:
            _loading_plugins = False
        return dict(_plugin_failures)


def _plugin_entry_points() -> list[importlib.metadata.EntryPoint]:
    seen: dict[tuple[str, str], importlib.metadata.EntryPoint] = {}
    for entry_point in importlib.metadata.entry_points(group=PLUGIN_GROUP):
        seen.setdefault((entry_point.name, entry_point.value), entry_point)  # a dist on sys.path twice is one plugin
    values = {value for _, value in seen}
    for name, value in BUNDLED_PLUGINS.items():
        if value not in values:
            log.debug("plugin %s is not in the installed metadata (reinstall unembed); loading it from %s", name, value)
            seen[(name, value)] = importlib.metadata.EntryPoint(name=name, value=value, group=PLUGIN_GROUP)
    return list(seen.values())


_CONTROL = re.compile(f"[\t\n{TERMINAL_CONTROLS}]")


def split_spec(spec: str) -> tuple[str, str]:
    """NAME and ARGUMENT, options left out: `"openclip:ViT-B-32/openai"` -> `("openclip", "ViT-B-32/openai")`;
    `"minilm"` -> `("minilm", "")`; `"edit:lexicon,beam=8"` -> `("edit", "lexicon")` (see `parse_spec`)."""
    name, argument, _ = _parse(str(spec))
    return name, argument


def parse_spec(spec: str, error: type[UnembedError] = InputError) -> tuple[str, str, dict[str, Any]]:
    """`NAME[:ARGUMENT][,KEY=VALUE]...` -> (NAME, ARGUMENT, options): `"edit:lexicon,beam=8,judge=/m.gguf"` ->
    `("edit", "lexicon", {"beam": 8, "judge": "/m.gguf"})`. Options are the trailing parts that read KEY=VALUE
    (a comma before them stays in the argument: a path may hold one); a value reads as an int, a float,
    true/false, else a string. A part after NAME that is not KEY=VALUE, or a key given twice, raises `error`."""
    if _CONTROL.search(str(spec)):  # a model id or path has none; printed by the libraries that load it, they would act
        raise error(f"spec {spec!r} holds control characters (escapes, BEL, ...): no model id or path has them. Retype it.")
    name, argument, options = _parse(str(spec))
    if "," in name:
        first, *parts = name.split(",")
        part = next(part for part in parts if not _OPTION.fullmatch(part))
        raise error(
            f"{part!r} in spec {spec!r} is not an option: options follow the name (and its :ARGUMENT) as ,KEY=VALUE, "
            f"e.g. {first},{part or 'key'}=VALUE."
        )
    repeated = [key for key, count in options.items() if count is _TWICE]
    if repeated:
        raise error(f"spec {spec!r} gives the option {repeated[0]!r} twice; give it once.")
    return name, argument, options


def _parse(spec: str) -> tuple[str, str, dict[str, Any]]:
    head, *parts = spec.split(",")
    options: dict[str, Any] = {}
    while parts and (match := _OPTION.fullmatch(parts[-1])):
        key, value = match.groups()
        options[key] = _TWICE if key in options else _value(value)
        parts.pop()
    options = dict(reversed(options.items()))  # in the spec's order
    name, _, argument = ",".join([head, *parts]).partition(":")
    return name, argument, options


def _value(text: str) -> Any:
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if _INT.fullmatch(text) and len(text) <= 40:  # longer is no setting (and Python refuses int() of 4,300 digits)
        return int(text)
    if _FLOAT.fullmatch(text) and len(text) <= 40:
        return float(text)
    return text


def format_spec(name: str, argument: str = "", options: dict[str, Any] | None = None) -> str:
    """The spec `parse_spec` reads back: `format_spec("edit", "lexicon", {"beam": 5})` -> `"edit:lexicon,beam=5"`."""
    spec = f"{name}:{argument}" if argument else name
    for key, value in (options or {}).items():
        spec += f",{key}={str(value).lower() if isinstance(value, bool) else value}"
    return spec


def require(module: str, *, needed_by: str, extra: str | None = None, package: str | None = None):
    """Import a dependency, or say what installs it: `extra` names unembed's extras (`"lexicon,llama"`, see
    pyproject.toml), `package` a PyPI distribution (for a core dependency: `package="pyarrow"`)."""
    if (extra is None) == (package is None):
        raise TypeError("require() takes one of extra= (an unembed extra) or package= (a PyPI package).")
    try:
        return importlib.import_module(module)
    except ImportError as error:
        install = f"'unembed[{extra}]'" if extra else package
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
        """Make `load("NAME[:ARGUMENT][,KEY=VALUE]...", **options)` call `factory(ARGUMENT, **{**spec_options, **options})`.

        `info` is kept for `info(name)`; `extra="..."` names the unembed extra that installs what a
        "module:attribute" factory imports, for the error when it is missing.
        """
        if not name or any(mark in name for mark in ":+,="):
            raise self.error(f"{self.kind} name {name!r} must be non-empty and contain no ':', '+', ',' or '='.")
        if _loading_plugins and name in self._entries:
            log.debug("a plugin registers %s %r, which is taken: the first registration stays", self.kind, name)
            return
        self._entries[name] = _Entry(factory, info)

    def available(self) -> list[str]:
        """Every registered name, plugins (entry points) included."""
        load_plugins()
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        if name not in self._entries:
            load_plugins()
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
        assert callable(entry.factory)  # a "module:attribute" string is imported above
        return entry.factory

    def load(self, spec: str | T, **options) -> T:
        """The component named by `spec`; a component instance is returned unchanged. Keyword `options`
        merge over the spec's own (`,KEY=VALUE`): a keyword given in Python wins."""
        if self.base is not None and isinstance(spec, self.base):
            return cast(T, spec)
        if not isinstance(spec, str):
            raise self.error(
                f"{type(spec).__name__} is not a {self.kind}: give a {self.kind} spec such as "
                f"{self.available()[0]!r} or a {self.base.__name__ if self.base else self.kind} instance."
            )
        name, argument, given = parse_spec(spec, self.error)
        factory = self.factory(name)
        options = {**given, **options}
        try:
            component = factory(argument, **options)
        except TypeError as error:
            if not options or "keyword argument" not in str(error):
                raise
            named, elsewhere = _keywords(factory)
            unknown = [key for key in options if key not in named] or list(options)
            raise self.error(
                f"{self.kind} {name!r} has no option {', '.join(map(repr, unknown))} ({error}). "
                f"Its options: {', '.join(named + elsewhere) or 'none'}."
            ) from error
        if self.base is not None and not isinstance(component, self.base):
            raise self.error(
                f"the factory registered for {self.kind} {name!r} returned a {type(component).__name__}, not a {self.base.__name__}."
            )
        return component

    def _entry(self, name: str) -> _Entry:
        if name not in self._entries:
            failures = load_plugins()
        if name not in self._entries:
            failed = "".join(f" Plugin {plugin!r} did not load ({why})." for plugin, why in failures.items())
            raise self.error(
                f"unknown {self.kind} {name!r}. Known: {', '.join(self.available())}. "
                f"Use one of those, or register your own with unembed.register_{self.kind.replace(' ', '_')}() "
                f"or a package's {PLUGIN_GROUP!r} entry point.{failed}"
            )
        return self._entries[name]


def _keywords(factory: Callable) -> tuple[list[str], list[str]]:
    """The keyword options a factory names (past its ARGUMENT), and where to read of others it passes on, for an error."""
    where = [f"see {getattr(factory, '__module__', '')}.{getattr(factory, '__qualname__', factory)}"]
    try:
        parameters = list(inspect.signature(factory).parameters.values())[1:]
    except (TypeError, ValueError):
        return [], where
    named = [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    return named, where if any(p.kind == p.VAR_KEYWORD for p in parameters) else []
