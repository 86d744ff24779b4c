"""When did it happen: now, today, earlier, planned, or only supposed.

A rule that needs the event to be now (`needs_now` in the rules file) fires only when this says
`now` or `today`: the guide's critical is a life in danger right now, or a death during, at or
right after the visit. The decision reads, in this order:

1. time words in the trigger's own clause («вчера», «2 ноября», «если», «завтра»), or in the
   clause it depends on when it opens with «когда» or «пока» («месяц назад Лена спасла собаку,
   когда та подавилась»), or in the clause telling it, for a «что» clause in the past («Вчера
   клиентка написала, что Люси умерла»); a bare part of the day («ночью») there is a part of the
   day of a story dated earlier before it; a condition or question earlier in its sentence («что
   будет, если ситтер не заметит, что собака подавилась»);
2. the tense of the trigger's verb, or of the verb right before an infinitive («начнёт
   задыхаться»): present is now («не дышит»), future is planned («умрёт»); a present told in the
   past («писала, что кот тяжело дышит») is today;
3. time words elsewhere in its sentence — those saying now or today from any clause, those
   saying earlier, planned or supposed only from a clause without a verb of its own
   («Кот умер в субботу вечером — через два дня после прогулки»), since a clause with its own
   verb speaks of its own event («Собака не дышит, в субботу оставили с ситтером»); a trigger
   without a verb («отравление») takes them from any clause of its sentence, and a sentence with
   no verb at all («…в понедельник она умерла. Отравление.») from the sentence before;
4. for a past trigger, or one without a verb in a sentence without a present verb (a saying,
   «врач говорит», does not count): the time of the story told before it, when an earlier clause
   or sentence dates it as earlier (`_story_dated_earlier`);
5. for a trigger in the past or without a verb, unless the message also says now or today: a
   clause dating the event anywhere («Это произошло 23 мая»), then the marks of a report written
   later («прошла неделя», «пишу повторно»).
Otherwise the event is taken to be today: a message that reports a death without saying when
reports a recent one, and a missed emergency costs more than a needless call.

Dates («2 ноября», «12-го октября», «6-го числа», «02.11.2026»), weekdays («в субботу», «в прошлую
пятницу») and weekends («на выходных», on a working day) are compared with the day the message
arrived (`received`); without it, with today.

Longer than 300 lines because the decision is one ordered reading of a message, and its steps
(calendar marks, spans of days, the story's time) share the message model and read best together.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from .lemmatize import Token

CURRENT = ("now", "today")
KINDS = ("now", "today", "earlier", "planned", "hypothetical")
# Within one clause, the more specific word wins: «вчера утром» is yesterday.
PRIORITY = {"hypothetical": 0, "planned": 1, "earlier": 2, "now": 3, "today": 4}
_DOTTED_DATE = re.compile(r"^(\d{1,2})[./](\d{1,2})(?:[./](\d{2}|\d{4}))?$")
_DAY = re.compile(r"^(\d{1,2})(?:-?(?:го|е|ого))?$")
PART_OF_MONTH = frozenset({"начало", "конец", "середина"})
# «на выходных», «в выходные»: the plural of «выходной», as written
WEEKEND = frozenset({"выходных", "выходные", "выходным"})
SATURDAY = 5
# «<count> <unit> назад»: what a time that long ago is.
AGO = {
    "секунда": "now",
    "минута": "now",
    "минутка": "now",
    "час": "today",
    "день": "earlier",
    "сутки": "earlier",
    "неделя": "earlier",
    "месяц": "earlier",
    "год": "earlier",
    "полчаса": "now",
    "полдень": "today",  # «полдня назад», as pymorphy3 reads it
    "полгода": "earlier",
}
# «весной», «летом»: a season as the time of the event, never today's word for it; the
# trigger's tense says whether it was (earlier) or will be (planned), as for a weekday.
SEASONS = frozenset(["весной", "летом", "осенью", "зимой"])
COUNTS = frozenset(
    [
        "один",
        "два",
        "три",
        "четыре",
        "пять",
        "шесть",
        "семь",
        "восемь",
        "девять",
        "десять",
        "пара",
        "несколько",
        "много",
    ]
)
FUTURE_DATE_SLACK = 60  # days: «28 декабря» read on 3 January is last year's
# Parts of the day, which by themselves say the part of the story's day.
PARTS_OF_DAY = frozenset({"утром", "днем", "днём", "вечером", "ночью", "с утра"})
# «это произошло/случилось/было …»: a clause saying when the event told happened.
HAPPENED = frozenset({"произойти", "случиться", "быть"})
# Verbs of saying or thinking, whose present is the time of the saying only.
SAYING = frozenset(
    {
        "говорить",
        "считать",
        "думать",
        "подозревать",
        "писать",
        "утверждать",
        "предполагать",
        "уверять",
        "просить",  # «прошу отменить подписку»: a request, not a state of now
    }
)
# A clause opened by these takes its time from the clause before it.
DEPENDENT = frozenset({"когда", "пока"})
# An infinitive trigger after these is a possibility («может отравиться»), supposed when its
# sentence also holds a condition.
MODALS = frozenset({"мочь"})


@dataclass(frozen=True, slots=True)
class When:
    kind: str  # one of KINDS
    words: tuple[str, ...] = ()  # the words that decided, as written
    reason: str = ""
    by_tense: bool = False  # decided by a verb's tense, not by a time word
    own_clause: bool = False  # decided by a time word in the trigger's own clause
    assumed: bool = False  # nothing said when: taken as today

    @property
    def current(self) -> bool:
        return self.kind in CURRENT

    @property
    def now_of_its_own(self) -> bool:
        """Now by the trigger's own verb or clause («не дышит», «сейчас упал»), not by a «сейчас»
        elsewhere in its sentence, which may speak of another event («покусала, сейчас
        поправляется»)."""
        return self.kind == "now" and (self.by_tense or self.own_clause)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "words": list(self.words), "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Mark:
    """A time word found in a message: which kind, where, the words."""

    kind: str
    positions: tuple[int, ...]
    words: tuple[str, ...]


@dataclass(frozen=True)
class Calendar:
    """The lemmas the time decision reads besides its phrases (from the rules file)."""

    months: tuple[str, ...]
    weekdays: tuple[str, ...]
    last: frozenset[str]
    next: frozenset[str]


def calendar_marks(tokens: Sequence[Token], calendar: Calendar, received: date) -> list[Mark]:
    """Dates, months and weekdays in the message, each with the kind it has against `received`.
    A weekday's or another month's kind is settled later, by the trigger's tense (`weekday`)."""
    marks = []
    for i, token in enumerate(tokens):
        found = None
        day_of = _day(tokens[i - 1].text) if i > 0 else None
        if token.lemma in calendar.months and day_of is not None:
            found = _date(day_of, calendar.months.index(token.lemma) + 1, None)
            where = (i - 1, i)
        elif token.lemma == "число" and day_of is not None:
            # «6-го числа», «по 7 число»: a day of the month the message arrived in, or of the
            # month before when that day is still to come
            month = received.month if day_of <= received.day else (received.month - 2) % 12 + 1
            found = _date(day_of, month, received.year - (month > received.month))
            where = (i - 1, i)
        elif (day_of := _bare_day(tokens, i)) is not None:
            # «умерла 10-го, а …»: a day of the month by itself, at the end of its clause (not
            # «с 5-го этажа»), as «10-го числа»
            month = received.month if day_of <= received.day else (received.month - 2) % 12 + 1
            found = _date(day_of, month, received.year - (month > received.month))
            where = (i,)
        elif (dotted := _DOTTED_DATE.match(token.text)) is not None and not _rating(token.text):
            day, month, year = dotted.groups()
            found = _date(int(day), int(month), int(year) if year else None)
            where = (i,)
        if found is not None:
            marks.append(Mark(_against(found, received), where, _words(tokens, where)))
        elif (
            token.lemma in calendar.months
            and (start := _month_start(tokens, i)) is not None
            and calendar.months.index(token.lemma) + 1 != received.month
        ):
            # «в августе», «в конце октября» without a day: another month, so not today; the
            # trigger's tense says whether it was (earlier) or will be (planned), as for a weekday.
            where = tuple(range(start, i + 1))
            marks.append(Mark("weekday", where, _words(tokens, where)))
        elif token.text.lower() in SEASONS:
            marks.append(Mark("weekday", (i,), _words(tokens, (i,))))
        elif token.lemma == "назад" and i > 0 and tokens[i - 1].lemma in AGO:
            # «4 дня назад», «пару часов назад», «20 минут назад»: any count, not only the ones
            # the phrases spell out
            start = i - 2 if i > 1 and _is_count(tokens[i - 2]) else i - 1
            where = tuple(range(start, i + 1))
            marks.append(Mark(AGO[tokens[i - 1].lemma], where, _words(tokens, where)))
        elif AGO.get(token.lemma) == "earlier" and (lead := _lead(tokens, i)) is not None:
            # «спустя десять дней», «прошло три недели», «неделю спустя»: earlier; «через два
            # дня»: earlier or planned, by the trigger's tense, as for a weekday
            start = i - 1 if lead > i and i > 0 and _is_count(tokens[i - 1]) else min(lead, i)
            where = tuple(range(start, max(lead, i) + 1))
            kind = "weekday" if tokens[lead].lemma == "через" else "earlier"
            marks.append(Mark(kind, where, _words(tokens, where)))
        elif (
            token.text in WEEKEND
            and received.weekday() < SATURDAY
            and (weekend := _weekend(tokens, i, calendar)) is not None
        ):
            # «на выходных», «в прошлые выходные»: read on a working day, not today; a weekend
            # read on a weekend may be today, and is left to the other words
            marks.append(Mark(weekend[0], weekend[1], _words(tokens, weekend[1])))
        elif token.lemma in calendar.weekdays:
            before = tokens[i - 1].lemma if i > 0 else ""
            if before in calendar.last:
                kind = "earlier"
            elif before in calendar.next:
                kind = "planned"
            elif calendar.weekdays.index(token.lemma) == received.weekday():
                # today's own weekday: said of a past event it is a week ago, since a writer
                # says «сегодня» for today; of a present one or a question, today
                kind = "this_weekday"
            else:
                kind = "weekday"
            where = (i - 1, i) if before in calendar.last | calendar.next else (i,)
            marks.append(Mark(kind, where, _words(tokens, where)))
    return marks


