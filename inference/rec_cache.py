"""Per-photo DERM-Rec results cached by content hash.

An EHR re-sends the same photographs on every `patient-view` and `encounter-start` of a patient
(prefetch or Binary fetch), and DERM-Rec is deterministic: same bytes + same model + same settings
-> same reading. Decoding, the quality gate, lesion attributes and the model call are ~90 % of a
hook's CPU time, so a repeat view of a chart costs only hashing the bytes instead of reading each photo again
(both measured by `python -m bench.run`).

The key is SHA-256 of the encoded bytes plus the model version and the reader's settings, so a new
model or changed thresholds never serve stale readings. What a reading says about *where* a photo
sits in the record (its FHIR reference, body region, date) is not a property of the bytes: the same
image can be attached to two Media; it is re-bound to the photo at hand on every hit.

Why serving a cached reading is safe:
- the key is SHA-256 of the encoded bytes + model version + the reader's settings (`key`): a
  different photo, model or threshold is a different key, and a collision is not a practical risk;
- DERM-Rec is deterministic (same key -> same reading), and a reading holds no PHI beyond what the
  photo itself carries; nothing is written to disk and nothing outlives the worker process;
- what is stored is a private deep copy of the reading, and every hit returns a fresh deep copy
  re-bound to the photo at hand (`rebind`): RecResult is frozen but holds dicts, so a caller that
  mutated a returned reading could otherwise change what later hits return.

Wired in `inference.pipeline.build_pipeline` as `CachingRec(DermRec(model), RecCache())`.
`CachingRec` has DermRec's `read` / `model_version` surface (`PhotoReader`), so nothing else
changes. Memory is bounded twice, so a worker's RSS stays flat however many distinct photos it sees:
at most `max_entries` readings and at most `max_bytes` of them (size measured as the pickled
reading, a few KB each; 256 entries stay well under 2 MB per worker). Each gunicorn worker has its
own cache (no cross-process state).
"""

from __future__ import annotations

import copy
import hashlib
import pickle
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from inference.case import Photo
from inference.results import AttributeScore, LesionAttributes, Morphology, MorphologyFinding, RecResult
from inference.time_budget import TIME_BUDGET_METRIC

DEFAULT_MAX_ENTRIES = 256
# A reading pickles to ~1-4 KB; this bound only bites if readings grow (e.g. per-pixel evidence).
DEFAULT_MAX_BYTES = 4 * 1024 * 1024


class PhotoReader(Protocol):
    """What reads photos for the pipeline: `inference.rec.DermRec`, or `CachingRec` around it."""

    @property
    def model_version(self) -> str: ...

    def read(self, photos: Sequence[Photo]) -> tuple[RecResult, ...]: ...


@dataclass(frozen=True)
class CacheStats:
    hits: int
    misses: int
    entries: int
    max_entries: int
    bytes: int = 0
    max_bytes: int = DEFAULT_MAX_BYTES


class RecCache:
    """A thread-safe LRU of RecResult by key (see `key`), bounded in entries and in bytes."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, got {max_entries}")
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be >= 1, got {max_bytes}")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, tuple[RecResult, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    @staticmethod
    def key(photo_sha256: str, model_version: str, settings: str = "") -> str:
        """SHA-256 over the model version, the reader's settings and the photo's SHA-256
        (`Photo.sha256`, already computed for de-duplication: the bytes are hashed once)."""
        return hashlib.sha256("\x00".join((model_version, settings, photo_sha256)).encode("utf-8")).hexdigest()

    def get(self, key: str) -> RecResult | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                self._misses += 1
                return None
            self._entries.move_to_end(key)
            self._hits += 1
            return found[0]

    def put(self, key: str, result: RecResult) -> None:
        # A private copy: the caller keeps (and may mutate the dicts of) the object it passed in.
        # Its pickled length is the size charged against max_bytes.
        size = len(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
        if size > self.max_bytes:
            return  # larger than the whole budget: not worth evicting everything for
        stored = copy.deepcopy(result)
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._bytes -= previous[1]
            self._entries[key] = (stored, size)
            self._bytes += size
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                _, (_, evicted) = self._entries.popitem(last=False)
                self._bytes -= evicted

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(self._hits, self._misses, len(self._entries), self.max_entries, self._bytes, self.max_bytes)


def rebind(result: RecResult, photo: Photo) -> RecResult:
    """A cached reading re-addressed to `photo`: its reference, region and date, and evidence that
    pointed at the photo the reading was first made for now points at this one.

    The frozen results still hold dicts (probabilities, metrics, measurements); a deep copy keeps a
    caller that mutates one from changing what later hits return (cheap next to a reading)."""
    result = copy.deepcopy(result)
    old = result.photo_ref
    attributes = result.attributes
    morphology = result.morphology
    if attributes is not None and old != photo.ref:
        attributes = _rebind_attributes(attributes, old, photo.ref)
    if morphology is not None and old != photo.ref:
        morphology = _rebind_morphology(morphology, old, photo.ref)
    return replace(
        result, photo_ref=photo.ref, region=photo.region, taken=photo.taken, attributes=attributes, morphology=morphology
    )


def _rebind_morphology(morphology: Morphology, old: str, new: str) -> Morphology:
    def finding(f: MorphologyFinding) -> MorphologyFinding:
        return replace(f, evidence=tuple(replace(e, source_ref=new) if e.source_ref == old else e for e in f.evidence))

    return Morphology(**{name: finding(f) for name, f in morphology.as_dict().items()})


def _rebind_attributes(attributes: LesionAttributes, old: str, new: str) -> LesionAttributes:
    def score(s: AttributeScore) -> AttributeScore:
        evidence = tuple(replace(e, source_ref=new) if e.source_ref == old else e for e in s.evidence)
        return replace(s, evidence=evidence)

    return replace(
        attributes,
        erythema=score(attributes.erythema),
        scale=score(attributes.scale),
        thickness=score(attributes.thickness),
        area_fraction=score(attributes.area_fraction),
    )


class CachingRec:
    """DERM-Rec with a content-hash cache in front: cached photos are re-bound, the rest are read by
    the wrapped reader in ONE call (so the model still sees one batch per request)."""

    def __init__(self, inner: PhotoReader, cache: RecCache, settings: str = "") -> None:
        self.inner = inner
        self.cache = cache
        # Anything besides the model that changes a reading (thresholds, max side) belongs here;
        # repr of the reader's public settings is the default.
        self.settings = settings or _settings_of(inner)

    @property
    def model_version(self) -> str:
        return self.inner.model_version

    def read(self, photos: Sequence[Photo]) -> tuple[RecResult, ...]:
        version = self.model_version
        keys = [RecCache.key(p.sha256, version, self.settings) for p in photos]
        results: list[RecResult | None] = []
        for photo, key in zip(photos, keys, strict=True):
            cached = self.cache.get(key)
            results.append(rebind(cached, photo) if cached is not None else None)
        missing = [i for i, r in enumerate(results) if r is None]
        if missing:
            fresh = self.inner.read([photos[i] for i in missing])
            for i, result in zip(missing, fresh, strict=True):
                # A photo skipped for lack of request time was not read: caching that would refuse
                # it on every later view too.
                if TIME_BUDGET_METRIC not in result.quality.metrics:
                    self.cache.put(keys[i], result)
                results[i] = result
        return tuple(r for r in results if r is not None)


def _settings_of(reader: object) -> str:
    parts = [f"{name}={getattr(reader, name)!r}" for name in ("uncertain_below", "thresholds", "max_side") if hasattr(reader, name)]
    return ";".join(parts)
