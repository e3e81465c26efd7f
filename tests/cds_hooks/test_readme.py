"""README stays true: configuration table, card catalogue, quick start, pasted data contract."""

from __future__ import annotations

import re

from cds_hooks.cards import TOPIC_ASSESSMENT, TOPIC_DATA_QUALITY, TOPIC_SAFETY, TOPIC_SCOPE, TOPIC_SCREENING
from cds_hooks.order_cards import TOPIC_PRESCRIBING
from service_support import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
CONTRACT_MARKER = "tests/cds_hooks/test_readme.py fails when the two drift apart. -->\n\n"
RESYNC = (
    "python -c \"import pathlib as p; r = p.Path('README.md'); t = r.read_text(); "
    "m = 'tests/cds_hooks/test_readme.py fails when the two drift apart. -->\\n\\n'; "
    "r.write_text(t[: t.index(m) + len(m)] + ''.join(p.Path('fhir_mapping/data_contract.md').read_text().splitlines(True)[2:]))\""
)


def _section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, flags=re.S | re.M)
    assert match, title
    return match.group(1)


def test_every_setting_is_documented() -> None:
    variables = set(re.findall(r"DERM3R_[A-Z_]+", (REPO / "cds_hooks" / "settings.py").read_text()))
    table = _section("Configuration")
    assert variables and {v for v in variables if f"`{v}`" not in table} == set()


def test_quick_start_is_two_commands() -> None:
    blocks = re.findall(r"```sh\n(.*?)```", _section("Quick start"), flags=re.S)
    assert len(blocks) == 2 and all(len(b.strip().splitlines()) == 1 for b in blocks)
    assert "derm3r demo" in blocks[0] and "bash .ci/run" in blocks[1]


def test_card_catalogue_names_every_card() -> None:
    catalogue = _section("Card catalogue")
    for topic in (TOPIC_SAFETY, TOPIC_ASSESSMENT, TOPIC_SCOPE, TOPIC_SCREENING, TOPIC_DATA_QUALITY, TOPIC_PRESCRIBING):
        assert f"`{topic.code}`" in catalogue


def test_data_contract_matches_the_generated_table() -> None:
    generated = "".join((REPO / "fhir_mapping" / "data_contract.md").read_text(encoding="utf-8").splitlines(True)[2:])
    pasted = README[README.index(CONTRACT_MARKER) + len(CONTRACT_MARKER) :]
    assert pasted == generated, f"README's data contract is stale; from the repository root run:\n{RESYNC}"


def test_sandbox_section_names_its_hooks_and_trust_entry() -> None:
    from cds_hooks.services import default_registry

    section = _section("Try it in the CDS Hooks Sandbox")
    assert '"https://sandbox.cds-hooks.org"' in section and "ES384" in section and "jku" in section
    for hook in ("patient-view", "order-select", "order-sign"):
        assert f"`{hook}`" in section
    for service in default_registry():
        assert f"`{service.id}`" in section
    assert "CORS" in section and "HTTPS" in section
