"""The safety rules file: its shapes (`Rule`, `CueSet`, `Vocabulary`) and how it is read.

`data/safety_rules.yaml` is written for quality staff; this module turns it into the frozen
values the engine (`safety.SafetyRules`) runs, and says where the file is wrong when it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from .labels import CATEGORIES
from .normalize import fold_yo
from .phrases import Phrase

DEFAULT_RULES = "safety_rules.yaml"
CUE_KINDS = (
    "negation",
    "hypothetical",
    "settled",
    "past",
    "long_ago",
    "report",
    "inanimate",
    "unrelated",
)
SCOPES = ("sentence", "near", "message")


class RulesError(ValueError):
    """The rules file does not have the expected shape; the text names the place."""


# -- data shapes ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    title: str
    category: str | None
    action: str
    phrases: tuple[Phrase, ...]
    cancelled_by: tuple[str, ...]  # cue kinds that cancel a match of this rule
    needs_context: bool = True  # fires only in a message about pets or the service
    skip_imperative: bool = False  # «умри», «сдохни» are curses, not reports
    skip_quoted: bool = False  # «бросила кота умирать» in quotes retells a review, not an event


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one rule thought of one message, for the debug view."""

    rule: str
    fired: bool
    matched: tuple[str, ...] = ()
    reason: str = ""


@dataclass(frozen=True)
class CueSet:
    kind: str
    scope: str  # "sentence"; "near": also `near` sentences either side; "message": anywhere
    phrases: tuple[Phrase, ...]
    before_only: tuple[str, ...] = ()  # single lemmas that count only before the trigger


@dataclass
class Vocabulary:
    gap: int
    near: int
    negators: frozenset[str]
    negation_window: int
    cues: dict[str, CueSet] = field(default_factory=dict)
    idioms: tuple[Phrase, ...] = ()
    context: frozenset[str] = frozenset()  # lemmas that show a message is about pets/the service


def _phrases(values: object, where: str) -> tuple[Phrase, ...]:
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        raise RulesError(f"{where}: expected a list of phrases (strings of lemmas), got {values!r}")
    return tuple(Phrase(tuple(fold_yo(v.lower()).split())) for v in values)


def parse_rules(data: object, source: str) -> tuple[list[Rule], Vocabulary]:
    if not isinstance(data, dict) or "rules" not in data:
        raise RulesError(f"{source}: expected a mapping with 'rules', 'cues' and 'idioms'")
    settings = data.get("settings", {})
    cues = {}
    for kind, body in (data.get("cues") or {}).items():
        if kind not in CUE_KINDS:
            raise RulesError(f"{source}: cues.{kind}: expected one of {', '.join(CUE_KINDS)}")
        if body.get("scope", "sentence") not in SCOPES:
            raise RulesError(f"{source}: cues.{kind}.scope: expected one of {', '.join(SCOPES)}")
        cues[kind] = CueSet(
            kind=kind,
            scope=body.get("scope", "sentence"),
            phrases=_phrases(body.get("phrases", []), f"{source}: cues.{kind}.phrases"),
            before_only=tuple(body.get("before", [])),
        )
    vocabulary = Vocabulary(
        gap=int(settings.get("gap", 2)),
        near=int(settings.get("near_sentences", 1)),
        negators=frozenset(settings.get("negators", ["не", "нет", "ни"])),
        negation_window=int(settings.get("negation_window", 2)),
        cues=cues,
        idioms=_phrases(data.get("idioms", []), f"{source}: idioms"),
        context=frozenset(w.lower() for w in data.get("context", [])),
    )
    rules, seen = [], set()
    for n, body in enumerate(data["rules"]):
        where = f"{source}: rules[{n}]"
        if not isinstance(body, dict) or not {"id", "action", "phrases"} <= body.keys():
            raise RulesError(f"{where}: expected 'id', 'action' and 'phrases'")
        if body["id"] in seen:
            raise RulesError(f"{where}: duplicate rule id {body['id']!r}")
        seen.add(body["id"])
        category = body.get("category")
        if category is not None and category not in CATEGORIES:
            raise RulesError(
                f"{where}: category must be one of {', '.join(CATEGORIES)} or "
                f"empty; got {category!r}"
            )
        unknown = set(body.get("cancelled_by", CUE_KINDS)) - set(CUE_KINDS)
        if unknown:
            raise RulesError(f"{where}: unknown cue kinds {sorted(unknown)}")
        rules.append(
            Rule(
                id=body["id"],
                title=body.get("title", body["id"]),
                category=category,
                action=body["action"],
                phrases=_phrases(body["phrases"], f"{where}.phrases"),
                cancelled_by=tuple(body.get("cancelled_by", CUE_KINDS)),
                needs_context=bool(body.get("needs_context", True)),
                skip_imperative=bool(body.get("skip_imperative", False)),
                skip_quoted=bool(body.get("skip_quoted", True)),
            )
        )
    return rules, vocabulary


def read_rules(path: Path | str | None = None) -> tuple[list[Rule], Vocabulary, str]:
    """(rules, vocabulary, source) of a YAML file; the packaged `data/safety_rules.yaml` by
    default."""
    if path is None:
        data_files = resources.files("pettriage.classifier.data")
        text = data_files.joinpath(DEFAULT_RULES).read_text("utf-8")
        source = f"classifier/data/{DEFAULT_RULES}"
    else:
        text, source = Path(path).read_text("utf-8"), str(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise RulesError(f"{source}: not valid YAML ({error})") from error
    return (*parse_rules(data, source), source)
