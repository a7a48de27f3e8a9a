"""The questionnaire's vocabulary: what each answer code means (shared by the API's validation
and the writers)."""

# level code -> (label, stage)
LEVELS = {
    "7e": ("7e année / 5e", "college"),
    "8e": ("8e année / 4e", "college"),
    "9e": ("9e année / 3e", "college"),
    "1ere-secondaire": ("1re année secondaire / seconde", "lycee"),
    "2e-secondaire": ("2e année secondaire / première", "lycee"),
    "3e-secondaire": ("3e année secondaire / première", "lycee"),
    "bac": ("année du bac / terminale", "terminale"),
    "superieur": ("études supérieures", "superieur"),
}
SUBJECTS = {
    "maths": "Mathématiques",
    "physique": "Physique-chimie",
    "svt": "Sciences de la vie et de la Terre",
    "informatique": "Informatique",
    "technologie": "Technologie",
    "francais": "Français",
    "arabe": "Arabe",
    "anglais": "Anglais",
    "langues": "Autres langues",
    "histoire_geo": "Histoire-géographie",
    "philosophie": "Philosophie",
    "economie": "Économie-gestion",
    "arts": "Arts",
    "sport": "Éducation physique",
}
INTERESTS = {
    "sciences": "Comprendre la nature et les sciences",
    "technologie": "Technologie et numérique",
    "sante": "Santé et soin",
    "commerce": "Entreprise et commerce",
    "droit": "Droit et société",
    "arts": "Création artistique",
    "langues": "Langues et cultures",
    "sport": "Sport",
    "enseignement": "Enseigner, transmettre",
    "environnement": "Environnement et agriculture",
    "construction": "Construire, fabriquer",
    "social": "Aider les autres",
}
STYLES = {
    "visuel": "visuel (schémas, couleurs, images)",
    "auditif": "auditif (écouter, expliquer à voix haute)",
    "kinesthesique": "kinesthésique (faire, manipuler, bouger)",
    "lecture_ecriture": "lecture-écriture (lire, rédiger des fiches)",
}
