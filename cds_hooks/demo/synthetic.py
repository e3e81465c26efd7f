"""Deterministic synthetic dermatology patients as FHIR R4 JSON.

Used by `derm3r demo`, by the integration tests (seeded into a real FHIR server) and by benchmarks.
Every patient is fictional: names, identifiers and values are generated from (profile, seed), so the
same arguments always give identical output (no clock, no global random state, no uuid4).

A patient is a FHIR `transaction` Bundle whose entries are `PUT <Type>/<id>` with deterministic ids:
a server keeps the ids (so tests know `Patient/<id>` up front) and references inside the bundle are
plain relative references that stay valid after the transaction. `as_collection` turns the same
resources into a `collection` Bundle for use as CDS Hooks prefetch.

Every resource is built by `fhir_mapping.ehr_record` (codes from `fhir_mapping.codes`), the package
that reads them back; this module decides only what each patient looks like. Photographs are procedural
plaques from `inference.synth` (known ground truth, per-patient skin tone), attached the three ways
EHRs do it: inline `Media.content.data`, `Media.content.url` -> `Binary/<id>`, or an R5-style
`DocumentReference` whose attachment holds the image (R5 `bodySite` as the cross-version extension).
"""

from __future__ import annotations

import base64
import functools
import random
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

from fhir_mapping import codes, ehr_record
from inference.case import PASI_REGION_WEIGHTS, FindingKey

Resource = dict[str, Any]

PHOTO_MODES: tuple[str, ...] = ("inline", "binary", "document_reference")

# All dates are offsets from this fixed instant, never from the clock, so output is reproducible.
ANCHOR = datetime(2026, 11, 2, 9, 30, tzinfo=timezone.utc)
VISIT_INTERVAL = timedelta(weeks=8)
_GESTATION = timedelta(weeks=18)  # of the pregnant profile at the newest visit
_NAMESPACE = uuid.UUID("6f6c2f4e-8f7e-5b0c-9d7a-2f1f0b6c3d11")  # derm3r synthetic-data namespace

# ------------------------------------------------------------------ codings

# Marks every resource as test data (HL7 v3 ActReason HTEST), so a real EHR could never confuse it
# with a patient's record.
_SYNTHETIC_TAG = codes.SYNTHETIC_DATA_TAG

# Medication keys (codes.MEDICATION_KEYS, plus non-ladder drugs) -> the product name EHRs show.
_PRODUCTS: dict[str, str] = {
    "topical_corticosteroid": "Clobetasol propionate 0.05% ointment",
    "vitamin_d_analogue": "Calcipotriol 50 micrograms/g ointment",
    "methotrexate": "Methotrexate 2.5 mg oral tablet",
    "metformin": "Metformin hydrochloride 500 mg oral tablet",
    "naproxen": "Naproxen 500 mg oral tablet",
    "furosemide": "Furosemide 40 mg oral tablet",
    "emollient": "Emollient cream (white soft paraffin 50%)",
}

# Body-site keys (codes.BODY_SITE_KEYS) -> the text a clinician would type next to the code.
_SITE_TEXT: dict[str, str] = {
    "scalp": "Scalp",
    "upper_arm": "Left upper arm",
    "elbow": "Right elbow, extensor surface",
    "forearm": "Right forearm",
    "hand": "Back of right hand",
    "trunk": "Lower back",
    "knee": "Right knee",
    "lower_leg": "Left shin",
    "axilla": "Left axilla",
    "groin": "Right groin fold",
}


# ------------------------------------------------------------------ profiles


