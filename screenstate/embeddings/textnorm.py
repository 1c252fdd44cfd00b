"""Text normalisation for the ``text`` channel: what OCR lines and examples become words.

OCR on UI fonts drops spaces between words ("RememberMe", "Updatecomplete"); :func:`respace`
puts them back with the sentence model's vocabulary. :func:`content_words` is what the
word score compares (lower case, no stop words). No other rewriting: rules that added
class-naming words or dropped icon glyphs were removed (``benchmarks/bench_text_ablation.py``).

    >>> respace("RememberMe", frozenset({"remember", "me"}))
    'Remember Me'
    >>> content_words("Sign in to your account")
    ['sign', 'account']

The constants that decide the result are gathered in :class:`NormSettings`, whose fields
are part of the text channel's feature version (``text.feature_version``).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_STOP = frozenset(
    "a an the of to in on for with and or by is are be this that it its at as from me my i you "
    "your some something about into while before other otherwise like only one two single just "
    "very so such than then there here what which who whom whose when where how".split()
)
#: a word: a run of letters or digits (Unicode-aware, no underscore)
WORD = re.compile(r"[^\W_]+", re.UNICODE)
#: a letter word (the ``words`` source's tokens): a run of letters only
LETTERS = re.compile(r"[^\W_\d]+", re.UNICODE)


def letter_words(text: str) -> set[str]:
    """The set of lower-cased letter-only words of at least two characters (word overlap).

    >>> sorted(letter_words("Save as... PDF v2"))
    ['as', 'pdf', 'save']
    """
    return {w for w in LETTERS.findall(text.lower()) if len(w) >= 2}


@dataclass(frozen=True)
class ClassIdf:
    """Inverse document frequency with one document per class (words every class shows
    count little): ``log((classes + 1) / (classes with the term + 0.5))``; used by the text
    channel's word score, its exemplar line weights and the ``words`` source.

    >>> idf = ClassIdf.of({0: {"ok", "save"}, 1: {"ok", "print"}})
    >>> round(idf("ok"), 3), round(idf("save"), 3), round(idf("unseen"), 3)
    (0.182, 0.693, 1.792)
    """

    weights: Mapping[str, float]
    unseen: float

    @classmethod
    def of(cls, docs: Mapping[int, Iterable[str]]) -> ClassIdf:
        """From each class's terms (a class with no terms still counts as a document)."""
        n = max(1, len(docs))
        df = Counter(w for terms in docs.values() for w in set(terms))
        return cls({w: math.log((n + 1) / (k + 0.5)) for w, k in df.items()}, math.log((n + 1) / 0.5))

    def __call__(self, term: str) -> float:
        return self.weights.get(term, self.unseen)


@dataclass(frozen=True)
class NormSettings:
    """What re-spacing and word extraction depend on (digested into the feature version)."""

    #: one- and two-letter words a merged OCR word may contain (other short vocabulary
    #: entries are mostly word pieces and abbreviations that would shred unknown words)
    short_words: frozenset[str] = frozenset(
        "a i an to of in on up me my no is it at by or do go we us be as if so".split()
    )
    #: endings of inflected and derived forms: MiniLM's vocabulary lacks many of them as
    #: whole words ("downloading", "notifications"), which must not be taken for merged words
    suffixes: tuple[str, ...] = (
        "ing", "ings", "ed", "es", "s", "er", "ers", "ly", "ness", "ment", "ments", "able", "ation", "ations",
    )  # fmt: skip
    #: only letter runs this long are candidates for splitting
    min_split_length: int = 6
    #: longest dictionary piece tried
    max_piece: int = 20
    #: splits whose pieces average fewer letters than this are guesses and are not made
    min_mean_piece: float = 3.0
    #: shortest screen word kept
    min_word_length: int = 2


SETTINGS = NormSettings()
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z][a-z])")
_LONG_WORD = re.compile(rf"[A-Za-z]{{{SETTINGS.min_split_length},}}")


def content_words(text: str) -> list[str]:
    """Lower-cased words of at least two characters, without stop words."""
    return [w for w in WORD.findall(text.lower()) if len(w) >= SETTINGS.min_word_length and w not in _STOP]


def screen_words(texts: list[str]) -> list[str]:
    """Sorted distinct lower-cased words of the screen's lines (stop words kept: a screen
    showing "Sign in" matches an example's "sign")."""
    return sorted({w for t in texts for w in WORD.findall(t.lower()) if len(w) >= SETTINGS.min_word_length})


def line_key(line: str) -> str:
    """Normalised line text for counting repeats across screens (case, spacing, digits)."""
    return re.sub(r"\d+", "0", " ".join(WORD.findall(line.lower())))


def _inflected(low: str, vocab: frozenset[str]) -> bool:
    """A known word with an ending (``downloading``, ``scanning``, ``notifications``)."""
    for suf in SETTINGS.suffixes:
        stem = low[: -len(suf)]
        if not low.endswith(suf) or len(stem) < 3:
            continue
        doubled = len(stem) > 3 and stem[-1] == stem[-2] and stem[:-1] in vocab  # scann-ing
        if stem in vocab or stem + "e" in vocab or doubled:  # download-ing, updat-ing
            return True
    return False


def _split_word(word: str, vocab: frozenset[str]) -> str:
    """``Updatecomplete`` -> ``Update complete``: the fewest dictionary words (longer ones
    preferred) that spell a long word the dictionary does not know; unchanged otherwise,
    and for known words with an ending (``Downloading``)."""
    low = word.lower()
    if low in vocab or _inflected(low, vocab):
        return word
    n = len(low)
    best: list[tuple[int, int, int] | None] = [None] * (n + 1)  # (pieces, -sum len^2, previous cut)
    best[0] = (0, 0, -1)
    for end in range(1, n + 1):
        for start in range(max(0, end - SETTINGS.max_piece), end):
            prev, piece = best[start], low[start:end]
            if prev is None or piece not in vocab or (len(piece) < 3 and piece not in SETTINGS.short_words):
                continue
            cand = (prev[0] + 1, prev[1] - len(piece) ** 2, start)
            current = best[end]
            if current is None or cand[:2] < current[:2]:
                best[end] = cand
    last = best[n]
    if last is None or last[0] < 2 or n / last[0] < SETTINGS.min_mean_piece:  # shredding into short pieces is a guess
        return word
    cuts, end = [], n
    while end > 0:
        step = best[end]
        assert step is not None  # every cut on the best path to n was reached
        start = step[2]
        cuts.append(word[start:end])
        end = start
    return " ".join(reversed(cuts))


def respace(text: str, vocab: frozenset[str]) -> str:
    """Put back the spaces OCR drops between words on screens ("RememberMe", "Updatecomplete")."""
    text = _CAMEL.sub(" ", text)
    return _LONG_WORD.sub(lambda m: _split_word(m.group(0), vocab), text)


def is_text(line: str) -> bool:
    """At least two letters or digits: empty lines and lone glyphs ("G" read off a clock
    face, "|" of a border, an icon's "i") carry nothing a class can be told by."""
    return sum(ch.isalnum() for ch in line) >= 2


#: the functions whose code decides a screen's words and lines (part of the feature version)
FEATURE_CODE = (respace, _split_word, _inflected, screen_words, is_text)
