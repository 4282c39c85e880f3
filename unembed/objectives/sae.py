"""`sae_feature`: how strongly one feature of a sparse autoencoder fires on the text's embedding.

The encoder is read from a safetensors file: `W_enc` as (d_sae, dim) or (dim, d_sae) (SAELens writes
the latter; a square matrix is read that way too), `b_enc` (d_sae,), and optionally `b_dec` (dim,),
subtracted from the embedding first, and `threshold` (d_sae,) for JumpReLU.
activation: "relu", "jumprelu" (a feature fires only above its threshold) or "topk" (only the k
largest pre-activations fire).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import checks
from ..errors import InputError
from ..registry import require
from .base import Objective

ACTIVATIONS = ("relu", "jumprelu", "topk")


class SAEFeature(Objective):
    def __init__(self, path, feature: int, *, activation: str = "relu", threshold: float | None = None,
                 k: int | None = None, space: str | None = None):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise InputError(f"the SAE activation must be one of {', '.join(ACTIVATIONS)}; got {activation!r}.")
        tensors = _read(Path(path))
        missing = [name for name in ("W_enc", "b_enc") if name not in tensors]
        if missing:
            raise InputError(
                f"SAE file {path} has no tensor(s) {', '.join(missing)} (it holds {', '.join(sorted(tensors)) or 'nothing'}). "
                "Give an encoder saved with W_enc (d_sae, dim) or (dim, d_sae) and b_enc (d_sae,)."
            )
        bias = tensors["b_enc"].astype(np.float64).reshape(-1)
        self.d_sae = len(bias)
        weights = tensors["W_enc"].astype(np.float64)
        if weights.ndim != 2 or self.d_sae not in weights.shape:
            raise InputError(f"SAE file {path}: W_enc has shape {weights.shape}, which does not match b_enc's {self.d_sae} features. Save W_enc as (d_sae, dim) or (dim, d_sae).")
        # Rows are features from here on.
        self.encoder = weights.T if weights.shape[1] == self.d_sae else weights
        self.bias, self.dim = bias, self.encoder.shape[1]
        self.decoder_bias = tensors["b_dec"].astype(np.float64).reshape(-1) if "b_dec" in tensors else np.zeros(self.dim)
        if len(self.decoder_bias) != self.dim:
            raise InputError(f"SAE file {path}: b_dec has {len(self.decoder_bias)} values but W_enc reads {self.dim}-d embeddings. Save b_dec of shape (dim,).")
        self.feature = checks.count(feature, "the SAE feature", minimum=0)
        if self.feature >= self.d_sae:
            raise InputError(f"the SAE in {path} has {self.d_sae} features (0..{self.d_sae - 1}); feature {feature} is not one.")
        self.activation, self.k, self.threshold = activation, None, None
        if activation == "jumprelu":
            if threshold is None and "threshold" not in tensors:
                raise InputError(f"JumpReLU needs a threshold: SAE file {path} has no 'threshold' tensor; pass threshold=.")
            self.threshold = checks.number(threshold, "the JumpReLU threshold") if threshold is not None else float(tensors["threshold"].reshape(-1)[self.feature])
        if activation == "topk":
            self.k = checks.count(k if k is not None else 0, "k (the features TopK keeps)", minimum=1)
        for name, values in (("W_enc", self.encoder), ("b_enc", self.bias), ("b_dec", self.decoder_bias)):
            if not np.isfinite(values).all():
                raise InputError(f"SAE file {path}: {name} holds NaN or inf. Check the file that was trained or converted.")
        row = self.encoder[self.feature]
        if not row.any():
            raise InputError(f"SAE feature {self.feature} of {path} has an all-zero encoder row: it reads nothing. Pick another feature.")
        self.space = space
        self.spec = f"sae_feature:{path}#{self.feature}"

    def query(self) -> np.ndarray:
        row = self.encoder[self.feature]
        return row / np.linalg.norm(row)

    def _score(self, vectors):
        centred = vectors - self.decoder_bias
        if self.activation != "topk":
            pre = centred @ self.encoder[self.feature] + self.bias[self.feature]
            floor = 0.0 if self.activation == "relu" else self.threshold
            return np.where(pre > floor, pre, 0.0)
        # TopK needs every feature's pre-activation: the feature fires only when it is among the k largest.
        pre = centred @ self.encoder.T + self.bias
        kth = -np.partition(-pre, self.k - 1, axis=1)[:, self.k - 1]
        mine = pre[:, self.feature]
        return np.where((mine >= kth) & (mine > 0), mine, 0.0)


def _read(path: Path) -> dict[str, np.ndarray]:
    numpy_io = require("safetensors.numpy", extra="sae", needed_by="the sae_feature objective")
    if not path.is_file():
        raise InputError(f"no SAE file at {path}. Give the path of a .safetensors file holding W_enc and b_enc.")
    try:
        return numpy_io.load_file(str(path))
    except Exception as error:  # safetensors raises its own SafetensorError for a corrupt header
        raise InputError(f"could not read SAE file {path} as safetensors ({error}). Give a .safetensors file.") from error


def load_sae_feature(argument: str, *, feature: int | None = None, **options) -> SAEFeature:
    """`sae_feature:PATH#FEATURE`, or `sae_feature:PATH` with feature=."""
    path, _, number = argument.rpartition("#") if "#" in argument else (argument, "", "")
    if not path:
        raise InputError("sae_feature needs the SAE file: load_objective('sae_feature:PATH#FEATURE') or 'sae_feature:PATH' with feature=.")
    if number:
        if feature is not None:
            raise InputError(f"sae_feature got the feature twice ('#{number}' and feature={feature}). Give one.")
        if not number.isdigit():
            raise InputError(f"sae_feature: '#{number}' is not a feature number. Write sae_feature:PATH#1337.")
        feature = int(number)
    if feature is None:
        raise InputError("sae_feature needs the feature: write sae_feature:PATH#FEATURE or pass feature=.")
    return SAEFeature(path, feature, **options)