@dataclass(frozen=True)
class _Profile:
    """What one synthetic patient looks like at the newest visit; older visits are derived from it."""

    key: str
    title: str
    sex: str  # FHIR administrative gender
    age: int
    diagnosis: str  # condition key of the skin disease
    pasi: float
    bsa: float
    dlqi: int
    pga: int
    itch: int
    tongue: str | None  # TCM tongue finding key (codes.TONGUE_KEYS)
    pulse: str | None  # TCM pulse finding key (codes.PULSE_KEYS)
    appearance: str  # lesion look: bright_red | pale_red | dark_red_purple | exudative | pustular | eczema | annular
    sites: tuple[str, ...]  # body-site keys (codes.BODY_SITE_KEYS)
    pest: int = 0
    phq2: int = 0
    bmi: float = 26.0
    bp: tuple[int, int] = (124, 78)
    hba1c: float | None = None
    conditions: tuple[str, ...] = ()  # extra active condition keys (comorbidities)
    past_conditions: tuple[str, ...] = ()  # resolved conditions (history only)
    medications: tuple[str, ...] = ("topical_corticosteroid",)
    stopped_medications: tuple[str, ...] = ()  # recorded as stopped, not active
    pregnant: bool = False
    onset: str = "stable"  # codes.LESION_ONSET_KEYS
    special_area: str | None = None  # codes.SPECIAL_AREA_KEYS
    topical_failure: bool = False
    joint_pain: bool = False
    morphology: str | None = None  # clinician-recorded lesion sign (codes.LESION_MORPHOLOGY_KEYS), newest visit
    # PASI at the oldest visit relative to the newest: > 1 means the patient has improved since.
    course: float = 1.0
    scores: tuple[float, float, float] = (2.0, 2.0, 2.0)  # PASI E, I, D (0-4) at the newest visit


_MODERATE = _Profile(
    key="psoriasis_moderate",
    title="Moderate plaque psoriasis, worsening on topicals",
    sex="male",
    age=46,
    diagnosis="plaque_psoriasis",
    pasi=9.4,
    bsa=7.0,
    dlqi=9,
    pga=3,
    itch=5,
    tongue="red_yellow_coat",
    pulse="slippery",
    appearance="bright_red",
    sites=("elbow", "knee", "trunk"),
    pest=1,
    phq2=1,
    course=0.8,
    scores=(2.5, 2.0, 2.5),
)

