"""Typed errors. Every message names the problem and the fix; the CLI prints it and exits 2.

Each room raises its own type (SpaceError, GeneratorError, RendererError, BankError, EvaluationError, RunnerError, ...); bad input from
the caller is an InputError wherever it is found. Two failures read the same in every room and have
one type each: an optional package that is not installed (MissingDependencyError, naming the pip
extra), model weights that are not on the machine (WeightsNotFoundError, saying where to put them),
and a file or folder that cannot be written (WriteError: permissions, a full disk, a read-only mount).
"""


class UnembedError(Exception):
    """Base class for every error unembed raises on purpose."""


class InputError(UnembedError, ValueError):
    """A text file, vector or argument the caller gave cannot be used as it is."""


class SpaceError(UnembedError):
    """An embedding space is unknown, cannot load, or does not support a modality."""


class GeneratorError(UnembedError):
    """A text generator (LLM backend) is unknown, cannot load, or its server does not answer."""


class DecoderError(GeneratorError):
    """A trained decoder (unembed.decoder) is damaged, of another space or width, or cannot be trained on what it was given."""


class RendererError(UnembedError):
    """A text-to-image renderer is unknown or cannot load."""


class ObjectiveError(UnembedError):
    """An objective is unknown, or was used before it was given what it scores with."""


class EvaluationError(UnembedError):
    """An eval set is unknown, or caption metrics cannot be computed (the evaluation room)."""


class RunnerError(UnembedError):
    """A batch job's output folder belongs to another job or cannot be read, or its engine (Ray) fails."""


class BankError(UnembedError):
    """A caption bank on disk is missing, corrupt, or built for another space; a caption source is unknown."""


class SpaceMismatchError(BankError):
    """A bank or a vector was made with a different space or dimension than the one asked for."""


class MissingDependencyError(UnembedError, ImportError):
    """An optional package a component needs is not installed (any room)."""


class WeightsNotFoundError(UnembedError, FileNotFoundError):
    """Model weights are neither on disk nor downloadable (offline), in any room."""


class IntegrityError(UnembedError):
    """A downloaded file does not match the sha256 pinned for it (any room)."""


class WriteError(UnembedError, OSError):
    """A file or folder cannot be written (no permission, disk full, read-only file system), in any room."""


class LicenceWarning(UserWarning):
    """Data or weights under a restrictive licence (non-commercial, share-alike) are being used.

    Issued once per process and source (`warnings.warn`): the `unembed` command prints it; silence it with
    `warnings.filterwarnings("ignore", category=unembed.LicenceWarning)`, or on the command line with
    `PYTHONWARNINGS="ignore:mils-"` (the message starts with the source's name). See docs/licences.md.
    """
