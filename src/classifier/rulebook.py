"""The safety rules file: its shapes (`Rule`, `CueSet`, `TimeWords`, `Vocabulary`) and how it is
read.

`data/safety_rules.yaml` is written for quality staff, in natural Russian; this module lemmatizes
its phrases at load, turns it into the frozen values the engine (`safety.SafetyRules`) runs, and
says where the file is wrong when it is. Longer than 300 lines because the loader's checks are
what keep an edit by quality staff from silencing a rule unseen: every check names the place and
what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .data import load_yaml, read
from .labels import CATEGORIES
from .lemmatize import analyze_word
from .normalize import fold_yo
from .phrases import Phrase
from .timing import KINDS, Calendar

DEFAULT_RULES = "safety_rules.yaml"
# «doubt»: asking whether a vet is needed at all («это повод везти к врачу или подождать?»); only
# the rule that a trip to the vet alone triggers lists it.
CUE_KINDS = (
    "negation",
    "hypothetical",
    "pet_card",
    "settled",
    "inanimate",
    "unrelated",
    "hearsay",
    "doubt",
    "joke",
    "cannot_come",
    "claim",
    "claim_of_death",  # `claim` for the death rule: a death the message dates today stays today's
    "news",
    "all_clear",
    "owner",
    "no_claim",
    "retraction",
    "natural",
)
WITHIN = ("clause", "sentence")
# A cue word counts only this close to the trigger: one word must never silence a rule from the
# far end of a long sentence («Кот умер, муж в шоке»).
MAX_WINDOW = 8
TIME_PHRASES = (*KINDS, "late_report", "review")
WHOLE_MESSAGE = 10_000  # a `near: {reach: message}`: sentences either side


class RulesError(ValueError):
    """The rules file does not have the expected shape; the text names the place."""


# -- data shapes ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Example:
    text: str
    received_at: str | None = None  # ISO 8601; the time decision reads dates against it


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    title: str
    category: str | None
    action: str
    phrases: tuple[Phrase, ...]
    cancelled_by: tuple[str, ...]  # cue kinds that cancel a match of this rule (file says which)
    needs_now: bool = True  # fires only for an event now or today (`timing`)
    threat: bool = False  # a trigger in the future tense is a threat made now («проломит голову»)
    needs_context: bool = True  # fires only in a message about pets or the service
    skip_imperative: bool = False  # «умри», «сдохни» are curses, not reports
    # «я сейчас сдохну от жары», «умираю от скуки»: the writer's own hyperbole; nobody reports
    # their own death
    skip_first_person: bool = False
    skip_quoted: bool = False  # «бросила кота умирать» in quotes retells a review, not an event
    fire: tuple[Example, ...] = ()  # examples that must fire this rule (run as tests)
    silent: tuple[Example, ...] = ()  # examples on which no rule may fire
    title_ru: str = ""  # the title quality staff read on the review page
    # Words one of which must be within `near_reach` sentences of the trigger: a flood is a
    # danger only with a pet in it («потоп, кролик в клетке на полу»), not a neighbour's ceiling.
    near: frozenset[str] = frozenset()
    near_reach: int = 0


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one rule thought of one message, for the debug view."""

    rule: str
    fired: bool
    matched: tuple[str, ...] = ()
    reason: str = ""
    when: object = None  # timing.When of the matched trigger, when the time was decided


