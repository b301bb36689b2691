"""Click models that simulate users over judged rankings (`hybrid simulate`, the
experiment benchmark). Pure: the caller passes the random generator.

- position-based (PBM): the user examines rank k with probability (1/k)^eta and clicks
  an examined result with the probability its grade sets; clicks are independent.
- cascade (dependent click model): the user scans from the top, clicks a result with
  its grade's probability, and after a click stops with the grade's satisfaction
  probability; otherwise goes on.

A grade is the judgment (0, 1, 2); unjudged results are grade 0. Positions are 1-based.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hybrid.learning.clicks import CLICK_PROB

PBM, CASCADE = "pbm", "cascade"
MODELS = (PBM, CASCADE)
STOP_PROB = {0: 0.1, 1: 0.4, 2: 0.8}
BUY_PROB = {0: 0.0, 1: 0.05, 2: 0.25}  # a click on a result of this grade converts


def clicks(grades: Sequence[int], rng: np.random.Generator, model: str = PBM, *,
           eta: float = 1.0, click_prob: Mapping[int, float] = CLICK_PROB,
           stop_prob: Mapping[int, float] = STOP_PROB) -> list[int]:
    """1-based positions clicked in a list whose results have these grades."""
    top = max(click_prob)
    out: list[int] = []
    for k, grade in enumerate(grades, start=1):
        g = min(int(grade), top)
        if model == PBM:
            if rng.random() < (1.0 / k) ** eta and rng.random() < click_prob.get(g, 0.0):
                out.append(k)
        elif model == CASCADE:
            if rng.random() < click_prob.get(g, 0.0):
                out.append(k)
                if rng.random() < stop_prob.get(g, 0.0):
                    break
        else:
            raise ValueError(f"click model must be one of {', '.join(MODELS)}, got {model!r}")
    return out


def conversions(grades: Sequence[int], clicked: Sequence[int], rng: np.random.Generator,
                buy_prob: Mapping[int, float] = BUY_PROB) -> list[int]:
    """The clicked positions that go on to a purchase."""
    top = max(buy_prob)
    return [k for k in clicked if rng.random() < buy_prob.get(min(int(grades[k - 1]), top), 0)]


def session_events(query_id: str, shown: Sequence[str], qrels: Mapping[str, int],
                   rng: np.random.Generator, model: str = PBM, *, user_id: str | None = None,
                   eta: float = 1.0) -> list[dict[str, Any]]:
    """The UBI events of one simulated user on one result page: an impression per shown
    result, the clicks of the click model, and a purchase for some clicks."""
    grades = [int(qrels.get(doc, 0)) for doc in shown]
    clicked = clicks(grades, rng, model, eta=eta)
    bought = conversions(grades, clicked, rng)
    out = []
    for action, positions in (("impression", range(1, len(shown) + 1)), ("click", clicked),
                              ("purchase", bought)):
        for k in positions:
            out.append({"event_id": f"{query_id}:{action}:{k}", "action_name": action,
                        "query_id": query_id, "object_id": shown[k - 1], "position": k}
                       | ({"user_id": user_id} if user_id else {}))
    return out
