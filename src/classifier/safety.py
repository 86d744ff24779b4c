"""Safety override: rules that never let a life-threatening message through as routine.

Read like razdel's tokenizer: an ordered list of small named rules, the first that fires
decides, and a debug view (`explain`) says what every rule thought and why. The vocabulary lives
in `data/safety_rules.yaml`, which quality staff read and extend without touching code.

A rule matches a phrase of lemmas in order, with up to `gap` other words between them, so that
«не дышит», «не дышал» and «перестала дышать» all match. Words of five letters or more also match
with one typo («атравилась», «кравь»). A match is cancelled by cues scoped to the sentence
(negation, hypothetical questions), to the sentences around it (settled or past events), to the
whole message (a formal complaint written afterwards), or by an idiom covering the matched words.
A rule fires only in a message about pets or the service (the `context` words).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from itertools import chain
from pathlib import Path

import yaml

from .decision import Override
from .features import Prepared, prepare
from .labels import CATEGORIES
from .lemmatize import Token

DEFAULT_RULES = "safety_rules.yaml"
FUZZY_MIN_LENGTH = 5
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
# A typo rarely changes the first letter, except between vowels people confuse («атравилась»).
_CONFUSED_FIRST = ({"а", "о"}, {"е", "и"}, {"е", "э"})


class RulesError(ValueError):
    """The rules file does not have the expected shape; the text names the place."""


# -- data shapes ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Phrase:
    lemmas: tuple[str, ...]
    needs: frozenset[str] = field(init=False)  # its words as a set: skipped at once if absent

    def __post_init__(self) -> None:
        object.__setattr__(self, "needs", frozenset(self.lemmas))

    @property
    def text(self) -> str:
        return " ".join(self.lemmas)


@dataclass(frozen=True, slots=True)
class Match:
    phrase: Phrase
    positions: tuple[int, ...]  # token indices in the message
    words: tuple[str, ...]  # the words as written (normalized)


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


# -- matching ------------------------------------------------------------------------------------
def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


class FuzzyLexicon:
    """Typo-tolerant lookup of trigger words: one edit away from any inflected form.

    An unknown word such as «судароги» gets a useless guessed lemma from pymorphy3, so it is
    compared with the inflected forms of the trigger lemmas («судороги» → «судорога») instead.
    """

    def __init__(self, lemmas: set[str]):
        self.by_deletion: dict[str, set[tuple[str, str]]] = {}
        for lemma in lemmas:
            if len(lemma) < FUZZY_MIN_LENGTH:
                continue
            for form in word_forms(lemma):
                for key in {form, *_deletions(form)}:
                    self.by_deletion.setdefault(key, set()).add((form, lemma))

    @cache  # noqa: B019 - one lexicon per rules file, kept for the process
    def lookup(self, word: str) -> frozenset[str]:
        """Lemmas that have a form within one edit of `word`."""
        found = set()
        if len(word) >= FUZZY_MIN_LENGTH - 1:
            for key in {word, *_deletions(word)}:
                found |= {
                    lemma
                    for form, lemma in self.by_deletion.get(key, ())
                    if abs(len(form) - len(word)) <= 1 and _same_start(form, word)
                }
        return frozenset(found)


def word_forms(lemma: str) -> set[str]:
    """Every inflected form of a dictionary word (just the word itself when it is unknown)."""
    from .lemmatize import morph

    forms = {lemma}
    for parse in morph().parse(lemma)[:1]:
        forms |= {f.word.replace("ё", "е") for f in parse.lexeme}
    return forms


def _same_start(a: str, b: str) -> bool:
    return a[0] == b[0] or any({a[0], b[0]} <= pair for pair in _CONFUSED_FIRST)


def _token_matches(lexicon: FuzzyLexicon, token: Token, lemma: str, any_reading: bool) -> bool:
    """Exact on the lemma or the word as written; one edit away only for unknown words.

    Inside a phrase of several words any reading of an ambiguous word counts («валит дым»:
    валить), since its neighbours disambiguate; a single-word trigger takes the first reading
    only («кому» is not «кома»). Dictionary words are never typos: «отправить» is not «отравить».
    """
    if lemma == token.text or lemma == token.lemma:
        return True
    if any_reading and lemma in token.readings:
        return True
    return not token.known and lemma in lexicon.lookup(token.text)


def find_phrase(
    tokens: Sequence[Token],
    phrase: Phrase,
    lexicon: FuzzyLexicon,
    gap: int,
    present: frozenset[str] | None = None,
) -> list[Match]:
    """Every match of `phrase` in order, within one sentence, at most `gap` words apart.

    `present` (every word the message could match, see `SafetyRules.words_in`) skips at once
    the phrases that cannot match: most of them, for most messages."""
    if present is not None and not phrase.needs <= present:
        return []
    matches = []
    first, rest = phrase.lemmas[0], phrase.lemmas[1:]
    any_reading = bool(rest)
    for start, token in enumerate(tokens):
        if not _token_matches(lexicon, token, first, any_reading):
            continue
        positions = [start]
        for lemma in rest:
            last = positions[-1]
            window = range(last + 1, min(last + gap + 2, len(tokens)))
            nxt = next(
                (
                    j
                    for j in window
                    if tokens[j].sentence == tokens[last].sentence
                    and _token_matches(lexicon, tokens[j], lemma, any_reading)
                ),
                None,
            )
            if nxt is None:
                break
            positions.append(nxt)
        else:
            words = tuple(tokens[p].text for p in positions)
            matches.append(Match(phrase, tuple(positions), words))
    return matches


# -- the engine ----------------------------------------------------------------------------------
class SafetyRules:
    def __init__(self, rules: Sequence[Rule], vocabulary: Vocabulary, source: str = ""):
        self.rules = tuple(rules)
        self.vocabulary = vocabulary
        self.source = source
        # Typos are tolerated on trigger words only; cues and idioms match as written.
        self.lexicon = FuzzyLexicon({w for rule in rules for p in rule.phrases for w in p.lemmas})
        # Phrases by their longest (so, rarely common) word: a rule can fire only in a message
        # holding every word of one of its phrases, which `check` narrows with one set operation.
        self._phrases_by_key: dict[str, list[tuple[int, Phrase]]] = {}
        for n, rule in enumerate(self.rules):
            for phrase in rule.phrases:
                key = max(phrase.lemmas, key=len)
                self._phrases_by_key.setdefault(key, []).append((n, phrase))

    @classmethod
    def load(cls, path: Path | str | None = None) -> SafetyRules:
        """Rules from a YAML file; the packaged `data/safety_rules.yaml` by default."""
        if path is None:
            text = resources.files("classifier.data").joinpath(DEFAULT_RULES).read_text("utf-8")
            source = f"classifier/data/{DEFAULT_RULES}"
        else:
            text, source = Path(path).read_text("utf-8"), str(path)
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise RulesError(f"{source}: not valid YAML ({error})") from error
        return cls(*parse_rules(data, source), source=source)

    # The hot path: first rule that fires wins. It decides as `explain` does, but judges only
    # the rules with a phrase all of whose words the message holds.
    def check(self, item: Prepared) -> Override | None:
        present = self.words_in(item.tokens)
        candidates = sorted(
            {
                n
                for key in present.intersection(self._phrases_by_key)
                for n, phrase in self._phrases_by_key[key]
                if phrase.needs <= present
            }
        )
        idioms = in_context = None
        for rule in map(self.rules.__getitem__, candidates):
            if rule.needs_context:
                if in_context is None:
                    in_context = self._in_context(item.tokens)
                if not in_context:
                    continue
            if idioms is None:
                idioms = self._idiom_positions(item.tokens, present)
            verdict = self._judge(rule, item.tokens, idioms, present)
            if verdict.fired:
                return Override(rule.id, verdict.matched, rule.action, rule.category)
        return None

    def explain(self, item: Prepared) -> list[Verdict]:
        """Every rule's verdict on one message, with the reason: the debug view."""
        return [verdict for verdict, _ in self._verdicts(item)]

    def _verdicts(self, item: Prepared):
        present = self.words_in(item.tokens)
        idioms = self._idiom_positions(item.tokens, present)
        in_context = self._in_context(item.tokens)
        for rule in self.rules:
            if rule.needs_context and not in_context:
                yield Verdict(rule.id, False, (), "no pet or service words in the message"), rule
            else:
                yield self._judge(rule, item.tokens, idioms, present), rule

    def words_in(self, tokens: Sequence[Token]) -> frozenset[str]:
        """Every word a phrase could match in these tokens: as written, lemmas, other readings,
        and the trigger words an unknown word is one typo away from."""
        present = {t.text for t in tokens}
        present.update([t.lemma for t in tokens], chain.from_iterable(t.readings for t in tokens))
        for t in tokens:
            if not t.known:
                present |= self.lexicon.lookup(t.text)
        return frozenset(present)

    def _in_context(self, tokens: Sequence[Token]) -> bool:
        context = self.vocabulary.context
        return not context or any(t.lemma in context or t.text in context for t in tokens)

    def check_texts(self, texts: list[str]) -> list[Override | None]:
        return [self.check(item) for item in prepare(texts)]

    def _idiom_positions(self, tokens: Sequence[Token], present) -> frozenset[int]:
        v = self.vocabulary
        return frozenset(
            p
            for idiom in v.idioms
            if idiom.needs <= present
            for m in find_phrase(tokens, idiom, self.lexicon, v.gap, present)
            for p in range(m.positions[0], m.positions[-1] + 1)
        )

    def _judge(
        self, rule: Rule, tokens: Sequence[Token], idioms: frozenset[int], present: frozenset[str]
    ) -> Verdict:
        v = self.vocabulary
        reasons = []
        for phrase in rule.phrases:
            if not phrase.needs <= present:
                continue
            for match in find_phrase(tokens, phrase, self.lexicon, v.gap, present):
                if idioms & set(match.positions):
                    reasons.append(f"«{' '.join(match.words)}» is inside an idiom")
                    continue
                if rule.skip_imperative and tokens[match.positions[0]].imperative:
                    reasons.append(f"«{' '.join(match.words)}» is an imperative, a curse")
                    continue
                if rule.skip_quoted and all(tokens[p].quoted for p in match.positions):
                    reasons.append(f"«{' '.join(match.words)}» is in quotation marks")
                    continue
                cancel = self._cancelled(rule, phrase, match, tokens, present)
                if cancel:
                    reasons.append(f"«{' '.join(match.words)}» cancelled: {cancel}")
                    continue
                return Verdict(rule.id, True, match.words, f"matched «{phrase.text}»")
        return Verdict(rule.id, False, (), "; ".join(reasons) or "no trigger")

    def _negator(self, phrase: Phrase, match: Match, tokens) -> str | None:
        """A negation of the matched words: just before them («не отравилась»), between them
        («кровь не идёт»), or right after them («судорог не было», «крови нет»).
        Negators that are part of the phrase itself («не дышит») do not count."""
        v = self.vocabulary
        first, last = match.positions[0], match.positions[-1]
        sentence = tokens[first].sentence

        def is_negator(j: int) -> bool:
            return (
                0 <= j < len(tokens)
                and tokens[j].sentence == sentence
                and (tokens[j].lemma in v.negators or tokens[j].text in v.negators)
            )

        own = set(phrase.lemmas)
        if not own & v.negators:
            before = range(max(0, first - v.negation_window), first)
            found = next((j for j in before if is_negator(j)), None)
            if found is not None:
                return f"negation «{tokens[found].text}» before it"
            inside = (j for j in range(first, last) if j not in match.positions)
            found = next((j for j in inside if is_negator(j)), None)
            if found is not None:
                return f"negation «{tokens[found].text}» inside it"
        after = last + 1
        if is_negator(after) and (
            tokens[after].text == "нет"
            or (after + 1 < len(tokens) and tokens[after + 1].lemma == "быть")
        ):
            return f"negation «{' '.join(t.text for t in tokens[after : after + 2])}» after it"
        return None

    def _cancelled(
        self, rule: Rule, phrase: Phrase, match: Match, tokens, present: frozenset[str]
    ) -> str | None:
        v = self.vocabulary
        start = match.positions[0]
        sentence = tokens[start].sentence
        if "negation" in rule.cancelled_by:
            negator = self._negator(phrase, match, tokens)
            if negator:
                return negator
        for kind in rule.cancelled_by:
            cue = v.cues.get(kind)
            if cue is None:
                continue
            # Only cue phrases whose words are all in the message can match: the scope is
            # cut out for those alone (most cues have none).
            possible = [p for p in cue.phrases if p.needs <= present]
            if possible:
                if cue.scope == "message":
                    scope = tokens
                else:
                    reach = v.near if cue.scope == "near" else 0
                    scope = [t for t in tokens if abs(t.sentence - sentence) <= reach]
                for p in possible:
                    found = find_phrase(scope, p, self.lexicon, v.gap, present)
                    if found:
                        return f"{kind} cue «{' '.join(found[0].words)}»"
            if cue.before_only:
                for j in range(start):
                    if tokens[j].sentence == sentence and tokens[j].lemma in cue.before_only:
                        return f"{kind} cue «{tokens[j].text}» before it"
        return None


# -- loading -------------------------------------------------------------------------------------
def _phrases(values: object, where: str) -> tuple[Phrase, ...]:
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        raise RulesError(f"{where}: expected a list of phrases (strings of lemmas), got {values!r}")
    return tuple(Phrase(tuple(v.lower().replace("ё", "е").split())) for v in values)


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
