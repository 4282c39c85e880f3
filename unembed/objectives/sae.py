"""`sae_feature`: how strongly one feature of a sparse autoencoder fires on the text's embedding.

The encoder is read from a safetensors file: `W_enc` as (d_sae, dim) or (dim, d_sae) (SAELens writes
the latter; a square matrix is read that way too), `b_enc` (d_sae,), and optionally `b_dec` (dim,),
subtracted from the embedding first, and `threshold` (d_sae,) for JumpReLU.
activation: "relu", "jumprelu" (a feature fires only above its threshold) or "topk" (only the k
largest pre-activations fire).

The score is the feature's activation where it fires and, where it does not, minus how far its
pre-activation is from firing. Both orders agree wherever the feature fires, but a feature that no
bank text fires would give the loop nothing but zeros to compare; the distance below zero gives it a
slope to climb towards the first text that fires. A score above 0 is always the activation itself.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import checks
from ..errors import InputError
from ..paths import refuse_special
from ..registry import require
from .base import Objective

ACTIVATIONS = ("relu", "jumprelu", "topk")


class SparseAutoencoder:
    """A sparse autoencoder's encoder read (and checked) once from safetensors; `feature(n)` is an objective."""

    def __init__(self, path, *, activation: str | None = None, threshold: float | None = None, k: int | None = None):
        """activation None: "jumprelu" when the file holds a `threshold` tensor (a JumpReLU SAE saves one), else "relu"."""
        self.path = Path(path)
        tensors = _read(self.path)
        if activation is None:
            activation = "jumprelu" if "threshold" in tensors else "relu"
        if activation not in ACTIVATIONS:
            raise InputError(f"the SAE activation must be one of {', '.join(ACTIVATIONS)}; got {activation!r}.")
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
            raise InputError(
                f"SAE file {path}: W_enc has shape {weights.shape}, which does not match b_enc's {self.d_sae} features. "
                "Save W_enc as (d_sae, dim) or (dim, d_sae)."
            )
        # Rows are features from here on.
        self.encoder = weights.T if weights.shape[1] == self.d_sae else weights
        self.bias, self.dim = bias, self.encoder.shape[1]
        self.decoder_bias = tensors["b_dec"].astype(np.float64).reshape(-1) if "b_dec" in tensors else np.zeros(self.dim)
        if len(self.decoder_bias) != self.dim:
            raise InputError(
                f"SAE file {path}: b_dec has {len(self.decoder_bias)} values but W_enc reads {self.dim}-d embeddings. "
                "Save b_dec of shape (dim,)."
            )
        self.activation, self.k = activation, None
        self.threshold = np.zeros(self.d_sae)
        if activation == "jumprelu":
            if threshold is not None:
                self.threshold = np.full(self.d_sae, checks.number(threshold, "the JumpReLU threshold"))
            elif "threshold" in tensors:
                self.threshold = tensors["threshold"].astype(np.float64).reshape(-1)
                if len(self.threshold) != self.d_sae:
                    raise InputError(
                        f"SAE file {path}: threshold has {len(self.threshold)} values for {self.d_sae} features. Save one per feature."
                    )
            else:
                raise InputError(f"JumpReLU needs a threshold: SAE file {path} has no 'threshold' tensor; pass threshold=.")
        if activation == "topk":
            kept = f"k (the features TopK keeps, of this SAE's {self.d_sae})"
            self.k = checks.count(k if k is not None else 0, kept, minimum=1, maximum=self.d_sae)
        for name, values in (("W_enc", self.encoder), ("b_enc", self.bias), ("b_dec", self.decoder_bias), ("threshold", self.threshold)):
            if not np.isfinite(values).all():
                raise InputError(f"SAE file {path}: {name} holds NaN or inf. Check the file that was trained or converted.")

    def pre_activations(self, vectors) -> np.ndarray:
        """(n, d_sae): every feature's pre-activation on unit rows `vectors` (n, dim)."""
        return (np.asarray(vectors, dtype=np.float64) - self.decoder_bias) @ self.encoder.T + self.bias

    def highest_pre_activations(self) -> np.ndarray:
        """(d_sae,): the most each feature's pre-activation reaches on any unit embedding (at the row's own direction):
        ||w|| - w . b_dec + b."""
        return np.linalg.norm(self.encoder, axis=1) - self.encoder @ self.decoder_bias + self.bias

    def can_fire(self) -> np.ndarray:
        """(d_sae,) bool: whether each feature fires on some unit embedding: its highest pre-activation passes its
        threshold (ReLU's is 0; for TopK, being positive is needed, and whether it is among the k largest depends on
        the embedding)."""
        highest = self.highest_pre_activations()
        return highest > (0.0 if self.activation == "topk" else self.threshold)

    def firing_level(self, pre: np.ndarray) -> np.ndarray:
        """(n, d_sae): the pre-activation each feature must exceed to fire (TopK: the k-th largest, and 0)."""
        if self.activation != "topk":
            return np.broadcast_to(self.threshold, pre.shape)
        # A feature fires when it is among the k largest (ties included) and positive.
        k = self.k
        assert k is not None, "a TopK SAE sets k"
        kth = -np.partition(-pre, k - 1, axis=1)[:, k - 1]
        return np.broadcast_to(np.maximum(np.nextafter(kth, -np.inf), 0.0)[:, None], pre.shape)

    def activations(self, vectors) -> np.ndarray:
        """(n, d_sae): what the encoder outputs for unit rows `vectors`."""
        pre = self.pre_activations(vectors)
        return np.where(pre > self.firing_level(pre), pre, 0.0)

    def feature(self, number: int, *, space: str | None = None) -> SAEFeature:
        return SAEFeature(self, number, space=space)


