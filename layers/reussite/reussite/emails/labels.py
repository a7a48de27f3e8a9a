"""Human labels for the codes an email would otherwise show (`MATHEMATIQUES`, `COURS_EN_LIGNE`),
per language; a code without a label is shown as the name the data gives, else as itself."""

from __future__ import annotations

LABELS: dict[str, dict[str, str]] = {
    # Subjects, as tutoring and ARIA name them.
    "MATHEMATIQUES": {"fr": "Mathématiques", "en": "Mathematics", "ar": "الرياضيات"},
    "NSI": {
        "fr": "Numérique et sciences informatiques",
        "en": "Computer science",
        "ar": "الإعلامية",
    },
    "FRANCAIS": {"fr": "Français", "en": "French", "ar": "الفرنسية"},
    "PHILOSOPHIE": {"fr": "Philosophie", "en": "Philosophy", "ar": "الفلسفة"},
    "HISTOIRE_GEO": {
        "fr": "Histoire-géographie",
        "en": "History and geography",
        "ar": "التاريخ والجغرافيا",
    },
    "ANGLAIS": {"fr": "Anglais", "en": "English", "ar": "الإنجليزية"},
    "ESPAGNOL": {"fr": "Espagnol", "en": "Spanish", "ar": "الإسبانية"},
    "PHYSIQUE_CHIMIE": {
        "fr": "Physique-chimie",
        "en": "Physics and chemistry",
        "ar": "الفيزياء والكيمياء",
    },
    "SVT": {
        "fr": "Sciences de la vie et de la Terre",
        "en": "Life and earth sciences",
        "ar": "علوم الحياة والأرض",
    },
    "SES": {
        "fr": "Sciences économiques et sociales",
        "en": "Economics and social sciences",
        "ar": "العلوم الاقتصادية والاجتماعية",
    },
    # Tutoring services.
    "COURS_EN_LIGNE": {
        "fr": "Cours particulier en ligne",
        "en": "Online private lesson",
        "ar": "درس خصوصي عن بعد",
    },
    "COURS_PRESENTIEL": {
        "fr": "Cours particulier en présentiel",
        "en": "In-person private lesson",
        "ar": "درس خصوصي حضوري",
    },
    "ATELIER_GROUPE": {
        "fr": "Atelier en petit groupe",
        "en": "Small-group workshop",
        "ar": "ورشة في مجموعة صغيرة",
    },
    # The sections of an orientation report.
    "initial": {"fr": "Analyse initiale", "en": "Initial analysis", "ar": "التحليل الأولي"},
    "psycho": {
        "fr": "Analyse psychopédagogique",
        "en": "How they learn",
        "ar": "التحليل النفسي البيداغوجي",
    },
    "orientation": {
        "fr": "Orientation : domaines, filières et métiers",
        "en": "Orientation: fields, tracks and careers",
        "ar": "التوجيه: المجالات والشعب والمهن",
    },
    # Where an orientation report stands.
    "PENDING": {"fr": "en cours de rédaction", "en": "being written", "ar": "قيد التحرير"},
    "COMPLETED": {"fr": "prêt", "en": "ready", "ar": "جاهز"},
    "FAILED": {
        "fr": "non rédigé (le support vous contactera)",
        "en": "not written (support will contact you)",
        "ar": "لم يحرر (سيتصل بكم الدعم)",
    },
    "NONE": {"fr": "pas encore demandé", "en": "not requested yet", "ar": "لم يطلب بعد"},
}


# What staff also type for a subject (tutoring subjects are free text).
ALIASES = {
    "MATHS": "MATHEMATIQUES",
    "MATH": "MATHEMATIQUES",
    "PHYSIQUE": "PHYSIQUE_CHIMIE",
    "INFORMATIQUE": "NSI",
    "HISTOIRE": "HISTOIRE_GEO",
}


def label(code: str, language: str, fallback: str | None = None) -> str:
    key = code.strip().upper().replace("-", "_").replace(" ", "_")
    known = LABELS.get(code) or LABELS.get(ALIASES.get(key, key))
    if known:
        return known.get(language) or known["fr"]
    return fallback or code
