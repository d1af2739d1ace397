"""A room's name inside its box on the map: measured, wrapped into two lines at most and shortened with "…"
(the map's `<title>` keeps the full name); and what a page or an XML file can hold of a stored name.

The width of a text is worked out here, before any browser draws it, from the advance widths of DejaVu Sans
(the widest of the usual sans-serif fonts), rounded up; a line near the box's width is also drawn with
`textLength`, so that a font wider still is squeezed into the box rather than out of it.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

LABEL_SIZE, LABEL_LINES = 14, 2  # a room's name: font size in SVG units, at most this many lines
LABEL_WIDTH = 128 - 14  # what a line of it may take: the box's width less 7 units of padding each side

# em widths, rounded up from DejaVu Sans; any other character counts as a capital letter (0.8), an East
# Asian wide one or an emoji as a full em, a combining mark as nothing
_WIDTHS = {
    **dict.fromkeys("ijlI'.,", 0.32), **dict.fromkeys("ftr()[]- |!:;", 0.42), **dict.fromkeys('sz"', 0.53),
    **dict.fromkeys("ckvxyJ?*_", 0.6), **dict.fromkeys("LFPT", 0.62),
    **dict.fromkeys("abdeghnopqu0123456789${}", 0.64), **dict.fromkeys("ZES", 0.7), "&": 0.8,
    **dict.fromkeys("w#+<=>^~", 0.84), **dict.fromkeys("mM", 0.98), **dict.fromkeys("W@…%", 1.0),
}
_CAPITAL = 0.8


class _Widths(dict[str, float]):
    """Each character's width, worked out once."""

    def __missing__(self, char: str) -> float:
        if unicodedata.combining(char):
            width = 0.0
        elif unicodedata.east_asian_width(char) in "WF" or ord(char) >= 0x1F000:
            width = 1.0
        else:
            width = _CAPITAL
        self[char] = width
        return width


_WIDTH = _Widths(_WIDTHS)


def text_width(text: str, size: float = LABEL_SIZE) -> float:
    """The most room `text` takes at this font size, in SVG units."""
    return sum(map(_WIDTH.__getitem__, text)) * size


def shorten(text: str, width: float, size: float) -> str:
    """`text` cut and ended with "…" so that it fits `width` (as it is if it fits)."""
    if text_width(text, size) <= width:
        return text
    while text and text_width(text.rstrip() + "…", size) > width:
        text = text[:-1]
    return text.rstrip() + "…"


@lru_cache(maxsize=65536)
def label_lines(name: str, width: float = LABEL_WIDTH, size: float = LABEL_SIZE,
                lines: int = LABEL_LINES) -> tuple[str, ...]:
    """A room's name as the lines of its box: wrapped at spaces, a word longer than a line broken, and
    what does not fit in `lines` lines shortened with "…"."""
    words = name.split()
    if not words:
        return ("",)
    out: list[str] = []
    current = ""
    for word in words:
        candidate = f"{current} {word}" if current else word
        if text_width(candidate, size) <= width:
            current = candidate
            continue
        if current:
            out.append(current)
        while text_width(word, size) > width:  # a word wider than a line: as much as fits, then the rest
            cut = len(word) - 1
            while cut > 1 and text_width(word[:cut], size) > width:
                cut -= 1
            out.append(word[:cut])
            word = word[cut:]
        current = word
    out.append(current)
    if len(out) > lines:
        out = out[:lines - 1] + [shorten(" ".join(out[lines - 1:]), width, size)]
    return tuple(out)


_UNSHOWABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str) -> str:
    """What a page and an XML file can hold of a stored name: a character XML forbids (a control character, a
    lone surrogate stored before the checks) as U+FFFD."""
    return text if text.isprintable() else _UNSHOWABLE.sub("\ufffd", text)
