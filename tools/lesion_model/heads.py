"""Logistic heads on the lesion model's pooled embedding: the learned skin / not-skin gate and the
learned morphology signals (pustules, nail changes).

They share the classifier's backbone pass, so at runtime they cost one matrix product. Each is an
L2-regularised logistic regression on the standardised 1280-d embedding, fitted full-batch with
L-BFGS (deterministic). Labels:
- skin: DermNet training photos (every cached view) and generated skin renders (`inference.synth`)
  vs generated not-skin images (`tools.lesion_model.not_skin`), classes weighted equally;
- pustules: DermNet topics generalised pustular psoriasis and palmoplantar pustulosis vs every
  topic where pustules are not a defining feature (topics that often show pustules or vesicles,
  such as acne or impetigo, are left out rather than called negative);
- nail_changes: the onychomycosis topic (a nail with visible dystrophy) vs the rest.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from tools.lesion_model.data import Sample

HEAD_NAMES = ("skin", "pustules", "nail_changes")
PUSTULE_TOPICS = frozenset({"generalised-pustular-psoriasis", "palmoplantar-pustulosis"})
# Pustules or vesicles are common in these topics but unlabelled: neither positive nor negative.
PUSTULE_UNLABELLED = frozenset(
    {
        "acne-vulgaris",
        "hidradenitis-suppurativa",
        "rosacea",
        "periorificial-dermatitis",
        "pyoderma",
        "impetigo",
        "dyshidrotic-eczema-pompholyx",
        "herpes-simplex",
        "herpes-zoster",
        "eczema-herpeticum",
        "scabies",
        "non-albicans-candida-infections",
        "vulvovaginal-candidiasis",
        "tinea-pedis",
        "bullous-pemphigoid",
        "pemphigoid-gestationis",
        "pemphigus-foliaceus",
        "pemphigus-vulgaris",
    }
)
NAIL_TOPICS = frozenset({"onychomycosis"})
WEIGHT_DECAY = {"skin": 1e-2, "pustules": 3e-2, "nail_changes": 3e-2}


def pustule_label(sample: Sample) -> int | None:
    topics = set(sample.topics)
    if topics & PUSTULE_TOPICS:
        return 1
    if topics & PUSTULE_UNLABELLED:
        return None
    return 0


def nail_label(sample: Sample) -> int:
    return int(bool(set(sample.topics) & NAIL_TOPICS))


def fit_logistic(x: torch.Tensor, y: torch.Tensor, weight_decay: float, balanced: bool) -> tuple[torch.Tensor, float]:
    """(weights [D], bias) of an L2-regularised logistic regression on standardised features x."""
    w = torch.zeros(x.shape[1], requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    y = y.to(torch.float32)
    if balanced:
        positive = float(y.mean())
        sample_weight = torch.where(y > 0.5, 0.5 / positive, 0.5 / (1.0 - positive))
    else:
        sample_weight = torch.ones_like(y)
    optimiser = torch.optim.LBFGS([w, b], lr=0.5, max_iter=300, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        logits = x @ w + b
        loss = (nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none") * sample_weight).mean()
        loss = loss + 0.5 * weight_decay * (w * w).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    return w.detach().clone(), float(b.detach().item())


def aux_layer(fitted: dict[str, tuple[torch.Tensor, float]]) -> nn.Linear:
    """One Linear(1280, K) holding the fitted heads in HEAD_NAMES order (exported into the graph)."""
    first = fitted[HEAD_NAMES[0]][0]
    layer = nn.Linear(first.shape[0], len(HEAD_NAMES))
    with torch.no_grad():
        for row, name in enumerate(HEAD_NAMES):
            weights, bias = fitted[name]
            layer.weight[row] = weights
            layer.bias[row] = bias
    return layer


def acceptance_threshold(skin_scores: np.ndarray, accept: float) -> float:
    """The gate threshold that accepts the share `accept` of real validation photos (never above
    0.5: where the two training populations are equally likely)."""
    return float(min(0.5, np.quantile(skin_scores, 1.0 - accept)))
