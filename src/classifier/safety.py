"""Safety override: rules that never let a life-threatening message through as routine.

Read like razdel's tokenizer: an ordered list of small named rules, the first that fires
decides, and a debug view (`explain`) says what every rule thought and why. The vocabulary lives
in `data/safety_rules.yaml`, written in natural Russian for quality staff and lemmatized at load
(`rulebook`).

A rule matches a phrase of lemmas in order, with up to `gap` other words between them, so that
«не дышит», «не дышал» and «перестала дышать» all match. Words of five letters or more also match
with one typo («атравилась», «кравь»). A match is then judged, in this order:

1. inside an idiom («кровь из носу надо»), an imperative curse, or quoted words: not an event;
2. a negation of the matched words («не отравилась», «крови нет»);
3. the cues the rule names in `cancelled_by` — each cue word counts only within its set's word
   window of the trigger, in the same clause or sentence; phrases of several words in the
   sentence, or `reach` sentences around it; a set marked `spares_now` (settled) never cancels
   a trigger that is now by its own verb or clause, and a set's `unless` phrases anywhere in the
   message void it («давно болела» cancels a death, not one «на прогулке»);
4. the time decision (`timing`): a rule with `needs_now` fires only for an event now or today.
A rule fires only in a message about pets or the service (the `context` words), and a rule with
`near` words only when one of them is within its reach of the trigger.

Longer than 300 lines because the hot path (`check`), the debug view (`explain`) and the file's
own examples must judge a match by one and the same code, which needs the message model here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import chain
from pathlib import Path

from .decision import Override
from .domain import any_word
from .features import Prepared, prepare
from .lemmatize import Token, morph
from .phrases import FuzzyLexicon, Match, Phrase, find_phrase
from .records import parse_received_at
from .rulebook import CueSet, Rule, RulesError, Verdict, Vocabulary, read_rules
from .timing import KINDS, Mark, When, calendar_marks, decide, elapsed, told_later

__all__ = ["RulesError", "SafetyRules", "Verdict"]


# Words that make a dated telling another event than the one taken as today: «Кот умер. Прошлой
# зимой так же умерла кошка», «её брат тоже умер в мае».
_ANOTHER_EVENT = frozenset({"тоже", "также", "другой", "предыдущий", "прежний", "второй", "первый"})


def _another(match: Match, tokens: Sequence[Token]) -> bool:
    """Whether the clause of `match` says it tells of another event («тоже», «другой», …)."""
    first = tokens[match.positions[0]]
    return any(
        t.sentence == first.sentence
        and t.clause == first.clause
        and (t.lemma in _ANOTHER_EVENT or t.text.lower() == "так")
        for t in tokens
    )


# Adverbs a negation after the trigger may follow: «судорог пока не было».
_BEFORE_AFTER_NEGATION = frozenset({"пока", "еще", "уже", "больше", "вообще", "так", "точно"})


@dataclass
class _Message:
    """One message as the rules read it; the time marks are found once, when first needed."""

    tokens: Sequence[Token]
    present: frozenset[str]
    received: date
    idioms: frozenset[int] = frozenset()
    cited: frozenset[int] = frozenset()  # tokens of pasted news: a long «…» the press words frame
    _marks: tuple[list[Mark], list[Mark]] | None = None


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
        rules, vocabulary, source = read_rules(path)
        return cls(rules, vocabulary, source)

    # The hot path: first rule that fires wins. It decides as `explain` does, but judges only
    # the rules with a phrase all of whose words the message holds.
    def check(self, item: Prepared, received: date | datetime | None = None) -> Override | None:
        present = self.words_in(item.tokens)
        candidates = sorted(
            {
                n
                for key in present.intersection(self._phrases_by_key)
                for n, phrase in self._phrases_by_key[key]
                if phrase.needs <= present
            }
        )
        if not candidates:
            return None
        message, in_context = self._message(item, present, received), None
        for rule in map(self.rules.__getitem__, candidates):
            if rule.needs_context:
                if in_context is None:
                    in_context = self._in_context(item.tokens)
                if not in_context:
                    continue
            verdict = self._judge(rule, message)
            if verdict.fired:
                return Override(rule.id, verdict.matched, rule.action, rule.category, verdict.when)
        return None

    def explain(self, item: Prepared, received: date | datetime | None = None) -> list[Verdict]:
        """Every rule's verdict on one message, with the reason: the debug view."""
        message = self._message(item, self.words_in(item.tokens), received)
        in_context = self._in_context(item.tokens)
        return [
            self._judge(rule, message)
            if in_context or not rule.needs_context
            else Verdict(rule.id, False, (), "no pet or service words in the message")
            for rule in self.rules
        ]

    def told_later(self, item: Prepared, received: date | datetime | None = None) -> Mark | None:
        """The time words by which the whole message tells of an earlier event, if it does
        (`timing.told_later`): the model's own `critical` then stands only as `high`."""
        message = self._message(item, self.words_in(item.tokens), received)
        return told_later(message.tokens, *self._marks(message))

    def dismissed(self, item: Prepared, received: date | datetime | None = None) -> str | None:
        """What the rules read the message's alarming words as, when they read them as not an
        emergency at all: an idiom («спит как убитый»), or pasted news (`pasted_news`) or a cue
        of a set marked `stands_model_down` (a joke, the news, a vet's all-clear, a question)
        when no other sentence says now, or anywhere in the message one marked
        `dismisses_message` (laughter, an all-clear). For a message no rule fired on: the
        model's own `critical` then stands only as `high`, for review. Other cues (a negation,
        care given, a time) say less of the words the model read, and do not: «…укол нужен
        вовремя, если нет — может задохнуться» is a condition in a live emergency."""
        present = self.words_in(item.tokens)
        message = None
        # in the file's order, as `check` reads it, so that the reason given is always the same
        for rule in self.rules:
            for phrase in rule.phrases:
                if not phrase.needs <= present:
                    continue
                message = message or self._message(item, present, received)
                for match in self._find(message, phrase):
                    said = " ".join(match.words)
                    if message.idioms & set(match.positions):
                        return f"«{said}» as an idiom"
                    if message.cited.issuperset(match.positions) and not self._now_elsewhere(
                        message, match
                    ):
                        return f"«{said}» in pasted news"
                    cancel = self._cancelled(rule, phrase, match, message)
                    cue = cancel and self.vocabulary.cues.get(cancel[0])
                    if cue and cue.stands_model_down and not self._now_elsewhere(message, match):
                        return f"«{said}» as not an emergency: {cancel[1]}"
        for cue in self.vocabulary.cues.values():
            if not cue.dismisses_message:
                continue
            for phrase in cue.phrases:
                if not phrase.needs <= present:
                    continue
                message = message or self._message(item, present, received)
                if found := self._find(message, phrase):
                    said = " ".join(found[0].words)
                    return f"the whole message as not an emergency: {cue.kind} cue «{said}»"
        return None

    def _now_elsewhere(self, message: _Message, match: Match) -> bool:
        """Whether another sentence says now («сейчас», «15 минут назад»): the cancelled words
        are then a side story («в новостях было, что собаки погибли») of a live state the rules
        have no word for, which the model read («сейчас его трясёт, лежит на боку»)."""
        sentence = message.tokens[match.positions[0]].sentence
        marks, _ = self._marks(message)
        return any(
            m.kind == "now" and message.tokens[m.positions[0]].sentence != sentence for m in marks
        )

    def when(self, item: Prepared, positions: Sequence[int], received=None) -> When:
        """The time decision for the words at `positions` (for tests and the debug view)."""
        message = self._message(item, self.words_in(item.tokens), received)
        return self._when(message, positions)

    def example_failures(self) -> list[str]:
        """Each rule's `examples` that do not behave: a `fire` example this rule does not report,
        a `silent` one on which some rule fires. Empty when the file keeps its promises."""
        cases = [
            (rule, kind, example)
            for rule in self.rules
            for kind, examples in (("fire", rule.fire), ("silent", rule.silent))
            for example in examples
        ]
        received = [parse_received_at(example.received_at) for _, _, example in cases]
        fired = self.check_texts([example.text for _, _, example in cases], received)
        failures = []
        for (rule, kind, example), got in zip(cases, fired, strict=True):
            if kind == "fire" and (got is None or got.rule != rule.id):
                what = f"rule {got.rule}" if got else "no rule"
                failures.append(f"{rule.id}: must fire, got {what}: «{example.text}»")
            elif kind == "silent" and got is not None:
                said = f"{got.rule} fired on «{' '.join(got.matched)}»"
                failures.append(f"{rule.id}: must stay silent, {said}: «{example.text}»")
        return failures

    def check_texts(
        self, texts: list[str], received: Sequence[date | datetime | None] | None = None
    ) -> list[Override | None]:
        days = received or [None] * len(texts)
        return [self.check(item, day) for item, day in zip(prepare(texts), days, strict=True)]

    def words_in(self, tokens: Sequence[Token]) -> frozenset[str]:
        """Every word a phrase could match in these tokens: as written, lemmas, other readings,
        and the trigger words an unknown word is one typo away from."""
        present = {t.text for t in tokens}
        present.update([t.lemma for t in tokens], chain.from_iterable(t.readings for t in tokens))
        for t in tokens:
            if not t.known:
                present |= self.lexicon.lookup(t.text)
        return frozenset(present)

    # -- reading one message ---------------------------------------------------------------------
    def _message(self, item: Prepared, present, received) -> _Message:
        if isinstance(received, datetime):
            received = received.date()
        message = _Message(item.tokens, present, received or date.today())
        message.idioms = frozenset(
            p
            for idiom in self.vocabulary.idioms
            for m in self._find(message, idiom)
            for p in range(m.positions[0], m.positions[-1] + 1)
        )
        if self.vocabulary.press and "«" in item.text:
            message.cited = pasted_news(item, self.vocabulary.press)
        return message

    def _find(self, message: _Message, phrase: Phrase, tokens=None) -> list[Match]:
        tokens = message.tokens if tokens is None else tokens
        return find_phrase(tokens, phrase, self.lexicon, self.vocabulary.gap, message.present)

    def _in_context(self, tokens: Sequence[Token]) -> bool:
        context = self.vocabulary.context
        return not context or any_word(tokens, context)

    def _marks(self, message: _Message) -> tuple[list[Mark], list[Mark]]:
        """(time marks, marks of a report written later) of the message, found once."""
        if message._marks is None:
            time, tokens = self.vocabulary.time, message.tokens
            marks = [
                Mark(kind, m.positions, m.words)
                for kind in KINDS
                for phrase in time.phrases[kind]
                for m in self._find(message, phrase)
                if not message.idioms & set(m.positions)
            ]
            calendar = calendar_marks(tokens, time.calendar, message.received)
            marks += calendar
            late = [
                Mark("late_report", m.positions, m.words) for m in calendar if elapsed(tokens, m)
            ]
            late += [
                Mark(kind, m.positions, m.words)
                for kind in ("late_report", "review")
                for phrase in time.phrases[kind]
                for m in self._find(message, phrase)
            ]
            message._marks = (marks, late)
        return message._marks

    def _when(self, message: _Message, positions: Sequence[int]) -> When:
        marks, late = self._marks(message)
        tokens = message.tokens
        verbs = {t.clause for t in tokens if t.tense}
        return decide(tokens, positions, marks, late, verbs.__contains__)

    # -- judging one rule ------------------------------------------------------------------------
    def _judge(self, rule: Rule, message: _Message) -> Verdict:
        """The rule's verdict: it fires on the first match that passes every check, except that
        a match only taken as today (no word says when) waits for the rule's other matches —
        one event told twice, «собака умерла из-за меня. умерла в среду», is dated by the
        telling that dates it."""
        tokens, reasons = message.tokens, []
        assumed = dated = None
        for phrase in rule.phrases:
            if not phrase.needs <= message.present:
                continue
            for match in self._find(message, phrase):
                said = f"«{' '.join(match.words)}»"
                if message.idioms & set(match.positions):
                    reasons.append(f"{said} is inside an idiom")
                    continue
                if rule.skip_imperative and tokens[match.positions[0]].imperative:
                    reasons.append(f"{said} is an imperative, a curse")
                    continue
                if rule.skip_first_person and _first_person(tokens, match.positions):
                    reasons.append(f"{said} is the writer's of themself («я сдохну»)")
                    continue
                if rule.skip_quoted and all(
                    tokens[p].quoted or p in message.cited for p in match.positions
                ):
                    reasons.append(f"{said} is in quotation marks")
                    continue
                if rule.near and not self._near(rule, match, tokens):
                    reasons.append(f"{said}: none of the rule's `near` words around it")
                    continue
                cancel = self._cancelled(rule, phrase, match, message)
                if cancel:
                    reasons.append(f"{said} cancelled: {cancel[1]}")
                    continue
                when = self._when(message, match.positions)
                if rule.threat and when.kind == "planned" and when.by_tense:
                    when = When("now", when.words, "a threat: said now, of what he will do")
                if rule.needs_now and not when.current:
                    words = f" («{' '.join(when.words)}»)" if when.words else ""
                    reasons.append(f"{said} held back: {when.kind}{words}, {when.reason}")
                    if when.kind == "earlier" and when.own_clause and not _another(match, tokens):
                        dated = dated or (said, words)
                    continue
                verdict = Verdict(rule.id, True, match.words, f"matched «{phrase.text}»", when)
                if not (rule.needs_now and when.assumed):
                    return verdict
                assumed = assumed or verdict
        if assumed is not None and dated is None:
            return assumed
        if assumed is not None:
            said, words = dated
            reasons.append(
                f"«{' '.join(assumed.matched)}» is told again as {said}, dated earlier{words}"
            )
        return Verdict(rule.id, False, (), "; ".join(reasons) or "no trigger")

    @staticmethod
    def _near(rule: Rule, match: Match, tokens: Sequence[Token]) -> bool:
        """Whether one of the rule's `near` words is within `near_reach` sentences of the
        match."""
        sentence = tokens[match.positions[0]].sentence
        around = [t for t in tokens if abs(t.sentence - sentence) <= rule.near_reach]
        return any_word(around, rule.near) or any(t.text.lower() in rule.near for t in around)

    def _cancelled(
        self, rule: Rule, phrase: Phrase, match: Match, message
    ) -> tuple[str, str] | None:
        """(the cue kind, what cancelled it) when something cancels this match."""
        if "negation" in rule.cancelled_by:
            negator = self._negator(phrase, match, message.tokens)
            if negator:
                return "negation", negator
        for kind in rule.cancelled_by:
            cue = self.vocabulary.cues.get(kind)
            found = cue and self._cue(cue, match, message)
            if found and any(self._find(message, p) for p in cue.unless):
                continue
            if found and (cue.spares_now or cue.spares_today):
                when = self._when(message, match.positions)
                if when.now_of_its_own or (cue.spares_today and when.current and not when.assumed):
                    continue
            if found:
                return kind, f"{kind} cue «{found}»"
        return None

    def _cue(self, cue: CueSet, match: Match, message: _Message) -> str | None:
        """The words of `cue` that cancel this match, if any (see `CueSet` for where)."""
        tokens = message.tokens
        first, last = match.positions[0], match.positions[-1]
        trigger = tokens[first]

        def near(j: int) -> bool:
            if cue.within == "clause":
                return tokens[j].clause == trigger.clause and tokens[j].sentence == trigger.sentence
            return tokens[j].sentence == trigger.sentence

        window = [
            j
            for j in range(max(0, first - cue.window), min(len(tokens), last + cue.window + 1))
            if j not in match.positions and near(j)
        ]
        for j in window:
            if j < first and tokens[j].lemma in cue.before_only:
                return tokens[j].text
        for phrase in cue.phrases:
            if not phrase.needs <= message.present:
                continue
            if len(phrase.lemmas) == 1:
                where = window
            else:
                where = [
                    j
                    for j, t in enumerate(tokens)
                    if abs(t.sentence - trigger.sentence) <= cue.reach
                ]
            scope = [tokens[j] for j in where]
            for found in self._find(message, phrase, scope):
                if cue.after_only and where[found.positions[0]] < last:
                    continue
                if cue.leads and where[found.positions[0]] > first:
                    continue
                if cue.negated_too or not self._negated(phrase, found, scope):
                    return " ".join(found.words)
        return None

    def _negated(self, phrase: Phrase, match: Match, tokens: Sequence[Token]) -> bool:
        """A cue said with a negation of its own is not the cue: «не поправился», «кровь не
        остановилась», «так и не нашли». Negators the phrase holds («не угрожает») do not count."""
        if set(phrase.lemmas) & self.vocabulary.negators:
            return False
        first, last = match.positions[0], match.positions[-1]
        span = range(max(0, first - 1), last + 1)
        return any(
            j not in match.positions
            and tokens[j].sentence == tokens[first].sentence
            and self._negates(tokens[j])
            for j in span
        )

    def _negates(self, token: Token) -> bool:
        """Whether a token is one of the file's negators, by its lemma or as written."""
        negators = self.vocabulary.negators
        return token.lemma in negators or token.text in negators

    def _negator(self, phrase: Phrase, match: Match, tokens) -> str | None:
        """A negation of the matched words: just before them («не отравилась»), between them
        («кровь не идёт»), or right after them («судорог не было», «крови нет»).
        Negators that are part of the phrase itself («не дышит») do not count."""
        v = self.vocabulary
        first, last = match.positions[0], match.positions[-1]
        sentence = tokens[first].sentence

        def is_negator(j: int) -> bool:
            return (
                0 <= j < len(tokens) and tokens[j].sentence == sentence and self._negates(tokens[j])
            )

        if not set(phrase.lemmas) & v.negators:
            before = range(max(0, first - v.negation_window), first)
            found = next((j for j in before if is_negator(j)), None)
            if found is not None:
                return f"negation «{tokens[found].text}» before it"
            inside = (j for j in range(first, last) if j not in match.positions)
            found = next((j for j in inside if is_negator(j)), None)
            if found is not None:
                return f"negation «{tokens[found].text}» inside it"
        after = last + 1
        if after < len(tokens) and tokens[after].lemma in _BEFORE_AFTER_NEGATION:
            after += 1  # «судорог пока не было», «крови больше нет»
        if is_negator(after) and (
            tokens[after].text == "нет"
            or (after + 1 < len(tokens) and tokens[after + 1].lemma == "быть")
        ):
            return f"negation «{' '.join(t.text for t in tokens[after : after + 2])}» after it"
        return None


