"""The review store on both engines (SQLite file, PostgreSQL): records, photos stored once per
content, overlays cached, expiry and purge, and a second store on the same database (another worker
or replica) seeing the same records."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import func, select

from cds_hooks.database import open_database
from cds_hooks.review import ReviewStore
from cds_hooks.tables import review_image

from .case_data import build_case, hand_built_assessment


def _images(store: ReviewStore) -> int:
    return store.database.read("test", lambda conn: conn.execute(select(func.count()).select_from(review_image)).scalar_one())


def test_records_photos_overlays_and_purge(tmp_path: Path, database_url: str | None) -> None:
    case = build_case()
    store = ReviewStore(open_database(database_url, tmp_path), ttl_seconds=2)
    first = store.put(hand_built_assessment(case), case, [{"resourceType": "CarePlan"}], fhir_server="https://fhir.example.org/r4/",
                      service_id="derm3r-patient-view", card_uuid="c-1")
    second = store.put(hand_built_assessment(case), case, [])  # a repeat view: the same photo bytes
    other = ReviewStore(open_database(database_url, tmp_path), ttl_seconds=2)  # another replica
    record = other.get(first)
    assert record["patient"] == case.patient.ref and record["fhirServer"] == "https://fhir.example.org/r4"
    assert record["serviceId"] == "derm3r-patient-view" and record["cardUuid"] == "c-1"
    assert record["resources"] == [{"resourceType": "CarePlan"}]
    assert other.photo(second, 0).data == case.photos[0].data
    assert other.photo(first, 99) is None and other.get("unknown") is None
    assert _images(store) == len({p.data for p in case.photos})
    overlays = store.overlays(first, 0)
    assert overlays is not None and other.overlays(first, 0).keys() == overlays.keys()
    time.sleep(2.1)
    assert store.get(first) is None and store.photo(first, 0) is None
    assert store.purge_expired() == 2
    assert _images(store) == 0


def test_photo_bytes_are_not_recompressed_on_postgres(migrated_postgres_url: str, tmp_path: Path) -> None:
    db = open_database(migrated_postgres_url, tmp_path)
    storage = db.read("test", lambda conn: conn.exec_driver_sql(
        "SELECT attname, attstorage FROM pg_attribute WHERE attrelid IN ('review_image'::regclass, 'review_overlay'::regclass)"
        " AND attname = 'data'").all())
    assert [row[1] for row in storage] == ["e", "e"]
