"""`derm3r demo`: the service on a free loopback port, called over real HTTP (with real JWTs) for
each built-in synthetic patient: patient-view, then order-sign with a drafted methotrexate order;
a short table of the cards printed, full responses and draft CarePlans written to files. By default the
patients' records travel as prefetch; with `--fhir URL` they live on a FHIR server (optionally seeded
first, see `cds_hooks.demo.fhir_server`) and the service fetches them itself."""

from __future__ import annotations

import json
import logging
import signal
import tempfile
import textwrap
import threading
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable, TextIO

import requests
from werkzeug.serving import BaseWSGIServer, make_server

from cds_hooks.demo.ehr_request import bundle_patient_id, hook_request, order_context, prefetch_from_bundle
from cds_hooks.demo.fhir_server import FhirDemoOptions, FhirTarget
from cds_hooks.demo.issuer import DemoIssuer
from cds_hooks.outbound import guarded_session
from cds_hooks.services import default_registry
from cds_hooks.settings import Settings
from inference.i18n import localize, t, tr, use_language

log = logging.getLogger(__name__)

DEMO_SERVICE = "derm3r-patient-view"
ORDER_SERVICE = "derm3r-order-sign"
# The order the demo drafts for every patient at order-sign: what the prescribing check says about
# methotrexate differs by patient (a pregnant patient gets a critical card).
DEMO_ORDER_TEXT = "Methotrexate 2.5 MG Oral Tablet"


def demo_order(patient_id: str) -> dict[str, Any]:
    """A draft MedicationRequest as an EHR sends it in order-sign's draftOrders."""
    return {
        "resourceType": "MedicationRequest",
        "id": "demo-methotrexate",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{patient_id}"},
        "medicationCodeableConcept": {
            "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "6851", "display": "methotrexate"}],
            "text": DEMO_ORDER_TEXT,
        },
    }
HTTP_TIMEOUT = 60  # seconds; the first call also warms the ONNX session
DEMO_FHIR_TIMEOUT = 10.0  # seconds per FHIR call the service makes in `--fhir` mode
DEMO_FHIR_DEADLINE = 30.0  # seconds for all FHIR calls of one request in `--fhir` mode


@dataclass(frozen=True)
class DemoResult:
    patient_id: str
    label: str  # synthetic name, sex and birth date, for the printout
    status: int
    cards: list[dict]
    careplan_path: Path | None
    error: str | None = None  # the OperationOutcome text of a non-200 answer
    response_path: Path | None = None  # the full CDS Hooks response as JSON
    order_cards: list[dict] | None = None  # order-sign's answer to the demo's methotrexate order
    order_path: Path | None = None