@dataclass(frozen=True)
class CueSet:
    """Words that cancel a trigger near them. Single words count within `window` words of the
    trigger and in its clause or sentence (`within`); phrases of two or more words anywhere in
    the trigger's sentence, or `reach` sentences around it."""

    kind: str
    window: int
    within: str
    phrases: tuple[Phrase, ...]
    reach: int = 0
    before_only: frozenset[str] = frozenset()  # single lemmas that count only before the trigger
    # The set never cancels a trigger happening now by its own verb or clause (`When`):
    # care already given is about an earlier event, not about «а сейчас она не дышит».
    spares_now: bool = False
    # Nor one the time decision dates today or now by a word or a tense, only one it takes as
    # today for want of a word: «рыбки сдохли, пока были в отпуске. Претензий не имею» is not
    # ours, «кот умер сегодня у ситтера, претензий нет» still pages.
    spares_today: bool = False
    # A cue said with a negation of its own («не поправился») does not count, unless this says
    # it does: «почему не вернули деньги» is a claim for money all the same.
    negated_too: bool = False
    # The set's phrases count only after the trigger: a vet's all-clear settles the state told
    # before it, never one told after it («врач сказал всё хорошо, а сейчас не дышит»).
    after_only: bool = False
    # The set's phrases count only before the trigger: the news introduces what it tells («в
    # новостях пишут, что собаки умирают»); a story told after a live state does not take the
    # state back («Гоша умер, лежит на дне клетки, вчера по новостям было про тефлон»).
    leads: bool = False
    # A match this set cancels in a message no rule fires on also stands the model's own
    # `critical` down to `high`, for review: the rules read the alarming words as a joke, the
    # news, a vet's all-clear or a question, which the model cannot (`SafetyRules.dismissed`).
    stands_model_down: bool = False
    # A phrase of this set anywhere in a message no rule fires on stands the model's own
    # `critical` down as well, trigger or not: laughter and a vet's all-clear speak of the whole
    # message («ха ха, лежит лапы кверху, храпит»); a condition or care given speak only of
    # their clause, and the news is often told beside a live emergency, so they do not.
    dismisses_message: bool = False
    # The set does not count in a message holding one of these phrases anywhere: «умер от
    # старости» is not the service's doing, unless the message says the service was there
    # («собака умерла на прогулке, сердце, ей было 15»).
    unless: tuple[Phrase, ...] = ()


@dataclass(frozen=True)
class TimeWords:
    """The vocabulary of the time decision (`timing`): phrases per kind, and the calendar."""

    phrases: dict[str, tuple[Phrase, ...]]  # kind, "late_report" or "review" -> phrases
    calendar: Calendar


@dataclass
class Vocabulary:
    gap: int
    negators: frozenset[str]
    negation_window: int
    time: TimeWords
    cues: dict[str, CueSet] = field(default_factory=dict)
    idioms: tuple[Phrase, ...] = ()
    context: frozenset[str] = frozenset()  # lemmas that show a message is about pets/the service
    # Words of the press («новость», «статья», «канал»): a «…» quote of several sentences with
    # one of them beside it is pasted news, not an event of ours (`SafetyRules`, skip_quoted).
    press: frozenset[str] = frozenset()


# -- reading -------------------------------------------------------------------------------------
def lemma_of(word: str) -> str:
    """The lemma a phrase word stands for: a word already in dictionary form stays («кома» is not
    «ком»), an inflected one is lemmatized («дышит» → «дышать»), a number is any number."""
    normal, _, _, readings, _ = analyze_word(word)
    return word if word in readings else normal


def phrase(text: str) -> Phrase:
    """A phrase of lemmas; a word written `=так` matches only as written («на =днях» is not
    «на дне»). A hyphenated word is cut as a message's is («что-то»: что, то). A final `$`: the
    phrase must end its clause."""
    lemmas = []
    words = fold_yo(text.lower()).split()
    at_end = len(words) > 1 and words[-1] == "$"
    for word in words[:-1] if at_end else words:
        as_written = word.startswith("=")
        for piece in _pieces(word[1:] if as_written else word):
            lemmas.append(piece if as_written else lemma_of(piece))
    return Phrase(tuple(lemmas), at_end)


def _pieces(word: str) -> list[str]:
    """«что-то»: «что», «то», as spaCy's infix rule cuts a hyphen between letters; cut here
    without spaCy, which loading the rules must not import (the cold start). The test that every
    phrase matches its own words holds the two the same."""
    pieces = word.split("-")
    return pieces if len(pieces) > 1 and all(p.isalpha() for p in pieces) else [word]


def _phrases(values: object, where: str) -> tuple[Phrase, ...]:
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        raise RulesError(f"{where}: expected a list of phrases in Russian, got {values!r}")
    return tuple(phrase(v) for v in values)