# Earlier, but close enough that what follows may be today's: a story begun «вчера» can go on
# to this morning; not carried over to the sentences after it.
RECENT = frozenset({"вчера"})
# Words that make a span of days a time of the event: «спустя/через <N> дней», «прошло <N>
# дней», «<N> дней спустя», «<N> дней прошло».
SPAN_LEADS = frozenset({"спустя", "через", "пройти"})


def elapsed(tokens: Sequence[Token], mark: Mark) -> bool:
    """Whether `mark` says how long ago, counted to the writing («2 недели прошло», «прошло три
    дня»): the mark of a report written later, as «прошла неделя» in the rules file."""
    return mark.kind == "earlier" and any(tokens[p].lemma == "пройти" for p in mark.positions)


def _lead(tokens: Sequence[Token], unit: int) -> int | None:
    """The position of the word that makes the unit of time at `unit` a span («спустя» in
    «спустя десять дней»), if there is one."""
    before = unit - 2 if unit > 1 and _is_count(tokens[unit - 1]) else unit - 1
    if before >= 0 and tokens[before].lemma in SPAN_LEADS:
        return before
    if unit + 1 < len(tokens) and tokens[unit + 1].lemma in ("спустя", "пройти"):
        return unit + 1  # «неделю спустя», «2 недели прошло»
    return None


