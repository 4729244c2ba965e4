"""Overrides: a prescriber's recorded decision to go past one named check, with a reason.

Every override names its option (what it overrides) and carries a reason that says something:
at least a few words, not a placeholder (the thresholds and the placeholder words are data in
protocols.yaml `overrides`). An override that nothing needed is refused, so the record never
claims a decision that was not made.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from ldn_derm.errors import InputError

if TYPE_CHECKING:
    from ldn_derm.knowledge import KnowledgeBase


class OverrideOption(StrEnum):
    """What an override goes past (the ids of protocols.yaml `overrides.options`)."""

    CONTRAINDICATION = "contraindication"
    ABOVE_LOW_DOSE = "above-low-dose"
    OPIOID_FREE_INTERVAL = "opioid-free-interval"
    EVIDENCE = "evidence"


@dataclass(frozen=True)
class Override:
    option: OverrideOption
    reason: str

    def title(self, kb: KnowledgeBase) -> str:
        return option_text(self.option, kb)[0]


def option_text(option: OverrideOption, kb: KnowledgeBase) -> tuple[str, str]:
    """(title, what it overrides) from the knowledge base."""
    for item in kb.protocols.overrides.options:
        if item.id == option.value:
            return item.title, item.what.strip()
    raise InputError(f"override option '{option.value}' is not described in protocols.yaml")


def parse_option(text: str) -> OverrideOption:
    wanted = text.strip().lower()
    try:
        return OverrideOption(wanted)
    except ValueError:
        known = ", ".join(o.value for o in OverrideOption)
        raise InputError(f"unknown override option '{text}'; known options: {known}") from None


def check_reason(option: OverrideOption, reason: str | None, kb: KnowledgeBase) -> str:
    """The reason, stripped, or InputError saying why it does not count as a reason."""
    rules = kb.protocols.overrides
    text = " ".join((reason or "").split())
    label = f"the {option.value} override"
    if not text:
        raise InputError(f"{label} needs a reason in words")
    words = re.findall(r"[^\W\d_]+", text)
    letters = sum(len(w) for w in words)
    placeholders = {p.lower() for p in rules.placeholders}
    if text.lower() in placeholders or (words and all(w.lower() in placeholders for w in words)):
        raise InputError(f"{label}: '{text}' is a placeholder, not a reason; say why")
    if len(words) < rules.min_words or letters < rules.min_letters:
        raise InputError(
            f"{label}: '{text}' is too short to be a reason (at least {rules.min_words} words "
            f"and {rules.min_letters} letters); say why this patient needs it"
        )
    return text


def parse_override(text: str, kb: KnowledgeBase) -> Override:
    """'OPTION: reason' (the CLI's --override) into an Override with a checked reason."""
    option, sep, reason = text.partition(":")
    if not sep:
        known = ", ".join(o.value for o in OverrideOption)
        raise InputError(
            f"override '{text}' must be written as 'OPTION: reason' (options: {known})"
        )
    chosen = parse_option(option)
    return Override(chosen, check_reason(chosen, reason, kb))


def collect(
    overrides: Iterable[Override] | Mapping[str, str] | None,
    kb: KnowledgeBase,
    *,
    contraindication_reason: str | None = None,
) -> dict[OverrideOption, Override]:
    """All overrides by option, reasons checked; one per option."""
    items: list[Override] = []
    if isinstance(overrides, Mapping):
        for key, reason in overrides.items():
            option = parse_option(key)
            items.append(Override(option, check_reason(option, reason, kb)))
    elif overrides is not None:
        items += [Override(o.option, check_reason(o.option, o.reason, kb)) for o in overrides]
    if contraindication_reason is not None:
        option = OverrideOption.CONTRAINDICATION
        items.append(Override(option, check_reason(option, contraindication_reason, kb)))
    out: dict[OverrideOption, Override] = {}
    for item in items:
        if item.option in out and out[item.option].reason != item.reason:
            raise InputError(f"the {item.option.value} override is given twice: give one reason")
        out[item.option] = item
    return out
