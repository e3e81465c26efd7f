"""Classification and calibration metrics, numpy only (evaluation runs in the runtime venv)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ECE_BINS = 15


def auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve by the rank-sum (Mann-Whitney) formula; ties get mid-ranks."""
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    n_pos = int(positive.sum())
    n_neg = positive.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUROC needs at least one positive and one negative")
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(scores.size, dtype=np.float64)
    start = 0
    while start < scores.size:
        end = start
        while end + 1 < scores.size and sorted_scores[end + 1] == sorted_scores[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2.0 + 1.0
        start = end + 1
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _mid_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks with ties sharing their mean rank."""
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = np.arange(1, values.size + 1, dtype=np.float64)
    for value in np.unique(values):
        tied = values == value
        if tied.sum() > 1:
            ranks[tied] = ranks[tied].mean()
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (Pearson correlation of mid-ranks, so ties are handled); nan when
    either side is constant."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.size < 2:
        raise ValueError("spearman needs two equal-length samples of at least two values")
    ra, rb = _mid_ranks(a) - (a.size + 1) / 2.0, _mid_ranks(b) - (b.size + 1) / 2.0
    denominator = float(np.sqrt((ra**2).sum() * (rb**2).sum()))
    return float((ra * rb).sum() / denominator) if denominator > 0 else float("nan")


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE with equal-width bins over [0, 1]: sum over bins of |accuracy - confidence| x bin share."""
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    # Bin i holds (edges[i], edges[i+1]]; a confidence of exactly 0 goes to the first bin.
    index = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    total = 0.0
    for b in range(bins):
        members = index == b
        if members.any():
            total += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(total)


def bootstrap_auroc_ci(
    scores: np.ndarray, positive: np.ndarray, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """95% percentile-bootstrap interval of the AUROC (images resampled with replacement); with a
    few dozen positives the point estimate alone overstates what the test split can tell."""
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        pick = rng.integers(0, scores.size, scores.size)
        if positive[pick].any() and not positive[pick].all():
            values.append(auroc(scores[pick], positive[pick]))
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def sensitivity_at_specificity(scores: np.ndarray, positive: np.ndarray, specificity: float = 0.90) -> float:
    """Share of positives scoring above the threshold that keeps `specificity` of the negatives
    below it (the operating point a screening use would need)."""
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    threshold = np.quantile(scores[~positive], specificity, method="higher")
    return float((scores[positive] > threshold).mean())


def _balanced_accuracy(predicted: np.ndarray, labels: np.ndarray, k: int) -> float:
    values = [float((predicted[labels == c] == c).mean()) for c in range(k) if (labels == c).any()]
    return float(np.mean(values))


def bootstrap_cis(
    probabilities: np.ndarray, labels: np.ndarray, positive: int, resamples: int = 1000, seed: int = 0
) -> dict[str, tuple[float, float]]:
    """95% percentile-bootstrap intervals (images resampled with replacement) of per-class
    sensitivity ("sensitivity:<index>"), balanced accuracy and psoriasis sensitivity at 0.90
    specificity."""
    rng = np.random.default_rng(seed)
    k = probabilities.shape[1]
    predicted = probabilities.argmax(axis=1)
    samples: dict[str, list[float]] = {"balanced_accuracy": [], "sensitivity_at_90_specificity": []}
    for c in range(k):
        samples[f"sensitivity:{c}"] = []
    for _ in range(resamples):
        pick = rng.integers(0, labels.size, labels.size)
        p, y = predicted[pick], labels[pick]
        samples["balanced_accuracy"].append(_balanced_accuracy(p, y, k))
        is_pos = y == positive
        if is_pos.any() and not is_pos.all():
            samples["sensitivity_at_90_specificity"].append(sensitivity_at_specificity(probabilities[pick, positive], is_pos))
        for c in range(k):
            if (y == c).any():
                samples[f"sensitivity:{c}"].append(float((p[y == c] == c).mean()))
    out = {}
    for name, values in samples.items():
        low, high = np.percentile(values, [2.5, 97.5]) if values else (float("nan"), float("nan"))
        out[name] = (float(low), float(high))
    return out


@dataclass(frozen=True)
class Report:
    classes: tuple[str, ...]
    n: int
    accuracy: float
    balanced_accuracy: float
    sensitivity: dict[str, float]
    specificity: dict[str, float]
    support: dict[str, int]
    confusion: list[list[int]]  # rows = true class, columns = predicted class
    top_label_ece: float
    psoriasis_auroc: float
    psoriasis_auroc_ci95: tuple[float, float]
    psoriasis_ece: float  # binary ECE of p(psoriasis) against "is psoriasis"
    nll: float
    psoriasis_sensitivity_at_90_specificity: float = float("nan")
    cis: dict[str, tuple[float, float]] | None = None  # bootstrap 95% intervals (see bootstrap_cis)

    def _ci(self, key: str) -> str:
        if not self.cis or key not in self.cis:
            return ""
        low, high = self.cis[key]
        return f" ({low:.2f}-{high:.2f})"

    def as_dict(self) -> dict[str, object]:
        return {
            "n": self.n,
            "accuracy": round(self.accuracy, 4),
            "balanced_accuracy": round(self.balanced_accuracy, 4),
            "psoriasis_vs_rest_auroc": round(self.psoriasis_auroc, 4),
            "psoriasis_vs_rest_auroc_ci95_bootstrap": [round(v, 4) for v in self.psoriasis_auroc_ci95],
            "top_label_ece_15_bins": round(self.top_label_ece, 4),
            "psoriasis_vs_rest_ece_15_bins": round(self.psoriasis_ece, 4),
            "nll": round(self.nll, 4),
            "psoriasis_sensitivity_at_90_specificity": round(self.psoriasis_sensitivity_at_90_specificity, 4),
            "bootstrap_ci95": {k: [round(v[0], 4), round(v[1], 4)] for k, v in (self.cis or {}).items() if not k.startswith("sensitivity:")},
            "per_class": {
                c: {
                    "support": self.support[c],
                    "sensitivity": round(self.sensitivity[c], 4),
                    "sensitivity_ci95_bootstrap": [round(v, 4) for v in (self.cis or {}).get(f"sensitivity:{i}", (float("nan"),) * 2)],
                    "specificity": round(self.specificity[c], 4),
                }
                for i, c in enumerate(self.classes)
            },
            "confusion_matrix": {"rows_true_columns_predicted": list(self.classes), "counts": self.confusion},
        }

    def markdown(self) -> str:
        lines = [
            f"- images: {self.n}",
            f"- psoriasis-vs-rest AUROC: {self.psoriasis_auroc:.3f} "
            f"(95% bootstrap CI {self.psoriasis_auroc_ci95[0]:.3f}-{self.psoriasis_auroc_ci95[1]:.3f})",
            f"- top-label ECE (15 bins): {self.top_label_ece:.3f}; psoriasis-vs-rest ECE: {self.psoriasis_ece:.3f}",
            f"- psoriasis sensitivity at 0.90 specificity: {self.psoriasis_sensitivity_at_90_specificity:.3f}"
            f"{self._ci('sensitivity_at_90_specificity')}",
            f"- balanced accuracy: {self.balanced_accuracy:.3f}{self._ci('balanced_accuracy')} "
            f"(accuracy {self.accuracy:.3f}, NLL {self.nll:.3f})",
            "",
            "| class | n | sensitivity (95% bootstrap CI) | specificity |",
            "|---|---:|---:|---:|",
        ]
        lines += [
            f"| {c} | {self.support[c]} | {self.sensitivity[c]:.3f}{self._ci(f'sensitivity:{i}')} | {self.specificity[c]:.3f} |"
            for i, c in enumerate(self.classes)
        ]
        lines += ["", "Confusion matrix (rows true, columns predicted):", ""]
        short = [c[:8] for c in self.classes]
        lines.append("| true \\ pred | " + " | ".join(short) + " |")
        lines.append("|---|" + "---:|" * len(short))
        for c, row in zip(self.classes, self.confusion, strict=True):
            lines.append(f"| {c} | " + " | ".join(str(v) for v in row) + " |")
        return "\n".join(lines)


def evaluate(
    probabilities: np.ndarray, labels: np.ndarray, classes: tuple[str, ...], positive: str = "psoriasis", cis: bool = False
) -> Report:
    """All held-out metrics for probabilities [N, C] against integer labels [N]."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    predicted = probabilities.argmax(axis=1)
    k = len(classes)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    sensitivity: dict[str, float] = {}
    specificity: dict[str, float] = {}
    support: dict[str, int] = {}
    for i, name in enumerate(classes):
        tp = confusion[i, i]
        fn = confusion[i].sum() - tp
        fp = confusion[:, i].sum() - tp
        tn = confusion.sum() - tp - fn - fp
        support[name] = int(tp + fn)
        sensitivity[name] = float(tp / (tp + fn)) if tp + fn else float("nan")
        specificity[name] = float(tn / (tn + fp)) if tn + fp else float("nan")
    present = [sensitivity[c] for c in classes if support[c] > 0]
    pos = classes.index(positive)
    is_pos = labels == pos
    p_pos = probabilities[:, pos]
    eps = 1e-12
    return Report(
        classes=classes,
        n=int(labels.size),
        accuracy=float((predicted == labels).mean()),
        balanced_accuracy=float(np.mean(present)),
        sensitivity=sensitivity,
        specificity=specificity,
        support=support,
        confusion=confusion.tolist(),
        top_label_ece=expected_calibration_error(probabilities.max(axis=1), predicted == labels),
        psoriasis_auroc=auroc(p_pos, is_pos),
        psoriasis_auroc_ci95=bootstrap_auroc_ci(p_pos, is_pos),
        psoriasis_ece=expected_calibration_error(np.where(p_pos >= 0.5, p_pos, 1 - p_pos), (p_pos >= 0.5) == is_pos),
        nll=float(-np.mean(np.log(probabilities[np.arange(labels.size), labels] + eps))),
        psoriasis_sensitivity_at_90_specificity=sensitivity_at_specificity(p_pos, is_pos),
        cis=bootstrap_cis(probabilities, labels, pos) if cis else None,
    )
