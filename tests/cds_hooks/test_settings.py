"""Settings: read from DERM3R_* once, typed, with errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from cds_hooks.settings import Settings


def test_defaults_without_environment() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()


def test_every_variable_is_read() -> None:
    env = {
        "DERM3R_AUTH": "off",
        "DERM3R_TRUSTED_ISSUERS": "/etc/issuers.json",
        "DERM3R_PUBLIC_BASE_URL": "https://derm3r.example.org/",
        "DERM3R_FHIR_ALLOWLIST": "https://a.example.org/fhir/, https://b.example.org/r4",
        "DERM3R_DATA_DIR": "/data",
        "DERM3R_JWT_LEEWAY": "10",
        "DERM3R_FHIR_TIMEOUT": "1.5",
        "DERM3R_DEADLINE": "3",
        "DERM3R_MAX_BODY_BYTES": "1000",
        "DERM3R_ALLOW_PRIVATE_FHIR": "yes",
        "DERM3R_MODEL_DIR": "/models",
        "DERM3R_KNOWLEDGE_DIR": "/kb",
        "DERM3R_ONNX_THREADS": "2",
        "DERM3R_REVIEW_TTL": "60",
        "DERM3R_MAX_PHOTOS": "4",
        "DERM3R_FHIR_MAX_PAGES": "2",
        "DERM3R_REVIEW_CLIENT_ID": "review-x",
        "DERM3R_DATABASE_URL": "postgresql://derm3r:secret@db/derm3r",
        "DERM3R_DB_POOL_SIZE": "3",
        "DERM3R_DB_TIMEOUT": "2.5",
        "DERM3R_METRICS_TOKEN": "scrape-token",
        "DERM3R_METRICS_PORT": "9102",
        "DERM3R_LOG_FORMAT": "text",
    }
    s = Settings.from_env(env)
    assert s.auth_enabled is False and s.trusted_issuers_file == Path("/etc/issuers.json")
    assert s.public_base_url == "https://derm3r.example.org"
    assert s.fhir_allowlist == ("https://a.example.org/fhir", "https://b.example.org/r4")
    assert (s.data_dir, s.model_dir, s.knowledge_dir) == (Path("/data"), Path("/models"), Path("/kb"))
    assert (s.jwt_leeway_seconds, s.fhir_timeout_seconds, s.request_deadline_seconds) == (10, 1.5, 3.0)
    assert (s.max_body_bytes, s.onnx_threads, s.review_ttl_seconds, s.max_photos, s.fhir_max_pages) == (1000, 2, 60, 4, 2)
    assert s.allow_private_fhir is True and s.extra == {"review_client_id": "review-x"}
    assert (s.database_url, s.db_pool_size, s.db_timeout_seconds) == ("postgresql://derm3r:secret@db/derm3r", 3, 2.5)
    assert (s.metrics_token, s.metrics_port, s.log_format) == ("scrape-token", 9102, "text")
    # Secrets stay out of the settings' repr (it may end up in a log or a traceback).
    assert "secret" not in repr(s) and "scrape-token" not in repr(s)


def test_log_format_is_checked() -> None:
    with pytest.raises(ValueError, match="DERM3R_LOG_FORMAT"):
        Settings.from_env({"DERM3R_LOG_FORMAT": "xml"})


@pytest.mark.parametrize("name,value", [("DERM3R_DEADLINE", "soon"), ("DERM3R_MAX_PHOTOS", "1.5"), ("DERM3R_FHIR_TIMEOUT", "-1")])
def test_bad_numbers_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        Settings.from_env({name: value})


def test_settings_are_frozen() -> None:
    with pytest.raises(AttributeError):
        Settings().auth_enabled = False  # type: ignore[misc]
