"""The installed unembed's version, recorded in every bank manifest and printed by `unembed --version`."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("unembed")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
