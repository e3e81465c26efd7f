"""Renders `codes.CONTRACT` as the Markdown data-contract table (`fhir_mapping/data_contract.md`,
pasted into the README). Regenerate with `python -m fhir_mapping.contract_table > fhir_mapping/data_contract.md`;
a test fails when the file is out of date."""

from __future__ import annotations

from fhir_mapping import codes

_HEADER = """# derm3r data contract: codes read and written

Generated from `fhir_mapping/codes.py` by `python -m fhir_mapping.contract_table`; do not edit by hand.
Direction: **read** = recognised in EHR data; **write** = emitted by the service (AI output is always
`preliminary` / `draft` and tagged `AIAST`); **read/write** = both. Codes marked (unverified) are
accepted on input but should be checked against a terminology server.

Own CodeSystem: `{derm3r}`. Every own URI (this CodeSystem, the card-topic and
override-reason CodeSystems, NamingSystems, the code-unverified extension) is built from one root,
`{root}` (`fhir_mapping.codes.own_uri`).

| system | code | meaning | direction | maps to / used for |
|---|---|---|---|---|
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render() -> str:
    merged: dict[tuple[str, str], codes.CodeInfo] = {}
    for row in codes.CONTRACT:
        key = (row.system, row.code)
        previous = merged.get(key)
        if previous is None:
            merged[key] = row
        elif previous.direction != row.direction:
            merged[key] = codes.CodeInfo(row.system, row.code, previous.display, "read/write",
                                         f"{previous.maps_to}; {row.maps_to}")
    lines = [_HEADER.format(derm3r=codes.DERM3R, root=codes.OWN_FHIR_ROOT)]
    for row in sorted(merged.values(), key=lambda r: (r.system, r.code)):
        lines.append(f"| {_cell(row.system)} | `{_cell(row.code)}` | {_cell(row.display)} | {row.direction} | {_cell(row.maps_to)} |\n")
    return "".join(lines)


if __name__ == "__main__":
    print(render(), end="")
