"""Query slugs: the folder a query's images live in."""

from __future__ import annotations

import re
import unicodedata

_NON_WORD = re.compile(r"[^a-z0-9]+")


def slugify(text: str) -> str:
    """'Pizza Slice!' → 'pizza-slice'. Raises ValueError when nothing usable is left."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = _NON_WORD.sub("-", ascii_text.lower()).strip("-")
    if not slug:
        raise ValueError(f"{text!r} has no letters or digits to name a folder by")
    return slug[:80].rstrip("-")