def _story_earlier(tokens: Sequence[Token], mark: Mark) -> bool:
    """Whether a time word of an earlier clause or sentence dates the story as earlier: a date,
    «на прошлой неделе», «три дня назад» by itself; a weekday, a month or «через два дня» only
    said with a past verb (`_said_in_past`: «в пятницу был визит», «В субботу, после визита,
    кот выпал из окна», not «с понедельника одна прогулка»)."""
    if mark.words[0].lower() in RECENT:
        return False
    if mark.kind == "earlier":
        return True
    if mark.kind not in ("weekday", "this_weekday"):
        return False
    return _said_in_past(tokens, mark.positions[0])


def _rating(text: str) -> bool:
    """«1/5», «4/10»: a rating, not a date."""
    parts = text.split("/")
    return len(parts) == 2 and parts[1] in ("5", "10")


def _verb_lemma(token: Token) -> bool:
    """An infinitive-looking lemma: a verb, whose tense a verb before it may give
    («начнёт задыхаться»); a noun («врач говорит отравление») takes none."""
    return token.lemma.endswith(("ть", "ться", "чь", "чься", "ти", "тись"))


def _month_start(tokens: Sequence[Token], i: int) -> int | None:
    """Where «в августе», «в конце октября», «в начале мая» begins, for the month at `i`."""
    j = i - 1
    if j >= 0 and tokens[j].lemma in PART_OF_MONTH:
        j -= 1
    return j if j >= 0 and tokens[j].lemma in ("в", "во") else None


