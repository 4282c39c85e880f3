"""What an interpretability study trains before it asks `explain` what its parts mean: directions between
labelled groups, linear probes, a small sparse autoencoder, and the matching of SAE features to labels.

All work on embeddings `(n, dim)` and boolean labels `has (n, labels)` (the item has the label) with
`applies (n, labels)` (the item is compared for it: a sound without a pitch is neither high nor low).
Training is full-batch Adam, seeded: seconds on a CPU for thousands of items.
"""

from __future__ import annotations

import numpy as np
import torch

# A feature names a label when its firing matches the label's items at least this well (F1).
MATCH_F1 = 0.7


def directions(vectors: np.ndarray, has: np.ndarray, applies: np.ndarray) -> np.ndarray:
    """(labels, dim): the mean of the items with each label minus the mean of those compared that lack it."""
    rows = []
    for j in range(has.shape[1]):
        rest = applies[:, j] & ~has[:, j]
        rows.append(vectors[has[:, j]].mean(axis=0) - vectors[rest].mean(axis=0))
    return np.array(rows)


def train_probes(
    vectors: np.ndarray, has: np.ndarray, applies: np.ndarray, *, seed: int, steps: int = 300
) -> tuple[np.ndarray, np.ndarray]:
    """(weight (labels, dim), bias (labels,)): one logistic regression per label, on the items compared for it."""
    torch.manual_seed(seed)
    x = torch.tensor(vectors, dtype=torch.float32)
    y, mask = torch.tensor(has, dtype=torch.float32), torch.tensor(applies, dtype=torch.float32)
    linear = torch.nn.Linear(x.shape[1], y.shape[1])
    optimiser = torch.optim.Adam(linear.parameters(), lr=0.05)
    for _ in range(steps):
        optimiser.zero_grad()
        loss = (torch.nn.functional.binary_cross_entropy_with_logits(linear(x), y, reduction="none") * mask).sum() / mask.sum()
        loss.backward()
        optimiser.step()
    return linear.weight.detach().double().numpy(), linear.bias.detach().double().numpy()


def train_sae(vectors: np.ndarray, *, features: int = 64, l1: float = 0.1, steps: int = 600, seed: int = 0) -> dict[str, np.ndarray]:
    """A ReLU sparse autoencoder on unit rows `vectors` (n, dim): W_enc (features, dim), b_enc, W_dec, b_dec (float32),
    the tensors `objectives.SparseAutoencoder` reads from safetensors.

    Loss: squared reconstruction error plus `l1` times the activations weighted by their decoder
    norms (so shrinking the decoder cannot buy sparsity).
    """
    generator = torch.Generator().manual_seed(seed)
    x = torch.tensor(vectors, dtype=torch.float32)
    dim = x.shape[1]
    w_dec = torch.nn.Parameter(torch.randn(dim, features, generator=generator) / dim**0.5)
    w_enc = torch.nn.Parameter(w_dec.detach().T.clone())
    b_enc = torch.nn.Parameter(torch.zeros(features))
    b_dec = torch.nn.Parameter(x.mean(dim=0).clone())
    optimiser = torch.optim.Adam([w_enc, b_enc, w_dec, b_dec], lr=3e-3)
    for _ in range(steps):
        optimiser.zero_grad()
        activations = torch.relu((x - b_dec) @ w_enc.T + b_enc)
        reconstruction = activations @ w_dec.T + b_dec
        sparsity = (activations * w_dec.norm(dim=0)).sum(dim=1).mean()
        loss = ((reconstruction - x) ** 2).sum(dim=1).mean() + l1 * sparsity
        loss.backward()
        optimiser.step()
    return {
        name: tensor.detach().contiguous().numpy().astype(np.float32)
        for name, tensor in (("W_enc", w_enc), ("b_enc", b_enc), ("W_dec", w_dec), ("b_dec", b_dec))
    }


def match_features(activations: np.ndarray, has: np.ndarray, minimum: float = MATCH_F1) -> list[tuple[int, int, float]]:
    """(feature, label, F1) for each feature whose firing best matches a label with F1 >= `minimum`."""
    fires = activations > 0
    hits = fires.T.astype(float) @ has.astype(float)  # (features, labels)
    precision = hits / np.maximum(fires.sum(axis=0), 1)[:, None]
    recall = hits / np.maximum(has.sum(axis=0), 1)[None, :]
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(hits), where=precision + recall > 0)
    best = f1.argmax(axis=1)
    return [(feature, int(value), float(f1[feature, value])) for feature, value in enumerate(best) if f1[feature, value] >= minimum]
