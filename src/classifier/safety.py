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
from itertools import chain
from pathlib import Path

from .decision import Override
from .features import Prepared, prepare
from .lemmatize import Token
from .phrases import FuzzyLexicon, Match, Phrase, find_phrase
from .rulebook import Rule, RulesError, Verdict, Vocabulary, read_rules

__all__ = ["RulesError", "SafetyRules", "Verdict"]


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
