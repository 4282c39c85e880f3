"""unembed: read multimodal embeddings back into words (MILS-style gradient-free inversion).

Rooms (see docs/architecture.md): spaces, generators, banks (unembed.index), renderers, and the
inverter that joins them; arithmetic is a pipeline over them. unembed.minibind is a bundled plugin:
the `unembed.plugins` entry point `minibind = unembed.minibind:register` registers its space, renderer,
caption sources and eval sets the first time a registry misses a name (unembed.registry.load_plugins).

Diagnostics go to the `unembed` logger's module children (`logging.getLogger("unembed.index.bank")`, ...).
The library adds no handler: an application configures logging as it likes, and where none is configured
Python's last-resort handler shows warnings and errors on stderr. The `unembed` command shows INFO and
above as `unembed: message` on stderr (`-v` adds DEBUG, `-q` keeps warnings and errors only).
"""

from .errors import (
    BankError,
    GeneratorError,
    InputError,
    LicenceWarning,
    MissingDependencyError,
    ObjectiveError,
    RendererError,
    SpaceError,
    SpaceMismatchError,
    UnembedError,
    WeightsNotFoundError,
    WriteError,
)
from .generators import Generator, available_generators, load_generator, register_generator
from .index import Bank, build_bank, load_bank, register_source, resolve_bank
from .inverter import InversionConfig, InversionResult, invert, invert_many
from .objectives import Objective, available_objectives, load_objective, register_objective
from .registry import load_plugins
from .renderers import Renderer, available_renderers, load_renderer, register_renderer
from .spaces import Space, available_spaces, load_space, register_space
from .version import __version__

__all__ = [
    "__version__",
    "Space",
    "load_space",
    "register_space",
    "available_spaces",
    "Generator",
    "load_generator",
    "register_generator",
    "available_generators",
    "Bank",
    "build_bank",
    "load_bank",
    "resolve_bank",
    "register_source",
    "Renderer",
    "load_renderer",
    "register_renderer",
    "available_renderers",
    "Objective",
    "load_objective",
    "register_objective",
    "available_objectives",
    "invert",
    "invert_many",
    "InversionConfig",
    "InversionResult",
    "UnembedError",
    "InputError",
    "SpaceError",
    "GeneratorError",
    "RendererError",
    "ObjectiveError",
    "BankError",
    "SpaceMismatchError",
    "MissingDependencyError",
    "WeightsNotFoundError",
    "WriteError",
    "LicenceWarning",
    "load_plugins",
]
