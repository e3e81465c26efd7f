"""Grouped, class-stratified train/val/test split, so that near-duplicates never straddle splits.

DermNet often shows the same patient or the same lesion in several photographs (re-crops, other
angles, a second visit). If one lands in train and its twin in test, test accuracy measures memory,
not recognition. Two images are joined into one group when either
- their perceptual hashes (64-bit DCT hash of the masked image) differ in at most `PHASH_BITS` bits
  (re-encodes, re-crops, colour tweaks), or
- their frozen-backbone embeddings have cosine similarity >= `COSINE` (same lesion photographed
  again, same patient nearby sites),
and groups are the connected components (union-find). Whole groups are then assigned to splits,
largest first, to the split whose share of that class is furthest below its target.

The split manifest (file names, SHA-1s, group, split) is committed; no pixels or features are.
"""

from __future__ import annotations

import csv
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from tools.lesion_model.classes import CLASSES
from tools.lesion_model.data import Sample

PHASH_BITS = 10
COSINE = 0.85
FRACTIONS = {"train": 0.70, "val": 0.15, "test": 0.15}
SPLITS = tuple(FRACTIONS)


def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    matrix = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    matrix[0] /= np.sqrt(2.0)
    return matrix


_DCT32 = _dct_matrix(32)


def perceptual_hash(image: Image.Image) -> np.ndarray:
    """64-bit pHash as a bool vector: low-frequency 8x8 DCT of a 32x32 grey image, above its median."""
    grey = np.asarray(image.convert("L").resize((32, 32), Image.Resampling.LANCZOS), dtype=np.float64)
    low = (_DCT32 @ grey @ _DCT32.T)[:8, :8].ravel()
    return low > np.median(low[1:])


class UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


@dataclass(frozen=True)
class GroupStats:
    groups: int
    largest: int
    phash_pairs: int
    embedding_pairs: int


def near_duplicate_groups(hashes: np.ndarray, embeddings: np.ndarray) -> tuple[np.ndarray, GroupStats]:
    """Group id per image (the smallest member index) from pHash and embedding similarity."""
    n = hashes.shape[0]
    uf = UnionFind(n)
    bits = hashes.astype(np.int16)
    hamming = bits @ (1 - bits).T + (1 - bits) @ bits.T
    phash_pairs = np.argwhere(np.triu(hamming <= PHASH_BITS, k=1))
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    cosine = unit @ unit.T
    embedding_pairs = np.argwhere(np.triu(cosine >= COSINE, k=1))
    for a, b in np.concatenate([phash_pairs, embedding_pairs]):
        uf.union(int(a), int(b))
    groups = np.array([uf.find(i) for i in range(n)])
    sizes = Counter(groups.tolist())
    return groups, GroupStats(
        groups=len(sizes),
        largest=max(sizes.values()),
        phash_pairs=len(phash_pairs),
        embedding_pairs=len(embedding_pairs),
    )


def assign_splits(samples: tuple[Sample, ...], groups: np.ndarray, seed: int) -> list[str]:
    """Split name per sample; whole groups move together, stratified by the group's majority class."""
    members: dict[int, list[int]] = {}
    for index, group in enumerate(groups.tolist()):
        members.setdefault(group, []).append(index)
    class_totals = Counter(s.label for s in samples)
    counts = {split: Counter() for split in SPLITS}
    order = list(members)
    random.Random(seed).shuffle(order)
    order.sort(key=lambda g: -len(members[g]))  # stable: ties keep the seeded shuffle
    assignment: dict[int, str] = {}
    for group in order:
        majority = Counter(samples[i].label for i in members[group]).most_common(1)[0][0]
        # Deficit relative to target: where this class is most under-filled, scaled by the target.
        def deficit(split: str) -> float:
            target = FRACTIONS[split] * class_totals[majority]
            return (target - counts[split][majority]) / FRACTIONS[split]

        chosen = max(SPLITS, key=deficit)
        assignment[group] = chosen
        for i in members[group]:
            counts[chosen][samples[i].label] += 1
    return [assignment[g] for g in groups.tolist()]


def write_manifest(path: Path, samples: tuple[Sample, ...], groups: np.ndarray, splits: list[str], data_dir: Path) -> None:
    """CSV of sha1, relative path, topics, class, group, split: no pixels, no features."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["sha1", "path", "topics", "class", "group", "split"])
        for sample, group, split in zip(samples, groups.tolist(), splits, strict=True):
            writer.writerow(
                [
                    sample.sha1,
                    sample.path.relative_to(data_dir).as_posix(),
                    ";".join(sample.topics),
                    sample.label,
                    samples[group].sha1[:12],  # the group's first member names the group
                    split,
                ]
            )


def read_manifest(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    unknown = {r["class"] for r in rows} - set(CLASSES)
    if unknown:
        raise ValueError(f"{path}: unknown classes {sorted(unknown)}")
    return rows
