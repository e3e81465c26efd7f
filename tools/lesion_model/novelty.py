"""Embedding-distance part of the skin gate: how far a photo's frozen ImageNet features lie from the
subspace that clinical skin photos occupy.

Why this beside the learned `skin` head: the head is a logistic regression trained against
*generated* not-skin families, and it accepted 40% of real object photographs (a cat, coffee,
motorcycles, a retina fundus, flowers). A distance test needs no negative examples at all: it asks
whether the photo looks like the training photos. On the fine-tuned embedding that failed (objects
were not far from skin photos there, see the model card); on the *frozen* trunk (stem + MBConv
blocks 0-13 with ImageNet weights, the part of the network that is not fine-tuned), the photos of
skin lie close to a low-dimensional subspace and objects, documents and scans do not.

The score is the squared residual of the standardised, spatially averaged trunk output after
projection on the top-k principal directions of the reference photos (the "distance from feature
space" of a PCA model): large when a photo has feature combinations skin photos never show. The
reference is every cached view of the DermNet training photos plus the generated skin renders the
demo and tests use (weighted to a fixed share, so renders stay acceptable without dominating).
The threshold accepts NOVELTY_ACCEPT of the validation photos (view-averaged, as the runtime
averages its views); k is chosen on generated not-skin images with TRAINING seeds only, so neither
the evaluation seeds nor the external photographs take part in any choice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

RANKS = (16, 24, 32, 48, 64)
NOVELTY_ACCEPT = 0.99
RENDER_SHARE = 0.15


@dataclass(frozen=True)
class NoveltyModel:
    mean: np.ndarray  # [C]
    scale: np.ndarray  # [C]
    basis: np.ndarray  # [k, C], orthonormal rows

    def score(self, pooled: np.ndarray) -> np.ndarray:
        """Squared residual outside the subspace, per row of pooled trunk features [N, C]."""
        z = (pooled - self.mean) / self.scale
        residual = z - (z @ self.basis.T) @ self.basis
        return (residual**2).sum(axis=1)


def pool(trunk_output: np.ndarray) -> np.ndarray:
    """[N, C, H, W] trunk maps (float16 caches included) -> float64 [N, C] spatial means."""
    return np.asarray(trunk_output, dtype=np.float64).mean(axis=(2, 3))


def fit(photos: np.ndarray, renders: np.ndarray, rank: int) -> NoveltyModel:
    """Weighted PCA of pooled features: photos share 1 - RENDER_SHARE of the weight, renders the rest."""
    weights = np.concatenate(
        [np.full(len(photos), (1.0 - RENDER_SHARE) / len(photos)), np.full(len(renders), RENDER_SHARE / len(renders))]
    )
    x = np.concatenate([photos, renders])
    mean = weights @ x
    scale = np.sqrt(weights @ (x - mean) ** 2) + 1e-3
    z = (x - mean) / scale
    _, _, vt = np.linalg.svd(z * np.sqrt(weights)[:, None], full_matrices=False)
    return NoveltyModel(mean=mean, scale=scale, basis=vt[:rank].copy())


def threshold(model: NoveltyModel, val_views: list[np.ndarray]) -> float:
    """The score (averaged over a photo's views) below which NOVELTY_ACCEPT of validation photos fall."""
    scores = np.mean([model.score(v) for v in val_views], axis=0)
    return float(np.quantile(scores, NOVELTY_ACCEPT))


def select(
    photos: np.ndarray, renders: np.ndarray, val_views: list[np.ndarray], not_skin_train: np.ndarray
) -> tuple[NoveltyModel, float, dict[str, object]]:
    """Fit every rank in RANKS; keep the one that refuses most generated not-skin TRAINING images at
    its validation threshold (ties: the smaller rank)."""
    best: tuple[float, int, NoveltyModel, float] | None = None
    refused: dict[str, float] = {}
    for rank in RANKS:
        model = fit(photos, renders, rank)
        limit = threshold(model, val_views)
        rate = float((model.score(not_skin_train) > limit).mean())
        refused[str(rank)] = round(rate, 4)
        if best is None or rate > best[0]:
            best = (rate, rank, model, limit)
    assert best is not None
    rate, rank, model, limit = best
    report: dict[str, object] = {
        "rank": rank,
        "threshold": round(limit, 4),
        "val_accept_target": NOVELTY_ACCEPT,
        "render_share": RENDER_SHARE,
        "train_photo_views": int(len(photos)),
        "train_renders": int(len(renders)),
        "not_skin_train_refused_by_rank": refused,
    }
    return model, limit, report


class NoveltyScore(nn.Module):
    """The same score in the exported graph: trunk maps [N, C, H, W] -> [N, 1]."""

    def __init__(self, model: NoveltyModel) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(model.mean, dtype=torch.float32).view(1, -1))
        self.register_buffer("scale", torch.tensor(model.scale, dtype=torch.float32).view(1, -1))
        self.register_buffer("basis", torch.tensor(model.basis, dtype=torch.float32))

    def forward(self, trunk_output: torch.Tensor) -> torch.Tensor:
        z = (trunk_output.mean(dim=(2, 3)) - self.mean) / self.scale
        residual = z - (z @ self.basis.T) @ self.basis
        return (residual * residual).sum(dim=1, keepdim=True)
