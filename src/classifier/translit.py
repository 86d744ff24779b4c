"""Russian typed in Latin letters («sobaka ne dyshit», «4to delat'») read back in Cyrillic.

People without a Russian keyboard use many schemes at once: «y» for ы or й, «ja/ya/ia» for я,
«sh/w/6» for ш, «ch/4» for ч, «'» for ь. So each Latin word is spelled in Cyrillic every way the
schemes allow, and the first spelling the pymorphy3 dictionary knows wins (in the order of the
alternatives below, the most common first). A message is read back only when most of its Latin
words become dictionary words: an English «sorry» in a Russian chat, or a message in English,
stays as written.

cyrtranslit (maintained, one fixed scheme) reads «dyshit» as «дишит» and «4to» as «4то»: one
scheme cannot read what people type, hence the dictionary-checked alternatives here.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import islice, product

from .normalize import fold_yo

# Longest first: «shch» before «sh» before «s». Each maps to its spellings, most common first.
SPELLINGS: dict[str, tuple[str, ...]] = {
    "shch": ("щ",),
    "sch": ("щ", "сч"),
    "shh": ("щ",),
    "zh": ("ж",),
    "kh": ("х",),
    "ch": ("ч",),
    "sh": ("ш", "сх"),
    "ts": ("ц", "тс"),
    "tz": ("ц",),
    "yo": ("е", "йо", "ье"),
    "jo": ("е", "йо"),
    "io": ("е", "ио"),
    "ye": ("е", "ые", "йе", "ье"),
    "je": ("е",),
    "yu": ("ю", "ыу", "ью"),
    "ju": ("ю",),
    "iu": ("ю", "иу"),
    "ya": ("я", "ыа", "ья"),
    "ja": ("я",),
    "ia": ("я", "иа"),
    "''": ("ъ",),
    "a": ("а",),
    "b": ("б",),
    "c": ("ц", "к", "с"),
    "d": ("д",),
    "e": ("е", "э"),
    "f": ("ф",),
    "g": ("г",),
    "h": ("х",),
    "i": ("и", "й", "ы"),
    "j": ("й", "ж"),
    "k": ("к",),
    "l": ("л",),
    "m": ("м",),
    "n": ("н",),
    "o": ("о",),
    "p": ("п",),
    "q": ("к",),
    "r": ("р",),
    "s": ("с",),
    "t": ("т",),
    "u": ("у",),
    "v": ("в",),
    "w": ("ш", "в"),
    "x": ("х", "кс"),
    "y": ("ы", "й", "и"),
    "z": ("з",),
    "'": ("ь", ""),
    "`": ("ь",),
    "4": ("ч",),
    "6": ("ш",),
}
_KEYS = sorted(SPELLINGS, key=len, reverse=True)
MAX_SPELLINGS = 256  # per word; a long word with many ambiguous letters keeps its first ones
PLACEHOLDERS = frozenset({"urltoken", "emailtoken", "phonetoken"})
# A Latin word: letters, with the digits and apostrophes the schemes use inside words («4to»,
# «vse6», «ochen'»). Numbers alone are not words.
_WORD = re.compile(r"(?<![\w'`])[a-z46]*[a-z][a-z46'`]*(?!\w)")
_HAS_LATIN = re.compile(r"[a-z]")
MIN_KNOWN_SHARE = 0.5  # of the message's Latin words, to read the message back
MIN_LETTERS = 2
LETTER_WORDS = frozenset("aiuvkso")  # one-letter Russian words: а, и, у, в, к, с, о
# English words common in messages: never read as Russian, and a message where they are a third
# of the Latin words is English («hello, my cat needs insulin» is not «хелло, мы цат…»).
ENGLISH = frozenset(
    [
        "a",
        "about",
        "after",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "cat",
        "dog",
        "do",
        "does",
        "for",
        "from",
        "get",
        "go",
        "had",
        "has",
        "have",
        "he",
        "hello",
        "hi",
        "how",
        "i",
        "if",
        "in",
        "is",
        "it",
        "its",
        "just",
        "me",
        "my",
        "need",
        "needs",
        "no",
        "not",
        "of",
        "ok",
        "okay",
        "on",
        "or",
        "our",
        "please",
        "pls",
        "she",
        "so",
        "sorry",
        "thank",
        "thanks",
        "that",
        "the",
        "their",
        "there",
        "they",
        "this",
        "to",
        "today",
        "up",
        "us",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "will",
        "with",
        "would",
        "yes",
        "you",
        "your",
    ]
)
MAX_ENGLISH_SHARE = 0.3


def _segments(word: str) -> list[tuple[str, ...]]:
    """The word cut into scheme units, longest first, each with its spellings."""
    units, at = [], 0
    while at < len(word):
        key = next((k for k in _KEYS if word.startswith(k, at)), None)
        if key is None:  # a character no scheme uses: kept
            units.append((word[at],))
            at += 1
        else:
            units.append(SPELLINGS[key])
            at += len(key)
    return units


# The service's own words, which the pymorphy3 dictionary does not hold («выгульщик», «ситтер»,
# «ветклиника»): a spelling that starts with one of these stems counts as known, so that
# «vygulshchik» is read «выгульщик» (a soft sign left out) and «vetskoruyu» «ветскорую», not
# their first spellings «выгулщик», «вецкорую».
SERVICE_STEMS = (
    "выгульщ",
    "ситтер",
    "догситтер",
    "кэтситтер",
    "петситтер",
    "ветклиник",
    "ветскор",
    "ветврач",
    "грумер",
    "груминг",
    "зооняня",
    "зооняни",
    "зооняню",
    "зооняне",
)

# Words whose soft sign is left out far more often than the word without it is meant: «krov ne
# ostanavlivaetsya» is «кровь», not «кров» (a roof), «mozhet byt» «быть», not «быт».
SOFT_SIGN_LEFT_OUT = {"кров": "кровь", "быт": "быть"}

# Consonants a soft sign follows. Inside a word it is tried before consonants only: before a
# vowel the scheme's «ye», «ya», «yu», «yo» already spell it («voskresenye»).
SOFTENED = "бвдзлмнпрстфч"
VOWELS = "аеёиоуыэюя"
INNER_SOFT_SIGN_SPELLINGS = 4


@lru_cache(maxsize=100_000)
def cyrillic(word: str) -> tuple[str, bool]:
    """(the word in Cyrillic, whether the dictionary knows that spelling). Without a known
    spelling, the first (most common) one."""
    from .lemmatize import morph

    analyzer = morph()
    units = _segments(word)
    first = distorted = None
    # A final soft sign is the letter most often left out («delat», «krov»): tried second.
    for ending in ("", "ь"):
        spellings = ("".join(parts) for parts in product(*units))
        for spelling in islice(spellings, MAX_SPELLINGS):
            spelling = fold_yo(spelling) + ending
            if first is None:
                first = spelling
            if len(spelling) >= MIN_LETTERS and _known(analyzer, spelling):
                if not _distorted(analyzer, spelling):
                    return SOFT_SIGN_LEFT_OUT.get(spelling, spelling), True
                # «ето» is in the dictionary as a distortion of «это»: kept only when no
                # spelling of the word is a plain one
                distorted = distorted or spelling
    if distorted is not None:
        return distorted, True
    # Then one soft sign left out inside the word («ponedelnik», «malchik»), in the most common
    # spellings only.
    spellings = ("".join(parts) for parts in product(*units))
    for spelling in islice(spellings, INNER_SOFT_SIGN_SPELLINGS):
        spelling = fold_yo(spelling)
        for at in range(1, len(spelling) - 1):
            if spelling[at - 1] in SOFTENED and spelling[at] not in VOWELS + "ь":
                guess = spelling[:at] + "ь" + spelling[at:]
                if len(guess) >= MIN_LETTERS and _known(analyzer, guess):
                    return guess, True
    return first or word, False


def _known(analyzer, spelling: str) -> bool:
    return spelling.startswith(SERVICE_STEMS) or analyzer.word_is_known(spelling)


def _distorted(analyzer, spelling: str) -> bool:
    """Whether the dictionary knows `spelling` only as a distorted form (its `Dist` mark:
    «ето», «ети» for «это», «эти»)."""
    return all("Dist" in parse.tag for parse in analyzer.parse(spelling))


def read_back(text: str) -> str:
    """A lower-cased, normalized text with its Latin-script Russian in Cyrillic, or the text
    itself when it holds none (or mostly English)."""
    if not _HAS_LATIN.search(text):
        return text
    words = [m for m in _WORD.finditer(text) if m[0] not in PLACEHOLDERS]
    candidates = [m for m in words if sum(ch.isalpha() for ch in m[0]) >= MIN_LETTERS]
    if not candidates:
        return text
    english = sum(m[0].strip("'`") in ENGLISH for m in candidates)
    if english > MAX_ENGLISH_SHARE * len(candidates):
        return text
    # In a Russian message «a on», «no», «i» are Russian words; an English word stays as written
    # unless its Cyrillic reading is a word.
    words = [
        m
        for m in words
        if m[0].strip("'`") not in ENGLISH or m[0] in LETTER_WORDS or cyrillic(m[0])[1]
    ]
    known = sum(cyrillic(m[0])[1] for m in candidates if m[0].strip("'`") not in ENGLISH)
    if known < MIN_KNOWN_SHARE * len(candidates):
        return text
    pieces, at = [], 0
    for m in words:
        pieces += [text[at : m.start()], cyrillic(m[0])[0]]
        at = m.end()
    pieces.append(text[at:])
    return "".join(pieces)
