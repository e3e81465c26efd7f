"""The `derm3r` command: serve, demo, assess (offline), rec (per-photo readings)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Sequence

log = logging.getLogger(__name__)


class UsageError(Exception):
    """Bad command-line input: reported in one line on stderr, exit status 2."""


def _serve(args: argparse.Namespace) -> int:
    from cds_hooks import create_app
    from cds_hooks.logs import configure_logging
    from cds_hooks.routes import RUNTIME_KEY
    from cds_hooks.settings import Settings

    try:
        settings = Settings.from_env()
    except ValueError as exc:  # a bad DERM3R_* value: one clear line, exit status 2
        raise UsageError(str(exc)) from exc
    configure_logging(settings.log_format, logging.INFO)
    app = create_app(settings)
    if settings.metrics_port:
        from cds_hooks.metrics import serve_on_port

        serve_on_port(settings.metrics_port, app.extensions[RUNTIME_KEY].metrics, host=args.host)
    # Flask's development server: fine for a workstation. Production: gunicorn 'cds_hooks.wsgi:app'.
    app.run(host=args.host, port=args.port, threaded=True)
    return 0


DEMO_FHIR_TOKEN_ENV = "DERM3R_DEMO_FHIR_TOKEN"


def _demo(args: argparse.Namespace) -> int:
    from cds_hooks.demo.run import run_demo
    from cds_hooks.demo.fhir_server import DemoError, FhirDemoOptions

    fhir = None
    if args.fhir is None:
        extras = [flag for flag, used in (("--seed", args.seed), ("--patient", args.patient), ("--fhir-token", args.fhir_token)) if used]
        if extras:
            raise UsageError(f"{', '.join(extras)} {'needs' if len(extras) == 1 else 'need'} --fhir URL")
    else:
        # The token may come from the environment so that it stays out of shell history; it is a
        # CLI option's default (not service configuration), hence read here and not in Settings.
        token = args.fhir_token or os.environ.get(DEMO_FHIR_TOKEN_ENV) or None
        if not args.seed and not args.patient:
            raise UsageError("--fhir needs --seed or at least one --patient ID")
        fhir = FhirDemoOptions(url=args.fhir, token=token, seed=args.seed, patients=tuple(args.patient or ()))
    try:
        return run_demo(out_dir=Path(args.out), serve=args.serve, stream=sys.stdout, fhir=fhir, verbose=args.verbose,
                        language=_language(args))
    except DemoError as exc:
        raise UsageError(str(exc)) from exc


def _assess(args: argparse.Namespace) -> int:
    """A Bundle in, the CDS Hooks response out (see `cds_hooks.demo.offline`)."""
    from cds_hooks.demo.ehr_request import bundle_patient_id, hook_request, prefetch_from_bundle
    from cds_hooks.demo.offline import answer_offline
    from cds_hooks.errors import CdsError
    from cds_hooks.services import default_registry

    language = _language(args)
    try:
        text = sys.stdin.read() if args.bundle == "-" else Path(args.bundle).read_text(encoding="utf-8")
        bundle = json.loads(text)
        if not isinstance(bundle, dict):
            raise ValueError("expected a FHIR Bundle")
        service = default_registry().get(args.service)
        patient_id = args.patient or bundle_patient_id(bundle)
        prefetch = prefetch_from_bundle(bundle, service)
    except OSError as exc:
        raise UsageError(f"cannot read {args.bundle}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise UsageError(f"{args.bundle} is not valid JSON ({exc.msg}, line {exc.lineno})") from exc
    except (ValueError, CdsError) as exc:
        raise UsageError(f"{args.bundle}: {exc}") from exc
    context = _order_context(args, service.hook)
    body = hook_request(service, patient_id, prefetch=prefetch, encounter_id=args.encounter, context=context)
    status, answer = answer_offline(service.id, body, language=language)
    json.dump(answer, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0 if status == 200 else 1


def _language(args: argparse.Namespace) -> str:
    """DERM3R_LANGUAGE (or --language) chooses the language of the cards, as for the service."""
    from inference.i18n import validate_language

    try:
        return validate_language(args.language or os.environ.get("DERM3R_LANGUAGE", "en"),
                                 variable="--language" if args.language else "DERM3R_LANGUAGE")
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def _db(args: argparse.Namespace) -> int:
    """Schema and audit operations on the configured database (DERM3R_DATABASE_URL or the SQLite
    file in DERM3R_DATA_DIR). Exit status 1 when the check or verification fails."""
    from sqlalchemy.exc import SQLAlchemyError

    from cds_hooks import migrate
    from cds_hooks.app import open_database_for
    from cds_hooks.database import SchemaBehind
    from cds_hooks.errors import ServiceUnavailable
    from cds_hooks.settings import Settings
    from cds_hooks.storage import SqlStore

    try:
        db = open_database_for(Settings.from_env(), check_schema=False)
        name = db.describe()
        if args.db_command == "upgrade":
            before, after = migrate.upgrade(db)
            print(f"{name}: schema upgraded from {before or 'empty'} to {after}" if before != after else f"{name}: schema current at {after}")
            return 0
        if args.db_command == "check":
            try:
                migrate.check_current(db)
            except SchemaBehind as exc:
                print(f"behind: {exc}")
                return 1
            print(f"{name}: schema current at {migrate.current_revision(db)}")
            return 0
        store = SqlStore(db)
        broken_at = store.audit_chain_break()
        if broken_at is not None:
            print(f"{name}: audit chain BROKEN at row {broken_at} (edited or removed records)")
            return 1
        print(f"{name}: audit chain verifies ({store.count_audit()} records)")
        return 0
    except ServiceUnavailable as exc:
        raise UsageError(f"database unavailable ({exc})") from exc
    except SQLAlchemyError as exc:
        # Class name only: the message may hold the URL or statement parameters.
        raise UsageError(f"database unavailable ({type(getattr(exc, 'orig', None) or exc).__name__})") from exc


def _order_context(args: argparse.Namespace, hook: str) -> dict | None:
    """The ordering hooks' context from `--order FILE` (one FHIR request resource or a Bundle of
    them). Only the ordering hooks take it."""
    from cds_hooks.demo.ehr_request import order_context
    from cds_hooks.wire.context import ORDER_SELECT, ORDER_SIGN

    if hook not in (ORDER_SELECT, ORDER_SIGN):
        if args.order:
            raise UsageError("--order is only for derm3r-order-select and derm3r-order-sign")
        return None
    if not args.order:
        raise UsageError(f"{args.service} needs --order FILE (a MedicationRequest / ServiceRequest, or a Bundle of them)")
    try:
        loaded = json.loads(Path(args.order).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read {args.order}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise UsageError(f"{args.order} is not valid JSON ({exc.msg}, line {exc.lineno})") from exc
    if not isinstance(loaded, dict) or "resourceType" not in loaded:
        raise UsageError(f"{args.order}: expected a FHIR resource or Bundle")
    return order_context(hook, loaded)


def _rec(args: argparse.Namespace) -> int:
    from inference.pipeline import build_pipeline
    from inference.rec_report import rec_lines

    pipeline = build_pipeline()
    # One line per path, in order; an unreadable or undecodable file gets a line saying why.
    for line in rec_lines(list(args.images), pipeline.rec):
        sys.stdout.write(json.dumps(line) + "\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="derm3r", description="derm3r CDS Hooks dermatology service (research demonstration, not for clinical use)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the service (Flask development server; see README for gunicorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.set_defaults(func=_serve)

    demo = sub.add_parser("demo", help="start the service, call patient-view for the demo patients over HTTP, print the cards")
    demo.add_argument("--out", default="out", help="directory for draft CarePlans and responses (default: out)")
    demo.add_argument("--serve", action="store_true", help="keep the service running afterwards")
    demo.add_argument("--verbose", "-v", action="store_true", help="print every card in full (default: one line per card)")
    demo.add_argument("--fhir", metavar="URL", help="a FHIR R4 base URL: the service fetches the patients' records from it (no prefetch)")
    demo.add_argument(
        "--fhir-token",
        metavar="TOKEN",
        help=f"bearer token for that server, passed to the service as fhirAuthorization (or set {DEMO_FHIR_TOKEN_ENV})",
    )
    demo.add_argument("--language", help="language of the cards: en or zh-CN (default: DERM3R_LANGUAGE, else en)")
    demo.add_argument("--seed", action="store_true", help="with --fhir: first load the synthetic demo patients into the server")
    demo.add_argument(
        "--patient", action="append", metavar="ID", help="with --fhir: a Patient id to assess (repeatable; default: the seeded ones)"
    )
    demo.set_defaults(func=_demo)

    assess = sub.add_parser("assess", help="offline: a FHIR Bundle (file or -) in, CDS Hooks response JSON out")
    assess.add_argument("bundle")
    assess.add_argument("--service", default="derm3r-patient-view", help="service id (default: derm3r-patient-view)")
    assess.add_argument("--patient", help="patient id (default: the Bundle's only Patient)")
    assess.add_argument("--encounter", help="encounter id (required for derm3r-encounter-start)")
    assess.add_argument("--language", help="en or zh-CN (default: DERM3R_LANGUAGE, else en)")
    assess.add_argument("--order", metavar="FILE", help="for derm3r-order-select / -order-sign: the draft order(s), a FHIR resource or Bundle")
    assess.set_defaults(func=_assess)

    db = sub.add_parser("db", help="database schema and audit log: upgrade, check, verify-audit")
    db.add_argument(
        "db_command",
        choices=["upgrade", "check", "verify-audit"],
        help="upgrade: apply migrations; check: exit 1 if the schema is behind; verify-audit: check the audit hash chain",
    )
    db.set_defaults(func=_db)

    rec = sub.add_parser("rec", help="DERM-Rec readings of photographs as JSON lines")
    rec.add_argument("images", nargs="+")
    rec.set_defaults(func=_rec)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.INFO if args.verbose or args.command == "serve" else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return int(args.func(args))
    except UsageError as exc:
        sys.stderr.write(f"derm3r {args.command}: {exc}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