_PROFILES: dict[str, _Profile] = {
    p.key: p
    for p in (
        replace(
            _MODERATE, key="psoriasis_mild", title="Mild plaque psoriasis, improving on topicals", sex="female",
            age=31, pasi=2.6, bsa=2.0, dlqi=3, pga=1, itch=2, sites=("elbow", "knee"), pest=0, course=1.3,
            scores=(1.5, 1.0, 1.5),
        ),
        _MODERATE,
        replace(
            _MODERATE, key="psoriasis_severe", title="Severe plaque psoriasis with scalp disease, topical failure",
            age=52, pasi=21.5, bsa=24.0, dlqi=17, pga=4, itch=8, sites=("scalp", "upper_arm", "trunk", "lower_leg"),
            pest=2, phq2=3, bmi=31.5, bp=(142, 91), medications=("topical_corticosteroid", "vitamin_d_analogue"),
            onset="new_spreading", special_area="scalp", topical_failure=True, course=0.6, scores=(3.5, 3.0, 3.5),
        ),
        replace(
            _MODERATE, key="tcm_blood_heat", title="Spreading bright-red plaques (TCM blood-heat pattern)", age=29,
            tongue="red_yellow_coat", pulse="rapid", appearance="bright_red", onset="new_spreading", course=0.5,
            scores=(3.5, 2.0, 3.0),
        ),
        replace(
            _MODERATE, key="tcm_blood_dryness", title="Long-standing pale plaques, fine scale (TCM blood-dryness)",
            sex="female", age=63, pasi=6.2, bsa=5.0, tongue="pale_red_little_coat", pulse="deep_thin",
            appearance="pale_red", onset="long_standing", course=1.0, scores=(1.5, 1.5, 2.5),
        ),
        replace(
            _MODERATE, key="tcm_blood_stasis", title="Thick dusky infiltrated plaques (TCM blood-stasis pattern)",
            age=58, pasi=14.0, bsa=11.0, tongue="purple_dusky", pulse="choppy", appearance="dark_red_purple",
            onset="long_standing", course=1.0, scores=(3.0, 3.5, 2.5),
        ),
        replace(
            _MODERATE, key="tcm_damp_heat", title="Flexural exudative psoriasis (TCM damp-heat pattern)",
            sex="female", age=41, pasi=7.8, bsa=6.0, tongue="red_greasy_yellow_coat", pulse="slippery_rapid",
            appearance="exudative", sites=("axilla", "groin", "trunk"), special_area="genitals",
            morphology="exudation", scores=(3.0, 1.5, 1.0),
        ),
        replace(
            _MODERATE, key="tcm_heat_toxin", title="Acute pustular flare (TCM heat-toxin pattern)", age=37,
            pasi=18.0, bsa=20.0, dlqi=15, pga=4, itch=7, tongue="crimson_yellow_coat", pulse="surging_rapid", appearance="pustular",
            onset="new_spreading", morphology="pustules", course=0.4, scores=(4.0, 2.5, 2.0),
        ),
        replace(
            _MODERATE, key="eczema", title="Hand and forearm eczema (psoriasis differential)", sex="female",
            age=24, diagnosis="eczema", pasi=0.0, bsa=6.0, dlqi=11, pga=2, itch=9, tongue=None, pulse=None,
            appearance="eczema", sites=("forearm", "hand"), medications=("emollient", "topical_corticosteroid"),
            scores=(2.0, 1.0, 1.0),
        ),
        replace(
            _MODERATE, key="tinea", title="Annular scaly plaque, tinea corporis (psoriasis differential)", age=35,
            diagnosis="tinea_corporis", pasi=0.0, bsa=2.0, dlqi=4, pga=1, itch=6, tongue=None, pulse=None,
            appearance="annular", sites=("trunk",), pest=0, medications=(), scores=(2.0, 0.5, 1.5),
        ),
        replace(
            _MODERATE, key="psoriatic_arthritis", title="Psoriasis with joint pain, PEST 4 (psoriatic arthritis)",
            age=49, pasi=11.2, bsa=9.0, pest=4, joint_pain=True, conditions=("psoriatic_arthritis",),
            medications=("topical_corticosteroid", "naproxen"),
        ),
        replace(
            _MODERATE, key="diabetes", title="Psoriasis with type 2 diabetes, obesity and hypertension", age=57,
            pasi=12.5, bsa=12.0, bmi=34.8, bp=(146, 92), hba1c=8.1, conditions=("diabetes", "obesity", "hypertension"),
            medications=("topical_corticosteroid", "metformin"),
        ),
        replace(
            _MODERATE, key="pregnancy", title="Pregnant, severe psoriasis; methotrexate stopped (contraindicated)",
            sex="female", age=30, pasi=16.0, bsa=15.0, dlqi=14, pga=4, pregnant=True, conditions=("pregnancy",),
            # Methotrexate on record (stopped) so that a planner that would "resume methotrexate"
            # must meet the pregnancy contraindication.
            medications=("topical_corticosteroid", "methotrexate"), stopped_medications=("methotrexate",),
            topical_failure=True,
        ),
        replace(
            _MODERATE, key="tb_history", title="Severe psoriasis, treated pulmonary tuberculosis in the past",
            age=61, pasi=15.5, bsa=14.0, pga=4, past_conditions=("tuberculosis",), topical_failure=True,
        ),
        replace(
            _MODERATE, key="heart_failure", title="Severe psoriasis with heart failure", age=68, pasi=14.8,
            bsa=13.0, pga=4, bp=(118, 70), conditions=("heart_failure",),
            medications=("topical_corticosteroid", "furosemide"), topical_failure=True,
        ),
    )
}

PROFILES: tuple[str, ...] = tuple(_PROFILES)

_GIVEN = ("Alex", "Sam", "Robin", "Kim", "Jordan", "Noor", "Mika", "Lee", "Ari", "Yuki", "Tal", "Remy")
_FAMILY = ("Synthetic", "Testperson", "Example", "Fictional", "Sample", "Modelcase")


# ------------------------------------------------------------------ public API