def _words(values: object, where: str) -> frozenset[str]:
    return frozenset(w for p in _phrases(values or [], where) for w in p.lemmas)


def _int(body: dict, key: str, default: int, where: str, low: int, high: int) -> int:
    value = body.get(key, default)
    if not isinstance(value, int) or not low <= value <= high:
        raise RulesError(f"{where}.{key}: expected a whole number {low}..{high}, got {value!r}")
    return value


def _cues(data: object, source: str) -> dict[str, CueSet]:
    if not isinstance(data, dict):
        raise RulesError(f"{source}: cues: expected a mapping of cue kinds, got {data!r}")
    cues = {}
    for kind, body in data.items():
        where = f"{source}: cues.{kind}"
        if kind not in CUE_KINDS:
            raise RulesError(f"{where}: expected one of {', '.join(CUE_KINDS)}")
        if not isinstance(body, dict) or "window" not in body:
            raise RulesError(
                f"{where}: expected 'window' (words either side of the trigger, 1..{MAX_WINDOW})"
                " and 'phrases'"
            )
        within = body.get("within", "clause")
        if within not in WITHIN:
            raise RulesError(f"{where}.within: expected one of {', '.join(WITHIN)}")
        cues[kind] = CueSet(
            kind=kind,
            window=_int(body, "window", 0, where, 1, MAX_WINDOW),
            within=within,
            phrases=_phrases(body.get("phrases", []), f"{where}.phrases"),
            reach=_int(body, "reach", 0, where, 0, 10),
            before_only=_words(body.get("before"), f"{where}.before"),
            spares_now=_flag(body, "spares_now", where),
            spares_today=_flag(body, "spares_today", where),
            negated_too=_flag(body, "negated_too", where),
            after_only=_flag(body, "after_only", where),
            leads=_flag(body, "leads", where),
            stands_model_down=_flag(body, "stands_model_down", where),
            dismisses_message=_flag(body, "dismisses_message", where),
            unless=_phrases(body.get("unless", []), f"{where}.unless"),
        )
    return cues


