"""The clinical vignettes: one synthetic chart each, what derm3r must and must not say about it, and
the guideline section the expectation rests on. `test_vignettes.py` runs every one through the real
service; the README's "What derm3r does" table is the readable view of this list.

`pending` marks a vignette that fails only because a piece of reasoning is not in yet (issue 11,
helper 11a); the test is then `xfail(strict=True)`, so it must be unmarked as soon as it passes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .builder import Chart, ProfileChart
from .expect import Alert, Never, NeverOffers, NoAlert, NoCards, NoPsoriasisPlan, Offers, PlanCoded, Says

SYSTEMIC = r"methotrexate|cyclosporin|ciclosporin|acitretin|apremilast|deucravacitinib"
BIOLOGIC = (r"adalimumab|etanercept|infliximab|certolizumab|ustekinumab|secukinumab|ixekizumab|brodalumab|"
            r"bimekizumab|guselkumab|risankizumab|tildrakizumab|biologic")
TOPICAL = r"corticosteroid|vitamin d|calcipot|topical|calcineurin|tacrolimus|pimecrolimus"
PHOTOTHERAPY = r"UVB|phototherapy"
PROFILE = r"AAD-NPF|EuroGuiDerm|NICE"
TCM_FORMULAS = r"Xijiao|Liangxue|Danggui|Yangxue|Taohong|Huoxue|Bixie|Qingwen|Huanglian|Duhuo"

# Citations (full entries with links are in inference/knowledge/citations.json).
AAD_TOPICAL = "AAD-NPF topical therapy 2021 (Elmets et al., JAAD 84:432)"
AAD_PHOTO = "AAD-NPF phototherapy 2019 (Elmets et al., JAAD 81:775)"
AAD_SYSTEMIC = "AAD-NPF systemic non-biologic therapy 2020 (Menter et al., JAAD 82:1445)"
AAD_BIOLOGICS = "AAD-NPF biologics 2019 (Menter et al., JAAD 80:1029)"
AAD_COMORB = "AAD-NPF comorbidities 2019 (Elmets et al., JAAD 80:1073)"
AAD_PAEDS = "AAD-NPF paediatric psoriasis 2020 (Menter et al., JAAD 82:161)"
EUROGUIDERM = "EuroGuiDerm systemic psoriasis guideline 2023 (Nast et al.)"
NICE = "NICE CG153 Psoriasis (2012, updated 2017)"
BAD_BIOLOGICS = "BAD biologic therapy for psoriasis 2020 (Smith et al., BJD 183:628)"
BAD_MTX = "BAD methotrexate for skin disease 2016 (Warren et al., BJD 175:23)"
GRAPPA = "GRAPPA PsA treatment recommendations 2021 (Coates et al., Nat Rev Rheumatol 18:465)"
IPC = "IPC systemic-candidate definition 2020 (Strober et al., JAAD 82:117)"
PROJECT = "derm3r scope rule (issue 11): pathway only with psoriasis on the problem list"


@dataclass(frozen=True)
class Vignette:
    id: str
    situation: str
    does: str  # what derm3r does, in words (the README table)
    chart: Callable[[], Chart]
    expect: tuple
    source: str
    pending: str | None = None  # why it cannot pass yet (xfail, strict)
    profile: str | None = None  # DERM3R_GUIDELINE_PROFILE the service runs with (None: the default)


def _severe(chart: Chart, *, pasi: float = 18.0, bsa: float = 16.0) -> Chart:
    return (chart.score("pasi", pasi).score("bsa", bsa).score("pga", 4).score("dlqi", 15)
            .flag("topical_failure").medication("clobetasol"))


def _moderate(chart: Chart) -> Chart:
    return chart.score("pasi", 9.0).score("bsa", 7).score("pga", 3).score("dlqi", 9).medication("clobetasol")


DOES: dict[str, str] = {
    "plain-mild": "Mild psoriasis: topical step (steroid, vitamin D analogue); no systemic drug, no alert",
    "plain-clear": "Clear/controlled: stays on topicals, no systemic or biologic",
    "plain-moderate": "Moderate psoriasis: NB-UVB phototherapy step, topicals kept as adjunct, guideline profile named; NB-UVB coded in SNOMED CT",
    "plain-severe": "Severe psoriasis: methotrexate and biologics offered (biologics first-line per AAD-NPF), topicals as adjunct; drugs coded in RxNorm and ATC",
    "severe-with-photos": "Severe on clinician measures; photos agree and only support; biologics offered",
    "pregnant-severe": "NB-UVB and certolizumab offered; methotrexate, acitretin, apremilast, deucravacitinib, PUVA not offered; no herbal formulas",
    "pregnant-moderate": "NB-UVB and topical steroids; PUVA, methotrexate, acitretin, apremilast not offered",
    "breastfeeding": "Breastfeeding named; NB-UVB or certolizumab; methotrexate, acitretin, apremilast, cyclosporine not offered",
    "planning-pregnancy": "Planning pregnancy named; acitretin and methotrexate not offered",
    "man-mtx-planning": "Conception advice for a man on methotrexate; no pregnancy test asked of him",
    "child-9": "Child named; no pregnancy check; no drug unlicensed below age 9 (e.g. brodalumab, guselkumab, certolizumab)",
    "older-adult": "Age and renal function named; cyclosporine not offered",
    "renal-ckd4": "Renal impairment named; methotrexate and cyclosporine not offered",
    "hepatic-cirrhosis": "Liver disease named; methotrexate and acitretin not offered",
    "erythrodermic": "Warning/critical card: same-day dermatology review or admission; subtype shown; no 12-week plan, no apremilast",
    "erythroderma-by-bsa": "Erythroderma recognised from BSA 90%: same-day review card; no 12-week plan",
    "gpp": "Warning/critical card: same-day review for generalised pustular psoriasis; no apremilast, no 12-week plan",
    "guttate": "Guttate named in the summary; NB-UVB or topicals; no biologic",
    "inverse": "Inverse/flexural named; calcineurin inhibitor or low/moderate-potency steroid; no very potent steroid",
    "palmoplantar": "Palmoplantar named; special area: systemic or phototherapy candidate, not 'mild'",
    "nail": "Nail psoriasis named; systemic candidate (special area)",
    "scalp": "Scalp psoriasis named; topical scalp treatment offered",
    "psa-coded": "Joint-active therapy (methotrexate, biologics); no acitretin or cyclosporine; rheumatology referral",
    "psa-pest": "PEST 4 with joint pain: rheumatology referral suggested",
    "mtx-alt": "Warning card: withhold methotrexate, with ALT 168 U/L, its date and the threshold; not 'before starting'; neither methotrexate nor (hepatotoxic) acitretin proposed in the plan",
    "mtx-cytopenia": "Warning card: cytopenia on methotrexate with the values; methotrexate not proposed in the plan",
    "mtx-monitoring-due": "Methotrexate monitoring due (not 'before starting'); no step-up to biologic",
    "cyclosporine-bp": "Warning card: BP 164/102 on cyclosporine",
    "cyclosporine-egfr": "Warning card: eGFR fall to 64 on cyclosporine",
    "mtx-active-tb": "Warning card: hold methotrexate (active TB); no biologic step, none offered",
    "latent-tb": "Latent TB named: preventive treatment before or with the biologic",
    "uninterpretable-lab": "Unreadable ALT and creatinine listed on the data-quality card, not dropped",
    "adalimumab-infection": "Warning card: hold adalimumab during active infection",
    "mtx-cotrimoxazole": "Warning card: methotrexate with trimethoprim-sulfamethoxazole interaction",
    "ibd-severe": "IL-17 inhibitors not offered with Crohn's disease; IL-23, IL-12/23 or TNF inhibitors offered",
    "heart-failure": "TNF inhibitors not offered with heart failure; other biologics offered",
    "pasi-bsa-conflict": "Conflict flagged on the data-quality card; no 'severe' headline, no systemic or biologic offered",
    "man-pregnant": "Sex/pregnancy conflict flagged; no pregnancy contraindications applied",
    "photo-vs-clinician": "Photo-vs-clinician PASI difference flagged on the data-quality card; clinician measure decides, no 'severe'",
    "stale-data": "Age of the measurements flagged; no escalation to systemic or biologic",
    "eczema": "No psoriasis headline or plan; says eczema is on record; no systemic drugs",
    "tinea": "No psoriasis headline or plan; names tinea and KOH microscopy; no steroid",
    "lupus": "No psoriasis headline or plan; names lupus; no phototherapy (UV harms lupus)",
    "drug-eruption": "No psoriasis headline or plan; names the drug eruption",
    "photo-only": "No severity, no plan: confirm the diagnosis",
    "scores-only": "No severity, no plan: confirm the diagnosis",
    "texture-photo": "Non-skin photo not read as 'clear psoriasis'; photos never set a step",
    "psoriasis-photos-only": "Asks for a clinician measure; photos alone set no step, no systemic or biologic",
    "unrelated-chart": "No cards",
    "profile-eczema": "No psoriasis headline or plan; names eczema; no systemic drug",
    "profile-tinea": "No psoriasis headline or plan; names tinea and KOH microscopy; no topical steroid",
    "profile-pregnancy": "Pregnancy in the summary; NB-UVB or certolizumab offered; apremilast, methotrexate, acitretin, PUVA not offered",
    "profile-psa": "Biologic offered, no acitretin; rheumatology named",
    "profile-severe": "Severe: biologics first-line with topicals as adjunct; no alert",
    "profile-heart-failure": "No TNF inhibitor offered with heart failure",
    "profile-tb-history": "Treated TB in the past is not active TB: no hold, biologic still offered",
    "demo-photos": "Moderate on clinician measures; the four demo photographs support, never override; NB-UVB offered",
    "nice-severe": "With the NICE profile: named on the card; methotrexate first, no biologic before a standard systemic has failed",
    "nice-mtx-failure": "With the NICE profile: severe disease despite methotrexate: biologics offered",
    "euroguiderm-severe": "With the EuroGuiDerm profile: named on the card; conventional systemic (methotrexate) first",
    "china-severe": "With the Chinese guideline profile: named on the card; methotrexate or other systemic options with topicals as adjunct",
}


V: list[Vignette] = []


def vignette(id: str, situation: str, expect: tuple, source: str, pending: str | None = None, profile: str | None = None):
    def register(build: Callable[[], Chart]) -> Callable[[], Chart]:
        V.append(Vignette(id, situation, DOES[id], build, expect, source, pending, profile))
        return build
    return register


# ================================================================= positive controls

@vignette("plain-mild", "Plaque psoriasis, BSA 2%, PASI 2.6, PGA 1, DLQI 3, on a topical steroid",
          (Says(r"\bmild\b", "summary"), Offers(TOPICAL), NeverOffers(SYSTEMIC), NeverOffers(BIOLOGIC), NoAlert(),
           PlanCoded(r"corticosteroid", "http://www.whocc.no/atc")),
          f"{AAD_TOPICAL}; {NICE} 1.4")
def _():
    return (Chart("plain-mild", sex="female", age=31).psoriasis("Plaque psoriasis", "200965009")
            .score("pasi", 2.6).score("bsa", 2).score("pga", 1).score("dlqi", 3).medication("clobetasol"))


@vignette("plain-clear", "Psoriasis cleared on topicals: PASI 0.4, BSA 0.5%, PGA 0",
          (Says(r"\bclear|controlled|mild\b", "summary"), NeverOffers(SYSTEMIC), NeverOffers(BIOLOGIC), NoAlert()),
          AAD_TOPICAL)
def _():
    return (Chart("plain-clear", sex="male", age=44).psoriasis()
            .score("pasi", 0.4).score("bsa", 0.5).score("pga", 0).score("dlqi", 1).medication("calcipotriol"))


@vignette("plain-moderate", "Plaque psoriasis, BSA 7%, PASI 9, PGA 3, DLQI 9, on topicals",
          (Says(r"\bmoderate\b", "summary"), Offers(PHOTOTHERAPY), Offers(TOPICAL), Says(PROFILE),
           PlanCoded(r"UVB", "http://snomed.info/sct"), NoAlert()),
          f"{AAD_PHOTO} (NB-UVB); {AAD_TOPICAL} (topicals stay as adjunct); {NICE} 1.5")
def _():
    return _moderate(Chart("plain-moderate", sex="male", age=46).psoriasis())


@vignette("plain-severe", "Plaque psoriasis, PASI 21, BSA 24%, DLQI 17, topical failure",
          (Says(r"\bsevere\b", "summary"), Offers(r"methotrexate"), Offers(BIOLOGIC), Offers(TOPICAL), Says(PROFILE),
           PlanCoded(r"methotrexate", "http://www.nlm.nih.gov/research/umls/rxnorm"), PlanCoded(r"methotrexate", "http://www.whocc.no/atc")),
          f"{AAD_BIOLOGICS} (biologics first-line for moderate-to-severe); {AAD_SYSTEMIC}; {IPC}")
def _():
    return _severe(Chart("plain-severe", sex="male", age=52).psoriasis(), pasi=21.5, bsa=24)


@vignette("severe-with-photos", "Severe psoriasis (PASI 16, BSA 15%) with three photographs that agree",
          (Says(r"\bsevere\b", "summary"), Offers(BIOLOGIC), Never(r"clear psoriasis")),
          AAD_BIOLOGICS)
def _():
    chart = _severe(Chart("severe-with-photos", sex="female", age=48).psoriasis(), pasi=16, bsa=15)
    for site in ("trunk", "knee", "elbow"):
        chart.photo(site, erythema=3, scale=3, thickness=2.5, area=0.45)
    return chart


# ================================================================= special populations

@vignette("pregnant-severe", "Pregnant (18 weeks), severe psoriasis, topical failure, methotrexate stopped",
          (Says(r"pregnan", "summary"), Offers(r"UVB|phototherapy|certolizumab"),
           NeverOffers(r"methotrexate|acitretin|apremilast|deucravacitinib|PUVA|psoralen"), Never(TCM_FORMULAS)),
          f"{EUROGUIDERM} (pregnancy); {AAD_BIOLOGICS} (certolizumab in pregnancy); {AAD_PHOTO} (NB-UVB safe, PUVA avoided)")
def _():
    return _severe(Chart("pregnant-severe", sex="female", age=30).psoriasis().pregnant()
                   .medication("methotrexate", status="stopped"))


@vignette("pregnant-moderate", "Pregnant, moderate psoriasis (PASI 8, BSA 6%)",
          (Offers(PHOTOTHERAPY), Offers(TOPICAL), NeverOffers(r"PUVA|psoralen|methotrexate|acitretin|apremilast")),
          f"{AAD_PHOTO} (NB-UVB in pregnancy); {EUROGUIDERM} (pregnancy)")
def _():
    return _moderate(Chart("pregnant-moderate", sex="female", age=27).psoriasis().pregnant(weeks=22))


@vignette("breastfeeding", "Breastfeeding, severe psoriasis",
          (Says(r"breast|lactat"), Offers(r"UVB|phototherapy|certolizumab"),
           NeverOffers(r"methotrexate|acitretin|apremilast|cyclosporin|ciclosporin")),
          f"{EUROGUIDERM} (breastfeeding); {BAD_BIOLOGICS} (certolizumab: minimal transfer to breast milk)")
def _():
    return _severe(Chart("breastfeeding", sex="female", age=33).psoriasis().breastfeeding())


@vignette("planning-pregnancy", "Woman planning pregnancy within the year, severe psoriasis",
          (Says(r"pregnan|concep"), NeverOffers(r"acitretin|methotrexate")),
          f"{AAD_SYSTEMIC} (acitretin: no pregnancy for 3 years after; methotrexate: stop before conception); {EUROGUIDERM}")
def _():
    return _severe(Chart("planning-pregnancy", sex="female", age=29).psoriasis().planning_pregnancy())


@vignette("man-mtx-planning", "Man on methotrexate planning to father a child",
          (Says(r"methotrexate[^\n]*(concep|pregnan|father|partner)|(concep|pregnan|father|partner)[^\n]*methotrexate"),
           Never(r"pregnancy (status|test)")),
          f"{BAD_MTX} (men: conception advice); {EUROGUIDERM} (men planning to father a child)")
def _():
    return (Chart("man-mtx-planning", sex="male", age=34).psoriasis().score("pasi", 4).score("bsa", 3)
            .medication("methotrexate").medication("folic_acid").planning_pregnancy()
            .lab("alt", 24, days_ago=30).lab("wbc", 6.1, days_ago=30).lab("platelets", 240, days_ago=30)
            .lab("creatinine", 0.9, days_ago=30))


@vignette("child-9", "Child aged 9, moderate-to-severe psoriasis (BSA 12%), topical failure",
          (Says(r"child|paediatric|pediatric|aged? 9|9 years", "summary"), Never(r"pregnancy (status|test)"),
           NeverOffers(r"brodalumab|bimekizumab|guselkumab|risankizumab|tildrakizumab|deucravacitinib|certolizumab|infliximab")),
          f"{AAD_PAEDS} (licensed ages: etanercept 4+, ustekinumab/secukinumab/ixekizumab 6+); PASI not validated in children")
def _():
    return (Chart("child-9", sex="female", age=9).psoriasis().score("bsa", 12).score("pga", 3).score("dlqi", 12)
            .flag("topical_failure").medication("clobetasol"))


@vignette("older-adult", "Man aged 82, severe psoriasis, eGFR 52",
          (Says(r"older|elderly|aged? 8\d|age|renal|kidney|eGFR"), NeverOffers(r"cyclosporin|ciclosporin")),
          f"{EUROGUIDERM} (elderly, renal function); {AAD_SYSTEMIC} (cyclosporine: caution in elderly and renal impairment)")
def _():
    return _severe(Chart("older-adult", sex="male", age=82).psoriasis()).lab("egfr", 52, days_ago=20)


@vignette("renal-ckd4", "Chronic kidney disease stage 4 (eGFR 22), severe psoriasis",
          (Says(r"renal|kidney|eGFR"), NeverOffers(r"methotrexate|cyclosporin|ciclosporin")),
          f"{AAD_SYSTEMIC} (methotrexate and cyclosporine in renal impairment); {EUROGUIDERM}")
def _():
    return (_severe(Chart("renal-ckd4", sex="female", age=61).psoriasis())
            .condition("Chronic kidney disease stage 4", snomed="431857002", icd10="N18.4").lab("egfr", 22, days_ago=15))


@vignette("hepatic-cirrhosis", "Cirrhosis of the liver, severe psoriasis",
          (Says(r"liver|hepat|cirrho"), NeverOffers(r"methotrexate|acitretin")),
          f"{AAD_SYSTEMIC} (methotrexate, acitretin: avoid in liver disease); {BAD_MTX}")
def _():
    return _severe(Chart("hepatic-cirrhosis", sex="male", age=57).psoriasis()).condition("Cirrhosis of liver", snomed="19943007", icd10="K74.6")


# ================================================================= subtypes and red flags

_URGENT = r"same.day|urgent|admi"


@vignette("erythrodermic", "Erythrodermic psoriasis coded, BSA 92%",
          (Alert(_URGENT), Says(r"erythroderm"), Never(r"12.week|in 12 weeks"), NeverOffers(r"apremilast")),
          f"{NICE} 1.3 (urgent same-day specialist assessment for erythroderma); {EUROGUIDERM}")
def _():
    return (Chart("erythrodermic", sex="male", age=58).psoriasis("Erythrodermic psoriasis", "200977004", "L40.8")
            .score("bsa", 92).score("pasi", 38).score("pga", 4).score("dlqi", 25))


@vignette("erythroderma-by-bsa", "Plaque psoriasis coded, but BSA 90% recorded today (erythroderma)",
          (Alert(_URGENT), Says(r"erythroderm"), Never(r"12.week|in 12 weeks")),
          f"{NICE} 1.3 (erythroderma: urgent same-day assessment)")
def _():
    return (Chart("erythroderma-by-bsa", sex="female", age=63).psoriasis("Plaque psoriasis", "200965009")
            .score("bsa", 90).score("pasi", 35).score("pga", 4))


@vignette("gpp", "Generalised pustular psoriasis, BSA 30%, pustular photographs",
          (Alert(_URGENT), Says(r"pustular"), Never(r"12.week|in 12 weeks"), NeverOffers(r"apremilast")),
          f"{NICE} 1.3 (generalised pustular psoriasis: urgent same-day assessment); {EUROGUIDERM}")
def _():
    return (Chart("gpp", sex="male", age=37).psoriasis("Generalized pustular psoriasis", "200973000", "L40.1")
            .score("bsa", 30).score("pga", 4).photo("trunk", appearance="pustular", erythema=4, scale=1.5, area=0.6))


@vignette("guttate", "Guttate psoriasis after a sore throat, BSA 8%, age 19",
          (Says(r"guttate", "summary"), Offers(r"UVB|phototherapy|topical|corticosteroid|vitamin d"), NeverOffers(BIOLOGIC)),
          f"{AAD_PHOTO} (NB-UVB for guttate psoriasis); {NICE} 1.5")
def _():
    return (Chart("guttate", sex="female", age=19).psoriasis("Guttate psoriasis", "37042000", "L40.4")
            .score("bsa", 8).score("pasi", 6).score("dlqi", 8))


@vignette("inverse", "Inverse (flexural) psoriasis in the axillae and groin",
          (Says(r"inverse|flexur", "summary"), Offers(r"calcineurin|tacrolimus|pimecrolimus|low.potency|mild.potency|moderate.potency"),
           NeverOffers(r"clobetasol|very potent|super.?potent")),
          f"{NICE} 1.4 (flexural psoriasis: mild/moderate potency steroid or calcineurin inhibitor); {AAD_TOPICAL}")
def _():
    return (Chart("inverse", sex="female", age=41).condition("Inverse psoriasis", icd10="L40.8")
            .score("bsa", 3).score("pasi", 3).score("dlqi", 9).special_area("genitals", "Genitals")
            .photo("axilla", erythema=3, scale=0.5, area=0.3))


@vignette("palmoplantar", "Palmoplantar psoriasis, BSA 2%, DLQI 15",
          (Says(r"palm|plantar|sole", "summary"), Says(r"systemic|phototherapy|candidate"), Never(r"\bmild psoriasis\b", "summary")),
          f"{IPC} (special areas: candidate for systemic therapy); {EUROGUIDERM}")
def _():
    return (Chart("palmoplantar", sex="male", age=50).condition("Palmoplantar psoriasis", icd10="L40.3")
            .score("bsa", 2).score("pasi", 3).score("dlqi", 15).special_area("palms_soles", "Palms or soles"))


@vignette("nail", "Nail psoriasis with limited skin disease (BSA 2%)",
          (Says(r"\bnail", "summary"), Says(r"systemic|candidate"), Never(r"\bmild psoriasis\b", "summary")),
          f"{IPC} (nails a special area); {EUROGUIDERM} (nail involvement)")
def _():
    return (Chart("nail", sex="female", age=45).psoriasis().condition("Nail psoriasis", icd10="L40.8")
            .score("bsa", 2).score("pasi", 2.5).score("dlqi", 7).special_area("nails", "Nails"))


@vignette("scalp", "Scalp psoriasis, BSA 3%, DLQI 8",
          (Says(r"scalp", "summary"), Offers(TOPICAL), Offers(r"shampoo|solution|foam|scalp|topical"), NoAlert()),
          f"{NICE} 1.4 (scalp psoriasis: potent steroid first); {IPC} (scalp a special area)")
def _():
    return (Chart("scalp", sex="male", age=36).psoriasis().score("bsa", 3).score("pasi", 3.5).score("dlqi", 8)
            .special_area("scalp", "Scalp").photo("scalp", erythema=2.5, scale=3, area=0.25))


# ================================================================= psoriatic arthritis

_JOINT_ACTIVE = r"methotrexate|adalimumab|etanercept|infliximab|certolizumab|secukinumab|ixekizumab|guselkumab|risankizumab|ustekinumab|bimekizumab|TNF|IL-17|IL-23"


@vignette("psa-coded", "Psoriatic arthritis on the problem list, PEST 4, PASI 11",
          (Offers(r"methotrexate"), Offers(BIOLOGIC), NeverOffers(r"acitretin|cyclosporin|ciclosporin"), Says(r"rheumatolog")),
          f"{GRAPPA}; {AAD_BIOLOGICS} (PsA: TNF, IL-17, IL-23 inhibitors); {AAD_COMORB} (rheumatology referral)")
def _():
    return (Chart("psa-coded", sex="male", age=49).psoriasis().condition("Psoriatic arthritis", snomed="156370009", icd10="L40.5")
            .score("pasi", 11).score("bsa", 9).score("pga", 3).score("pest", 4).flag("joint_pain"))


@vignette("psa-pest", "No arthritis coded; PEST 4 with joint pain",
          (Says(r"rheumatolog"), Says(r"PEST|arthritis"), Never(r"No PEST on record")),
          f"{AAD_COMORB} (PEST >= 3: consider rheumatology referral)")
def _():
    return (Chart("psa-pest", sex="female", age=42).psoriasis().score("pasi", 5).score("bsa", 4)
            .score("pest", 4).flag("joint_pain"))


# ================================================================= monitoring of current therapy

@vignette("mtx-alt", "On methotrexate; ALT 168 U/L and AST 140 U/L four days ago",
          (Alert(r"methotrexate|ALT|liver|transaminase"), Says(r"168"), Says(r"withhold|hold|stop", "alert"),
           Never(r"before starting[^\n]*(CBC|liver)"), NeverOffers(r"methotrexate"), NeverOffers(r"acitretin")),
          f"{AAD_SYSTEMIC} (methotrexate monitoring); {BAD_MTX} (transaminases > 3x upper limit: stop and discuss)")
def _():
    return (Chart("mtx-alt", sex="male", age=52).psoriasis().score("pasi", 4).score("bsa", 3)
            .medication("methotrexate").medication("folic_acid").lab("alt", 168, days_ago=4).lab("ast", 140, days_ago=4)
            .lab("wbc", 6.0, days_ago=4).lab("platelets", 230, days_ago=4))


@vignette("mtx-cytopenia", "On methotrexate; WBC 2.4, neutrophils 0.9, platelets 85 (x10^9/L)",
          (Alert(r"methotrexate|neutro|platelet|white|cytopen|blood count"), Says(r"0\.9|85"), NeverOffers(r"methotrexate"),
           Never(r"before starting[^\n]*(CBC|blood count)")),
          f"{BAD_MTX} (cytopenia: withhold and recheck); {AAD_SYSTEMIC}")
def _():
    return (Chart("mtx-cytopenia", sex="female", age=66).psoriasis().score("pasi", 5).score("bsa", 4)
            .medication("methotrexate").lab("wbc", 2.4, days_ago=2).lab("neutrophils", 0.9, days_ago=2)
            .lab("platelets", 85, days_ago=2).lab("alt", 30, days_ago=2))


@vignette("mtx-monitoring-due", "On methotrexate; last blood tests 7 months ago",
          (Says(r"methotrexate[^\n]*(monitoring|blood test)[^\n]*due|(monitoring|blood test)[^\n]*due[^\n]*methotrexate|due[^\n]*methotrexate monitoring"),
           Never(r"before starting[^\n]*(CBC|liver)"), Never(r"step: biologic", "summary")),
          f"{BAD_MTX} (blood monitoring every 2-3 months once stable); {AAD_SYSTEMIC}")
def _():
    return (Chart("mtx-monitoring-due", sex="male", age=47).psoriasis().score("pasi", 5).score("bsa", 4)
            .medication("methotrexate").lab("alt", 28, days_ago=210).lab("wbc", 6.2, days_ago=210))


@vignette("cyclosporine-bp", "On cyclosporine; BP 164/102 today (128/80 before starting)",
          (Alert(r"blood pressure|\bBP\b|hypertens|cyclosporin|ciclosporin"), Says(r"164"),
           Never(r"before starting[^\n]*(blood pressure|renal)")),
          f"{AAD_SYSTEMIC} (cyclosporine: monitor BP, reduce dose or stop if hypertension develops)")
def _():
    return (Chart("cyclosporine-bp", sex="male", age=45).psoriasis().score("pasi", 6).score("bsa", 5)
            .medication("cyclosporine", started_days_ago=90).bp(128, 80, days_ago=100).bp(164, 102, days_ago=2)
            .lab("creatinine", 0.9, days_ago=5))


@vignette("cyclosporine-egfr", "On cyclosporine; eGFR 92 -> 64 mL/min (creatinine 0.8 -> 1.15 mg/dL)",
          (Alert(r"eGFR|renal|kidney|creatinine|cyclosporin|ciclosporin"), Says(r"\b64\b"),
           Never(r"before starting[^\n]*(renal|creatinine)")),
          f"{AAD_SYSTEMIC} (cyclosporine: creatinine rise > 25% above baseline -> reduce dose)")
def _():
    return (Chart("cyclosporine-egfr", sex="female", age=51).psoriasis().score("pasi", 6).score("bsa", 5)
            .medication("cyclosporine", started_days_ago=150).lab("egfr", 92, days_ago=160).lab("creatinine", 0.8, days_ago=160)
            .lab("egfr", 64, days_ago=4).lab("creatinine", 1.15, days_ago=4).bp(126, 78, days_ago=4))


@vignette("mtx-active-tb", "On methotrexate; active pulmonary tuberculosis diagnosed 10 days ago; PASI 14",
          (Alert(r"hold|stop|withhold|pause"), Says(r"tuberculosis|\bTB\b"), Never(r"step: biologic", "summary"),
           NeverOffers(BIOLOGIC)),
          f"{AAD_BIOLOGICS} (active TB: no immunosuppression until treated); {BAD_MTX}")
def _():
    return (Chart("mtx-active-tb", sex="male", age=39).psoriasis().score("pasi", 14).score("bsa", 12).score("pga", 3)
            .medication("methotrexate").condition("Pulmonary tuberculosis", snomed="56717001", icd10="A15.0", days_ago=10))


@vignette("latent-tb", "Severe psoriasis, positive IGRA (latent TB), biologic being considered",
          (Says(r"latent (TB|tuberculosis)"), Says(r"prevent|prophyla|treat[^\n]*before|before[^\n]*biologic"),
           Never(r"before starting[^\n]*TB screening")),
          f"{AAD_BIOLOGICS} (latent TB: start preventive treatment before or with the biologic); {BAD_BIOLOGICS}")
def _():
    return (_severe(Chart("latent-tb", sex="female", age=44).psoriasis(), pasi=19, bsa=20)
            .coded_test("igra", True, days_ago=20).condition("Latent tuberculosis", icd10="Z22.7", icd10_cm=True, days_ago=18))


@vignette("uninterpretable-lab", "On methotrexate; ALT reported as text, creatinine in an unknown unit",
          (Says(r"ALT|alanine", "data-quality"), Says(r"creatinine", "data-quality"),
           Never(r"\bALT\b[^\n]*\b(normal|within range)")),
          "DESIGN: no silent drops (issue 11 item 4)")
def _():
    return (Chart("uninterpretable-lab", sex="female", age=55).psoriasis().score("pasi", 5).score("bsa", 4)
            .medication("methotrexate").lab_text("alt", "haemolysed sample, please repeat", days_ago=3)
            .lab("creatinine", 1.0, unit="furlong/fortnight", days_ago=3))


@vignette("adalimumab-infection", "On adalimumab; cellulitis active now",
          (Alert(r"hold|pause|withhold|delay|infection"), Never(r"^step:", "summary"), NeverOffers(BIOLOGIC)),
          f"{AAD_BIOLOGICS} (serious infection: hold the biologic); {BAD_BIOLOGICS}")
def _():
    return (Chart("adalimumab-infection", sex="male", age=60).psoriasis().score("pasi", 3).score("bsa", 2)
            .medication("adalimumab").condition("Cellulitis", snomed="128045006", icd10="L03.1", days_ago=4))


@vignette("mtx-cotrimoxazole", "On methotrexate; trimethoprim-sulfamethoxazole started",
          (Alert(r"trimethoprim|co-trimoxazole|sulfamethoxazole|interact"), Never(r"before starting[^\n]*(CBC|liver)")),
          f"{BAD_MTX} (trimethoprim/co-trimoxazole with methotrexate: serious myelotoxicity); {AAD_SYSTEMIC}")
def _():
    return (Chart("mtx-cotrimoxazole", sex="female", age=70).psoriasis().score("pasi", 4).score("bsa", 3)
            .medication("methotrexate").medication("trimethoprim_sulfamethoxazole", started_days_ago=2))


@vignette("ibd-severe", "Crohn's disease and severe psoriasis",
          (NeverOffers(r"secukinumab|ixekizumab|brodalumab|bimekizumab|IL-17"), Offers(r"ustekinumab|guselkumab|risankizumab|adalimumab|infliximab|certolizumab|IL-23|TNF")),
          f"{AAD_BIOLOGICS} (IL-17 inhibitors: avoid in inflammatory bowel disease)")
def _():
    return _severe(Chart("ibd-severe", sex="female", age=35).psoriasis()).condition("Crohn's disease", snomed="34000006", icd10="K50.9")


@vignette("heart-failure", "Severe psoriasis with heart failure",
          (NeverOffers(r"infliximab|adalimumab|etanercept|certolizumab|TNF"), Offers(r"ustekinumab|secukinumab|guselkumab|risankizumab|IL-17|IL-23|IL-12")),
          f"{AAD_BIOLOGICS} (TNF inhibitors: avoid in NYHA III-IV heart failure)")
def _():
    return _severe(Chart("heart-failure", sex="male", age=68).psoriasis()).condition("Heart failure", snomed="84114007", icd10="I50.9")


# ================================================================= consistency checks

@vignette("pasi-bsa-conflict", "PASI 28 with BSA 1% and PGA 1 (cannot all be true)",
          (Says(r"conflict|inconsisten|does not fit|implausible|disagree", "data-quality"),
           Never(r"\bsevere psoriasis\b", "summary"), NeverOffers(SYSTEMIC), NeverOffers(BIOLOGIC)),
          "PASI definition (area score 1 region at 1% cannot reach 28); IPC 2020 (consistent severity measures)")
def _():
    return (Chart("pasi-bsa-conflict", sex="female", age=39).psoriasis()
            .score("pasi", 28).score("bsa", 1).score("pga", 1).score("dlqi", 4))


@vignette("man-pregnant", "Male patient with a 'pregnant' Observation",
          (Says(r"\bmale\b|\bsex\b|gender", "data-quality"), Never(r"pregnan[^\n]*contraindicat|contraindicat[^\n]*pregnan")),
          "Record consistency (issue 11 item 6)")
def _():
    return (_severe(Chart("man-pregnant", sex="male", age=41).psoriasis())
            .pregnancy_status())


@vignette("photo-vs-clinician", "Clinician PASI 3 (BSA 3%), photographs read as far more extensive",
          (Says(r"photo[^\n]*(differ|disagree|far|conflict)|(differ|disagree|conflict)[^\n]*photo", "data-quality"),
           Never(r"\bsevere\b", "summary")),
          "Photos support, never decide (issue 11 item 7); clinician measure takes precedence")
def _():
    chart = Chart("photo-vs-clinician", sex="male", age=50).psoriasis().score("pasi", 3).score("bsa", 3).score("pga", 2)
    for site in ("trunk", "lower_leg", "elbow"):
        chart.photo(site, erythema=4, scale=3.5, thickness=3, area=0.85)
    return chart


@vignette("stale-data", "Only measurements from 500 days ago (PASI 20, BSA 18%)",
          (Says(r"\bold\b|stale|out of date|not recent|\d+ (days|months|years)|over a year|last recorded"),
           Never(r"step: (oral|systemic|biologic)", "summary")),
          "Record consistency (issue 11 item 6): re-measure before escalating")
def _():
    return (Chart("stale-data", sex="female", age=57).psoriasis()
            .score("pasi", 20, days_ago=500).score("bsa", 18, days_ago=500).score("dlqi", 14, days_ago=500))


# ================================================================= not psoriasis

@vignette("eczema", "Eczema on the problem list, BSA 6%, DLQI 11, eczema photographs; no psoriasis",
          (NoPsoriasisPlan(), Says(r"eczema"), Never(r"methotrexate|apremilast|cyclosporin|acitretin")),
          PROJECT)
def _():
    return (Chart("eczema", sex="female", age=24).condition("Eczema", snomed="43116000", icd10="L30.9")
            .score("bsa", 6).score("dlqi", 11).medication("emollient")
            .photo("forearm", appearance="eczema", erythema=2, scale=1, area=0.3)
            .photo("hand", appearance="eczema", erythema=2, scale=1, area=0.3))


@vignette("tinea", "Tinea corporis on the problem list, annular plaque photographs",
          (NoPsoriasisPlan(), Says(r"tinea|fung"), Says(r"KOH|microscopy"), Never(r"corticosteroid")),
          f"{PROJECT}; KOH microscopy settles a scaly annular plaque")
def _():
    return (Chart("tinea", sex="male", age=35).condition("Tinea corporis", snomed="84849002", icd10="B35.4")
            .score("bsa", 2).photo("trunk", appearance="annular", erythema=2, scale=1.5, area=0.2))


@vignette("lupus", "Discoid lupus erythematosus, BSA 4%",
          (NoPsoriasisPlan(), Says(r"lupus"), Never(r"UVB|phototherapy|PUVA|methotrexate|biologic")),
          PROJECT)
def _():
    return (Chart("lupus", sex="female", age=38).condition("Discoid lupus erythematosus", snomed="200936003", icd10="L93.0")
            .score("bsa", 4).score("dlqi", 9))


@vignette("drug-eruption", "Generalised drug eruption, BSA 30%, DLQI 16",
          (NoPsoriasisPlan(), Says(r"drug|eruption"), NeverOffers(SYSTEMIC)),
          PROJECT)
def _():
    return (Chart("drug-eruption", sex="male", age=66)
            .condition("Generalized skin eruption due to drugs and medicaments", icd10="L27.0", days_ago=5)
            .score("bsa", 30).score("dlqi", 16))


@vignette("photo-only", "One photograph, no diagnosis, no scores",
          (NoPsoriasisPlan(), Says(r"confirm|diagnos")),
          f"{PROJECT}; photos support, never decide (issue 11 item 7)")
def _():
    return Chart("photo-only", sex="female", age=45).photo("trunk", erythema=2.5, scale=2.5, area=0.35)


@vignette("scores-only", "PASI 14, BSA 12%, DLQI 15 recorded, but no diagnosis",
          (NoPsoriasisPlan(), Says(r"confirm|diagnos")),
          PROJECT)
def _():
    return Chart("scores-only", sex="male", age=53).score("pasi", 14).score("bsa", 12).score("dlqi", 15)


@vignette("texture-photo", "Psoriasis coded, no measurements, one photograph of wood grain",
          (Never(r"clear psoriasis"), Never(r"step: (phototherapy|oral|systemic|biologic)", "summary")),
          "Photo quality gate; photos support, never decide (issue 11 item 7)")
def _():
    return Chart("texture-photo", sex="female", age=33).psoriasis().texture_photo("trunk")


@vignette("psoriasis-photos-only", "Psoriasis coded, photographs of extensive plaques, no clinician measure",
          (Says(r"assess|record|measure"), Never(r"step: (phototherapy|oral|systemic|biologic)", "summary"),
           NeverOffers(SYSTEMIC), NeverOffers(BIOLOGIC)),
          "Photos support, never decide (issue 11 item 7)")
def _():
    chart = Chart("psoriasis-photos-only", sex="male", age=40).psoriasis()
    for site in ("trunk", "knee", "elbow"):
        chart.photo(site, erythema=3.5, scale=3, thickness=2.5, area=0.7)
    return chart


@vignette("unrelated-chart", "Hypertension only: nothing dermatological on record",
          (NoCards(),), "CDS Hooks: answer with no cards when there is nothing to say")
def _():
    return Chart("unrelated-chart", sex="male", age=61).condition("Essential hypertension", snomed="59621000", icd10="I10").bp(138, 86)


# ================================================================= the shipped synthetic profiles
# The charts the clinical review of issue 11 was run on (cds_hooks/demo/synthetic.py), dates moved to now.

REVIEW = "issue 11 review input (cds_hooks/demo/synthetic.py profile)"


@vignette("profile-eczema", "Synthetic 'eczema' profile: hand and forearm eczema, BSA 6%, DLQI 11, photographs",
          (NoPsoriasisPlan(), Says(r"eczema"), Never(r"methotrexate|apremilast|cyclosporin|acitretin")),
          f"{PROJECT}; {REVIEW}")
def _():
    return ProfileChart("eczema")


@vignette("profile-tinea", "Synthetic 'tinea' profile: annular scaly plaque, tinea corporis coded, photographs",
          (NoPsoriasisPlan(), Says(r"tinea"), Says(r"KOH|microscopy"), Never(r"corticosteroid")),
          f"{PROJECT}; {REVIEW}")
def _():
    return ProfileChart("tinea")


@vignette("profile-pregnancy", "Synthetic 'pregnancy' profile: pregnant, severe psoriasis, methotrexate stopped",
          (Says(r"pregnan", "summary"), Offers(r"UVB|certolizumab"),
           NeverOffers(r"apremilast|methotrexate|acitretin|PUVA|psoralen|deucravacitinib"), Never(TCM_FORMULAS)),
          f"{EUROGUIDERM} (pregnancy); {AAD_BIOLOGICS} (certolizumab); {REVIEW}")
def _():
    return ProfileChart("pregnancy")


@vignette("profile-psa", "Synthetic 'psoriatic_arthritis' profile: PsA coded, PEST 4, joint pain, on naproxen",
          (Offers(BIOLOGIC), NeverOffers(r"acitretin"), Says(r"rheumatolog")),
          f"{GRAPPA}; {AAD_BIOLOGICS}; {REVIEW}")
def _():
    return ProfileChart("psoriatic_arthritis")


@vignette("profile-severe", "Synthetic 'psoriasis_severe' profile: PASI 21.5, BSA 24%, scalp, topical failure, photographs",
          (Says(r"\bsevere\b", "summary"), Offers(BIOLOGIC), Offers(TOPICAL), NoAlert()),
          f"{AAD_BIOLOGICS}; {AAD_TOPICAL}; {REVIEW}")
def _():
    return ProfileChart("psoriasis_severe")


@vignette("profile-heart-failure", "Synthetic 'heart_failure' profile: severe psoriasis with heart failure",
          (NeverOffers(r"infliximab|adalimumab|etanercept|certolizumab|TNF"), Offers(BIOLOGIC)),
          f"{AAD_BIOLOGICS} (TNF inhibitors in heart failure); {REVIEW}")
def _():
    return ProfileChart("heart_failure")


@vignette("profile-tb-history", "Synthetic 'tb_history' profile: severe psoriasis, pulmonary TB treated years ago (resolved)",
          (Never(r"\bhold\b", "summary"), Offers(BIOLOGIC)),
          f"{AAD_BIOLOGICS} (TB screening before biologics; past treated TB is not active TB); {REVIEW}")
def _():
    return ProfileChart("tb_history")


@vignette("demo-photos", "Moderate psoriasis (PASI 8, BSA 6%) with the four committed demo photographs",
          (Says(r"\bmoderate\b", "summary"), Offers(PHOTOTHERAPY), Never(r"\bsevere\b", "summary")),
          f"{AAD_PHOTO}; photos support, never decide (issue 11 item 7)")
def _():
    chart = Chart("demo-photos", sex="female", age=38).psoriasis().score("pasi", 8).score("bsa", 6).score("pga", 3).score("dlqi", 8)
    for name, site in (("2026-11-13_head.jpg", "scalp"), ("2026-11-13_trunk.jpg", "trunk"),
                       ("2026-11-13_upper_limbs.jpg", "forearm"), ("2026-11-13_lower_limbs.jpg", "lower_leg")):
        chart.demo_photo(name, site)
    return chart


# ================================================================= guideline profiles (configuration)

@vignette("nice-severe", "Severe psoriasis, topical failure, never on a systemic; service configured for NICE",
          (Says(r"NICE"), Offers(r"methotrexate"), NeverOffers(BIOLOGIC), Offers(TOPICAL)),
          f"{NICE} 1.5.2 (systemic non-biological therapy first; methotrexate first choice) and NICE TA biologic criteria",
          profile="nice")
def _():
    return _severe(Chart("nice-severe", sex="male", age=50).psoriasis(), pasi=18, bsa=16)


@vignette("nice-mtx-failure", "Severe psoriasis (PASI 18, DLQI 15) after 7 months of methotrexate; service configured for NICE",
          (Says(r"NICE"), Offers(BIOLOGIC)),
          f"{NICE} 1.5.3 and NICE TA (biologics when PASI >= 10 and DLQI > 10 despite standard systemic therapy)",
          profile="nice")
def _():
    return (_severe(Chart("nice-mtx-failure", sex="female", age=43).psoriasis(), pasi=18, bsa=16)
            .medication("methotrexate", started_days_ago=210).lab("alt", 25, days_ago=20).lab("wbc", 6.0, days_ago=20)
            .lab("platelets", 250, days_ago=20).lab("creatinine", 0.8, days_ago=20).lab("egfr", 95, days_ago=20))


@vignette("euroguiderm-severe", "Severe psoriasis, topical failure, never on a systemic; service configured for EuroGuiDerm",
          (Says(r"EuroGuiDerm"), Offers(r"methotrexate"), NeverOffers(BIOLOGIC)),
          f"{EUROGUIDERM} (conventional systemic therapy first-line; biologics when unsuitable or failed)",
          profile="euroguiderm")
def _():
    return _severe(Chart("euroguiderm-severe", sex="female", age=36).psoriasis(), pasi=17, bsa=15)


@vignette("china-severe", "Severe psoriasis, topical failure; service configured for the Chinese guideline",
          (Says(r"Chinese"), Offers(r"methotrexate"), Offers(TOPICAL), NeverOffers(r"PUVA|psoralen")),
          "Chinese Society of Dermatology psoriasis guideline 2023 edition (profile steps not yet verified against the full text)",
          profile="china")
def _():
    return _severe(Chart("china-severe", sex="male", age=45).psoriasis(), pasi=17, bsa=15)


VIGNETTES: tuple[Vignette, ...] = tuple(V)
