"""unembed: read multimodal embeddings back into words (MILS-style gradient-free inversion)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("unembed")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"

from .errors import BankError, InputError, SpaceError, SpaceMismatchError, UnembedError, WeightsNotFoundError
from .spaces import Space, available_spaces, load_space, register_space
from . import invert  # a callable package: unembed.invert(embedding, ...) runs the loop
from .invert import InversionResult, invert_many

__all__ = [
    "__version__",
    "Space",
    "load_space",
    "register_space",
    "available_spaces",
    "invert",
    "invert_many",
    "InversionResult",
    "UnembedError",
    "InputError",
    "SpaceError",
    "WeightsNotFoundError",
    "BankError",
    "SpaceMismatchError",
]
