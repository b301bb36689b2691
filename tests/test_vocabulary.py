"""The catalog vocabulary that spoken queries are transcribed with."""

from __future__ import annotations

from pathlib import Path

import pytest

from hybrid.search.vocabulary import catalog_terms, speech_prompt


@pytest.mark.unit
def test_prompt_lists_common_values_first_within_its_length() -> None:
    terms = {"attributes.colour": [("Black", 50), ("Navy Blue", 20), ("black", 5)],
             "category": [("Shirts", 40), ("A very long category value here", 30)],
             "attributes.source": [("feed-1", 99)]}  # on 99% of products: left out
    assert speech_prompt(terms, 100) == "Black, Shirts, Navy Blue."
    assert speech_prompt(terms, 100, max_chars=16) == "Black, Shirts."
    assert speech_prompt({}, 100) is None


@pytest.mark.integration
def test_terms_come_from_the_index(tmp_path: Path) -> None:
    from hybrid.engines.embedded import EmbeddedEngine

    with EmbeddedEngine(tmp_path / "ix") as engine:
        engine.add([{"id": f"p{i}", "title": "shirt", "brand": "Acme" if i % 2 else "Zoom",
                     "category": ["Apparel", "Shirts"], "attributes": {"colour": "Red"}}
                    for i in range(4)])
        engine.commit()
        terms = catalog_terms(engine)
    assert terms["brand"] == [("Acme", 2), ("Zoom", 2)]
    assert ("Shirts", 4) in terms["category"] and terms["attributes.colour"] == [("Red", 4)]
