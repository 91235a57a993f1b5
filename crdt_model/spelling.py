"""How typed names meet stored ones: case and accents folded, small spelling slips forgiven.

Pure text functions, shared by the device store's patient search and the UI's in-memory fake,
so both find "Odhiambo" from "odiambo" and "Núñez" from "nunez".
"""

from __future__ import annotations

import unicodedata

# Words this long or longer may be two edits off; shorter ones one.
LONG_WORD_CHARS = 7


def fold(text: str) -> str:
    """`text` without case and accents."""
    if text.isascii():  # most names: nothing to decompose, and casefold is lower
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def close(typed: str, indexed: str) -> bool:
    """Whether an indexed word is within the spelling budget of a typed one (edit distance 1,
    2 for long words); "odiambo" is close to "odhiambo"."""
    budget = 2 if max(len(typed), len(indexed)) >= LONG_WORD_CHARS else 1
    if abs(len(typed) - len(indexed)) > budget:
        return False
    previous = list(range(len(indexed) + 1))
    for i, a in enumerate(typed, 1):
        current = [i]
        for j, b in enumerate(indexed, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b)))
        previous = current
    return previous[-1] <= budget
