"""The offline writer: a deterministic report from the answers alone, no model, no network.

It reads the questionnaire the way a counsellor would: the average and the weekly work against
what the level asks, the subjects liked and struggled with, how the student learns, and which
fields of study their interests and subjects point to (a transparent score, explained in the
report). The same answers always give the same report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reussite.bilans.catalogue import INTERESTS, LEVELS, STYLES, SUBJECTS
from reussite.bilans.writers import Pass


@dataclass(frozen=True)
class Domain:
    name: str
    subjects: tuple[str, ...]
    interests: tuple[str, ...]
    tracks: str  # bac sections (Tunisia) / spécialités (France) that lead there
    studies: str
    careers: str
    selective: bool = False


DOMAINS = (
    Domain(
        "Ingénierie et sciences fondamentales",
        ("maths", "physique", "technologie"),
        ("sciences", "construction", "technologie"),
        "bac Mathématiques ou Sciences techniques ; en France, spécialités Maths et "
        "Physique-chimie",
        "classes préparatoires, écoles d'ingénieurs, licences de physique ou de mathématiques",
        "ingénieur·e (énergie, génie civil, mécanique, aéronautique), chercheur·se, technicien·ne "
        "supérieur·e",
        selective=True,
    ),
    Domain(
        "Informatique et numérique",
        ("informatique", "maths", "technologie"),
        ("technologie", "sciences"),
        "bac Sciences de l'informatique ou Mathématiques ; en France, spécialités NSI et Maths",
        "licences et écoles d'ingénieurs en informatique, BTS SIO, BUT informatique",
        "développeur·se, data scientist, spécialiste en cybersécurité, administrateur·trice "
        "systèmes",
    ),
    Domain(
        "Santé",
        ("svt", "physique", "maths"),
        ("sante", "sciences", "social"),
        "bac Sciences expérimentales ; en France, spécialités SVT et Physique-chimie",
        "médecine, pharmacie, médecine dentaire, soins infirmiers, kinésithérapie, sciences "
        "biomédicales",
        "médecin, pharmacien·ne, infirmier·e, kinésithérapeute, biologiste",
        selective=True,
    ),
    Domain(
        "Économie, gestion et commerce",
        ("economie", "maths", "anglais"),
        ("commerce", "droit"),
        "bac Économie et gestion ; en France, spécialités SES et Maths",
        "licences d'économie-gestion, écoles de commerce (IHEC, ESC…), BTS et BUT GEA",
        "contrôleur·se de gestion, auditeur·trice, chargé·e de marketing, entrepreneur·e",
    ),
    Domain(
        "Droit et sciences politiques",
        ("philosophie", "histoire_geo", "francais", "arabe"),
        ("droit", "social"),
        "bac Lettres ou Économie et gestion ; en France, spécialités HGGSP et SES",
        "licence de droit, sciences politiques (IEP), administration publique",
        "avocat·e, juriste d'entreprise, magistrat·e, diplomate",
    ),
    Domain(
        "Langues, lettres et communication",
        ("francais", "arabe", "anglais", "langues", "philosophie"),
        ("langues", "enseignement", "arts"),
        "bac Lettres ; en France, spécialités HLP ou LLCER",
        "licences LLCE et LEA, journalisme, traduction et interprétariat, communication",
        "traducteur·trice, journaliste, chargé·e de communication, enseignant·e de langues",
    ),
    Domain(
        "Arts, design et architecture",
        ("arts", "technologie", "maths"),
        ("arts", "construction"),
        "toutes sections, avec un portfolio ; en France, spécialité Arts",
        "écoles des beaux-arts et de design, architecture (sur concours), métiers d'art",
        "architecte, designer, graphiste, illustrateur·trice, scénographe",
    ),
    Domain(
        "Éducation, psychologie et social",
        ("francais", "philosophie", "svt"),
        ("enseignement", "social"),
        "toutes sections ; en France, spécialités SES ou HLP",
        "licences de psychologie et de sciences de l'éducation, travail social",
        "professeur·e, psychologue, éducateur·trice spécialisé·e, conseiller·ère d'orientation",
    ),
    Domain(
        "Sport et activité physique",
        ("sport", "svt"),
        ("sport", "sante", "enseignement"),
        "bac Sport (Tunisie) ; en France, option EPS et spécialité SVT",
        "ISSEP, licences STAPS, préparation physique",
        "professeur·e d'EPS, entraîneur·e, préparateur·trice physique, kinésithérapeute",
    ),
    Domain(
        "Environnement et agronomie",
        ("svt", "physique", "histoire_geo"),
        ("environnement", "sciences"),
        "bac Sciences expérimentales ; en France, spécialités SVT et Physique-chimie",
        "écoles d'agronomie (INAT…), licences de sciences de la vie et de la Terre, BTS",
        "ingénieur·e agronome, chargé·e d'études environnementales, hydrologue",
    ),
)

# Hours of personal work a week that each stage usually asks for.
_HOURS = {"college": (5, 8), "lycee": (8, 12), "terminale": (12, 16), "superieur": (15, 20)}

_SUBJECT_ADVICE = {
    "maths": "refaire les exercices corrigés sans regarder la solution, puis expliquer la "
    "méthode à voix haute",
    "physique": "relier chaque formule à une situation concrète et soigner les unités",
    "svt": "faire des schémas-bilans de chaque chapitre et des fiches de vocabulaire",
    "informatique": "programmer un peu chaque semaine sur de petits projets personnels",
    "francais": "lire vingt minutes par jour et s'entraîner à un plan de dissertation par semaine",
    "arabe": "lire régulièrement et rédiger de courts textes corrigés par un adulte",
    "anglais": "écouter des podcasts ou séries en VO et tenir un carnet de vocabulaire",
    "langues": "pratiquer un peu chaque jour plutôt que beaucoup une fois",
    "histoire_geo": "construire des frises chronologiques et apprendre avec des cartes",
    "philosophie": "travailler les notions avec des exemples personnels et des citations",
    "economie": "suivre l'actualité économique et relier les notions du cours aux faits",
    "arts": "tenir un carnet de croquis et visiter des expositions",
    "sport": "se fixer des objectifs d'entraînement progressifs",
    "technologie": "démonter, réparer, fabriquer : apprendre en faisant",
}

_STYLE_METHODS = {
    "visuel": (
        "cartes mentales et schémas en couleurs pour chaque chapitre",
        "surligner avec un code couleur constant (définitions, exemples, méthodes)",
        "transformer un cours en un tableau ou une frise d'une page",
    ),
    "auditif": (
        "réciter ses leçons à voix haute ou les expliquer à quelqu'un",
        "s'enregistrer et se réécouter pendant les trajets",
        "réviser à deux en se posant des questions",
    ),
    "kinesthesique": (
        "apprendre en manipulant : fiches cartonnées, exercices pratiques, expériences",
        "alterner des séances courtes (25 minutes) et des pauses actives",
        "écrire et réécrire : le geste aide la mémoire",
    ),
    "lecture_ecriture": (
        "rédiger ses propres fiches de synthèse après chaque cours",
        "reformuler les définitions avec ses mots",
        "s'entraîner sur des sujets d'examen rédigés en temps limité",
    ),
}


def _names(codes: list[str], table: dict[str, str]) -> str:
    labels = [table[c] for c in codes if c in table]
    if not labels:
        return "aucune précisée"
    return ", ".join(labels[:-1]) + (" et " if len(labels) > 1 else "") + labels[-1]


def score(domain: Domain, answers: dict[str, Any]) -> tuple[int, list[str]]:
    """3 points an interest shared, 2 a favourite subject it draws on, -2 a subject it needs
    that the student finds hard; the reasons, for the report."""
    points, reasons = 0, []
    for code in domain.interests:
        if code in answers.get("interests", []):
            points += 3
            reasons.append(f"intérêt pour « {INTERESTS[code].lower()} »")
    for code in domain.subjects:
        if code in answers.get("favourite_subjects", []):
            points += 2
            reasons.append(f"goût pour {SUBJECTS[code].lower()}")
        if code in answers.get("difficult_subjects", []):
            points -= 2
            reasons.append(f"difficultés en {SUBJECTS[code].lower()} à travailler")
    return points, reasons


def ranked(answers: dict[str, Any]) -> list[tuple[Domain, int, list[str]]]:
    scored = [(d, *score(d, answers)) for d in DOMAINS]
    return sorted(scored, key=lambda item: (-item[1], DOMAINS.index(item[0])))


class OfflineWriter:
    name = "offline"

    def write(self, step: Pass, questionnaire: dict[str, Any], before: list[str]) -> str:
        return {"initial": _initial, "psycho": _psycho, "orientation": _orientation}[step.code](
            questionnaire
        )


def _initial(a: dict[str, Any]) -> str:
    level_label, stage = LEVELS.get(
        a.get("school_level", ""), (a.get("school_level", "?"), "lycee")
    )
    lines = [f"- **Âge et niveau** : {a.get('age')} ans, {level_label}."]
    if a.get("track"):
        lines.append(f"- **Section / spécialités** : {a['track']}.")
    average = a.get("average")
    if average is not None:
        if average >= 16:
            reading = "excellent niveau : les filières sélectives sont à la portée de l'élève"
        elif average >= 14:
            reading = "très bon niveau, qui ouvre la plupart des filières, sélectives comprises"
        elif average >= 12:
            reading = "bon niveau, une base solide à entretenir"
        elif average >= 10:
            reading = "niveau fragile : consolider les bases avant de viser une filière sélective"
        else:
            reading = "niveau en difficulté : la priorité est une remise à niveau ciblée"
        lines.append(f"- **Moyenne générale** : {average:g}/20, {reading}.")
    lines.append(f"- **Matières fortes** : {_names(a.get('favourite_subjects', []), SUBJECTS)}.")
    hard = [c for c in a.get("difficult_subjects", []) if c in SUBJECTS]
    lines.append(f"- **Matières à consolider** : {_names(hard, SUBJECTS)}.")
    low, high = _HOURS[stage]
    hours = a.get("weekly_study_hours", 0)
    if hours < low:
        work = (
            f"{hours} h de travail personnel par semaine, en dessous des {low} à {high} h "
            "qu'on attend à ce niveau : augmenter progressivement, par créneaux réguliers"
        )
    elif hours > high + 4:
        work = (
            f"{hours} h par semaine, au-delà des {low} à {high} h habituelles : veiller au "
            "sommeil et aux pauses, l'efficacité compte plus que la durée"
        )
    else:
        work = f"{hours} h par semaine, dans la fourchette attendue ({low} à {high} h)"
    lines.append(f"- **Charge de travail** : {work}.")
    advice = [f"- {SUBJECTS[c]} : {_SUBJECT_ADVICE[c]}." for c in hard if c in _SUBJECT_ADVICE]
    text = "\n".join(lines)
    if advice:
        text += "\n\n**Pour les matières à consolider :**\n\n" + "\n".join(advice)
    return text


def _psycho(a: dict[str, Any]) -> str:
    style = a.get("learning_style", "")
    methods = "\n".join(f"- {m}" for m in _STYLE_METHODS.get(style, ()))
    motivation, stress = a.get("motivation", 3), a.get("stress", 3)
    if motivation >= 4:
        drive = (
            "La motivation est forte : c'est un atout. Fixer des objectifs ambitieux mais "
            "datés (par trimestre) permet de la garder intacte."
        )
    elif motivation == 3:
        drive = (
            "La motivation est moyenne : relier les études à un projet concret (un métier, un "
            "stage, une rencontre) aide à lui donner du sens."
        )
    else:
        drive = (
            "La motivation est basse en ce moment : commencer par de petites victoires "
            "(objectifs d'une semaine), et en parler avec l'élève sans jugement. Un tuteur ou "
            "un coach peut aider à relancer la dynamique."
        )
    if stress >= 4:
        calm = (
            "Le stress est élevé : préparer les examens tôt, s'entraîner en conditions réelles, "
            "dormir suffisamment et apprendre une technique de respiration simple (cohérence "
            "cardiaque, 5 minutes avant une épreuve). Si l'anxiété déborde sur la vie "
            "quotidienne, consulter un professionnel."
        )
    elif stress == 3:
        calm = (
            "Le stress est présent mais gérable : un planning de révisions visible et des "
            "pauses régulières suffisent souvent à le contenir."
        )
    else:
        calm = (
            "Le stress est faible : veiller à ce que la sérénité ne devienne pas de la "
            "décontraction à l'approche des examens."
        )
    hours = a.get("weekly_study_hours", 0)
    plan = (
        f"Répartir les {hours} h hebdomadaires en séances de 45 minutes maximum, avec un "
        "créneau fixe par jour et une révision légère le week-end ; garder une liste des "
        "tâches de la semaine et la cocher."
        if hours
        else "Installer d'abord un créneau fixe de 30 minutes par jour, puis l'allonger."
    )
    return (
        f"**Style d'apprentissage** : {STYLES.get(style, style)}. Méthodes adaptées :\n\n"
        f"{methods}\n\n**Motivation ({motivation}/5)** : {drive}\n\n"
        f"**Stress ({stress}/5)** : {calm}\n\n**Organisation** : {plan}"
    )


def _orientation(a: dict[str, Any]) -> str:
    top = ranked(a)[:3]
    average = a.get("average")
    parts = []
    for rank, (domain, points, reasons) in enumerate(top, start=1):
        why = "; ".join(reasons) if reasons else "un profil ouvert, à explorer"
        caution = ""
        if domain.selective and average is not None and average < 12:
            caution = (
                "\n  - *À noter* : filière sélective ; viser d'abord une moyenne d'au moins "
                "12 à 13/20 dans les matières scientifiques."
            )
        parts.append(
            f"{rank}. **{domain.name}** (score {points})\n"
            f"  - Pourquoi : {why}.\n"
            f"  - Parcours : {domain.tracks}.\n"
            f"  - Études : {domain.studies}.\n"
            f"  - Métiers : {domain.careers}.{caution}"
        )
    text = (
        "Trois domaines ressortent des intérêts et des matières de l'élève (3 points par "
        "intérêt partagé, 2 par matière appréciée, -2 par matière difficile qu'ils demandent) :"
        "\n\n" + "\n".join(parts)
    )
    if a.get("career_ideas"):
        text += (
            f"\n\n**Idées de l'élève** : « {a['career_ideas']} ». À confronter aux domaines "
            "ci-dessus : rencontrer un professionnel du métier envisagé et lire sa fiche "
            "métier détaillée."
        )
    if a.get("constraints"):
        text += (
            f"\n\n**Contraintes exprimées** : « {a['constraints']} ». Les filières publiques "
            "et les bourses réduisent le coût des études ; les formations en alternance "
            "permettent d'étudier en étant rémunéré."
        )
    first = top[0][0].name
    text += (
        "\n\n**Plan d'action sur trois mois**\n\n"
        f"- Mois 1 : explorer « {first} » — fiches métiers, vidéos, une journée portes "
        "ouvertes.\n"
        "- Mois 2 : rencontrer deux professionnels ou étudiants des domaines retenus.\n"
        "- Mois 3 : faire le point en famille et ajuster le choix de section ou de "
        "spécialités ; consolider les matières fragiles avec un tuteur si besoin."
    )
    return text
