"""Stage 1: screen prompts against blocked concepts before any GPU time is spent.

The list is the operator's (GATEHOUSE_PREVIEW_BLOCKED_CONCEPTS or a file), plus whatever a repo's
authors add. Matching is on whole words and phrases after Unicode normalisation, case folding and
undoing common character substitutions (0->o, 1->i, 3->e, @->a, ...), with runs of single letters
joined, so "n.u.d.e" or "n u d e" do not slip through. A denylist is a first line, not a
classifier: SLD guidance and the image checker still run on everything that passes.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from workers.runner.specs import Concept

# Small on purpose: operators are expected to supply their own list.
DEFAULT_BLOCKED_CONCEPTS = (
    "sexual: nsfw, nude, nudity, naked, porn, pornographic, hentai, explicit sex, sex act, genitals, topless; "
    "violence: gore, gory, beheading, decapitated, dismembered, mutilated, disembowelled; "
    "minors: child abuse, underage, loli; "
    "self-harm: suicide, self harm, self-harm"
)
_SUBSTITUTIONS = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"}
)
_NON_WORD = re.compile(r"[^\w]+")


@dataclass(frozen=True)
class PromptVerdict:
    blocked: bool
    category: str = ""
    phrase: str = ""


def parse_concepts(text: str) -> tuple[Concept, ...]:
    """`category: term, term; category: term` (newlines work like semicolons).

    A term without a category goes under "blocked". Raises ValueError on an empty category."""
    concepts: list[Concept] = []
    for group in re.split(r"[;\n]", text or ""):
        group = group.strip()
        if not group or group.startswith("#"):
            continue
        category, sep, terms = group.partition(":")
        if not sep:
            category, terms = "blocked", group
        category = category.strip().lower()
        if not category:
            raise ValueError(f"Empty category in {group!r}.")
        for term in terms.split(","):
            phrase = " ".join(_words(term))
            if phrase:
                concepts.append(Concept(category=category, phrase=phrase))
    return tuple(dict.fromkeys(concepts))


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    stripped = unicodedata.normalize("NFKD", text)
    return "".join(char for char in stripped if not unicodedata.combining(char))


def _words(text: str) -> list[str]:
    return [word for word in _NON_WORD.split(_fold(text).replace("_", " ")) if word]


def _join_spelled_out(words: list[str]) -> list[str]:
    """["n", "u", "d", "e", "art"] -> ["nude", "art"]."""
    joined: list[str] = []
    run = ""
    for word in words + [""]:
        if len(word) == 1:
            run += word
            continue
        if run:
            joined.append(run)
            run = ""
        if word:
            joined.append(word)
    return joined


def _haystack(prompt: str) -> str:
    """The prompt's words, as written and with substitutions undone, separated by ' | '."""
    folded = _fold(prompt)
    plain = " ".join(_join_spelled_out(_words(folded)))
    substituted = " ".join(_join_spelled_out(_words(folded.translate(_SUBSTITUTIONS))))
    return f" {plain} | {substituted} "


def _phrase_pattern(phrase: str) -> re.Pattern:
    words = [re.escape(word) for word in phrase.split()]
    # Plurals and simple inflections of the last word (nude/nudes, behead/beheading).
    return re.compile(r"(?<![a-z0-9])" + r"\s+".join(words) + r"(?:s|es|ing|ed)?(?![a-z0-9])")


def screen_prompt(prompt: str, concepts: Iterable[Concept]) -> PromptVerdict:
    haystack = _haystack(prompt)
    for concept in concepts:
        if _phrase_pattern(concept.phrase).search(haystack):
            return PromptVerdict(blocked=True, category=concept.category, phrase=concept.phrase)
    return PromptVerdict(blocked=False)
