"""How the 64 DermNet topics are grouped into the lesion model's classes.

The classes are the differential diagnosis of psoriasis as a dermatologist would draw it from a
photograph, not DermNet's taxonomy: topics that are managed the same way, or that a photograph
cannot tell apart, share a class. The table is the single source: training reads it, evaluation
checks against it, and the model card reproduces it.

Decisions worth knowing:
- Pustular psoriasis (generalised pustular psoriasis, palmoplantar pustulosis) counts as psoriasis:
  ICD-10 codes both under L40 (L40.1, L40.3) and the psoriasis pathway (severity, systemic therapy,
  the TCM heat-toxin pattern) is where a clinician would take them.
- Pityriasis amiantacea (asbestos-like scalp scale) is kept out of psoriasis: it is a reaction
  pattern seen with psoriasis, seborrhoeic dermatitis and tinea alike.
- Lichen simplex, pityriasis alba and nipple eczema are eczema-spectrum: same treatment family.
- Hidradenitis suppurativa ("acne inversa") and periorificial dermatitis sit with acne/rosacea
  (follicular/rosacea-like disease managed by the same clinicians and drugs).
- Scabies (an infestation) and eczema herpeticum (HSV on eczema) are infections: they need
  antimicrobial treatment and must not be treated as a flare of an inflammatory disease.
- Everything else (lupus, blistering diseases, granuloma annulare, vitiligo, mycosis fungoides,
  pityriasis rubra pilaris, photo-dermatoses, ...) is `other`: important mimics, but each too rare
  here to learn as its own class.
"""

from __future__ import annotations

# Order is the model's output order; never reorder without retraining.
CLASSES: tuple[str, ...] = (
    "psoriasis",
    "eczema_dermatitis",
    "lichen_planus",
    "fungal_infection",
    "urticaria",
    "acne_rosacea",
    "infection",
    "other",
)

DISPLAY_NAMES: dict[str, str] = {
    "psoriasis": "Psoriasis",
    "eczema_dermatitis": "Eczema or dermatitis",
    "lichen_planus": "Lichen planus",
    "fungal_infection": "Fungal or yeast infection",
    "urticaria": "Urticaria (hives)",
    "acne_rosacea": "Acne, rosacea or a related follicular disease",
    "infection": "Bacterial, viral or parasitic skin infection",
    "other": "Another skin condition",
}

# DermNet topic folder (images/<slug>/) -> class key.
TOPIC_TO_CLASS: dict[str, str] = {
    # psoriasis, including its site-specific and pustular forms
    "psoriasis": "psoriasis",
    "facial-psoriasis": "psoriasis",
    "flexural-psoriasis": "psoriasis",
    "genital-psoriasis": "psoriasis",
    "generalised-pustular-psoriasis": "psoriasis",
    "palmoplantar-pustulosis": "psoriasis",
    # eczema / dermatitis spectrum
    "atopic-dermatitis": "eczema_dermatitis",
    "discoid-eczema": "eczema_dermatitis",
    "nummular-eczematous-dermatitis": "eczema_dermatitis",
    "hand-dermatitis": "eczema_dermatitis",
    "venous-eczema": "eczema_dermatitis",
    "napkin-dermatitis": "eczema_dermatitis",
    "dyshidrotic-eczema-pompholyx": "eczema_dermatitis",
    "nipple-eczema": "eczema_dermatitis",
    "pityriasis-alba": "eczema_dermatitis",
    "lichen-simplex": "eczema_dermatitis",
    # lichen planus
    "lichen-planus": "lichen_planus",
    "erosive-lichen-planus": "lichen_planus",
    # dermatophytes, yeasts
    "tinea-corporis": "fungal_infection",
    "tinea-pedis": "fungal_infection",
    "tinea-capitis": "fungal_infection",
    "tinea-cruris": "fungal_infection",
    "tinea-faciei": "fungal_infection",
    "onychomycosis": "fungal_infection",
    "pityriasis-versicolor": "fungal_infection",
    "non-albicans-candida-infections": "fungal_infection",
    "oral-candidiasis": "fungal_infection",
    "vulvovaginal-candidiasis": "fungal_infection",
    # urticaria
    "urticaria": "urticaria",
    "urticarial-vasculitis": "urticaria",
    # acne, rosacea and follicular disease
    "acne-vulgaris": "acne_rosacea",
    "rosacea": "acne_rosacea",
    "periorificial-dermatitis": "acne_rosacea",
    "hidradenitis-suppurativa": "acne_rosacea",
    # bacterial, viral, parasitic
    "impetigo": "infection",
    "pyoderma": "infection",
    "cellulitis": "infection",
    "herpes-simplex": "infection",
    "herpes-zoster": "infection",
    "eczema-herpeticum": "infection",
    "molluscum-contagiosum": "infection",
    "anogenital-wart": "infection",
    "syphilis": "infection",
    "scabies": "infection",
    # everything else
    "cutaneous-lupus-erythematosus": "other",
    "discoid-lupus-erythematosus": "other",
    "systemic-lupus-erythematosus": "other",
    "bullous-pemphigoid": "other",
    "pemphigoid-gestationis": "other",
    "pemphigus-vulgaris": "other",
    "pemphigus-foliaceus": "other",
    "erythema-multiforme": "other",
    "granuloma-annulare": "other",
    "vitiligo": "other",
    "alopecia-areata": "other",
    "mycosis-fungoides": "other",
    "pityriasis-rubra-pilaris": "other",
    "pityriasis-amiantacea": "other",
    "keratosis-pilaris": "other",
    "prurigo": "other",
    "pruritus": "other",
    "polymorphic-light-eruption": "other",
    "sunburn": "other",
    "papular-acrodermatitis-of-childhood": "other",
}


def class_of(topic_slug: str) -> str:
    """Class key for a DermNet topic folder; unknown topics are an error, never silently `other`."""
    try:
        return TOPIC_TO_CLASS[topic_slug]
    except KeyError as exc:
        raise KeyError(f"DermNet topic {topic_slug!r} has no class in tools.lesion_model.classes") from exc