class LoopbackServer:
    """A threaded werkzeug server on 127.0.0.1 with an OS-chosen free port. The app is attached
    after the port is known, because the app's public base URL (the JWT audience) contains it."""

    def __init__(self) -> None:
        self._app: Callable[..., Any] | None = None
        self._server: BaseWSGIServer = make_server("127.0.0.1", 0, self._dispatch, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="derm3r-demo-http", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def _dispatch(self, environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
        assert self._app is not None, "app attached before start()"
        return self._app(environ, start_response)

    def start(self, app: Callable[..., Any]) -> None:
        self._app = app
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def demo_bundles() -> list[dict]:
    from cds_hooks.demo.synthetic import demo_patients

    return demo_patients()


# The printout's own labels (the cards' text comes from the service, already in the language asked
# for); rendered with `tr` in the caller's `use_language` block. Indicator values are the spec's codes
# on the wire; on screen they are words.
_INDICATORS = {"info": t("INFO"), "warning": t("WARNING"), "critical": t("CRITICAL")}
_ACTIONS = {"create": t("create"), "update": t("update"), "delete": t("delete")}


def _indicator(card: dict) -> str:
    code = str(card.get("indicator", ""))
    return localize(_INDICATORS[code]) if code in _INDICATORS else code.upper()


def _columns(text: str) -> int:
    """Terminal columns of `text`: a Chinese character takes two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, columns: int) -> str:
    return text + " " * max(0, columns - _columns(text))


def _wrap(text: str, width: int, initial_indent: str, subsequent_indent: str) -> list[str]:
    """textwrap by terminal columns: text with Chinese characters is wrapped narrower (textwrap counts
    characters, and breaks Chinese, which has no spaces, anywhere)."""
    wide = _columns(text) - len(text)
    if wide > 0:
        width = max(len(initial_indent) + 20, int(width * len(text) / _columns(text)))
    return textwrap.wrap(text, width=width, initial_indent=initial_indent, subsequent_indent=subsequent_indent)


def render_cards(cards: list[dict], *, width: int = 100) -> str:
    """Cards as plain text for a terminal."""
    out: list[str] = []
    for card in cards:
        out.append(f"[{_indicator(card)}] {card['summary']}")
        out.append("    " + tr("source: {label}", label=card["source"]["label"]))
        for line in card.get("detail", "").splitlines():
            out.extend(_wrap(line.replace("\\", ""), width, "    ", "      ") or [""])
        for suggestion in card.get("suggestions", []):
            out.append("    -> " + tr("suggestion: {label}", label=suggestion["label"]))
            for action in suggestion.get("actions", []):
                out.append("         " + tr("{action}: {description}", action=_ACTIONS.get(action["type"], action["type"]),
                                                 description=action["description"]))
        for link in card.get("links", []):
            out.append("    -> " + tr("link ({kind}): {label} {url}", kind=link["type"], label=link["label"], url=link["url"]))
        out.append("")
    return "\n".join(out)


_WRITE_ORDER = ("CarePlan", "MedicationRequest", "ServiceRequest")  # what the clinician cares about first


def _writes(card: dict) -> str:
    """What accepting the card's suggestions would write to the EHR, e.g. "CarePlan, 3 Observation,
    Provenance, update Device" ("" for a card without suggestions)."""
    counts: dict[str, int] = {}
    deleted: set[str] = set()
    for suggestion in card.get("suggestions", []):
        for action in suggestion.get("actions", []):
            if action["type"] == "delete":
                # Alternative suggestions may each remove the same draft order: it is one deletion.
                if action.get("resourceId") in deleted:
                    continue
                deleted.add(action.get("resourceId") or "?")
            resource = action.get("resource") or {}
            kind = resource.get("resourceType") or (action.get("resourceId") or "?").split("/", 1)[0]
            verb = "" if action["type"] == "create" else f"{action['type']} "
            counts[verb + kind] = counts.get(verb + kind, 0) + 1
    names = sorted(counts, key=lambda k: (k not in _WRITE_ORDER, _WRITE_ORDER.index(k) if k in _WRITE_ORDER else 0))
    return tr(", ").join(_written(name, counts[name]) for name in names)


def _written(name: str, count: int) -> str:
    """"2 Observation", "update Device" in English; resource types and verbs are catalogue words
    (inference.i18n.vocabulary), so Chinese reads "观察记录 2 项", "更新 设备"."""
    verb, _, kind = name.rpartition(" ")
    label = tr(kind) if not verb else tr("{action} {resource}", action=_ACTIONS.get(verb, verb), resource=kind)
    return label if count == 1 else tr("{count} {resource}", count=count, resource=label)


def summary_table(cards: list[dict], *, width: int = 100) -> str:
    """One row per card: number, indicator, the summary (wrapped, never cut) and, for a card with
    suggestions, what accepting them would write."""
    if not cards:
        return "    " + tr("(no cards)") + "\n"
    column = max(9, *(_columns(_indicator(card)) for card in cards), _columns(tr("INDICATOR")))
    indent = " " * (10 + column)
    header, contents = tr("INDICATOR"), tr("SUMMARY / WRITES")
    out = [f"    {'#':>2}  {_pad(header, column)}  {contents}"]
    for number, card in enumerate(cards, 1):
        first = f"    {number:>2}  {_pad(_indicator(card), column)}  "
        out.extend(_wrap(card["summary"], width, first, indent))
        writes = _writes(card)
        if writes:
            out.extend(_wrap(tr("writes: {resources}", resources=writes), width, indent, indent + "  "))
    return "\n".join(out) + "\n"


def _patient_label(bundle: dict) -> str:
    """'Alex Synthetic, female, born 1984-03-02' (all synthetic) for the demo printout."""
    from cds_hooks.demo.ehr_request import bundle_resources
    from cds_hooks.demo.fhir_server import patient_label

    return patient_label(next(r for r in bundle_resources(bundle) if r["resourceType"] == "Patient"))


def _careplan(cards: list[dict]) -> dict | None:
    for card in cards:
        for suggestion in card.get("suggestions", []):
            for action in suggestion.get("actions", []):
                resource = action.get("resource") or {}
                if resource.get("resourceType") == "CarePlan":
                    return resource
    return None


@dataclass(frozen=True)
class DemoCall:
    """One `patient-view` call: with prefetch (embedded data) or without (the service reads the
    record from the FHIR server named in `fhir`)."""

    patient_id: str
    label: str
    prefetch: dict[str, Any] | None = None


def embedded_calls() -> list[DemoCall]:
    service = default_registry().get(DEMO_SERVICE)
    return [DemoCall(bundle_patient_id(b), _patient_label(b), prefetch_from_bundle(b, service)) for b in demo_bundles()]


def _outcome_text(payload: Any) -> str | None:
    """The first issue's text of an OperationOutcome error body, for one line on screen."""
    if not isinstance(payload, dict) or payload.get("resourceType") != "OperationOutcome":
        return None
    for issue in payload.get("issue") or []:
        text = (issue.get("details") or {}).get("text") or issue.get("diagnostics")
        if text:
            return str(text)
    return None


def call_patients(
    base_url: str, issuer: DemoIssuer, calls: list[DemoCall], out_dir: Path, *, fhir: FhirTarget | None = None,
    language: str = "en",
) -> list[DemoResult]:
    service = default_registry().get(DEMO_SERVICE)
    url = f"{base_url}/cds-services/{service.id}"
    results = []
    with _demo_session() as http:
        discovery = http.get(f"{base_url}/cds-services", headers={"Authorization": issuer.authorization(f"{base_url}/cds-services")}, timeout=HTTP_TIMEOUT)
        discovery.raise_for_status()
        for call in calls:
            pid = call.patient_id
            body = hook_request(
                service,
                pid,
                prefetch=call.prefetch,
                fhir_server=fhir.base if fhir else None,
                fhir_authorization=fhir.fhir_authorization() if fhir else None,
            )
            # The clinician's language, as an EHR would ask for it (the service answers in it).
            headers = {"Authorization": issuer.authorization(url), "Accept-Language": language}
            response = http.post(url, json=body, headers=headers, timeout=HTTP_TIMEOUT)
            payload = response.json()
            cards = payload.get("cards", []) if response.ok else []
            path = None
            plan = _careplan(cards)
            if plan is not None:
                path = out_dir / f"careplan-{pid}.json"
                path.write_text(json.dumps(plan, indent=2) + "\n")
            response_path = out_dir / f"cds-response-{pid}.json"
            response_path.write_text(json.dumps(payload, indent=2) + "\n")
            error = None if response.ok else _outcome_text(payload)
            order_cards, order_path = _order_sign(http, base_url, issuer, call, out_dir, fhir, language)
            results.append(DemoResult(pid, call.label, response.status_code, cards, path, error, response_path, order_cards, order_path))
    return results


def _order_sign(
    http: requests.Session, base_url: str, issuer: DemoIssuer, call: DemoCall, out_dir: Path, fhir: FhirTarget | None,
    language: str = "en",
) -> tuple[list[dict] | None, Path | None]:
    """order-sign with the demo's methotrexate draft order for this patient: (cards, JSON path)."""
    service = default_registry().get(ORDER_SERVICE)
    url = f"{base_url}/cds-services/{service.id}"
    prefetch = {k: v for k, v in call.prefetch.items() if k in service.prefetch} if call.prefetch is not None else None
    body = hook_request(
        service,
        call.patient_id,
        prefetch=prefetch,
        fhir_server=fhir.base if fhir else None,
        fhir_authorization=fhir.fhir_authorization() if fhir else None,
        context=order_context(service.hook, demo_order(call.patient_id)),
    )
    headers = {"Authorization": issuer.authorization(url), "Accept-Language": language}
    response = http.post(url, json=body, headers=headers, timeout=HTTP_TIMEOUT)
    path = out_dir / f"order-sign-{call.patient_id}.json"
    path.write_text(json.dumps(response.json(), indent=2) + "\n")
    return (response.json().get("cards", []) if response.ok else None), path


def _demo_session() -> requests.Session:
    """The demo's own HTTP client (it plays the EHR): the service's guarded session, like every
    outbound call in cds_hooks, with loopback/private hosts allowed (the demo's service listens on
    loopback, and a `--fhir` URL is one the user typed; link-local stays refused). No proxy, the
    default CA roots: the same as the service it starts, so a server the probe reaches is one the
    service reaches too."""
    return guarded_session(True)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stop_on_sigterm() -> None:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)


def _prepare_fhir(options: FhirDemoOptions, stream: TextIO) -> tuple[FhirTarget, list[DemoCall]]:
    """Before any model is loaded: check the server and the token, seed if asked, confirm every
    patient to assess exists. Raises DemoError (one line) on any problem."""
    from cds_hooks.demo.fhir_server import DemoError, check_target, fhir_demo_bundles, read_patient, seed

    with _demo_session() as http:
        target = check_target(options.url, options.token, http)
        stream.write(f"derm3r demo: FHIR server {target.base} is reachable (FHIR R4)\n")
        if target.private:
            stream.write(
                "derm3r demo: note: this is a loopback/private address, so the service is started with private "
                "FHIR hosts allowed (DERM3R_ALLOW_PRIVATE_FHIR) for this URL only; production keeps them refused\n"
            )
        calls: list[DemoCall] = []
        if options.seed:
            bundles = fhir_demo_bundles()
            stream.write(f"derm3r demo: seeding {len(bundles)} synthetic patients (transaction Bundles) ...\n")
            for patient in seed(target, bundles, http):
                stream.write(f"    seeded Patient/{patient.patient_id} ({patient.label})\n")
                calls.append(DemoCall(patient.patient_id, patient.label))
        if options.patients:
            calls = [DemoCall(p.patient_id, p.label) for p in (read_patient(target, pid, http) for pid in options.patients)]
        if not calls:
            raise DemoError("--fhir needs --seed or at least one --patient ID")
    return target, calls


def write_results(results: list[DemoResult], stream: TextIO, *, verbose: bool = False) -> None:
    """Per patient a short table (card, indicator, summary, what it would write) and the paths of
    the full JSON; with `verbose`, every card in full below its table."""
    for result in results:
        heading = tr("Patient/{patient_id} ({label}): HTTP {status}, {count} card(s)", patient_id=result.patient_id,
                     label=result.label, status=result.status, count=len(result.cards))
        stream.write(f"\n=== {heading} ===\n")
        if result.error:
            stream.write(f"    {result.error}\n")
        stream.write(summary_table(result.cards))
        if verbose and result.cards:
            stream.write("\n" + render_cards(result.cards))
        if result.response_path is not None:
            stream.write("    " + tr("full response: {path}", path=str(result.response_path)) + "\n")
        if result.careplan_path is not None:
            stream.write("    " + tr("draft CarePlan written to {path}", path=str(result.careplan_path)) + "\n")
        if result.order_path is not None:
            stream.write("  " + tr("order-sign, {order} drafted:", order=DEMO_ORDER_TEXT) + "\n")
            if result.order_cards is None:
                stream.write("    " + tr("(the service refused the call; see the JSON)") + "\n")
            else:
                stream.write(summary_table(result.order_cards))
                if verbose and result.order_cards:
                    stream.write("\n" + render_cards(result.order_cards))
            stream.write("    " + tr("full response: {path}", path=str(result.order_path)) + "\n")


def run_demo(
    *,
    out_dir: Path,
    serve: bool,
    stream: TextIO,
    data_dir: Path | None = None,
    fhir: FhirDemoOptions | None = None,
    verbose: bool = False,
    language: str = "en",
) -> int:
    """The demo; with `fhir`, against a FHIR server (no prefetch: the service fetches the record).
    Raises cds_hooks.demo.fhir_server.DemoError for an unusable server, token or patient."""
    from cds_hooks.app import create_app

    target: FhirTarget | None = None
    if fhir is not None:
        target, calls = _prepare_fhir(fhir, stream)
    out_dir.mkdir(parents=True, exist_ok=True)
    # The dev server's per-request lines would interleave with the printed cards.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="derm3r-demo-") as tmp:
        workdir = Path(tmp)
        issuer = DemoIssuer()
        server = LoopbackServer()
        settings = Settings(
            auth_enabled=True,
            trusted_issuers_file=issuer.write_trust_file(workdir),
            public_base_url=server.base_url,
            data_dir=data_dir or workdir / "var",
            language=language,  # the default for clients that send no Accept-Language (--serve)
        )
        if target is not None:
            settings = replace(
                settings,
                fhir_allowlist=(target.base,),
                allow_private_fhir=target.private,
                # A demo runs on a laptop next to other work; production limits (2 s / 4 s) would turn
                # a busy moment into a data-quality card instead of showing the assessment.
                fhir_timeout_seconds=DEMO_FHIR_TIMEOUT,
                request_deadline_seconds=DEMO_FHIR_DEADLINE,
            )
        else:
            calls = embedded_calls()
        stream.write(f"derm3r demo: loading models and starting the service at {server.base_url} ...\n")
        server.start(create_app(settings))
        try:
            results = call_patients(server.base_url, issuer, calls, out_dir, fhir=target, language=language)
            with use_language(language):  # the printout's labels, like the cards, in the clinician's language
                write_results(results, stream, verbose=verbose)
                stream.write("\n" + tr(
                    "Research demonstration, not for clinical use: AI output is PRELIMINARY; the TCM section is "
                    "integrative only.") + ("" if verbose else " " + tr("Full cards: --verbose, or the JSON files above.")) + "\n")
            failed = [r for r in results if r.status != 200]
            if serve:
                _stop_on_sigterm()  # so the temporary key and data are removed on `kill` too
                key = issuer.write_private_key(workdir)
                stream.write(
                    f"\nService running at {server.base_url} (discovery: {server.base_url}/cds-services). "
                    f"Calls need an ES384 JWT from the demo issuer: iss={issuer.issuer}, kid={issuer.kid}, "
                    f"aud=<the endpoint URL>, a fresh jti; signing key {key} (deleted on exit). Ctrl-C to stop.\n"
                )
                stream.flush()
                threading.Event().wait()
            return 1 if failed else 0
        except KeyboardInterrupt:
            return 0
        finally:
            server.stop()