def patient_bundle(
    profile: str,
    *,
    photos: str = "inline",
    seed: int = 0,
    visits: int = 2,
    sites_per_visit: int | None = None,
) -> dict[str, Any]:
    """One synthetic patient as a FHIR R4 transaction Bundle (entries `PUT <Type>/<id>`).

    profile: one of `PROFILES`. photos: one of `PHOTO_MODES`. seed: varies name, ids and values
    deterministically. visits (>= 1): visits 8 weeks apart, the newest on `ANCHOR`; each has an
    Encounter, a full set of Observations and one photograph per body site of the profile (or of
    its first `sites_per_visit` sites).
    """
    if profile not in _PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
    if photos not in PHOTO_MODES:
        raise ValueError(f"unknown photos mode {photos!r}; expected one of {', '.join(PHOTO_MODES)}")
    if visits < 1:
        raise ValueError("visits must be >= 1")
    return _Builder(_PROFILES[profile], seed=seed, photos=photos).build(visits=visits, sites_per_visit=sites_per_visit)


def large_patient_bundle(*, photos: str = "binary", seed: int = 0, visits: int = 40) -> dict[str, Any]:
    """A patient with a long record for tests of bounded, newest-first fetching: by default 40 visits,
    i.e. about 480 Observations and 40 photographs (one body site per visit)."""
    return patient_bundle("psoriasis_severe", photos=photos, seed=seed, visits=visits, sites_per_visit=1)


def demo_patients() -> list[dict[str, Any]]:
    """Four varied patients (transaction Bundles, inline photos) for `derm3r demo`."""
    return [
        patient_bundle("psoriasis_moderate", seed=1, visits=3),
        patient_bundle("psoriasis_severe", seed=2, visits=3),
        patient_bundle("pregnancy", seed=3, visits=2),
        patient_bundle("tcm_blood_stasis", seed=4, visits=2),
    ]


def patient_id(bundle: dict[str, Any]) -> str:
    """The id of the Patient in a bundle built here."""
    for resource in resources(bundle, "Patient"):
        return str(resource["id"])
    raise ValueError("bundle has no Patient")


def resources(bundle: dict[str, Any], resource_type: str | None = None) -> Iterator[Resource]:
    """The resources in a bundle (optionally only one type), in entry order."""
    for entry in bundle.get("entry", ()):
        resource = entry["resource"]
        if resource_type is None or resource["resourceType"] == resource_type:
            yield resource


def as_collection(bundle: dict[str, Any]) -> dict[str, Any]:
    """The same resources as a `collection` Bundle (no request elements), e.g. for prefetch."""
    return {
        "resourceType": "Bundle",
        "id": f"{bundle.get('id', 'synthetic')}-collection",
        "type": "collection",
        "entry": [{"fullUrl": e["fullUrl"], "resource": e["resource"]} for e in bundle.get("entry", ())],
    }


def searchset(bundle: dict[str, Any], resource_type: str) -> dict[str, Any]:
    """The resources of one type as a `searchset` Bundle, the shape of a prefetch search result."""
    matches = list(resources(bundle, resource_type))
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(matches),
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r, "search": {"mode": "match"}} for r in matches],
    }


# ------------------------------------------------------------------ building