def _flag(body: dict, key: str, where: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise RulesError(f"{where}.{key}: expected true or false, got {value!r}")
    return value


def _time(data: object, source: str) -> TimeWords:
    where = f"{source}: time"
    if not isinstance(data, dict):
        raise RulesError(
            f"{where}: expected a mapping with {', '.join(TIME_PHRASES)} and the calendar"
        )
    unknown = set(data) - {*TIME_PHRASES, "months", "weekdays", "last", "next"}
    if unknown:
        raise RulesError(f"{where}: unknown keys {sorted(unknown)}")
    months = tuple(lemma_of(m) for m in data.get("months", []))
    weekdays = tuple(lemma_of(d) for d in data.get("weekdays", []))
    if len(months) != 12 or len(weekdays) != 7:
        raise RulesError(f"{where}: expected 12 months and 7 weekdays, in calendar order")
    return TimeWords(
        phrases={kind: _phrases(data.get(kind, []), f"{where}.{kind}") for kind in TIME_PHRASES},
        calendar=Calendar(
            months,
            weekdays,
            _words(data.get("last"), f"{where}.last"),
            _words(data.get("next"), f"{where}.next"),
        ),
    )


def _examples(values: object, where: str) -> tuple[Example, ...]:
    if values is None:
        return ()
    if not isinstance(values, list):
        raise RulesError(f"{where}: expected a list of texts or {{text, received_at}} mappings")
    examples = []
    for n, value in enumerate(values):
        if isinstance(value, str) and value.strip():
            examples.append(Example(value))
        elif isinstance(value, dict) and isinstance(value.get("text"), str):
            examples.append(Example(value["text"], value.get("received_at")))
        else:
            raise RulesError(f"{where}[{n}]: expected a text or {{text, received_at}}")
    return tuple(examples)


def _rule(body: object, where: str) -> Rule:
    required = {"id", "action", "phrases", "cancelled_by", "needs_now"}
    if not isinstance(body, dict) or not required <= body.keys():
        raise RulesError(f"{where}: expected {', '.join(sorted(required))}")
    category = body.get("category")
    if category is not None and category not in CATEGORIES:
        raise RulesError(
            f"{where}: category must be one of {', '.join(CATEGORIES)} or empty; got {category!r}"
        )
    cancelled_by = body["cancelled_by"]
    if not isinstance(cancelled_by, list) or set(cancelled_by) - set(CUE_KINDS):
        raise RulesError(
            f"{where}.cancelled_by: expected a list of cue kinds ({', '.join(CUE_KINDS)}), "
            f"got {cancelled_by!r}"
        )
    near = body.get("near") or {}
    if (
        not isinstance(near, dict)
        or set(near) - {"words", "reach"}
        or (near and "words" not in near)
    ):
        raise RulesError(
            f"{where}.near: expected 'words' (one must be near the trigger) and 'reach' "
            "(sentences either side, 0..3, or `message`)"
        )
    examples = body.get("examples") or {}
    if not isinstance(examples, dict) or set(examples) - {"fire", "silent"}:
        raise RulesError(f"{where}.examples: expected 'fire' and 'silent' lists")
    return Rule(
        id=body["id"],
        title=body.get("title", body["id"]),
        category=category,
        action=body["action"],
        phrases=_phrases(body["phrases"], f"{where}.phrases"),
        cancelled_by=tuple(cancelled_by),
        needs_now=_flag(body, "needs_now", where),
        threat=bool(body.get("threat", False)),
        needs_context=bool(body.get("needs_context", True)),
        skip_imperative=bool(body.get("skip_imperative", False)),
        skip_first_person=_flag(body, "skip_first_person", where),
        skip_quoted=bool(body.get("skip_quoted", True)),
        fire=_examples(examples.get("fire"), f"{where}.examples.fire"),
        silent=_examples(examples.get("silent"), f"{where}.examples.silent"),
        title_ru=body.get("title_ru") or body.get("title", body["id"]),
        near=_words(near.get("words"), f"{where}.near.words"),
        near_reach=WHOLE_MESSAGE
        if near.get("reach") == "message"
        else _int(near, "reach", 0, f"{where}.near", 0, 3),
    )


def parse_rules(data: object, source: str) -> tuple[list[Rule], Vocabulary]:
    if not isinstance(data, dict) or not {"rules", "cues", "time"} <= data.keys():
        raise RulesError(f"{source}: expected a mapping with 'rules', 'cues', 'time' and 'idioms'")
    settings = data.get("settings") or {}
    vocabulary = Vocabulary(
        gap=_int(settings, "gap", 2, f"{source}: settings", 0, 5),
        negators=frozenset(settings.get("negators", ["не", "нет", "ни"])),
        negation_window=_int(settings, "negation_window", 1, f"{source}: settings", 0, 4),
        time=_time(data["time"], source),
        cues=_cues(data["cues"], source),
        idioms=_phrases(data.get("idioms", []), f"{source}: idioms"),
        context=_words(data.get("context", []), f"{source}: context")
        | frozenset(w.lower() for w in data.get("context", [])),
        press=_words(data.get("press", []), f"{source}: press"),
    )
    rules, seen = [], set()
    for n, body in enumerate(data["rules"]):
        rule = _rule(body, f"{source}: rules[{n}]")
        if rule.id in seen:
            raise RulesError(f"{source}: rules[{n}]: duplicate rule id {rule.id!r}")
        seen.add(rule.id)
        rules.append(rule)
    return rules, vocabulary


def read_rules(path: Path | str | None = None) -> tuple[list[Rule], Vocabulary, str]:
    """(rules, vocabulary, source) of a YAML file; the packaged `data/safety_rules.yaml` by
    default."""
    if path is None:
        text = read(DEFAULT_RULES)
        source = f"classifier/data/{DEFAULT_RULES}"
    else:
        text, source = Path(path).read_text("utf-8"), str(path)
    try:
        data = load_yaml(text)
    except yaml.YAMLError as error:
        raise RulesError(f"{source}: not valid YAML ({error})") from error
    return (*parse_rules(data, source), source)