class SAEFeature(Objective):
    """One feature of `sae`: its activation where it fires, minus its distance to firing where it does not."""

    def __init__(self, sae: SparseAutoencoder, feature: int, *, space: str | None = None):
        super().__init__()
        self.sae = sae
        self.feature = checks.count(feature, "the SAE feature", minimum=0)
        if self.feature >= sae.d_sae:
            raise InputError(f"the SAE in {sae.path} has {sae.d_sae} features (0..{sae.d_sae - 1}); feature {feature} is not one.")
        if not sae.encoder[self.feature].any():
            raise InputError(
                f"SAE feature {self.feature} of {sae.path} has an all-zero encoder row: it reads nothing. Pick another feature."
            )
        self.dim, self.space = sae.dim, space
        self.spec = f"sae_feature:{sae.path}#{self.feature}"

    def query(self) -> np.ndarray:
        row = self.sae.encoder[self.feature]
        return row / np.linalg.norm(row)

    def activation(self, vectors) -> np.ndarray:
        """The feature's activation on unit rows `vectors` (0 where it does not fire)."""
        return self.sae.activations(vectors)[:, self.feature]

    def _score(self, vectors):
        if self.sae.activation == "topk":
            pre = self.sae.pre_activations(vectors)
            level, mine = self.sae.firing_level(pre)[:, self.feature], pre[:, self.feature]
        else:  # one feature's pre-activation is all that ReLU and JumpReLU need
            mine = (vectors - self.sae.decoder_bias) @ self.sae.encoder[self.feature] + self.sae.bias[self.feature]
            level = self.sae.threshold[self.feature]
        return np.where(mine > level, mine, np.minimum(mine - level, 0.0))


def _read(path: Path) -> dict[str, np.ndarray]:
    numpy_io = require("safetensors.numpy", extra="sae", needed_by="the sae_feature objective")
    refuse_special(path, "SAE file")
    if not path.is_file():
        raise InputError(f"no SAE file at {path}. Give the path of a .safetensors file holding W_enc and b_enc.")
    try:
        return numpy_io.load_file(str(path))
    except Exception as error:  # safetensors raises its own SafetensorError for a corrupt header
        raise InputError(f"could not read SAE file {path} as safetensors ({error}). Give a .safetensors file.") from error


def load_sae_feature(argument: str, *, feature: int | None = None, space: str | None = None, **options) -> SAEFeature:
    """`sae_feature:PATH#FEATURE`, or `sae_feature:PATH` with feature=; options as SparseAutoencoder's."""
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
    return SparseAutoencoder(path, **options).feature(feature, space=space)
