"""Typed errors. Every message names the problem and the fix; the CLI prints it and exits 2."""


class UnembedError(Exception):
    """Base class for every error unembed raises on purpose."""


class InputError(UnembedError, ValueError):
    """A text file, vector or argument the caller gave cannot be used as it is."""


class SpaceError(UnembedError):
    """An embedding space is unknown, cannot load, or does not support a modality."""


class WeightsNotFoundError(SpaceError, FileNotFoundError):
    """Model weights are neither on disk nor downloadable (offline)."""


class BankError(UnembedError):
    """A caption bank on disk is missing, corrupt, or built for another space."""


class SpaceMismatchError(BankError):
    """A bank was built with a different space or dimension than the one asked for."""


class GeneratorError(UnembedError):
    """A text generator (LLM backend) is unknown, cannot load, or its server does not answer."""
