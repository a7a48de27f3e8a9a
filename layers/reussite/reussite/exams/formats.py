"""Question files in the formats teachers have: Moodle XML (import and export) and GIFT
(import). A file is read whole, every question checked, and only then stored: a file with any
question not understood imports nothing and names each problem by question number (Moodle
XML) or line (GIFT).

Types map both ways: single and multiple choice (`multichoice`; all-or-nothing multiple as
`multichoiceset`), `truefalse`, `numerical` (tolerance, units), `shortanswer` (`usecase`),
`cloze` (Moodle's embedded answers, `{1:SHORTANSWER:=…}` / `{1:MULTICHOICE:=…~…}`), `matching`
and `ordering` (the qtype_ordering plugin). Question text in HTML is brought back to Markdown
(paragraphs, line breaks, bold, italics; other markup dropped to its text); Markdown and plain
text are kept as they are. Exports write Markdown, which Moodle reads.
"""

from __future__ import annotations

import re
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from html.parser import HTMLParser
from typing import Any
from xml.sax.saxutils import escape

from pydantic import ValidationError

from reussite.errors import DomainError

MAX_QUESTIONS = 1000


class ImportFailed(DomainError):
    code = "IMPORT_FAILED"
    status = 422
    title = "The file could not be imported; nothing was imported"


@dataclass
class Parsed:
    number: int  # the question's place in the file, from 1
    line: int | None  # GIFT: the line the question starts on
    name: str
    spec: dict[str, Any]  # a QuestionSpec: {"body": {...}, "topic", "tags", ...}


@dataclass
class Problems:
    found: list[dict[str, Any]] = field(default_factory=list)

    def add(self, number: int, message: str, line: int | None = None) -> None:
        if len(self.found) < 50:
            where: dict[str, Any] = {"question": number, "error": message[:300]}
            if line is not None:
                where["line"] = line
            self.found.append(where)

    def raise_any(self) -> None:
        if self.found:
            raise ImportFailed(errors=self.found)


def check(parsed: list[Parsed]) -> list[Parsed]:
    """Every question validated as the API would; any problem refuses the whole file."""
    from reussite.exams.authoring import QuestionSpec

    problems = Problems()
    if len(parsed) > MAX_QUESTIONS:
        problems.add(MAX_QUESTIONS + 1, f"a file holds at most {MAX_QUESTIONS} questions")
    names: set[str] = set()
    for item in parsed:
        try:
            QuestionSpec.model_validate(item.spec)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            problems.add(item.number, f"{where}: {first['msg']}", item.line)
        if item.name in names:
            item.name = f"{item.name}-{item.number}"
        names.add(item.name)
    problems.raise_any()
    return parsed


def slug(text: str, number: int) -> str:
    """A question name from its title: ASCII letters, digits, dots, dashes, underscores."""
    ascii_only = (
        unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().strip().lower()
    )
    name = re.sub(r"[^a-z0-9_.-]+", "-", ascii_only).strip("-._")[:90]
    return name or f"q{number:04d}"


# -- HTML to Markdown --------------------------------------------------------------------------