class _Builder:
    def __init__(self, profile: _Profile, *, seed: int, photos: str) -> None:
        self.p = profile
        self.seed = seed
        self.photos = photos
        # A str seed is hashed with SHA-512 by `random`, independent of PYTHONHASHSEED.
        self.rng = random.Random(f"derm3r-synthetic:{profile.key}:{seed}")
        self.entries: list[dict[str, Any]] = []
        self.patient_id = self._id("Patient", 0)
        self.skin_tone = 1 + self.rng.randrange(6)  # Fitzpatrick-like I-VI, see inference.synth

    def _id(self, kind: str, n: int | str) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"{self.p.key}/{self.seed}/{kind}/{n}"))

    def _add(self, resource: Resource) -> Resource:
        resource["meta"] = {"tag": [dict(_SYNTHETIC_TAG)]}
        rtype, rid = resource["resourceType"], resource["id"]
        self.entries.append(
            {"fullUrl": f"urn:uuid:{rid}", "resource": resource, "request": {"method": "PUT", "url": f"{rtype}/{rid}"}}
        )
        return resource

    def build(self, *, visits: int, sites_per_visit: int | None) -> dict[str, Any]:
        self._patient()
        diagnosed = ANCHOR - VISIT_INTERVAL * visits - timedelta(days=90 + self.rng.randrange(700))
        self._conditions(diagnosed)
        self._medications(diagnosed)
        sites = self.p.sites[: sites_per_visit or len(self.p.sites)]
        for index in range(visits):
            newest = index == visits - 1
            when = ANCHOR - VISIT_INTERVAL * (visits - 1 - index) - timedelta(minutes=self.rng.randrange(0, 240))
            if newest:
                when = ANCHOR
            progress = index / (visits - 1) if visits > 1 else 1.0  # 0 oldest -> 1 newest
            factor = self.p.course + (1.0 - self.p.course) * progress
            encounter = self._encounter(index, when, newest=newest)
            self._observations(index, when, factor, encounter, newest=newest)
            for site in sites:
                self._photo(index, site, when, factor, encounter)
        return {
            "resourceType": "Bundle",
            "id": self._id("Bundle", 0),
            "meta": {"tag": [dict(_SYNTHETIC_TAG)]},
            "type": "transaction",
            "entry": self.entries,
        }

    def _patient(self) -> None:
        given = _GIVEN[self.rng.randrange(len(_GIVEN))]
        family = _FAMILY[self.rng.randrange(len(_FAMILY))]
        birth = ANCHOR.date() - timedelta(days=int(self.p.age * 365.25) + self.rng.randrange(300))
        mrn = f"SYN-{self.p.key.upper()}-{self.seed:04d}"
        self._add(
            ehr_record.patient(
                self.patient_id, mrn_system=codes.SYNTHETIC_MRN, mrn=mrn, family=family, given=given,
                gender=self.p.sex, birth_date=birth,
            )
        )

    def _conditions(self, diagnosed: datetime) -> None:
        keys = [(self.p.diagnosis, True), *((k, True) for k in self.p.conditions)]
        keys += [(k, False) for k in self.p.past_conditions]
        for n, (key, active) in enumerate(keys):
            onset = diagnosed if active else diagnosed - timedelta(days=365 * 12)
            if key == "pregnancy":
                onset = ANCHOR - _GESTATION  # a current pregnancy, not one as old as the psoriasis
            self._add(
                ehr_record.condition(
                    self._id("Condition", n), patient_id=self.patient_id, key=key, onset=onset,
                    recorded=onset + timedelta(days=7), abated=None if active else onset + timedelta(days=270),
                )
            )

    def _medications(self, diagnosed: datetime) -> None:
        for n, key in enumerate(self.p.medications):
            start = diagnosed + timedelta(days=30 + 60 * n)
            end = ANCHOR - timedelta(days=120) if key in self.p.stopped_medications else None
            self._add(
                ehr_record.medication_statement(
                    self._id("MedicationStatement", n), patient_id=self.patient_id, key=key, product=_PRODUCTS[key],
                    start=start, end=end,
                )
            )

    def _encounter(self, index: int, when: datetime, *, newest: bool) -> str:
        rid = self._id("Encounter", index)
        end = None if newest else when + timedelta(minutes=25)  # the newest visit is in progress
        self._add(ehr_record.encounter(rid, patient_id=self.patient_id, start=when, end=end))
        return rid

    # ---------------------------------------------------------- observations

    def _jitter(self, value: float, spread: float) -> float:
        return value * (1.0 + self.rng.uniform(-spread, spread))

    def _observations(self, index: int, when: datetime, factor: float, encounter: str, *, newest: bool) -> None:
        p = self.p
        numbers: list[tuple[FindingKey, float]] = []
        if p.diagnosis == "plaque_psoriasis":  # psoriasis-specific scores only where psoriasis is diagnosed
            numbers += [
                (FindingKey.PASI, round(min(72.0, self._jitter(p.pasi * factor, 0.05)), 1)),
                (FindingKey.PGA, float(max(0, min(4, round(p.pga * min(factor, 1.25)))))),
                (FindingKey.PEST_SCORE, float(p.pest)),
            ]
        numbers += [
            (FindingKey.BSA_PERCENT, round(min(100.0, self._jitter(p.bsa * factor, 0.05)), 1)),
            (FindingKey.DLQI, float(min(30, round(self._jitter(p.dlqi * factor, 0.1))))),
            (FindingKey.ITCH_NRS, float(max(0, min(10, round(self._jitter(p.itch * factor, 0.1)))))),
            (FindingKey.PHQ2, float(p.phq2)),
            (FindingKey.BMI, round(self._jitter(p.bmi, 0.02), 1)),
        ]
        if p.hba1c is not None:
            numbers.append((FindingKey.HBA1C, round(self._jitter(p.hba1c, 0.04), 1)))
        for key, value in numbers:
            self._observation(index, key, when, encounter, {"valueQuantity": ehr_record.quantity(key.value, value)})

        systolic = float(round(self._jitter(p.bp[0], 0.03)))
        diastolic = float(round(self._jitter(p.bp[1], 0.03)))
        self._observation(
            index, "blood_pressure", when, encounter,
            components={FindingKey.SYSTOLIC_BP.value: systolic, FindingKey.DIASTOLIC_BP.value: diastolic},
        )

        coded = [(FindingKey.TONGUE, p.tongue), (FindingKey.PULSE, p.pulse), (FindingKey.LESION_ONSET, p.onset)]
        if newest:
            coded.append((FindingKey.SPECIAL_AREA, p.special_area))
            coded.append((FindingKey.LESION_MORPHOLOGY, p.morphology))
        for key, value in coded:
            if value is not None:
                self._observation(index, key, when, encounter, ehr_record.coded_finding(key.value, value))
        if p.pregnant:
            self._observation(index, FindingKey.PREGNANT, when, encounter,
                              {"valueCodeableConcept": ehr_record.concept(codes.PREGNANT_VALUE)})
        if newest:
            for key, flag in ((FindingKey.TOPICAL_FAILURE, p.topical_failure), (FindingKey.JOINT_PAIN, p.joint_pain)):
                if flag:
                    self._observation(index, key, when, encounter, {"valueBoolean": True})

    def _observation(
        self,
        index: int,
        key: FindingKey | str,
        when: datetime,
        encounter: str,
        value: dict[str, Any] | None = None,
        *,
        components: dict[str, float] | None = None,
    ) -> None:
        name = key.value if isinstance(key, FindingKey) else key  # "blood_pressure" names the panel
        self._add(
            ehr_record.observation(
                self._id("Observation", f"{index}/{name}"), patient_id=self.patient_id, encounter_id=encounter,
                key=name, effective=when, issued=when + timedelta(minutes=30), value=value, components=components,
            )
        )

    # ---------------------------------------------------------- photographs

    def _photo(self, index: int, site: str, when: datetime, factor: float, encounter: str) -> None:
        e, i, d = (max(0.0, min(4.0, s * factor)) for s in self.p.scores)
        area = self._area_fraction(e + i + d, factor)
        jpeg = render_photo(
            self.p.appearance,
            erythema=round(e * 2) / 2,
            induration=round(i * 2) / 2,
            desquamation=round(d * 2) / 2,
            area_fraction=area,
            skin_tone=self.skin_tone,
            seed=_stable_int(f"{self.p.key}/{self.seed}/{site}/{index}"),
        )
        title = f"{_SITE_TEXT[site]}, visit {index + 1}"
        key = f"{index}/{site}"
        data = base64.b64encode(jpeg).decode("ascii")
        site_text = _SITE_TEXT[site]
        if self.photos == "document_reference":
            content = ehr_record.attachment("image/jpeg", title=title, size=len(jpeg), creation=when, data=data)
            self._add(
                ehr_record.photo_document_reference(
                    self._id("DocumentReference", key), patient_id=self.patient_id, encounter_id=encounter, taken=when,
                    site=site, site_text=site_text, description=title, content=content,
                )
            )
            return
        if self.photos == "binary":
            binary_id = self._id("Binary", key)
            self._add(ehr_record.binary(binary_id, patient_id=self.patient_id, content_type="image/jpeg", data=data))
            content = ehr_record.attachment("image/jpeg", title=title, size=len(jpeg), creation=when, url=f"Binary/{binary_id}")
        else:
            content = ehr_record.attachment("image/jpeg", title=title, size=len(jpeg), creation=when, data=data)
        self._add(
            ehr_record.media(
                self._id("Media", key), patient_id=self.patient_id, encounter_id=encounter, taken=when, site=site,
                site_text=site_text, content=content,
            )
        )

    def _area_fraction(self, severity_sum: float, factor: float) -> float:
        """Lesional share of each photo, chosen so that PASI computed from the photos (region weight x
        (E+I+D) x area score over the photographed regions) agrees with the clinician's PASI: the
        synthetic record is then consistent, and a discrepancy the agents report is theirs."""
        regions = {codes.body_region(codes.SNOMED, codes.BODY_SITE_KEYS[site]) for site in self.p.sites}
        weight = sum(PASI_REGION_WEIGHTS.get(r, 0.0) for r in regions if r is not None)
        pasi = self.p.pasi * factor
        if pasi <= 0 or weight <= 0 or severity_sum <= 0:  # not psoriasis: follow the body surface involved
            return round(max(0.05, min(0.6, self.p.bsa * factor / 20.0)), 2)
        score = max(0.5, min(6.0, pasi / (severity_sum * weight)))
        low = int(score)
        fraction = _AREA_BAND_MIDPOINTS[low] + (score - low) * (_AREA_BAND_MIDPOINTS[min(low + 1, 6)] - _AREA_BAND_MIDPOINTS[low])
        return round(fraction, 2)


