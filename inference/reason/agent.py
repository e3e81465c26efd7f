"""DERM-Reason: the holistic step. Case (+ DERM-Rep's patient representation, when there are photos)
-> scope gate, severity, subtypes and red flags, drug safety of current therapy, treatment step under
the configured guideline profile, TCM differentiation, screenings due, follow-up, alerts, data issues.

Order matters and is the clinical order: first whether this is psoriasis at all (scope), then whether
it is an emergency (erythroderma, generalised pustular psoriasis), then whether current therapy is
safe (holds, abnormal monitoring), and only then the routine plan.

Stateless after construction (the knowledge base is immutable), so one instance serves every request,
and the same case always gives the same Assessment."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from inference.case import Case, ConditionKey, DataIssue, FindingKey, PsoriasisSubtype
from inference.knowledge_base import KnowledgeBase
from inference.reason.drugs import ConcernKind, ConcernSeverity, DrugCatalogue, DrugConcern, PopulationFinding
from inference.reason.evidence import UNVERIFIED_SUFFIX, rule_evidence
from inference.reason.follow_up import plan_follow_up, progress_evidence
from inference.reason.scope import ScopeOutcome, check_scope_knowledge, decide_scope
from inference.reason.screening import check_screening_knowledge, screenings
from inference.reason.severity import SeverityOutcome, assess_severity, check_severity_knowledge
from inference.reason.summary import out_of_scope_line, summarise
from inference.reason.tcm import check_tcm_knowledge, differentiate, unrecognised_findings
from inference.reason.tcm_therapy import TherapyKnowledge, check_therapy_knowledge
from inference.reason.treatment import (
    PlanContext,
    check_treatment_knowledge,
    plan_treatment,
    profile_of,
    psoriatic_arthritis,
    subtype_rules,
)
from inference.results import (
    Alert,
    AlertKind,
    Assessment,
    Evidence,
    Indicator,
    PatientRepresentation,
    Scope,
    Severity,
    SeverityLevel,
    TcmCaution,
    TcmDifferentiation,
    TcmFormula,
    TcmPattern,
    TreatmentPlan,
)
from inference.i18n import t, tjoin

# Special-area findings that are themselves a psoriasis form worth naming.
_AREA_SUBTYPES = {"scalp": PsoriasisSubtype.SCALP, "nails": PsoriasisSubtype.NAIL, "palms_soles": PsoriasisSubtype.PALMOPLANTAR}
_URGENT = (PsoriasisSubtype.ERYTHRODERMIC, PsoriasisSubtype.GENERALISED_PUSTULAR)
_ALERT_ORDER = {Indicator.CRITICAL: 0, Indicator.WARNING: 1, Indicator.INFO: 2}
MAX_ALERT_SUMMARY = 99


class DermReason:
    def __init__(self, knowledge: KnowledgeBase, guideline_profile: str | None = None) -> None:
        # Cross-checks against the case model run here, once, so a bad knowledge edit (or an unknown
        # profile name in the configuration) fails at start-up.
        self._drugs = DrugCatalogue.from_knowledge(knowledge)
        treatment = knowledge.document("treatment")
        check_treatment_knowledge(treatment, self._drugs)
        self._profile, _ = profile_of(treatment, guideline_profile)
        check_tcm_knowledge(knowledge.document("tcm"))
        self._therapy = TherapyKnowledge(
            knowledge.document("tcm_formulas"), knowledge.document("tcm_herbs"), knowledge.document("tcm_safety"),
        )
        check_therapy_knowledge(knowledge.document("tcm"), self._therapy)
        check_screening_knowledge(knowledge.document("screening"))
        check_scope_knowledge(knowledge.document("scope"))
        check_severity_knowledge(knowledge.document("severity"))
        self._knowledge = knowledge

    @classmethod
    def load(cls, knowledge_dir: Path | None = None, guideline_profile: str | None = None) -> DermReason:
        """Build from the knowledge files in `knowledge_dir` (None: the packaged files) with the guideline
        profile `guideline_profile` (None: the knowledge file's default, AAD-NPF)."""
        return cls(KnowledgeBase.load(knowledge_dir), guideline_profile)

    @property
    def knowledge_version(self) -> str:
        return self._knowledge.version

    @property
    def guideline_profile(self) -> str:
        return self._profile

    @property
    def drugs(self) -> DrugCatalogue:
        return self._drugs

    def assess(self, case: Case, representation: PatientRepresentation | None) -> Assessment:
        kb = self._knowledge
        treatment_doc = kb.document("treatment")
        scope = decide_scope(case, representation, kb.document("scope"))
        populations, population_issues = self._drugs.populations(case)
        severity = assess_severity(case, representation, kb.document("severity"))
        profile_display = str(treatment_doc["profiles"][self._profile]["display"])
        if scope.scope is not Scope.PSORIASIS:
            return self._out_of_scope(case, representation, scope, severity, population_issues, profile_display)

        subtypes, subtype_evidence = detect_subtypes(case, severity, treatment_doc)
        urgent_rules = [r for r in subtype_rules(treatment_doc, subtypes) if r.get("urgent")]
        concerns = self._drugs.review_current(case)
        hold = any(c.kind is ConcernKind.HOLD for c in concerns)
        plan = None
        if not urgent_rules:
            context = PlanContext(self._drugs, self._profile, populations, subtypes, hold)
            plan = plan_treatment(case, severity, treatment_doc, context)
        tcm = differentiate(case, representation, kb.document("tcm"), self._therapy, severity.differential_open,
                            populations=populations)
        tcm = _tcm_population_note(tcm, populations, kb.document("tcm"))
        due = screenings(case, severity, plan, kb.document("screening"), self._drugs)
        follow_up = None
        if not urgent_rules:
            follow_up = plan_follow_up(
                severity.severity.level, plan.step if plan else None, kb.document("follow_up"),
                progress_evidence(case, representation),
            )
        alerts = _alerts(case, urgent_rules, subtype_evidence, concerns, plan, treatment_doc, representation)

        own: list[DataIssue] = list(severity.issues)
        own.extend(population_issues)
        own.extend(unrecognised_findings(case, kb.document("tcm")))
        if representation is None and case.photos:
            own.append(DataIssue("photos_not_analysed", t("Photographs present but not analysed: no image PASI")))
        if severity.stale and severity.severity.level != SeverityLevel.UNKNOWN:
            own.append(DataIssue(
                "stale_severity",
                t("Every severity measure is older than {days} days: re-measure before choosing a treatment step", days=kb.document('severity')['max_age_days']['days']),
            ))
        issues = merge_issues(case.issues, representation.issues if representation else (), own)
        subtype_names = tuple(_subtype_display(treatment_doc, s) for s in subtypes)
        severity_result = dataclasses.replace(severity.severity, basis=severity.severity.basis + tuple(subtype_evidence))

        return Assessment(
            patient_ref=case.patient.ref,
            as_of=case.as_of,
            severity=severity_result,
            treatment=plan,
            tcm=tcm,
            screenings=due,
            follow_up=follow_up,
            representation=representation,
            issues=issues,
            knowledge_version=kb.version,
            model_version=representation.model_version if representation else "",
            summary=summarise(severity, plan, due, tcm, len(issues), subtypes=subtype_names,
                              urgent=urgent_rules[0]["action"] if urgent_rules else None),
            scope=Scope.PSORIASIS,
            alerts=alerts,
            subtypes=subtype_names,
            guideline_profile=profile_display,
            headline=severity.headline,
            populations=tuple(p.population.value for p in populations),
            urgent=bool(urgent_rules),
        )

    def _out_of_scope(self, case: Case, representation: PatientRepresentation | None, scope: ScopeOutcome,
                      severity: SeverityOutcome, population_issues: tuple[DataIssue, ...], profile_display: str) -> Assessment:
        """No severity, no step, no TCM and no psoriasis screenings: what the record shows and what would settle it."""
        kept = [i for i in severity.issues if i.code in ("pasi_bsa_conflict", "pga_pasi_conflict", "stale_observation")]
        issues = merge_issues(case.issues, representation.issues if representation else (), kept, population_issues)
        not_assessed = Severity(level=SeverityLevel.NOT_ASSESSED, basis=tuple(scope.evidence), confidence=0.0)
        return Assessment(
            patient_ref=case.patient.ref,
            as_of=case.as_of,
            severity=not_assessed,
            treatment=None,
            tcm=None,
            screenings=(),
            follow_up=None,
            representation=representation,
            issues=issues,
            knowledge_version=self._knowledge.version,
            model_version=representation.model_version if representation else "",
            summary=summarise_out_of_scope(case, scope),
            scope=scope.scope,
            scope_note=scope.note,
            suggested_tests=scope.tests,
            guideline_profile=profile_display,
        )


def merge_issues(*groups: Iterable[DataIssue]) -> tuple[DataIssue, ...]:
    """Case issues first, then the image agents', then DERM-Reason's; one per (code, source_ref)."""
    seen: set[tuple[str, str | None]] = set()
    merged: list[DataIssue] = []
    for group in groups:
        for issue in group:
            key = (issue.code, issue.source_ref)
            if key not in seen:
                seen.add(key)
                merged.append(issue)
    return tuple(merged)


# ---------------------------------------------------------------- subtypes


def detect_subtypes(case: Case, severity: SeverityOutcome, doc: Mapping[str, Any]) -> tuple[tuple[PsoriasisSubtype, ...], list[Evidence]]:
    """Psoriasis forms from coded Conditions, BSA (erythroderma) and special-area findings; urgent ones first."""
    found: dict[PsoriasisSubtype, Evidence] = {}
    for condition in case.conditions:
        if condition.active and condition.subtype is not None and condition.subtype not in found:
            found[condition.subtype] = Evidence(t("{display} recorded ({source_ref})", display=condition.display, source_ref=condition.source_ref), condition.source_ref)
    rule = doc["erythroderma_bsa_gte"]
    bsa = severity.readings.get("bsa_percent")
    if bsa is not None and bsa.value >= float(rule["value"]) and PsoriasisSubtype.ERYTHRODERMIC not in found:
        found[PsoriasisSubtype.ERYTHRODERMIC] = rule_evidence(
            t("{statement}: {statement2}", statement=bsa.statement, statement2=rule['statement']), rule, doc["sources"], bsa.source_ref)
    for finding in case.findings:
        area = _AREA_SUBTYPES.get(str(finding.value)) if finding.key is FindingKey.SPECIAL_AREA else None
        if area is not None and area not in found and not (area is PsoriasisSubtype.PALMOPLANTAR
                                                          and PsoriasisSubtype.PALMOPLANTAR_PUSTULAR in found):
            found[area] = Evidence(t("special area recorded: {value} ({source_ref})", value=str(finding.value).replace('_', ' '), source_ref=finding.source_ref),
                                   finding.source_ref)
    found.pop(PsoriasisSubtype.PLAQUE, None)  # plaque is the default form: naming it adds nothing
    ordered = sorted(found, key=lambda s: (s not in _URGENT, list(PsoriasisSubtype).index(s)))
    return tuple(ordered), [found[s] for s in ordered]


def _subtype_display(doc: Mapping[str, Any], subtype: PsoriasisSubtype) -> str:
    rule = next((r for r in doc["subtypes"] if r["subtype"] == subtype.value), None)
    return str(rule["display"]) if rule else t("{value} psoriasis", value=subtype.value.replace('_', ' '))


# ---------------------------------------------------------------- TCM in special populations


def _tcm_population_note(tcm: TcmDifferentiation | None, populations: tuple[PopulationFinding, ...],
                         doc: Mapping[str, Any]) -> TcmDifferentiation | None:
    """In pregnancy, breastfeeding, childhood and organ impairment the note says that herbal safety is not
    established there, and the card names no formula. Which formulas are withheld is decided herb by herb
    (tcm_safety), not here."""
    rule = doc.get("population_caution")
    if tcm is None or rule is None:
        return tcm
    hit = [p.population.value.replace("_", " ") for p in populations if p.population.value in rule["populations"]]
    if not hit:
        return tcm
    tcm = dataclasses.replace(tcm, note=t("{note} (this patient: {items}). {note2}", note=rule['note'], items=tjoin(", ", hit), note2=tcm.note),
                              formula_caution_populations=tuple(hit))
    withhold = [p for p in populations if p.population.value in rule.get("withhold_all_in", ())]
    return _withhold_formulas(tcm, withhold[0], rule) if withhold else tcm


def _withhold_formulas(tcm: TcmDifferentiation, population: PopulationFinding, rule: Mapping[str, Any]) -> TcmDifferentiation:
    """Pregnancy and breastfeeding: no formula or patent medicine is proposed at all (per-herb cautions
    such as the Pharmacopoeia's "use with caution in pregnancy" for peach kernel and safflower are not
    enough for a decision-support tool to propose them); each option stays listed with the reason."""
    kind = population.population.value
    caution = TcmCaution(level="contraindicated", kind=kind, statement=rule["withhold_note"], herbs=(),
                         evidence=(Evidence(population.statement, population.source_ref, rule["id"], rule["source"]),))

    def withheld(options: tuple[TcmFormula, ...]) -> tuple[TcmFormula, ...]:
        return tuple(dataclasses.replace(o, proposed=False, cautions=(caution, *o.cautions)) for o in options)

    def pattern(p: TcmPattern) -> TcmPattern:
        return dataclasses.replace(p, formulas=(), formula_options=withheld(p.formula_options),
                                   patent_medicines=withheld(p.patent_medicines))

    return dataclasses.replace(tcm, primary=pattern(tcm.primary) if tcm.primary else None,
                               ranked=tuple(pattern(p) for p in tcm.ranked))


# ---------------------------------------------------------------- alerts


def _clip(*candidates: str, limit: int = MAX_ALERT_SUMMARY) -> str:
    """The first candidate that fits whole; else the last one cut after a whole word (no ellipsis, no
    dangling punctuation): alert lines are read in a glance, so they must end as a phrase."""
    # A candidate that is already one clean line is kept as it is (a lazy message stays renderable).
    texts = [c if " ".join(c.split()) == c else " ".join(c.split()) for c in candidates if c]
    for text in texts:
        if len(text) <= limit:
            return text
    return texts[-1][:limit].rsplit(" ", 1)[0].rstrip(",;:-( ")


def _citation(concern: DrugConcern) -> str:
    return concern.citation.text + (UNVERIFIED_SUFFIX if concern.citation.unverified else "")


def _concern_evidence(concern: DrugConcern) -> Evidence:
    return Evidence(statement=concern.reason, source_ref=concern.source_ref, rule=concern.rule_id, citation=_citation(concern))


def _lower(display: str) -> str:
    """"Cyclosporine (ciclosporin)" -> "cyclosporine": the short INN reads best in a one-line alert."""
    short = display.split(" (", 1)[0]
    return t(short).lower_first()  # still the drug's name in the catalogue (甲氨蝶呤 in Chinese)


_POPULATION_PHRASE = {
    "pregnancy": t("in pregnancy"), "breastfeeding": t("while breastfeeding"), "planning_pregnancy": t("with a planned pregnancy"),
    "child": t("in a child"), "older_adult": t("in an older adult"), "renal_impairment": t("with renal impairment"),
    "hepatic_impairment": t("with liver impairment"),
}


def _alert_for(concern: DrugConcern) -> Alert | None:
    drug = concern.drug_display
    kind = concern.kind
    if kind is ConcernKind.HOLD:
        return Alert(AlertKind.HOLD_THERAPY, ConcernSeverity.WARNING,
                     _clip(t("Hold {lower}: {finding} recorded - treat it first", lower=_lower(drug), finding=concern.finding),
                           t("Hold {lower}: {finding} recorded", lower=_lower(drug), finding=concern.finding), t("Hold {lower}: active infection", lower=_lower(drug))), concern.reason,
                     (_concern_evidence(concern),), _citation(concern), concern.drug_id)
    if kind is ConcernKind.CONTRAINDICATED:
        if concern.population is not None:  # e.g. pregnancy on methotrexate: stop, do not merely review
            phrase = _POPULATION_PHRASE.get(concern.population.value, concern.population.value.replace("_", " "))
            summary = _clip(t("Stop {lower}: contraindicated {phrase}", lower=_lower(drug), phrase=phrase))
        else:
            summary = _clip(t("Review {lower}: contraindicated with {finding}", lower=_lower(drug), finding=concern.finding),
                            t("Review {lower}: contraindicated", lower=_lower(drug)))
        return Alert(AlertKind.CONTRAINDICATED_CURRENT, concern.severity, summary, concern.reason,
                     (_concern_evidence(concern),), _citation(concern), concern.drug_id)
    if kind is ConcernKind.ABNORMAL_MONITORING:
        verb = t("Withhold") if concern.withhold else t("Review")
        return Alert(AlertKind.ABNORMAL_MONITORING, concern.severity,
                     _clip(t("{verb} {lower}: {finding} {value}", verb=verb, lower=_lower(drug), finding=concern.finding, value=concern.threshold or ''),
                           t("{verb} {lower}: {finding}", verb=verb, lower=_lower(drug), finding=concern.finding)), concern.reason,
                     (_concern_evidence(concern),), _citation(concern), concern.drug_id)
    if kind is ConcernKind.MONITORING_DUE:
        return Alert(AlertKind.MONITORING_DUE, concern.severity,
                     _clip(t("{lower} monitoring due: {finding}", lower=_lower(drug).capitalize(), finding=concern.finding),
                           t("{lower} monitoring blood tests due", lower=_lower(drug).capitalize())), concern.reason,
                     (_concern_evidence(concern),), _citation(concern), concern.drug_id)
    if kind is ConcernKind.INTERACTION and concern.severity is not ConcernSeverity.INFO:
        return Alert(AlertKind.INTERACTION, concern.severity,
                     _clip(t("Interaction: {lower} with {finding}", lower=_lower(drug), finding=concern.finding), t("Interaction: {lower} with another medicine", lower=_lower(drug))),
                     concern.reason,
                     (_concern_evidence(concern),), _citation(concern), concern.drug_id)
    if kind is ConcernKind.DUPLICATE_THERAPY:
        return Alert(AlertKind.DUPLICATE_THERAPY, concern.severity,
                     _clip(t("Two biologics at once: {lower} and {value}", lower=_lower(drug), value=concern.finding or 'another'), t("Two biologics at once: review")),
                     concern.reason,
                     (_concern_evidence(concern),), _citation(concern), concern.drug_id)
    if kind is ConcernKind.CAUTION and concern.population is not None:
        phrase = _POPULATION_PHRASE.get(concern.population.value, concern.population.value.replace("_", " "))
        name = _lower(drug).capitalize()
        return Alert(AlertKind.CAUTION_CURRENT, ConcernSeverity.INFO,
                     _clip(t("{name} {phrase}: {action}", name=name, phrase=phrase, action=concern.action), t("{name} {phrase}: caution, discuss with the patient", name=name, phrase=phrase)),
                     concern.reason,
                     (_concern_evidence(concern),), _citation(concern), concern.drug_id)
    if kind is ConcernKind.CAUTION and concern.severity is ConcernSeverity.WARNING:
        return Alert(AlertKind.LATENT_TB if "tb" in concern.rule_id or "tuberculosis" in concern.rule_id
                     else AlertKind.CAUTION_CURRENT, concern.severity,
                     _clip(t("{drug}: {value} - {value2}", drug=drug, value=concern.finding or '', value2=concern.action or ''), t("{drug}: {value}", drug=drug, value=concern.finding or 'caution')),
                     concern.reason,
                     (_concern_evidence(concern),), _citation(concern), concern.drug_id)
    return None


def _alerts(case: Case, urgent_rules: list[Mapping[str, Any]], subtype_evidence: list[Evidence], concerns: tuple[DrugConcern, ...],
            plan: TreatmentPlan | None, doc: Mapping[str, Any], representation: PatientRepresentation | None) -> tuple[Alert, ...]:
    alerts: list[Alert] = []
    sources = doc["sources"]
    for rule in urgent_rules:
        evidence = next((e for e in subtype_evidence if rule["display"].split()[0] in e.statement.lower()), None)
        basis = (evidence,) if evidence else ()
        citation = rule_evidence(rule["action"], rule, sources).citation
        section = t(", section {section}", section=rule['section']) if rule.get("section") else ""
        display: str = rule["display"]
        subtype = t(display).capitalize()
        emergency = t("{display} is a dermatological emergency: arrange same-day specialist assessment or admission; no routine outpatient plan is suggested", display=subtype)
        if evidence:
            emergency += t(" ({statement})", statement=evidence.statement)
        alerts.append(Alert(
            AlertKind.URGENT_REFERRAL, ConcernSeverity.CRITICAL, _clip(str(rule["action"])),
            t("{text}.", text=emergency),
            (*basis, rule_evidence(rule["action"], rule, sources)), f"{citation}{section}",
        ))
    seen: set[str] = set()
    for concern in concerns:
        alert = _alert_for(concern)
        if alert is not None and alert.summary not in seen:
            seen.add(alert.summary)
            alerts.append(alert)
    alerts.extend(_latent_tb(case, plan, seen))
    psa = psoriatic_arthritis(case, doc)
    if psa is not None:
        rule = doc["rules"]["psoriatic_arthritis"]
        coded = any(c.active and c.key is ConditionKey.PSORIATIC_ARTHRITIS for c in case.conditions)
        summary = (t("Psoriatic arthritis: joint-active therapy; co-manage with rheumatology") if coded
                   else t("Suspected psoriatic arthritis (PEST, joint pain): refer to rheumatology"))
        alerts.append(Alert(AlertKind.REFERRAL, ConcernSeverity.INFO, summary,
                            t("{statement}: {statement2}.", statement=psa.statement, statement2=rule['statement']), (psa,),
                            rule_evidence(rule["statement"], rule, sources).citation))
    if representation is not None and representation.tcm_descriptors.get("pustular", 0.0) >= 0.5 \
            and not any(c.subtype in _URGENT for c in case.conditions):
        alerts.append(Alert(AlertKind.REFERRAL, ConcernSeverity.INFO,
                            t("Photographs suggest pustules: examine for pustular psoriasis"),
                            t("The preliminary photograph reading shows pustule-like lesions; photographs never decide - examine the skin and, if generalised pustular psoriasis is found, refer the same day.")))
    return tuple(sorted(alerts, key=lambda a: _ALERT_ORDER.get(a.severity, 2)))


def _latent_tb(case: Case, plan: TreatmentPlan | None, seen: set[str]) -> list[Alert]:
    """Latent TB (coded, or a positive IGRA/TST) when the plan offers immunosuppressive or biologic therapy."""
    if plan is None or not any(o.allowed and o.therapy_class in ("biologic", "oral_systemic") and not o.adjunct for o in plan.options):
        return []
    latent = next((c for c in case.conditions if c.active and c.key is ConditionKey.LATENT_TUBERCULOSIS), None)
    test = next((f for key in (FindingKey.TB_IGRA, FindingKey.TB_SKIN_TEST) if (f := case.latest(key)) is not None
                 and f.value is True), None)
    if latent is None and test is None:
        return []
    what = t("{display} recorded ({source_ref})", display=latent.display, source_ref=latent.source_ref) if latent else t("positive TB test ({source_ref})", source_ref=test.source_ref)  # type: ignore[union-attr]
    summary = t("Latent TB: start preventive treatment before (or with) a biologic")
    if summary in seen:
        return []
    biologic_note = next((c.reason for o in plan.options for c in o.contraindications if "tuberculosis" in c.reason.lower()), "")
    detail = (t("{what}: exclude active TB, then start preventive TB treatment; a biologic can begin once it is under way. ", what=what)
              + (biologic_note if biologic_note else "")).strip()
    return [Alert(AlertKind.LATENT_TB, ConcernSeverity.WARNING, summary, detail,
                  (Evidence(what, latent.source_ref if latent else test.source_ref),))]  # type: ignore[union-attr]


def summarise_out_of_scope(case: Case, scope: ScopeOutcome) -> str:
    return out_of_scope_line(case, scope.scope, scope.tests)


__all__ = ["DermReason", "merge_issues", "detect_subtypes"]