def _weekend(tokens: Sequence[Token], i: int, calendar: Calendar) -> tuple[str, tuple] | None:
    """The kind and positions of «на выходных», «в выходные», «на прошлых/следующих выходных»
    at the word «выходных» in position `i`; None for «беру выходной» and the like."""
    start = i - 1
    kind = "weekday"
    if start >= 0 and tokens[start].lemma in calendar.last | calendar.next:
        kind = "earlier" if tokens[start].lemma in calendar.last else "planned"
        start -= 1
    if start >= 0 and tokens[start].lemma in ("на", "в", "во"):
        return kind, tuple(range(start, i + 1))
    return None


_BARE_DAY = re.compile(r"^(\d{1,2})-(?:го|ого)$")


def _bare_day(tokens: Sequence[Token], i: int) -> int | None:
    """The day of a bare «10-го» that ends its clause or is followed by a part of the day."""
    found = _BARE_DAY.match(tokens[i].text)
    if found is None:
        return None
    after = tokens[i + 1] if i + 1 < len(tokens) else None
    ends = after is None or after.clause != tokens[i].clause
    return int(found.group(1)) if ends or after.text.lower() in PARTS_OF_DAY else None


def _day(text: str) -> int | None:
    """The day of «12 октября», «12-го октября», «6-го числа», «по 7 число»."""
    found = _DAY.match(text)
    return int(found.group(1)) if found else None


def _is_count(token: Token) -> bool:
    return token.text.isdigit() or token.lemma in COUNTS


def _date(day: int, month: int, year: int | None) -> tuple[int, int, int | None] | None:
    if 1 <= day <= 31 and 1 <= month <= 12:
        return day, month, (year + 2000 if year is not None and year < 100 else year)
    return None


def _against(found: tuple[int, int, int | None], received: date) -> str:
    day, month, year = found
    try:
        when = date(year or received.year, month, day)
    except ValueError:
        return "earlier"
    if year is None and when - received > timedelta(days=FUTURE_DATE_SLACK):
        when = when.replace(year=when.year - 1)
    return "today" if when == received else "earlier" if when < received else "planned"


def _told(tokens: Sequence[Token], marks: Sequence[Mark], first: int) -> list[Mark]:
    """The time words of the story told before the trigger at `first`, in order; a part of the
    day by itself («ночью») says which part of the story's day, not which day."""
    return sorted(
        (m for m in marks if m.positions[-1] < first and not _part_of_day(m)),
        key=lambda m: m.positions[0],
    )


