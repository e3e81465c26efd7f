"""Drug knowledge (drugs.json): what each psoriasis therapy is, who it is safe for, what must be
checked before it starts and watched while it runs, and what it must not be combined with.

The file decides, this module executes (DESIGN.md: "clinical knowledge decides, code executes").
`DrugCatalogue` is built once from the `KnowledgeBase`; it is immutable and shared by every request.

    catalogue = DrugCatalogue.from_knowledge(KnowledgeBase.load())
    drug = catalogue.lookup_code("http://www.nlm.nih.gov/research/umls/rxnorm", "6851")  # methotrexate
    concerns = catalogue.evaluate(drug, case)  # typed DrugConcern tuple, most severe first

Every concern names the value, date and record that triggered it, the rule's citation (with its
`unverified` flag as a field, never as text), for a missing check the code to order, and for a
contraindication the alternatives the guideline prefers.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from inference.case import Case, ConditionKey, DataIssue, Finding, FindingKey, MedicationEntry
from inference.knowledge_base import KnowledgeBase, KnowledgeError
from inference.results import DrugCoding, Indicator, PopulationStatus, TherapyClass
from inference.i18n import t, tjoin

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"


class Mechanism(enum.StrEnum):
    CORTICOSTEROID = "corticosteroid"
    VITAMIN_D_ANALOGUE = "vitamin_d_analogue"
    RETINOID = "retinoid"
    CALCINEURIN_INHIBITOR = "calcineurin_inhibitor"
    ULTRAVIOLET_B = "ultraviolet_b"
    PSORALEN_UVA = "psoralen_uva"
    ANTIMETABOLITE = "antimetabolite"
    PDE4_INHIBITOR = "pde4_inhibitor"
    TYK2_INHIBITOR = "tyk2_inhibitor"
    AHR_AGONIST = "ahr_agonist"
    COAL_TAR = "coal_tar"
    TNF_INHIBITOR = "tnf_inhibitor"
    IL12_23_INHIBITOR = "il12_23_inhibitor"
    IL17_INHIBITOR = "il17_inhibitor"
    IL23_INHIBITOR = "il23_inhibitor"


class Population(enum.StrEnum):
    PREGNANCY = "pregnancy"
    BREASTFEEDING = "breastfeeding"
    PLANNING_PREGNANCY = "planning_pregnancy"
    CHILD = "child"
    OLDER_ADULT = "older_adult"
    RENAL_IMPAIRMENT = "renal_impairment"
    HEPATIC_IMPAIRMENT = "hepatic_impairment"


class ConcernKind(enum.StrEnum):
    CONTRAINDICATED = "contraindicated"  # do not start (or, on therapy: stop and review)
    HOLD = "hold"  # on therapy: hold it now (active infection, active TB)
    CAUTION = "caution"
    MISSING_CHECK = "missing_check"  # a check before starting has no recent result
    MONITORING_DUE = "monitoring_due"  # on therapy: a monitoring test is due
    ABNORMAL_MONITORING = "abnormal_monitoring"  # on therapy: a monitored value crossed its threshold
    INTERACTION = "interaction"
    DUPLICATE_THERAPY = "duplicate_therapy"


# A concern's severity is the card indicator it maps onto (info / warning / critical).
ConcernSeverity = Indicator


_SEVERITY_RANK = {ConcernSeverity.CRITICAL: 0, ConcernSeverity.WARNING: 1, ConcernSeverity.INFO: 2}


class DrugIntent(enum.StrEnum):
    START = "start"  # proposed / about to be ordered: checks before starting apply
    CONTINUE = "continue"  # already taken: monitoring applies


@dataclass(frozen=True)
class Citation:
    text: str
    unverified: bool = False  # the knowledge file marks the rule as a configurable default, not verified truth


@dataclass(frozen=True)
class PopulationRule:
    population: Population
    status: PopulationStatus
    note: str
    citation: Citation
    alternatives: tuple[str, ...] = ()  # drug ids the guideline prefers instead
    min_age: float | None = None  # child: youngest approved age in years


@dataclass(frozen=True)
class Drug:
    id: str
    display: str
    therapy_class: TherapyClass
    mechanism: Mechanism
    groups: frozenset[str]
    joint_active: bool  # treats psoriatic arthritis as well as skin
    codings: tuple[DrugCoding, ...]
    names: tuple[str, ...]  # lower-case generic and brand names matched in medication text
    populations: Mapping[Population, PopulationRule]
    citation: Citation
    rule: Mapping[str, Any] = field(repr=False, compare=False, hash=False, default_factory=dict)

    def coding(self, system: str) -> DrugCoding | None:
        """The first coding in `system` (e.g. RXNORM), or None."""
        return next((c for c in self.codings if c.system == system), None)

    @property
    def rxnorm(self) -> DrugCoding | None:
        return self.coding(RXNORM)


@dataclass(frozen=True)
class Check:
    """A test to have on record before starting (and to repeat while on) a therapy."""

    id: str
    display: str
    order: DrugCoding  # the code a ServiceRequest would carry
    finds: tuple[FindingKey, ...]  # findings that count as a result of this check
    max_age_days: int | None  # None: any result on record counts (e.g. hepatitis serology)
    citation: Citation
    female_childbearing_only: bool = False


@dataclass(frozen=True)
class DrugConcern:
    """One thing a prescriber must know about a drug for this patient."""

    kind: ConcernKind
    severity: ConcernSeverity
    drug_id: str
    drug_display: str
    reason: str  # one line naming the value, date and threshold that triggered it
    citation: Citation
    rule_id: str
    source_ref: str | None = None  # the FHIR record it rests on
    observed: datetime | None = None
    order: DrugCoding | None = None  # MISSING_CHECK / MONITORING_DUE: what to order
    alternatives: tuple[str, ...] = ()  # CONTRAINDICATED: drug ids the guideline prefers
    population: Population | None = None
    finding: str | None = None  # the triggering value in short, e.g. "ALT 168 U/L (2026-11-28)"
    action: str | None = None  # what to do in short, e.g. "withhold and discuss with the prescriber"
    threshold: str | None = None  # ABNORMAL_MONITORING: the limit crossed, e.g. "> 100 U/L"
    withhold: bool = False  # ABNORMAL_MONITORING: the knowledge says withhold the drug until reviewed


@dataclass(frozen=True)
class PopulationFinding:
    """A special population this patient belongs to, and why."""

    population: Population
    statement: str
    source_ref: str | None = None
    severe: bool = False  # e.g. eGFR < 30


@dataclass(frozen=True)
class CurrentDrug:
    drug: Drug
    medication: MedicationEntry


_WORD = re.compile(r"[a-z0-9]+")
_DAY = timedelta(days=1)


def _norm(text: str) -> str:
    return " ".join(_WORD.findall(text.lower().replace("'", "")))


def _citation(sources: Mapping[str, Any], rule: Mapping[str, Any], key: str = "source") -> Citation:
    return Citation(str(sources[rule[key]]), bool(rule.get("unverified", False)))


def _coding(raw: Mapping[str, Any]) -> DrugCoding:
    return DrugCoding(str(raw["system"]), str(raw["code"]), str(raw["display"]), bool(raw.get("unverified", False)))


def age_years(case: Case) -> int | None:
    born = case.patient.birth_date
    if born is None:
        return None
    today = case.as_of.date()
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _number(finding: Finding | None) -> float | None:
    if finding is None or isinstance(finding.value, bool) or not isinstance(finding.value, (int, float)):
        return None
    return float(finding.value)


def _fmt(value: float) -> str:
    """14.25 -> "14.2", 1.15 -> "1.15" (small lab values keep two decimals), 12.0 -> "12"."""
    text = f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _when(finding: Finding) -> str:
    where = finding.source_ref
    if finding.effective is not None:
        return t("{date}, {where}", date=finding.effective.date().isoformat(), where=where)
    return t("undated, {where}", where=where)


def _start_moment(day: date | None) -> datetime | None:
    return None if day is None else datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


class DrugCatalogue:
    """Typed, validated view of drugs.json with lookups and per-patient evaluation."""

    def __init__(self, doc: Mapping[str, Any]) -> None:
        self._doc = doc
        self._sources = doc["sources"]
        self.drugs: tuple[Drug, ...] = tuple(self._drug(raw) for raw in doc["drugs"])
        self._by_id = {d.id: d for d in self.drugs}
        if len(self._by_id) != len(self.drugs):
            raise KnowledgeError("drugs.json: duplicate drug id")
        self.checks: Mapping[str, Check] = {c["id"]: self._check(c) for c in doc["checks"]}
        self._interactants = {str(i["id"]): i for i in doc["interactants"]}
        self._by_code: dict[tuple[str, str], str] = {}
        names: dict[str, str] = {}
        for drug in self.drugs:
            for coding in drug.codings:
                self._by_code.setdefault((coding.system, coding.code), drug.id)
            for name in drug.names:
                names.setdefault(_norm(name), drug.id)
        for item in doc["interactants"]:
            for raw in item["codings"]:
                self._by_code.setdefault((str(raw["system"]), str(raw["code"])), str(item["id"]))
            for name in item["names"]:
                names.setdefault(_norm(name), str(item["id"]))
        steroid = doc["systemic_corticosteroids"]
        self._systemic_steroid_names = frozenset(_norm(n) for n in steroid["names"])
        self._systemic_steroid_id = str(steroid["id"])
        # Longest names first, whole words: "tacrolimus ointment" before "tacrolimus".
        self._names = names
        self._name_pattern = re.compile(
            r"\b(" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + r")\b"
        )
        self._topical_words = frozenset(_norm(w) for w in doc["dose_forms"]["topical"])
        self._systemic_words = frozenset(_norm(w) for w in doc["dose_forms"]["systemic"])
        self._steroid_names = frozenset(_norm(n) for n in self._by_id["topical_corticosteroid"].names) \
            if "topical_corticosteroid" in self._by_id else frozenset()
        self._check_references()

    # ------------------------------------------------------------ construction

    @classmethod
    def from_knowledge(cls, knowledge: KnowledgeBase) -> DrugCatalogue:
        return cls(knowledge.document("drugs"))

    def _drug(self, raw: Mapping[str, Any]) -> Drug:
        populations = {
            Population(name): PopulationRule(
                population=Population(name),
                status=PopulationStatus(rule["status"]),
                note=str(rule["note"]),
                citation=_citation(self._sources, rule),
                alternatives=tuple(rule.get("alternatives", ())),
                min_age=float(rule["min_age"]) if "min_age" in rule else None,
            )
            for name, rule in raw["populations"].items()
        }
        return Drug(
            id=str(raw["id"]), display=str(raw["display"]), therapy_class=TherapyClass(raw["therapy_class"]),
            mechanism=Mechanism(raw["mechanism"]), groups=frozenset(raw["groups"]), joint_active=bool(raw["joint_active"]),
            codings=tuple(_coding(c) for c in raw["codings"]), names=tuple(str(n) for n in raw["names"]),
            populations=populations, citation=_citation(self._sources, raw), rule=raw,
        )

    def _check(self, raw: Mapping[str, Any]) -> Check:
        try:
            finds = tuple(FindingKey(f) for f in raw["finds"])
        except ValueError as exc:
            raise KnowledgeError(f"drugs.json: check {raw['id']}: {exc}") from None
        applies = raw.get("applies_to", {})
        return Check(
            id=str(raw["id"]), display=str(raw["display"]), order=_coding(raw["order"]), finds=finds,
            max_age_days=int(raw["max_age_days"]) if "max_age_days" in raw else None,
            citation=_citation(self._sources, raw),
            female_childbearing_only=applies.get("sex") == "female" and bool(applies.get("childbearing_age")),
        )

    def _check_references(self) -> None:
        """What the schema cannot say: every referenced drug, check, lab, condition and interactant exists."""
        known_with = set(self._by_id) | set(self._interactants)
        for drug in self.drugs:
            raw = drug.rule
            where = f"drugs.json: {drug.id}"
            for check in raw["checks_before"]:
                if check not in self.checks:
                    raise KnowledgeError(f"{where}: unknown check {check!r}")
            named = [rule["condition"] for rule in raw["conditions"]]
            if len(named) != len(set(named)):
                raise KnowledgeError(f"{where}: a condition has two rules")
            for rule in raw["conditions"]:
                try:
                    ConditionKey(rule["condition"])
                except ValueError:
                    raise KnowledgeError(f"{where}: {rule['condition']!r} is not a ConditionKey") from None
                for alt in rule.get("alternatives", ()):
                    if alt not in self._by_id:
                        raise KnowledgeError(f"{where}: unknown alternative {alt!r}")
            for rule in (*raw.get("lab_conditions", ()), *raw["monitoring"]):
                if "lab" in rule:
                    try:
                        FindingKey(rule["lab"])
                    except ValueError:
                        raise KnowledgeError(f"{where}: {rule['lab']!r} is not a FindingKey") from None
                for check in rule.get("checks", ()):
                    if check not in self.checks:
                        raise KnowledgeError(f"{where}: unknown check {check!r}")
            for rule in raw["interactions"]:
                if rule["with"] not in known_with:
                    raise KnowledgeError(f"{where}: interaction with unknown {rule['with']!r}")
            for population in drug.populations.values():
                for alt in population.alternatives:
                    if alt not in self._by_id:
                        raise KnowledgeError(f"{where}: unknown alternative {alt!r}")
        for name in self._doc["labs"]:
            try:
                FindingKey(name)
            except ValueError:
                raise KnowledgeError(f"drugs.json: lab {name!r} is not a FindingKey") from None
        for rule in self._doc["test_results"]:
            try:
                [FindingKey(f) for f in rule["findings"]] + [ConditionKey(c) for c in rule["unless_conditions"]]
            except ValueError as exc:
                raise KnowledgeError(f"drugs.json: {rule['id']}: {exc}") from None

    @property
    def population_rules(self) -> Mapping[str, Any]:
        """The thresholds that define the special populations (ages, eGFR cut-offs)."""
        return self._doc["populations"]

    # ------------------------------------------------------------ lookups

    def get(self, drug_id: str) -> Drug | None:
        return self._by_id.get(drug_id)

    def __getitem__(self, drug_id: str) -> Drug:
        try:
            return self._by_id[drug_id]
        except KeyError:
            raise KeyError(f"no drug {drug_id!r} in drugs.json") from None

    def lookup_code(self, system: str | None, code: str | None) -> Drug | None:
        """The drug for a coding (RxNorm ingredient, ATC, SNOMED procedure), or None."""
        if not system or not code:
            return None
        return self._by_id.get(self._by_code.get((system, code.strip()), ""))

    def key_for_code(self, system: str | None, code: str | None) -> str | None:
        """Drug id or interactant id (e.g. "trimethoprim") for a coding, or None."""
        if not system or not code:
            return None
        return self._by_code.get((system, code.strip()))

    def key_for_text(self, text: str | None) -> str | None:
        """Drug id, interactant id or "systemic_corticosteroid" for a medication name, or None.

        Whole-word, case-insensitive; a corticosteroid is topical or systemic by its dose form
        ("clobetasol shampoo" topical, "triamcinolone injection" systemic); tacrolimus counts only
        as a topical (ointment) - oral tacrolimus is a transplant drug, not a psoriasis therapy."""
        if not text:
            return None
        norm = _norm(text)
        if not norm:
            return None
        words = set(norm.split())
        if "tacrolimus" in words:
            if words & self._topical_words:
                return "calcineurin_inhibitor" if "calcineurin_inhibitor" in self._by_id else None
            return "tacrolimus"
        steroid_systemic = bool(words & self._systemic_steroid_names)
        steroid_topical = bool(words & self._steroid_names)
        if steroid_systemic or steroid_topical:
            if words & self._topical_words:
                return "topical_corticosteroid"
            if words & self._systemic_words or steroid_systemic:
                return self._systemic_steroid_id
            return "topical_corticosteroid"
        hit = self._name_pattern.search(norm)
        return self._names[hit.group(1)] if hit else None

    def lookup_text(self, text: str | None) -> Drug | None:
        """The psoriasis drug named by free text ("Humira 40 mg pen" -> adalimumab), or None."""
        key = self.key_for_text(text)
        return self._by_id.get(key) if key else None

    def lookup_medication(self, medication: MedicationEntry) -> Drug | None:
        """The drug a case medication is: by its key, then its code, then its display text."""
        if medication.key in self._by_id:
            return self._by_id[medication.key]
        if medication.code and "|" in medication.code:
            system, code = medication.code.rsplit("|", 1)
            drug = self.lookup_code(system, code)
            if drug is not None:
                return drug
        return self.lookup_text(medication.display)

    def _interactant_keys(self, medication: MedicationEntry) -> set[str]:
        keys = {medication.key}
        if medication.code and "|" in medication.code:
            system, code = medication.code.rsplit("|", 1)
            found = self.key_for_code(system, code)
            if found:
                keys.add(found)
        found = self.key_for_text(medication.display)
        if found:
            keys.add(found)
        return keys

    def current(self, case: Case) -> tuple[CurrentDrug, ...]:
        """Active medications that are psoriasis drugs in the catalogue, in record order, one per drug."""
        seen: set[str] = set()
        found: list[CurrentDrug] = []
        for medication in case.medications:
            if not medication.active:
                continue
            drug = self.lookup_medication(medication)
            if drug is not None and drug.id not in seen:
                seen.add(drug.id)
                found.append(CurrentDrug(drug, medication))
        return tuple(found)

    # ------------------------------------------------------------ populations

    def populations(self, case: Case) -> tuple[tuple[PopulationFinding, ...], tuple[DataIssue, ...]]:
        """Which special populations the patient belongs to, and record conflicts found on the way
        (a "pregnant" entry on a male patient is a data problem, not a pregnancy)."""
        rules = self._doc["populations"]
        found: list[PopulationFinding] = []
        problems: list[DataIssue] = []
        sex = case.patient.sex
        age = age_years(case)

        pregnancy = pregnancy_evidence(case)
        if pregnancy is not None:
            if sex == "male":
                problems.append(DataIssue(
                    "sex_pregnancy_conflict",
                    t("Pregnancy is recorded for a patient recorded as male: check the record; pregnancy rules not applied"),
                    pregnancy.source_ref,
                ))
            else:
                found.append(pregnancy)
        breastfeeding = breastfeeding_evidence(case)
        if breastfeeding is not None:
            if sex == "male":
                problems.append(DataIssue("sex_breastfeeding_conflict",
                                          t("Breastfeeding is recorded for a patient recorded as male: check the record"),
                                          breastfeeding.source_ref))
            else:
                found.append(PopulationFinding(Population.BREASTFEEDING, breastfeeding.statement, breastfeeding.source_ref))
        planning = case.latest(FindingKey.PLANNING_PREGNANCY)
        if planning is not None and planning.value is True:
            found.append(PopulationFinding(Population.PLANNING_PREGNANCY, t("planning a pregnancy ({when})", when=_when(planning)),
                                           planning.source_ref))
        if age is not None:
            if age < float(rules["child_age_lt"]):
                found.append(PopulationFinding(Population.CHILD, t("age {age} years", age=age)))
            elif age >= float(rules["older_adult_age_gte"]):
                found.append(PopulationFinding(Population.OLDER_ADULT, t("age {age} years", age=age)))
        renal = self._renal(case, rules)
        if renal is not None:
            found.append(renal)
        hepatic = self._hepatic(case, rules)
        if hepatic is not None:
            found.append(hepatic)
        return tuple(found), tuple(problems)

    def _hepatic(self, case: Case, rules: Mapping[str, Any]) -> PopulationFinding | None:
        """Recorded liver disease, or transaminases above a multiple of their upper limit: a drug
        that is hepatotoxic (acitretin) must not be offered to a patient with ALT 168 U/L just
        because no liver diagnosis is coded yet."""
        for condition in case.conditions:
            if condition.active and condition.key is ConditionKey.LIVER_DISEASE:
                return PopulationFinding(Population.HEPATIC_IMPAIRMENT, t("{display} recorded ({source_ref})", display=condition.display, source_ref=condition.source_ref),
                                         condition.source_ref)
        factor = rules.get("hepatic_impairment_transaminase_x_uln")
        if factor is None:
            return None
        for key in (FindingKey.ALT, FindingKey.AST):
            finding = case.latest(key)
            value = _number(finding)
            limit = self._doc["labs"].get(key.value, {}).get("default_high")
            if finding is not None and value is not None and limit and value > float(factor) * float(limit):
                return PopulationFinding(Population.HEPATIC_IMPAIRMENT,
                                         t("{lab_label} {value} U/L ({when}) > {factor}x upper limit", lab_label=self._lab_label(key), value=_fmt(value), when=_when(finding), factor=_fmt(float(factor))),
                                         finding.source_ref)
        return None

    def _renal(self, case: Case, rules: Mapping[str, Any]) -> PopulationFinding | None:
        egfr = case.latest(FindingKey.EGFR)
        value = _number(egfr)
        if egfr is not None and value is not None and value < float(rules["renal_impairment_egfr_lt"]):
            severe = value < float(rules["severe_renal_impairment_egfr_lt"])
            return PopulationFinding(Population.RENAL_IMPAIRMENT, t("eGFR {value} ({when})", value=_fmt(value), when=_when(egfr)), egfr.source_ref, severe)
        for condition in case.conditions:
            if condition.active and condition.key is ConditionKey.KIDNEY_DISEASE:
                return PopulationFinding(Population.RENAL_IMPAIRMENT, t("{display} recorded ({source_ref})", display=condition.display, source_ref=condition.source_ref),
                                         condition.source_ref)
        return None

    def childbearing(self, case: Case) -> bool:
        """Female of child-bearing age (unknown age counts, unknown sex counts: a check is safer than none)."""
        if case.patient.sex == "male":
            return False
        age = age_years(case)
        if age is None:
            return True
        window = self._doc["populations"]["childbearing_age"]
        return float(window["gte"]) <= age < float(window["lt"])

    # ------------------------------------------------------------ evaluation

    def intent_for(self, drug: Drug, case: Case) -> DrugIntent:
        return DrugIntent.CONTINUE if any(c.drug.id == drug.id for c in self.current(case)) else DrugIntent.START

    def evaluate(self, drug: Drug, case: Case, intent: DrugIntent | None = None,
                 populations: Iterable[PopulationFinding] | None = None) -> tuple[DrugConcern, ...]:
        """Every concern about `drug` for this patient, most severe first (stable within a severity).

        `intent` defaults to CONTINUE when the drug is an active medication of the case, else START.
        `populations` may be passed when already computed (`populations(case)[0]`)."""
        intent = intent or self.intent_for(drug, case)
        found = tuple(populations) if populations is not None else self.populations(case)[0]
        monitoring = self._monitoring(drug, case) if intent is not DrugIntent.START else []
        # On current therapy a lab value is the monitoring rule's to judge: the same ALT must not also
        # come back as a population concern ("hepatic impairment") about the same drug.
        monitored = {c.source_ref for c in monitoring if c.source_ref}
        concerns: list[DrugConcern] = [
            c for c in self._population_concerns(drug, case, found, intent) if c.source_ref not in monitored
        ]
        concerns.extend(self._condition_concerns(drug, case, intent))
        concerns.extend(self._lab_condition_concerns(drug, case, intent))
        concerns.extend(self._test_result_concerns(drug, case, intent))
        if intent is DrugIntent.START:
            concerns.extend(self._missing_checks(drug, case, found))
        concerns.extend(monitoring)
        concerns.extend(self._interactions(drug, case))
        concerns.extend(self._duplicates(drug, case, intent))
        return tuple(sorted(concerns, key=lambda c: _SEVERITY_RANK[c.severity]))

    def review_current(self, case: Case) -> tuple[DrugConcern, ...]:
        """Concerns about every psoriasis drug the patient is on now (intent CONTINUE)."""
        found = self.populations(case)[0]
        concerns: list[DrugConcern] = []
        for current in self.current(case):
            concerns.extend(self.evaluate(current.drug, case, DrugIntent.CONTINUE, found))
        return tuple(sorted(concerns, key=lambda c: _SEVERITY_RANK[c.severity]))

    def status_for(self, drug: Drug, populations: Iterable[PopulationFinding], case: Case) -> PopulationStatus:
        """The most restrictive population status of `drug` for this patient (ACCEPTABLE when none applies);
        PREFERRED only when some population prefers it and none restricts it."""
        statuses = [self._population_status(drug, p, case)[0] for p in populations]
        statuses = [s for s in statuses if s is not None]
        if not statuses:
            return PopulationStatus.ACCEPTABLE
        order = list(PopulationStatus)
        return min(statuses, key=order.index)

    def population_status(self, drug: Drug, finding: PopulationFinding, case: Case) -> PopulationStatus | None:
        """`drug`'s status for one population finding of this patient (men planning conception, severe
        renal impairment and children under the minimum age handled), or None when the drug has no rule."""
        return self._population_status(drug, finding, case)[0]

    def _population_status(self, drug: Drug, finding: PopulationFinding, case: Case
                           ) -> tuple[PopulationStatus | None, str, Citation | None, tuple[str, ...]]:
        rule = drug.populations.get(finding.population)
        if rule is None:
            return None, "", None, ()
        raw = drug.rule["populations"][finding.population.value]
        status, note, citation, alternatives = rule.status, rule.note, rule.citation, rule.alternatives
        if finding.population is Population.PLANNING_PREGNANCY and case.patient.sex == "male" and "male" in raw:
            variant = raw["male"]
            status, note, citation = PopulationStatus(variant["status"]), str(variant["note"]), _citation(self._sources, variant)
            alternatives = ()
        if finding.severe and "severe" in raw:
            variant = raw["severe"]
            status, note, citation = PopulationStatus(variant["status"]), str(variant["note"]), _citation(self._sources, variant)
        if finding.population is Population.CHILD:
            age = age_years(case)
            if rule.min_age is not None and age is not None and age < rule.min_age:
                status = PopulationStatus.CONTRAINDICATED
                note = t("not approved under {min_age} years ({note})", min_age=_fmt(rule.min_age), note=note)
            elif status is PopulationStatus.CONTRAINDICATED and rule.min_age is not None and age is not None and age >= rule.min_age:
                status = PopulationStatus.CAUTION
        return status, note, citation, alternatives

    def _population_concerns(self, drug: Drug, case: Case, populations: tuple[PopulationFinding, ...],
                             intent: DrugIntent) -> list[DrugConcern]:
        concerns: list[DrugConcern] = []
        for finding in populations:
            status, note, citation, alternatives = self._population_status(drug, finding, case)
            if status is None or citation is None or status in (PopulationStatus.ACCEPTABLE, PopulationStatus.PREFERRED):
                continue
            label = finding.population.value.replace("_", " ")
            if status is PopulationStatus.CONTRAINDICATED:
                kind, severity = ConcernKind.CONTRAINDICATED, ConcernSeverity.CRITICAL
                verb = t("stop and review") if intent is DrugIntent.CONTINUE else t("do not start")
                reason = t("{display} in {label} ({statement}): {verb} - {note}", display=drug.display, label=label, statement=finding.statement, verb=verb, note=note)
            else:
                kind, severity = ConcernKind.CAUTION, ConcernSeverity.INFO
                reason = t("{display} in {label} ({statement}): caution - {note}", display=drug.display, label=label, statement=finding.statement, note=note)
            concerns.append(DrugConcern(
                kind=kind, severity=severity, drug_id=drug.id, drug_display=drug.display, reason=reason,
                citation=citation, rule_id=f"drugs.{drug.id}.{finding.population.value}", source_ref=finding.source_ref,
                alternatives=alternatives, population=finding.population, finding=finding.statement, action=note,
            ))
        return concerns

    def _condition_concerns(self, drug: Drug, case: Case, intent: DrugIntent) -> list[DrugConcern]:
        concerns: list[DrugConcern] = []
        for rule in drug.rule["conditions"]:
            key = ConditionKey(rule["condition"])
            condition = next((c for c in case.conditions if c.active and c.key is key), None)
            if condition is None:
                continue
            status = PopulationStatus(rule["status"])
            citation = _citation(self._sources, rule)
            if status is PopulationStatus.CONTRAINDICATED and intent is DrugIntent.CONTINUE and rule.get("hold"):
                kind, severity = ConcernKind.HOLD, ConcernSeverity.WARNING
                reason = t("hold {display}: {display2} recorded ({source_ref}) - {note}", display=drug.display, display2=condition.display, source_ref=condition.source_ref, note=rule['note'])
            elif status is PopulationStatus.CONTRAINDICATED:
                kind, severity = ConcernKind.CONTRAINDICATED, ConcernSeverity.CRITICAL
                verb = t("review whether to continue") if intent is DrugIntent.CONTINUE else t("do not start")
                reason = t("{display}: {display2} recorded ({source_ref}) - {verb}; {note}", display=drug.display, display2=condition.display, source_ref=condition.source_ref, verb=verb, note=rule['note'])
            else:
                kind, severity = ConcernKind.CAUTION, ConcernSeverity.WARNING if key is ConditionKey.LATENT_TUBERCULOSIS else ConcernSeverity.INFO
                reason = t("{display}: {display2} recorded ({source_ref}) - {note}", display=drug.display, display2=condition.display, source_ref=condition.source_ref, note=rule['note'])
                if "alternatives_note" in rule:
                    reason += t(" ({alternatives_note})", alternatives_note=rule['alternatives_note'])
            concerns.append(DrugConcern(
                kind=kind, severity=severity, drug_id=drug.id, drug_display=drug.display, reason=reason, citation=citation,
                rule_id=f"drugs.{drug.id}.condition.{key.value}", source_ref=condition.source_ref,
                alternatives=tuple(rule.get("alternatives", ())), finding=condition.display, action=_short_action(str(rule["note"])),
            ))
        return concerns

    def _child_bp(self, case: Case) -> bool:
        age = age_years(case)
        return age is not None and age < float(self._doc["populations"]["paediatric_bp_age_lt"])

    def _lab_condition_concerns(self, drug: Drug, case: Case, intent: DrugIntent) -> list[DrugConcern]:
        concerns: list[DrugConcern] = []
        if intent is not DrugIntent.START:
            return concerns  # on therapy the monitoring rules judge the same values
        for rule in drug.rule.get("lab_conditions", ()):
            finding = case.latest(FindingKey(rule["lab"]))
            value = _number(finding)
            if finding is None or value is None or not _crosses(value, rule):
                continue
            if rule.get("adult_only") and self._child_bp(case):
                concerns.append(self._paediatric_bp(drug, finding, rule))
                continue
            status = PopulationStatus(rule["status"])
            kind = ConcernKind.CONTRAINDICATED if status is PopulationStatus.CONTRAINDICATED else ConcernKind.CAUTION
            severity = ConcernSeverity.CRITICAL if kind is ConcernKind.CONTRAINDICATED else ConcernSeverity.INFO
            concerns.append(DrugConcern(
                kind=kind, severity=severity, drug_id=drug.id, drug_display=drug.display,
                reason=t("{display}: {lab_label} {value} ({when}) {threshold} - {note}", display=drug.display, lab_label=self._lab_label(finding.key), value=_fmt(value), when=_when(finding), threshold=_threshold(rule), note=rule['note']),
                citation=_citation(self._sources, rule), rule_id=f"drugs.{drug.id}.lab.{finding.key.value}",
                source_ref=finding.source_ref, observed=finding.effective,
            ))
        return concerns

    def _paediatric_bp(self, drug: Drug, finding: Finding, rule: Mapping[str, Any]) -> DrugConcern:
        notes = self._doc["populations"].get("notes", {})
        return DrugConcern(
            kind=ConcernKind.CAUTION, severity=ConcernSeverity.INFO, drug_id=drug.id, drug_display=drug.display,
            reason=(t("{display}: {lab_label} {value} ({when}) in a child - {get}", display=drug.display, lab_label=self._lab_label(finding.key), value=_fmt(float(finding.value)), when=_when(finding), get=notes.get('paediatric_bp', 'judge against age, sex and height percentiles'))),
            citation=_citation(self._sources, self._doc["populations"], "paediatric_bp_source"),
            rule_id=f"drugs.{drug.id}.paediatric_bp", source_ref=finding.source_ref, observed=finding.effective,
        )

    def _test_result_concerns(self, drug: Drug, case: Case, intent: DrugIntent) -> list[DrugConcern]:
        """Positive test results that matter even without the matching coded Condition (drugs.json
        "test_results": a positive IGRA or tuberculin test, a positive HBsAg)."""
        concerns: list[DrugConcern] = []
        for rule in self._doc["test_results"]:
            if not drug.groups & set(rule["groups"]):
                continue
            if any(case.has_condition(ConditionKey(c)) for c in rule["unless_conditions"]):
                continue
            finding = next((f for key in rule["findings"] if (f := case.latest(FindingKey(key))) is not None and f.value is True), None)
            if finding is None:
                continue
            label = self._lab_label(finding.key)
            concerns.append(DrugConcern(
                kind=ConcernKind.CAUTION, severity=ConcernSeverity(rule["severity"]), drug_id=drug.id, drug_display=drug.display,
                reason=t("{display}: positive {label} ({when}) - {note}", display=drug.display, label=label, when=_when(finding), note=rule['note']),
                citation=_citation(self._sources, rule), rule_id=f"drugs.{drug.id}.{rule['key']}",
                source_ref=finding.source_ref, observed=finding.effective, finding=t("positive {label}", label=label), action=str(rule["note"]),
            ))
        return concerns

    def _has_result(self, check: Check, case: Case) -> Finding | None:
        """The newest finding that counts as a result of `check`, within its maximum age."""
        results = [f for key in check.finds if (f := case.latest(key)) is not None]
        if not results:
            return None
        newest = max(results, key=lambda f: f.effective or datetime.min.replace(tzinfo=timezone.utc))
        if check.max_age_days is None:
            return newest
        if newest.effective is None or case.as_of - newest.effective > timedelta(days=check.max_age_days):
            return None
        return newest

    def check_applies(self, check: Check, case: Case, populations: Iterable[PopulationFinding] = ()) -> bool:
        if not check.female_childbearing_only:
            return True
        if any(p.population is Population.PREGNANCY for p in populations):
            return False  # pregnancy is already known: the drug's pregnancy status decides
        return self.childbearing(case)

    def _missing_checks(self, drug: Drug, case: Case, populations: tuple[PopulationFinding, ...]) -> list[DrugConcern]:
        concerns: list[DrugConcern] = []
        for check_id in drug.rule["checks_before"]:
            check = self.checks[check_id]
            if not self.check_applies(check, case, populations) or self._has_result(check, case) is not None:
                continue
            recency = t(" in the last {max_age_days} days", max_age_days=check.max_age_days) if check.max_age_days else ""
            concerns.append(DrugConcern(
                kind=ConcernKind.MISSING_CHECK, severity=ConcernSeverity.INFO, drug_id=drug.id, drug_display=drug.display,
                reason=t("before starting {display}: {display2} - no result on record{recency}", display=drug.display, display2=check.display, recency=recency),
                citation=check.citation, rule_id=f"drugs.{drug.id}.{check.id}", order=check.order,
            ))
        return concerns

    def _lab_label(self, key: FindingKey) -> str:
        lab = self._doc["labs"].get(key.value)
        return str(lab["display"]) if lab else key.value.replace("_", " ")

    def _lab_unit(self, key: FindingKey) -> str:
        lab = self._doc["labs"].get(key.value)
        return t(" {unit}", unit=lab['unit']) if lab and lab["unit"] else ""

    def _monitoring(self, drug: Drug, case: Case) -> list[DrugConcern]:
        current = next((c for c in self.current(case) if c.drug.id == drug.id), None)
        start = _start_moment(current.medication.start) if current else None
        concerns: list[DrugConcern] = []
        for rule in drug.rule["monitoring"]:
            concern = self._monitor(drug, case, rule, start)
            if concern is not None:
                concerns.append(concern)
        return concerns

    def _monitor(self, drug: Drug, case: Case, rule: Mapping[str, Any], start: datetime | None) -> DrugConcern | None:
        kind = rule["kind"]
        citation = _citation(self._sources, rule)
        severity = ConcernSeverity(rule["severity"])
        if kind == "due":
            missing: list[str] = []
            order: DrugCoding | None = None
            every = int(rule["every_days"])
            for check_id in rule["checks"]:
                check = self.checks[check_id]
                results = [f for key in check.finds if (f := case.latest(key)) is not None and f.effective is not None]
                newest = max(results, key=lambda f: f.effective) if results else None  # type: ignore[arg-type, return-value]
                if newest is None:
                    missing.append(t("{display} (none on record)", display=check.display))
                elif case.as_of - newest.effective > timedelta(days=every):  # type: ignore[operator]
                    missing.append(t("{display} (last {date})", display=check.display, date=newest.effective.date().isoformat()))  # type: ignore[union-attr]
                else:
                    continue
                order = order or check.order
            if not missing:
                return None
            return DrugConcern(
                kind=ConcernKind.MONITORING_DUE, severity=severity, drug_id=drug.id, drug_display=drug.display,
                reason=t("on {display}: monitoring due - {items}; repeat every {every} days", display=drug.display, items=tjoin("; ", missing), every=every),
                citation=citation, rule_id=str(rule["id"]), order=order, finding=tjoin("; ", missing),
                action=t("{display} monitoring blood tests due", display=drug.display),
            )
        finding = case.latest(FindingKey(rule["lab"]))
        value = _number(finding)
        if finding is None or value is None:
            return None
        if start is not None and finding.effective is not None and finding.effective < start:
            return None  # a value from before the drug was started says nothing about the drug
        label, unit = self._lab_label(finding.key), self._lab_unit(finding.key)
        if kind in ("lab_above", "lab_below"):
            if not _crosses(value, rule):
                return None
            if rule.get("adult_only") and self._child_bp(case):
                return self._paediatric_bp(drug, finding, rule)
            limit = f"{_threshold(rule)}{unit}"
            reason = t("on {display}: {label} {value}{unit} ({when}) {limit} - {action}", display=drug.display, label=label, value=_fmt(value), unit=unit, when=_when(finding), limit=limit, action=rule['action'])
        elif kind == "lab_above_uln":
            uln = finding.reference_high
            if uln is None:
                lab = self._doc["labs"].get(finding.key.value, {})
                uln = float(lab["default_high"]) if "default_high" in lab else None
            if uln is None or not value > float(rule["times"]) * uln:
                return None
            limit = t("> {times} x upper limit {uln}{unit}", times=_fmt(float(rule['times'])), uln=_fmt(uln), unit=unit)
            reason = t("on {display}: {label} {value}{unit} ({when}) {limit} - {action}", display=drug.display, label=label, value=_fmt(value), unit=unit, when=_when(finding), limit=limit, action=rule['action'])
        else:
            baseline = _baseline(case, finding.key, start, finding)
            base_value = _number(baseline)
            if baseline is None or base_value is None or base_value <= 0:
                return None
            change = (value - base_value) / base_value * 100.0
            limit = float(rule["percent"])
            if kind == "rise_from_baseline" and change <= limit:
                return None
            if kind == "fall_from_baseline" and -change <= limit:
                return None
            reason = (t("on {display}: {label} {value}{unit} ({when}) vs baseline {base_value}{unit} ({when2}): {value2}{change}% (threshold {limit}%) - {action}", display=drug.display, label=label, value=_fmt(value), unit=unit, when=_when(finding), base_value=_fmt(base_value), when2=_when(baseline), value2='+' if change >= 0 else '-', change=_fmt(abs(change)), limit=_fmt(limit), action=rule['action']))
            limit = t("({value}{change}% from {base_value}{unit})", value='+' if change >= 0 else '-', change=_fmt(abs(change)), base_value=_fmt(base_value), unit=unit)  # type: ignore[assignment]
        when = t(" ({date})", date=finding.effective.date().isoformat()) if finding.effective is not None else ""
        return DrugConcern(
            kind=ConcernKind.ABNORMAL_MONITORING, severity=severity, drug_id=drug.id, drug_display=drug.display, reason=reason,
            citation=citation, rule_id=str(rule["id"]), source_ref=finding.source_ref, observed=finding.effective,
            finding=t("{label} {value}{unit}{when}", label=label, value=_fmt(value), unit=unit, when=when), action=_short_action(str(rule["action"])),
            threshold=limit if isinstance(limit, str) else str(limit), withhold=bool(rule.get("withhold", False)),
        )

    def _interactions(self, drug: Drug, case: Case) -> list[DrugConcern]:
        concerns: list[DrugConcern] = []
        others = [m for m in case.medications if m.active and self.lookup_medication(m) is not drug]
        for rule in drug.rule["interactions"]:
            partner = next((m for m in others if rule["with"] in self._interactant_keys(m)), None)
            if partner is None:
                continue
            status = PopulationStatus(rule["status"])
            severity = ConcernSeverity.WARNING if status is PopulationStatus.CONTRAINDICATED else ConcernSeverity.INFO
            concerns.append(DrugConcern(
                kind=ConcernKind.INTERACTION, severity=severity, drug_id=drug.id, drug_display=drug.display,
                reason=t("{display} with {display2} ({source_ref}): {note}", display=drug.display, display2=partner.display, source_ref=partner.source_ref, note=rule['note']),
                citation=_citation(self._sources, rule), rule_id=f"drugs.{drug.id}.interaction.{rule['with']}",
                source_ref=partner.source_ref, finding=partner.display, action=_short_action(str(rule["note"])),
            ))
        return concerns

    def _duplicates(self, drug: Drug, case: Case, intent: DrugIntent) -> list[DrugConcern]:
        rule = self._doc["duplicate_classes"]
        if drug.therapy_class.value not in rule["groups"]:
            return []
        same = [c for c in self.current(case) if c.drug.therapy_class is drug.therapy_class and c.drug.id != drug.id]
        if not same:
            return []
        other = same[0]
        verb = t("is also on") if intent is DrugIntent.CONTINUE else t("already on")
        return [DrugConcern(
            kind=ConcernKind.DUPLICATE_THERAPY, severity=ConcernSeverity.WARNING, drug_id=drug.id, drug_display=drug.display,
            reason=t("{display}: {verb} {display2} ({source_ref}) - {note}", display=drug.display, verb=verb, display2=other.drug.display, source_ref=other.medication.source_ref, note=rule['note']),
            citation=_citation(self._sources, rule), rule_id=str(rule["id"]), source_ref=other.medication.source_ref,
            finding=other.drug.display, action=str(rule["note"]),
        )]


# ---------------------------------------------------------------- helpers


def _short_action(text: str) -> str:
    """The part after the last ": " of a knowledge note ("x on methotrexate: withhold and discuss" -> "withhold and discuss")."""
    return t(text).last_clause()


def _crosses(value: float, rule: Mapping[str, Any]) -> bool:
    if "gt" in rule and value > float(rule["gt"]):
        return True
    if "gte" in rule and value >= float(rule["gte"]):
        return True
    return "lt" in rule and value < float(rule["lt"])


def _threshold(rule: Mapping[str, Any]) -> str:
    for key, symbol in (("gt", ">"), ("gte", ">="), ("lt", "<")):
        if key in rule:
            return t("{symbol} {rule}", symbol=symbol, rule=_fmt(float(rule[key])))
    return ""


def _baseline(case: Case, key: FindingKey, start: datetime | None, current: Finding) -> Finding | None:
    """The value the drug is compared with: the newest on or before the start date, else the oldest on record."""
    history = [f for f in case.history(key) if f is not current]
    if not history:
        return None
    if start is not None:
        before = [f for f in history if f.effective is not None and f.effective <= start + _DAY]
        if before:
            return before[-1]
    oldest = history[0]
    return oldest if current.effective is None or (oldest.effective is not None and oldest.effective < current.effective) else None


def breastfeeding_evidence(case: Case) -> PopulationFinding | None:
    """Breastfeeding from a coded Condition or the newest yes/no Observation (a newer "no" wins over an older "yes")."""
    label = "breastfeeding"
    latest = case.latest(FindingKey.BREASTFEEDING)
    condition = next((c for c in case.conditions if c.active and c.key is ConditionKey.BREASTFEEDING), None)
    if latest is not None and latest.effective is not None and latest.value is False:
        if condition is None or condition.onset is None or latest.effective.date() >= condition.onset:
            return None
    if latest is not None and latest.value is True:
        return PopulationFinding(Population.BREASTFEEDING, t("{label} ({when})", label=label, when=_when(latest)), latest.source_ref)
    if condition is not None:
        return PopulationFinding(Population.BREASTFEEDING, t("{display} recorded ({source_ref})", display=condition.display, source_ref=condition.source_ref), condition.source_ref)
    return None


def pregnancy_evidence(case: Case) -> PopulationFinding | None:
    """Pregnant if a pregnancy Condition is active or the newest pregnancy status / test says so."""
    flags = [f for key in (FindingKey.PREGNANT, FindingKey.PREGNANCY_TEST) if (f := case.latest(key)) is not None
             and isinstance(f.value, bool)]
    newest = max(flags, key=lambda f: f.effective or datetime.min.replace(tzinfo=timezone.utc)) if flags else None
    condition = next((c for c in case.conditions if c.active and c.key is ConditionKey.PREGNANCY), None)
    if newest is not None and newest.value is False and newest.effective is not None:
        if condition is None or condition.onset is None or newest.effective.date() >= condition.onset:
            return None
    if newest is not None and newest.value is True:
        label = t("pregnancy test positive") if newest.key is FindingKey.PREGNANCY_TEST else "pregnant"
        return PopulationFinding(Population.PREGNANCY, t("{label} ({when})", label=label, when=_when(newest)), newest.source_ref)
    if condition is not None:
        return PopulationFinding(Population.PREGNANCY, t("{display} recorded ({source_ref})", display=condition.display, source_ref=condition.source_ref), condition.source_ref)
    return None