_QUOTE_MARKS = re.compile("[«»]")


def pasted_news(item: Prepared, press: frozenset[str]) -> frozenset[int]:
    """The tokens inside a «…» quote of two sentences or more with a word of the press in the
    sentence before it, its first or last sentence outside the quote, or the sentence after it
    («Прочитала новость: «…. Собака погибла». Вы проверяете ситтеров?»).

    A quote of one sentence is quoted words already (`Token.quoted`); a long one by itself may
    be a client's own report dictated to a call note («Клиентка говорит: «Пришла, кот не
    дышит. …»»), so it needs the press beside it. Quotes are paired by nesting: the outlet's
    own «…» inside a story do not end it. An unclosed quote quotes nothing."""
    text, tokens = item.text, item.tokens
    spans, depth, start = [], 0, 0
    for mark in _QUOTE_MARKS.finditer(text):
        if mark.group() == "«":
            start = mark.start() if depth == 0 else start
            depth += 1
        elif depth:
            depth -= 1
            if depth == 0:
                spans.append((start, mark.start()))
    if not spans:
        return frozenset()
    offsets, at = [], 0
    for token in tokens:  # each token's place in the text, found in order
        found = text.find(token.text, at)
        offsets.append(found if found >= 0 else at)
        at = found + len(token.text) if found >= 0 else at
    cited = set()
    for begin, end in spans:
        inside = [j for j, o in enumerate(offsets) if begin < o < end]
        if not inside or tokens[inside[0]].sentence == tokens[inside[-1]].sentence:
            continue
        first, last = tokens[inside[0]].sentence - 1, tokens[inside[-1]].sentence + 1
        around = [
            t
            for j, t in enumerate(tokens)
            if first <= t.sentence <= last and not begin < offsets[j] < end
        ]
        if any_word(around, press):
            cited.update(inside)
    return frozenset(cited)


def _first_person(tokens: Sequence[Token], positions: Sequence[int]) -> bool:
    """Whether a verb of the match is in the first person («сдохну», «умираем»)."""
    analyzer = morph()
    for p in positions:
        tag = analyzer.parse(tokens[p].text)[0].tag
        if tag.POS == "VERB" and tag.person == "1per":
            return True
    return False
