"""`Phrases` (whole-word phrase lookup) answers exactly as the regular-expression alternation it
replaced: `(?<![a-z0-9])(?:longest|...|shortest)(?![a-z0-9])` over the same normalised names."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from ldn_derm.patient.terminology import Phrases, norm

WORDS = st.sampled_from(["a", "b", "ab", "c", "10", "mg", "abc", "b1"])
PHRASE = st.lists(WORDS, min_size=1, max_size=3).map(" ".join)
TEXT = st.lists(st.sampled_from(["a", "b", "ab", "c", "10", "mg", "abc", "b1", "-", "/", "'"]),
                max_size=12).map(" ".join)  # fmt: skip


def _regex(names: set[str]) -> re.Pattern[str] | None:
    unique = sorted({n for n in names if n}, key=lambda n: (-len(n), n))
    if not unique:
        return None
    body = "|".join(re.escape(n) for n in unique)
    return re.compile(rf"(?<![a-z0-9])(?:{body})(?![a-z0-9])")


@given(st.sets(PHRASE, max_size=6), TEXT)
def test_phrases_match_the_alternation_they_replaced(names: set[str], raw: str) -> None:
    text = norm(raw)
    phrases = Phrases(names)
    pattern = _regex(names)
    if pattern is None:
        assert not phrases
        assert phrases.findall(text) == []
        assert not phrases.search(text)
        return
    assert phrases.findall(text) == pattern.findall(text)
    assert phrases.search(text) == (pattern.search(text) is not None)
    # every phrase found anywhere = the phrases each of whose own search succeeds
    assert phrases.every(text) == {n for n in names if _regex({n}).search(text)}  # type: ignore[union-attr]


def test_longest_name_wins_and_words_are_whole() -> None:
    phrases = Phrases(["insulin", "insulin glargine", "glargine"])
    assert phrases.findall("insulin glargine 100 unt ml") == ["insulin glargine"]
    assert phrases.findall("insulins glargine") == ["glargine"]
    assert not phrases.search("preinsulin")