def _dates_the_event(tokens: Sequence[Token], mark: Mark) -> bool:
    """Whether `mark` is said in a clause that dates the event told: «Это произошло 23 мая»,
    «это было в пятницу», «случилось это неделю назад»."""
    first = tokens[mark.positions[0]]
    lemmas = {t.lemma for t in tokens if t.sentence == first.sentence and t.clause == first.clause}
    return "это" in lemmas and bool(lemmas & HAPPENED)


def told_later(tokens: Sequence[Token], marks: Sequence[Mark], late_report: Sequence[Mark]):
    """The time words that say a whole message tells of an earlier event, or None: a report
    written later («прошла неделя», «городской суд»; a review's «отзыв» is not enough), a date,
    a span of days ago, a weekday said in the past — when nothing in it says now or today and no
    verb but a saying is in the present. «Вчера» is not enough: a death yesterday, the day of a
    visit, is still critical.
    For a message no rule fired on, whose `critical` is the model's alone."""
    if any(m.kind in CURRENT and not _part_of_day(m) for m in marks):
        return None
    if any(t.tense == "pres" and t.lemma not in SAYING for t in tokens):
        return None
    # a review is written after the visit, but may be written the hour a death was found
    late = [m for m in late_report if m.kind == "late_report"]
    if late:
        return late[0]
    for m in marks:
        if m.kind == "earlier" and m.words[0].lower() not in RECENT:
            return m
        weekday = m.kind in ("weekday", "this_weekday")
        if weekday and _said_in_past(tokens, m.positions[0]):
            return m
    return None


def _story_sentence(tokens: Sequence[Token], told: Sequence[Mark]) -> list[Mark]:
    """The time words of the last sentence of the story that has any: the story's time is read
    over that whole sentence, not from its last word only."""
    if not told:
        return []
    last = tokens[told[-1].positions[0]].sentence
    return [m for m in told if tokens[m.positions[0]].sentence == last]


def _story_dated_earlier(tokens: Sequence[Token], told: Sequence[Mark]) -> Mark | None:
    """The time word that dates the story told as earlier, read in the last sentence that has
    time words, not only its last one: «умер в воскресенье вечером, через два дня после
    визита» is dated by the Sunday."""
    dating = _story_sentence(tokens, told)
    return next((m for m in reversed(dating) if _story_earlier(tokens, m)), None)


def _story_dated_today(tokens: Sequence[Token], told: Sequence[Mark]) -> Mark | None:
    """The time word that dates the story told as today: «сегодня» (not «сейчас», which may
    be the writing's own time: «сейчас расскажу по порядку») in the last sentence that has
    time words, when no word there dates it otherwise."""
    dating = _story_sentence(tokens, told)
    if not dating or any(m.kind != "today" for m in dating):
        return None
    return dating[-1]


def _part_of_day(mark: Mark) -> bool:
    return " ".join(mark.words).lower() in PARTS_OF_DAY


def _said_in_past(tokens: Sequence[Token], position: int) -> bool:
    """Whether the time word at `position` is said with a past verb: its clause's, or, for a
    clause without a verb («В четверг утром, после визита, нашли попугая»), its sentence's
    first."""
    tense = _clause_tense(tokens, position)
    if not tense:
        sentence = tokens[position].sentence
        tense = next((t.tense for t in tokens if t.tense and t.sentence == sentence), "")
    return tense == "past"


def _clause_tense(tokens: Sequence[Token], position: int) -> str:
    """The tense of the first verb in the clause holding `position`, or ""."""
    token = tokens[position]
    return next(
        (
            t.tense
            for t in tokens
            if t.tense and t.sentence == token.sentence and t.clause == token.clause
        ),
        "",
    )


def _telling_tense(tokens: Sequence[Token], start: int) -> str:
    """For a clause opened by «что» at `start`, the tense of the clause right before it, which
    tells it («написала, что…»); "" otherwise."""
    if tokens[start].lemma != "что" or start == 0:
        return ""
    return _clause_tense(tokens, start - 1)