_MARKS = {"strong": "**", "b": "**", "em": "*", "i": "*"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _MARKS:
            self.out.append(_MARKS[tag])
        elif tag == "br":
            self.out.append("\n")
        elif tag in ("p", "div", "li") and self.out:
            self.out.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _MARKS:
            self.out.append(_MARKS[tag])

    def handle_data(self, data: str) -> None:
        self.out.append(data)


def markdown_of(text: str, fmt: str) -> str:
    if fmt not in ("html", "moodle_auto_format"):
        return text.strip()
    parser = _Text()
    parser.feed(text)
    parser.close()
    lines = "".join(parser.out).split("\n")
    return "\n".join(" ".join(line.split()) for line in lines).strip()


# -- Moodle XML: import ------------------------------------------------------------------------


def parse_moodle(document: str) -> list[Parsed]:
    if re.search(r"<!(DOCTYPE|ENTITY)", document, re.IGNORECASE):
        raise ImportFailed(errors=[{"question": 0, "error": "DOCTYPE and entities are refused"}])
    try:
        root = ET.fromstring(document)
    except ET.ParseError as exc:
        line = exc.position[0] if exc.position else None
        raise ImportFailed(errors=[{"question": 0, "line": line, "error": str(exc)}]) from exc
    if root.tag != "quiz":
        raise ImportFailed(errors=[{"question": 0, "error": "the root element must be <quiz>"}])
    parsed, problems, number, topic = [], Problems(), 0, None
    for element in root.findall("question"):
        kind = element.get("type", "")
        if kind == "category":
            path = _text(element.find("category"))
            topic = path.rsplit("/", 1)[-1][:60] or None if path else None
            continue
        number += 1
        try:
            body = _moodle_body(kind, element)
        except (ValueError, InvalidOperation, AttributeError) as exc:
            problems.add(number, f"{kind or 'question'}: {exc}")
            continue
        name = slug(_text(element.find("name")), number)
        tags = [t.text.strip()[:40] for t in element.iterfind("tags/tag/text") if t.text]
        spec: dict[str, Any] = {"body": body, "tags": tags[:10]}
        if topic:
            spec["topic"] = topic
        parsed.append(Parsed(number, None, name, spec))
    problems.raise_any()
    return check(parsed)


def _text(element: ET.Element | None) -> str:
    if element is None:
        return ""
    inner = element.find("text")
    return (inner.text if inner is not None else element.text) or ""


def _prompt(element: ET.Element) -> str:
    text = element.find("questiontext")
    if text is None:
        raise ValueError("no <questiontext>")
    return markdown_of(_text(text), text.get("format", "html"))


def _answers(element: ET.Element) -> list[tuple[Decimal, str, ET.Element]]:
    found = []
    for answer in element.findall("answer"):
        fraction = Decimal(answer.get("fraction", "0"))
        found.append(
            (fraction, markdown_of(_text(answer), answer.get("format", "plain_text")), answer)
        )
    return found


def _flag(element: ET.Element, tag: str, default: bool) -> bool:
    value = element.findtext(tag)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true")


def _moodle_body(kind: str, element: ET.Element) -> dict[str, Any]:
    reader = _MOODLE_READERS.get(kind)
    if reader is None:
        raise ValueError(f"the question type {kind!r} is not supported")
    body: dict[str, Any] = reader(kind, element, _prompt(element))
    return body


def _read_choice(kind: str, element: ET.Element, prompt: str) -> dict[str, Any]:
    answers = _answers(element)
    options = [text for _, text, _ in answers]
    right = [i for i, (fraction, _, _) in enumerate(answers) if fraction > 0]
    shuffle = _flag(element, "shuffleanswers", True)
    if kind == "multichoice" and _flag(element, "single", True):
        full = [i for i, (fraction, _, _) in enumerate(answers) if fraction == 100]
        if len(full) != 1:
            raise ValueError("a single-answer question needs exactly one answer at 100%")
        return {
            "type": "single",
            "prompt": prompt,
            "options": options,
            "answer": full[0],
            "shuffle": shuffle,
        }
    return {
        "type": "multiple",
        "prompt": prompt,
        "options": options,
        "answers": right,
        "scoring": "all_or_nothing" if kind == "multichoiceset" else "partial",
        "shuffle": shuffle,
    }


def _read_truefalse(kind: str, element: ET.Element, prompt: str) -> dict[str, Any]:
    right = [text.lower() for fraction, text, _ in _answers(element) if fraction == 100]
    if right not in (["true"], ["false"]):
        raise ValueError("a true/false question needs 'true' or 'false' at 100%")
    return {"type": "truefalse", "prompt": prompt, "answer": right == ["true"]}


def _read_shortanswer(kind: str, element: ET.Element, prompt: str) -> dict[str, Any]:
    accepted = [text for fraction, text, _ in _answers(element) if fraction == 100]
    return {
        "type": "shortanswer",
        "prompt": prompt,
        "answers": accepted,
        "case_sensitive": _flag(element, "usecase", False),
    }


def _read_numerical(kind: str, element: ET.Element, prompt: str) -> dict[str, Any]:
    full = [(text, a) for fraction, text, a in _answers(element) if fraction == 100]
    if len(full) != 1:
        raise ValueError("a numerical question needs exactly one answer at 100%")
    text, answer = full[0]
    units = [(u.text or "").strip() for u in element.findall("units/unit/unit_name")]
    return {
        "type": "numerical",
        "prompt": prompt,
        "answer": str(Decimal(text)),
        "tolerance": str(Decimal(answer.findtext("tolerance") or "0")),
        "units": [u for u in units if u],
        "unit_required": (element.findtext("unitgradingtype") or "0").strip() != "0",
    }


def _read_matching(kind: str, element: ET.Element, prompt: str) -> dict[str, Any]:
    pairs = [
        {
            "left": markdown_of(_text(sub), sub.get("format", "html")),
            "right": (sub.findtext("answer/text") or "").strip(),
        }
        for sub in element.findall("subquestion")
    ]
    return {"type": "matching", "prompt": prompt, "pairs": [p for p in pairs if p["left"]]}


def _read_ordering(kind: str, element: ET.Element, prompt: str) -> dict[str, Any]:
    items = [text for _, text, _ in _answers(element)]
    grading = (element.findtext("gradingtype") or "ALL_OR_NOTHING").strip().upper()
    scoring = "absolute_position" if grading == "ABSOLUTE_POSITION" else "all_or_nothing"
    return {"type": "ordering", "prompt": prompt, "items": items, "scoring": scoring}


_MOODLE_READERS: dict[str, Any] = {
    "multichoice": _read_choice,
    "multichoiceset": _read_choice,
    "truefalse": _read_truefalse,
    "shortanswer": _read_shortanswer,
    "numerical": _read_numerical,
    "matching": _read_matching,
    "ordering": _read_ordering,
    "cloze": lambda kind, element, prompt: _cloze_of(prompt),
}


_EMBEDDED = re.compile(r"\{(\d*):([A-Z_]+):((?:\\.|[^}])*)\}")


def _cloze_of(text: str) -> dict[str, Any]:
    gaps: list[dict[str, Any]] = []
    case_sensitive = False

    def gap(found: re.Match[str]) -> str:
        nonlocal case_sensitive
        kind, spec = found[2], found[3]
        parts = [p for p in re.split(r"(?<!\\)~", spec) if p]
        right, options = [], []
        for part in parts:
            weight = re.match(r"^(=|%(-?\d+(?:\.\d+)?)%)", part)
            value = part[weight.end() :] if weight else part
            value = value.split("#", 1)[0].replace("\\~", "~").replace("\\}", "}").strip()
            options.append(value)
            if weight and (weight[1] == "=" or Decimal(weight[2]) == 100):
                right.append(value)
        if not right:
            raise ValueError(f"the gap {len(gaps) + 1} has no right answer")
        if kind in ("SHORTANSWER", "SA", "MW", "SHORTANSWER_C", "SAC", "MWC"):
            case_sensitive = case_sensitive or kind in ("SHORTANSWER_C", "SAC", "MWC")
            gaps.append({"answers": right})
        elif kind.startswith(("MULTICHOICE", "MC")):
            gaps.append({"answers": right, "options": options})
        else:
            raise ValueError(f"the embedded answer type {kind} is not supported")
        return "{" + str(len(gaps)) + "}"

    prompt = _EMBEDDED.sub(gap, text)
    if not gaps:
        raise ValueError("an embedded-answers question needs at least one {1:…:…} gap")
    return {"type": "cloze", "prompt": prompt, "gaps": gaps, "case_sensitive": case_sensitive}


# -- Moodle XML: export ------------------------------------------------------------------------


def export_moodle(pool_title: str, questions: list[dict[str, Any]]) -> str:
    """Questions (name, topic, tags, body) as a Moodle XML quiz file; Markdown text."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>', "<quiz>"]
    out.append(
        f'  <question type="category"><category><text>$course$/{escape(pool_title)}</text>'
        "</category></question>"
    )
    for q in questions:
        out.extend(_export_one(q))
    out.append("</quiz>")
    return "\n".join(out) + "\n"


def _t(text: Any) -> str:
    return f"<text>{escape(str(text))}</text>"


def _export_one(q: dict[str, Any]) -> list[str]:
    b, kind = q["body"], q["body"]["type"]
    moodle = {"single": "multichoice", "cloze": "cloze"}.get(kind, kind)
    if kind == "multiple":
        moodle = "multichoice" if b.get("scoring") == "partial" else "multichoiceset"
    prompt = _cloze_text(b) if kind == "cloze" else b["prompt"]
    lines = [
        f'  <question type="{moodle}">',
        f"    <name>{_t(q['name'])}</name>",
        f'    <questiontext format="markdown">{_t(prompt)}</questiontext>',
    ]
    lines += _WRITERS.get(kind, lambda b, moodle: [])(b, moodle)
    if q.get("tags"):
        lines.append("    <tags>" + "".join(f"<tag>{_t(t)}</tag>" for t in q["tags"]) + "</tags>")
    lines.append("  </question>")
    return lines


def _write_choice(b: dict[str, Any], moodle: str) -> list[str]:
    single = b["type"] == "single"
    right = {b["answer"]} if single else set(b["answers"])
    wrong = len(b["options"]) - len(right)
    lines = [
        f"    <single>{'true' if single else 'false'}</single>",
        f"    <shuffleanswers>{int(b.get('shuffle', True))}</shuffleanswers>",
    ]
    for i, option in enumerate(b["options"]):
        if i in right:
            fraction: Decimal | int = 100 if single else Decimal(100) / len(right)
        elif single or moodle == "multichoiceset":
            fraction = 0
        else:
            fraction = -Decimal(100) / (wrong or 1)
        lines.append(
            f'    <answer fraction="{_fraction(fraction)}" format="plain_text">{_t(option)}'
            "</answer>"
        )
    return lines


def _write_truefalse(b: dict[str, Any], moodle: str) -> list[str]:
    return [
        f'    <answer fraction="{100 if (word == "true") == b["answer"] else 0}">{_t(word)}'
        "</answer>"
        for word in ("true", "false")
    ]


def _write_shortanswer(b: dict[str, Any], moodle: str) -> list[str]:
    return [f"    <usecase>{int(b.get('case_sensitive', False))}</usecase>"] + [
        f'    <answer fraction="100">{_t(a)}</answer>' for a in b["answers"]
    ]


def _write_numerical(b: dict[str, Any], moodle: str) -> list[str]:
    lines = [
        f'    <answer fraction="100">{_t(b["answer"])}'
        f"<tolerance>{escape(str(b.get('tolerance', '0')))}</tolerance></answer>"
    ]
    if b.get("units"):
        units = "".join(
            f"<unit><multiplier>1</multiplier><unit_name>{escape(u)}</unit_name></unit>"
            for u in b["units"]
        )
        lines.append(f"    <units>{units}</units>")
        lines.append(f"    <unitgradingtype>{int(bool(b.get('unit_required')))}</unitgradingtype>")
    return lines


def _write_matching(b: dict[str, Any], moodle: str) -> list[str]:
    return [
        f'    <subquestion format="markdown">{_t(p["left"])}<answer>{_t(p["right"])}</answer>'
        "</subquestion>"
        for p in b["pairs"]
    ]


def _write_ordering(b: dict[str, Any], moodle: str) -> list[str]:
    grading = "ABSOLUTE_POSITION" if b.get("scoring") == "absolute_position" else "ALL_OR_NOTHING"
    return [f"    <gradingtype>{grading}</gradingtype>"] + [
        f'    <answer fraction="{n}" format="plain_text">{_t(item)}</answer>'
        for n, item in enumerate(b["items"], start=1)
    ]


_WRITERS: dict[str, Any] = {
    "single": _write_choice,
    "multiple": _write_choice,
    "truefalse": _write_truefalse,
    "shortanswer": _write_shortanswer,
    "numerical": _write_numerical,
    "matching": _write_matching,
    "ordering": _write_ordering,
}


def _fraction(value: Decimal | int) -> str:
    return f"{Decimal(value):.7f}".rstrip("0").rstrip(".") if value else "0"


def _cloze_text(b: dict[str, Any]) -> str:
    kind = "SHORTANSWER_C" if b.get("case_sensitive") else "SHORTANSWER"

    def one(found: re.Match[str]) -> str:
        gap = b["gaps"][int(found[1]) - 1]
        if gap.get("options"):
            parts = [
                ("=" if o in gap["answers"] else "") + _cloze_escape(o) for o in gap["options"]
            ]
            return "{1:MULTICHOICE:" + "~".join(parts) + "}"
        return "{1:" + kind + ":" + "~".join("=" + _cloze_escape(a) for a in gap["answers"]) + "}"

    return re.sub(r"\{(\d{1,2})\}", one, b["prompt"])


def _cloze_escape(text: str) -> str:
    return text.replace("~", "\\~").replace("}", "\\}").replace("#", "\\#")


# -- GIFT: import ------------------------------------------------------------------------------


_GIFT_TITLE = re.compile(r"^::((?:\\.|[^:])*)::")


def parse_gift(document: str) -> list[Parsed]:
    parsed, problems, number, topic = [], Problems(), 0, None
    for line, block in _gift_blocks(document):
        if block.startswith("$CATEGORY:"):
            topic = block.split(":", 1)[1].strip().rsplit("/", 1)[-1][:60] or None
            continue
        number += 1
        title, text = "", block
        titled = _GIFT_TITLE.match(block)
        if titled:
            title, text = _gift_unescape(titled[1]).strip(), block[titled.end() :].strip()
        try:
            body = _gift_body(text)
        except (ValueError, InvalidOperation) as exc:
            problems.add(number, str(exc), line)
            continue
        spec: dict[str, Any] = {"body": body}
        if topic:
            spec["topic"] = topic
        parsed.append(Parsed(number, line, slug(title, number), spec))
    problems.raise_any()
    return check(parsed)


def _gift_blocks(document: str) -> list[tuple[int, str]]:
    """(first line, text) of each question: blocks separated by blank lines, comments out."""
    blocks, current, start = [], list[str](), 0
    for n, raw in enumerate(document.splitlines(), start=1):
        line = raw.rstrip()
        if line.lstrip().startswith("//"):
            continue
        if not line.strip():
            if current:
                blocks.append((start, "\n".join(current).strip()))
                current = []
            continue
        if not current:
            start = n
        current.append(line)
    if current:
        blocks.append((start, "\n".join(current).strip()))
    return blocks


def _gift_unescape(text: str) -> str:
    return re.sub(r"\\([~=#{}:\\])", r"\1", text)


_GIFT_ANSWERS = re.compile(r"(?<!\\)\{((?:\\.|[^}])*)(?<!\\)\}", re.S)


def _gift_body(text: str) -> dict[str, Any]:
    found = list(_GIFT_ANSWERS.finditer(text))
    if len(found) != 1:
        raise ValueError("a GIFT question holds one {…} answer block")
    block = found[0]
    before, after = text[: block.start()].strip(), text[block.end() :].strip()
    inner = block[1].strip()
    prompt = _gift_unescape(before + (" {1} " + after if after else "")).strip()
    prompt = re.sub(r"^\[(html|markdown|plain|moodle)\]", "", prompt).strip()
    missing_word = bool(after)
    if re.fullmatch(r"(T|F|TRUE|FALSE)(#.*)?", inner, re.I | re.S):
        if missing_word:
            raise ValueError("true/false cannot be a missing word")
        return {"type": "truefalse", "prompt": prompt, "answer": inner[0].upper() == "T"}
    if inner.startswith("#"):
        return _gift_numerical(prompt, inner[1:])
    parts = [p.strip() for p in re.split(r"(?<![\\])(?=[=~])", inner) if p.strip()]
    if not parts:
        raise ValueError("the answer block is empty")
    if all(p.startswith("=") for p in parts) and any("->" in p for p in parts):
        pairs = []
        for p in parts:
            left, _, right = p[1:].partition("->")
            pairs.append({"left": _gift_clean(left), "right": _gift_clean(right)})
        return {"type": "matching", "prompt": prompt, "pairs": pairs}
    return _gift_choices(prompt, parts, missing_word)


def _gift_choices(prompt: str, parts: list[str], missing_word: bool) -> dict[str, Any]:
    """`=right ~wrong`, with optional %weights%: choices (or typed answers when all are =)."""
    options, weights = [], []
    for p in parts:
        weight = re.match(r"^[=~](%(-?\d+(?:\.\d+)?)%)?", p)
        assert weight is not None
        options.append(_gift_clean(p[weight.end() :]))
        weights.append(Decimal(weight[2]) if weight[2] else Decimal(100 if p[0] == "=" else 0))
    typed = all(p.startswith("=") and not p.startswith("=%") for p in parts)
    if typed:
        if missing_word:
            return {"type": "cloze", "prompt": prompt, "gaps": [{"answers": options}]}
        return {"type": "shortanswer", "prompt": prompt, "answers": options}
    if missing_word:
        named = [o for o, w in zip(options, weights, strict=True) if w == 100]
        return {"type": "cloze", "prompt": prompt, "gaps": [{"answers": named, "options": options}]}
    full = [i for i, w in enumerate(weights) if w == 100]
    if len(full) == 1 and all(w <= 0 for i, w in enumerate(weights) if i != full[0]):
        return {"type": "single", "prompt": prompt, "options": options, "answer": full[0]}
    right = [i for i, w in enumerate(weights) if w > 0]
    if not right:
        raise ValueError("no answer is marked right (= or a positive %weight%)")
    return {
        "type": "multiple",
        "prompt": prompt,
        "options": options,
        "answers": right,
        "scoring": "partial",
    }


def _gift_clean(text: str) -> str:
    return _gift_unescape(
        text.split("#", 1)[0] if "#" in text and "\\#" not in text else text
    ).strip()


def _gift_numerical(prompt: str, spec: str) -> dict[str, Any]:
    spec = spec.split("#", 1)[0].strip().lstrip("=")
    if ".." in spec:
        low, high = (Decimal(x) for x in spec.split("..", 1))
        return {
            "type": "numerical",
            "prompt": prompt,
            "answer": str((low + high) / 2),
            "tolerance": str((high - low) / 2),
        }
    value, _, tolerance = spec.partition(":")
    return {
        "type": "numerical",
        "prompt": prompt,
        "answer": str(Decimal(value)),
        "tolerance": str(Decimal(tolerance or "0")),
    }