# ------------------------------------------------------------------ helpers


def _stable_int(text: str) -> int:
    return uuid.uuid5(_NAMESPACE, text).int & 0x7FFFFFFF


# PASI area score (0-6) -> the middle of its band of involvement (clinical.md "PASI").
_AREA_BAND_MIDPOINTS = (0.0, 0.05, 0.20, 0.40, 0.60, 0.80, 0.95)

# Photo size: large enough for the quality gate and the model's input, small enough that a patient
# with dozens of photos renders in about a second.
PHOTO_SIZE = (384, 288)

# Lesion looks that inference.synth has no colour class for are rendered as the nearest one.
_COLOUR_CLASS = {
    "bright_red": "bright_red",
    "pale_red": "pale_red",
    "dark_red_purple": "dark_red_purple",
    "exudative": "bright_red",
    "pustular": "bright_red",
    "eczema": "pale_red",
    "annular": "pale_red",
}


@functools.lru_cache(maxsize=256)
def render_photo(
    appearance: str,
    *,
    erythema: float,
    induration: float,
    desquamation: float,
    area_fraction: float,
    skin_tone: int,
    seed: int,
) -> bytes:
    """JPEG bytes of a procedural lesion photo (inference.synth) with these PASI-like levels.
    Cached: the same photo is asked for once per photo mode in tests."""
    from inference import synth  # lazily: numpy work only when photos are made

    spec = synth.PlaqueSpec(
        skin_tone=skin_tone,
        erythema=erythema,
        scale=desquamation,
        thickness=induration,
        area_fraction=area_fraction,
        colour_class=_COLOUR_CLASS[appearance],
        width=PHOTO_SIZE[0],
        height=PHOTO_SIZE[1],
        seed=seed,
    )
    jpeg, _truth = synth.render_jpeg(spec, quality=85)
    return jpeg
