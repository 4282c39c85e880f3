"""unembed: read multimodal embeddings back into words (MILS-style gradient-free inversion).

Rooms (see docs/architecture.md): spaces, generators, banks (unembed.index), renderers, and the
inverter that joins them; arithmetic is a pipeline over them. unembed.minibind is a bundled plugin:
importing it (done here) registers its space, renderer and caption sources.
"""

from .version import __version__
from .errors import (
    BankError, GeneratorError, InputError, MissingDependencyError, ObjectiveError, RendererError, SpaceError, SpaceMismatchError,
    UnembedError, WeightsNotFoundError, WriteError,
)
from .spaces import Space, available_spaces, load_space, register_space
from .generators import Generator, available_generators, load_generator, register_generator
from .index import Bank, build_bank, load_bank, register_source, resolve_bank
from .renderers import Renderer, available_renderers, load_renderer, register_renderer
from .objectives import Objective, available_objectives, load_objective, register_objective
from .inverter import InversionConfig, InversionResult, invert, invert_many
from . import minibind  # noqa: F401  (registers the minibind space, renderer and caption sources)

__all__ = [
    "__version__",
    "Space", "load_space", "register_space", "available_spaces",
    "Generator", "load_generator", "register_generator", "available_generators",
    "Bank", "build_bank", "load_bank", "resolve_bank", "register_source",
    "Renderer", "load_renderer", "register_renderer", "available_renderers",
    "Objective", "load_objective", "register_objective", "available_objectives",
    "invert", "invert_many", "InversionConfig", "InversionResult",
    "UnembedError", "InputError", "SpaceError", "GeneratorError", "RendererError", "ObjectiveError", "BankError", "SpaceMismatchError",
    "MissingDependencyError", "WeightsNotFoundError", "WriteError",
]