def _head_start(tokens: Sequence[Token], position: int) -> int:
    """The start of the clause holding `position`, read across the relative clauses that
    interrupt it: in «что кот, у которого я была на прошлой неделе, умер» the «умер» continues
    «что кот», which has no verb of its own."""
    start = _clause_start(tokens, position)
    while start > 0:
        relative = _clause_start(tokens, start - 1)
        if relative == 0 or not _relative(tokens, relative):
            break
        interrupted = _clause_start(tokens, relative - 1)
        if tokens[interrupted].sentence != tokens[start].sentence or _clause_tense(
            tokens, interrupted
        ):
            break
        start = interrupted
    return start


def _relative(tokens: Sequence[Token], start: int) -> bool:
    """Whether the clause at `start` is a relative one: «который», «у которого», «в котором»."""
    return any(
        tokens[p].lemma == "который" and tokens[p].clause == tokens[start].clause
        for p in (start, start + 1)
        if p < len(tokens)
    )


def _clause_start(tokens: Sequence[Token], position: int) -> int:
    clause, start = tokens[position].clause, position
    while start > 0 and tokens[start - 1].clause == clause:
        start -= 1
    return start


def _auxiliary(tokens: Sequence[Token], position: int) -> int | None:
    """The position of a verb with a tense right before an infinitive trigger («начнёт
    задыхаться»), whose tense the trigger takes."""
    for j in (position - 1, position - 2):
        if j >= 0 and tokens[j].clause == tokens[position].clause and tokens[j].tense:
            return j
    return None


def _words(tokens: Sequence[Token], where: Sequence[int]) -> tuple[str, ...]:
    return tuple(tokens[p].text for p in where)


