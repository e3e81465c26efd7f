"""inference.rec_cache: a content-hash cache in front of DERM-Rec returns exactly what DERM-Rec
would, re-bound to the photo at hand, and only reads the photos it has not seen."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from rec_support import StubClassifier

from inference import synth
from inference.case import BodyRegion, Photo
from inference.rec import DermRec
from inference.rec_cache import CachingRec, RecCache, rebind
from inference.synth import PlaqueSpec

WHEN = datetime(2026, 11, 13, 9, 30, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def jpegs() -> list[bytes]:
    return [synth.jpeg_bytes(synth.render(PlaqueSpec(seed=s, width=320, height=240)).image) for s in (1, 2, 3)]


def _photo(ref: str, data: bytes, region: BodyRegion = BodyRegion.TRUNK) -> Photo:
    return Photo(ref=ref, data=data, content_type="image/jpeg", region=region, taken=WHEN)


def test_hit_equals_a_fresh_reading_and_skips_the_model(jpegs: list[bytes]) -> None:
    model = StubClassifier()
    cached = CachingRec(DermRec(model), RecCache())
    photos = [_photo(f"Media/{i}", j) for i, j in enumerate(jpegs)]
    first = cached.read(photos)
    second = cached.read(photos)
    assert second == first == DermRec(StubClassifier()).read(photos)
    assert model.batches == [3]  # one batch for the misses, nothing for the hits
    stats = cached.cache.stats()
    assert (stats.hits, stats.misses, stats.entries) == (3, 3, 3)


def test_only_unseen_photos_are_read_in_one_batch_in_input_order(jpegs: list[bytes]) -> None:
    model = StubClassifier()
    cached = CachingRec(DermRec(model), RecCache())
    cached.read([_photo("Media/b", jpegs[1])])
    results = cached.read([_photo("Media/a", jpegs[0]), _photo("Media/b", jpegs[1]), _photo("Media/c", jpegs[2])])
    assert [r.photo_ref for r in results] == ["Media/a", "Media/b", "Media/c"]
    assert model.batches == [1, 2]


def test_a_caller_mutating_a_reading_does_not_change_the_cache(jpegs: list[bytes]) -> None:
    cached = CachingRec(DermRec(StubClassifier()), RecCache())
    photo = _photo("Media/a", jpegs[0])
    first = cached.read([photo])[0]
    expected = dict(first.probabilities)
    hit = cached.read([photo])[0]
    hit.probabilities.clear()
    hit.quality.metrics.clear()
    again = cached.read([photo])[0]
    assert again.probabilities == expected and again.quality.metrics


def test_same_bytes_under_another_reference_are_rebound(jpegs: list[bytes]) -> None:
    cached = CachingRec(DermRec(StubClassifier()), RecCache())
    (original,) = cached.read([_photo("Media/old", jpegs[0], BodyRegion.TRUNK)])
    (again,) = cached.read([_photo("DocumentReference/new", jpegs[0], BodyRegion.HEAD)])
    assert again.photo_ref == "DocumentReference/new" and again.region is BodyRegion.HEAD
    assert again.probabilities == original.probabilities
    assert again.attributes is not None
    refs = {e.source_ref for s in (again.attributes.erythema, again.attributes.scale) for e in s.evidence}
    assert refs == {"DocumentReference/new"}


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("aa", "v1", ""), ("ab", "v1", "")),  # other photo
        (("aa", "v1", ""), ("aa", "v2", "")),  # other model
        (("aa", "v1", "t=0.5"), ("aa", "v1", "t=0.6")),  # other settings
    ],
)
def test_key_changes_with_photo_model_and_settings(a: tuple[str, str, str], b: tuple[str, str, str]) -> None:
    assert RecCache.key(*a) != RecCache.key(*b)
    assert RecCache.key(*a) == RecCache.key(*a)


def test_lru_evicts_the_least_recently_used() -> None:
    cache = RecCache(max_entries=2)
    reading = DermRec(StubClassifier()).read([_photo("Media/x", b"not an image")])[0]
    cache.put("a", reading)
    cache.put("b", reading)
    assert cache.get("a") is not None  # a is now the most recent
    cache.put("c", reading)
    assert cache.get("b") is None and cache.get("a") is not None and cache.get("c") is not None


def test_rebind_keeps_an_unusable_reading_unusable() -> None:
    reading = DermRec(StubClassifier()).read([_photo("Media/x", b"not an image")])[0]
    moved = rebind(reading, _photo("Media/y", b"not an image", BodyRegion.LOWER_LIMBS))
    assert not moved.quality.usable and moved.photo_ref == "Media/y" and moved.region is BodyRegion.LOWER_LIMBS


def test_max_entries_must_be_positive() -> None:
    with pytest.raises(ValueError):
        RecCache(max_entries=0)


def test_byte_budget_evicts_oldest_and_keeps_rss_bounded(jpegs: list[bytes]) -> None:
    reading = DermRec(StubClassifier()).read([_photo("Media/a", jpegs[0])])[0]
    one = RecCache()
    one.put("a", reading)
    size = one.stats().bytes
    assert size > 0
    cache = RecCache(max_entries=100, max_bytes=2 * size)
    for key in ("a", "b", "c"):
        cache.put(key, reading)
    stats = cache.stats()
    assert stats.entries == 2 and stats.bytes <= 2 * size
    assert cache.get("a") is None and cache.get("c") is not None


def test_cache_keeps_a_private_copy_of_what_it_was_given(jpegs: list[bytes]) -> None:
    reading = DermRec(StubClassifier()).read([_photo("Media/a", jpegs[0])])[0]
    cache = RecCache()
    cache.put("a", reading)
    reading.probabilities.clear()  # a caller mutating the reading it got on a miss
    cached = cache.get("a")
    assert cached is not None and cached.probabilities


def test_build_pipeline_puts_the_cache_in_front_of_derm_rec() -> None:
    pytest.importorskip("onnxruntime")
    from inference.pipeline import build_pipeline

    pipeline = build_pipeline()
    assert isinstance(pipeline.rec, CachingRec) and isinstance(pipeline.rec.inner, DermRec)
