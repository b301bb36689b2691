"""The catalog's own words, to bias speech recognition toward them: the most common
values of the index's keyword fields (brand, category path, attributes such as colour
or gender), as a prompt for Whisper (faster-whisper's `initial_prompt`).

`catalog_terms` asks the engine (facet counts over every product); `speech_prompt`
(pure) turns the counted values into a prompt of bounded length.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

MAX_PROMPT_CHARS = 600   # Whisper keeps about 224 prompt tokens; this stays under that
MAX_VALUE_WORDS = 4      # longer values are titles or descriptions, not vocabulary
MAX_SHARE = 0.9          # a value on nearly every product (a source tag) says nothing
PER_FIELD = 200


SAMPLE = 1000            # products read to find the attribute names in use


def catalog_terms(engine: Any) -> dict[str, list[tuple[str, int]]]:
    """Per keyword field (brand, category, and the attributes found on a sample of
    products): its values with their product counts, most common first."""
    fields = [name for name in ("brand", "category")
              if name in engine.schema.fields and engine.schema.fields[name].kind == "keyword"]
    sample = engine.lexical_search("", size=SAMPLE).hits
    found = sorted({f"attributes.{k}" for h in sample
                    for k in (h.source.get("attributes") or {})})
    fields += [f for f in found if (r := engine.schema.resolve(f)) and r.kind == "keyword"]
    if not fields:
        return {}
    facets = {name: {"terms": {"field": name, "size": PER_FIELD}} for name in fields}
    res = engine.lexical_search("", facets=facets, size=0, source=False)
    return {name: [(str(b["key"]), int(b["count"])) for b in res.facets.get(name, [])]
            for name in fields}


def speech_prompt(terms: Mapping[str, Sequence[tuple[str, int]]], documents: int,
                  max_chars: int = MAX_PROMPT_CHARS) -> str | None:
    """A comma-separated list of catalog values, most common first, up to `max_chars`.
    Fields whose top value covers more than MAX_SHARE of the documents are left out,
    and so are values of more than MAX_VALUE_WORDS words. None when nothing is left."""
    ranked: list[tuple[int, str]] = []
    for values in terms.values():
        if not values or (documents and values[0][1] / documents > MAX_SHARE):
            continue
        ranked += [(count, value.strip()) for value, count in values
                   if value.strip() and len(value.split()) <= MAX_VALUE_WORDS]
    ranked.sort(key=lambda cv: (-cv[0], cv[1]))
    out: list[str] = []
    seen: set[str] = set()
    length = 0
    for _, value in ranked:
        key = value.lower()
        if key in seen:
            continue
        if length + len(value) + 2 > max_chars:
            break
        seen.add(key)
        out.append(value)
        length += len(value) + 2
    return ", ".join(out) + "." if out else None