def decide(
    tokens: Sequence[Token],
    trigger: Sequence[int],
    marks: Sequence[Mark],
    late_report: Sequence[Mark],
    has_verb: Callable[[int], bool],
) -> When:
    """When the event of the trigger at `trigger` (token positions) happened.

    `marks` are the message's time words (phrases and calendar), `late_report` the marks of a
    report written later, `has_verb(clause)` whether a clause has a verb of its own."""
    first, last = trigger[0], trigger[-1]
    clause, sentence = tokens[first].clause, tokens[first].sentence
    verb = next((p for p in trigger if tokens[p].tense), None)
    helper = (
        None if verb is not None or not _verb_lemma(tokens[first]) else _auxiliary(tokens, first)
    )
    source = verb if verb is not None else helper  # the word whose tense the trigger has
    tense = tokens[source].tense if source is not None else ""
    if helper is not None:
        tense_words = (tokens[helper].text, tokens[last].text)
    else:
        tense_words = (tokens[source if source is not None else last].text,)
    tense_of = "the verb before the trigger" if helper is not None else "the trigger's verb"

    def settle(mark: Mark) -> str:
        if mark.kind not in ("weekday", "this_weekday"):
            return mark.kind
        # a trigger without a verb («…в понедельник она умерла. Отравление.») takes the tense of
        # the verb the weekday is said with
        said = tense or _clause_tense(tokens, mark.positions[0])
        if mark.kind == "this_weekday":
            return {"futr": "planned", "past": "earlier"}.get(said, "today")
        return "planned" if said == "futr" else "earlier"

    # «Вчера клиентка написала, что Люси умерла»: what was told happened no later than the
    # telling, so a past trigger in a «что» clause takes the time of the clause telling it; so
    # does a present one told in the past («днём писала, что кот тяжело дышит»), which Russian
    # keeps in the present
    # the clause's first word, read across relative clauses (`_head_start`)
    start = _head_start(tokens, first)
    telling = _telling_tense(tokens, start)
    told_in_past = tense == "pres" and telling == "past"
    told_by = tokens[start].lemma in DEPENDENT or (telling and tense == "past") or told_in_past
    # a trigger across a clause break («кота Рыжика — его не стало в августе») is in both; one
    # after a relative clause («что кот, у которого я была на прошлой неделе, умер») continues
    # the clause it interrupted, and the relative clause says of what it tells
    head = tokens[start].clause
    clauses = set(range(head, clause + 1)) | {tokens[last].clause}
    if told_by:
        clauses.add(head - 1)
    own = [
        m
        for m in marks
        if tokens[m.positions[0]].clause in clauses and tokens[m.positions[0]].sentence == sentence
    ]
    if own:
        best = min(own, key=lambda m: (PRIORITY[settle(m)], abs(m.positions[0] - first)))
        if _part_of_day(best) and tense != "pres":
            story = _story_dated_earlier(tokens, _told(tokens, marks, first))
            if story is not None:
                # «3 марта приходила ситтер. … Ночью в клинике он умер.»: the story's night
                return When("earlier", story.words, "a part of the day of the story told before it")
        return When(
            settle(best), best.words, "a time word in the trigger's clause", own_clause=True
        )
    conditions = [
        m for m in marks if m.kind == "hypothetical" and tokens[m.positions[0]].sentence == sentence
    ]
    supposed = [m for m in conditions if m.positions[-1] < first]
    if supposed:
        return When("hypothetical", supposed[-1].words, "a condition or question before it")
    if conditions and helper is not None and tokens[helper].lemma in MODALS:
        # «может отравиться, если ситтер угостит» — a possibility under a condition
        return When("hypothetical", conditions[0].words, "«может» with a condition in its sentence")
    if told_in_past:
        return When("today", tense_words, "the present of what was told in the past")
    if tense == "pres":
        return When("now", tense_words, f"{tense_of} is in the present tense", by_tense=True)
    if tense == "futr":
        return When("planned", tense_words, f"{tense_of} is in the future tense", by_tense=True)
    near = [
        m
        for m in marks
        if tokens[m.positions[0]].sentence == sentence
        and (settle(m) in CURRENT or not tense or not has_verb(tokens[m.positions[0]].clause))
    ]
    if near:
        best = min(near, key=lambda m: (PRIORITY[settle(m)], abs(m.positions[0] - first)))
        if _part_of_day(best) and tense != "pres":
            story = _story_dated_earlier(tokens, _told(tokens, marks, first))
            if story is not None:
                # «В конце октября… Вечером начались судороги, ночью его не стало»
                return When("earlier", story.words, "a part of the day of the story told before it")
        return When(settle(best), best.words, "a time word in the trigger's sentence")
    if not tense and not any(t.tense for t in tokens if t.sentence == sentence):
        # A sentence without a verb continues the one before it: «…в понедельник она умерла.
        # Отравление.» The last time word of that sentence holds.
        before = [m for m in marks if tokens[m.positions[0]].sentence == sentence - 1]
        if before:
            mark = before[-1]
            return When(settle(mark), mark.words, "a time word in the sentence it continues")
    # «врач говорит отравление»: the present of a saying is not the time of what is said
    in_present = any(
        t.tense == "pres" and t.lemma not in SAYING for t in tokens if t.sentence == sentence
    )
    past_story = tense == "past" or (not tense and not in_present)
    if past_story:
        # A story goes on from clause to clause and sentence to sentence: a past trigger with
        # no time word of its own happened when the last time word before it says («16
        # сентября у нас умерла шиншилла. … спасти её не удалось»; «Десять дней назад ситтер
        # подрезала когти, шла кровь»).
        told = _told(tokens, marks, first)
        earlier = _story_dated_earlier(tokens, told)
        if earlier is not None:
            return When("earlier", earlier.words, "the time of the story told before it")
        # and today when the story's last time word says so («Прогулка сегодня 18:00–19:00.
        # … Пират умер на прогулке»)
        today = _story_dated_today(tokens, told)
        if today is not None:
            return When("today", today.words, "the time of the story told before it")
    said_current = any(settle(m) in CURRENT for m in marks)
    if past_story and not said_current:
        dated = (m for m in marks if settle(m) == "earlier" and _dates_the_event(tokens, m))
        if (mark := next(dated, None)) is not None:
            return When("earlier", mark.words, "the message dates the event («это было …»)")
    if late_report and not said_current:
        mark = late_report[0]
        return When("earlier", mark.words, "the message reports it later")
    return When("today", (), "nothing says otherwise: taken as today", assumed=True)
