"""Interleaving and multileaving of rankings, and crediting clicks to them. Pure.

- `team_draft`: team-draft interleaving (Radlinski et al., 2008) generalised to any
  number of rankings as team-draft multileaving (Schuth et al., 2014): in every round
  the teams pick in a random order, each taking its highest-ranked document not yet
  shown. With two rankings this is classic team draft.
- `probabilistic`: probabilistic multileaving (Schuth et al., 2015): each position goes
  to a team drawn at random, which samples a document from a softmax over its ranks
  (P(rank r) proportional to 1 / r^tau) among those not yet shown.

Both return the shown list as (document, team index) pairs. `credit` counts clicks per
team; `outcome` turns that into the winner of one search, or a tie.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

TAU = 3.0


def team_draft(rankings: Sequence[Sequence[str]], length: int, rng: np.random.Generator
               ) -> list[tuple[str, int]]:
    """Up to `length` (doc, team) pairs; fewer when the rankings run out."""
    shown: list[tuple[str, int]] = []
    seen: set[str] = set()
    cursor = [0] * len(rankings)
    while len(shown) < length:
        picked = False
        for team in rng.permutation(len(rankings)):
            ranking = rankings[team]
            while cursor[team] < len(ranking) and ranking[cursor[team]] in seen:
                cursor[team] += 1
            if cursor[team] < len(ranking):
                doc = ranking[cursor[team]]
                seen.add(doc)
                shown.append((doc, int(team)))
                picked = True
                if len(shown) == length:
                    break
        if not picked:
            break
    return shown


def probabilistic(rankings: Sequence[Sequence[str]], length: int, rng: np.random.Generator,
                  tau: float = TAU) -> list[tuple[str, int]]:
    """Up to `length` (doc, team) pairs, each position from a team drawn at random."""
    shown: list[tuple[str, int]] = []
    seen: set[str] = set()
    weights = [1.0 / np.arange(1, len(r) + 1) ** tau for r in rankings]
    while len(shown) < length:
        open_teams = [t for t, r in enumerate(rankings) if any(d not in seen for d in r)]
        if not open_teams:
            break
        team = open_teams[int(rng.integers(len(open_teams)))]
        free = np.array([d not in seen for d in rankings[team]])
        p = weights[team] * free
        doc = rankings[team][int(rng.choice(len(p), p=p / p.sum()))]
        seen.add(doc)
        shown.append((doc, team))
    return shown


def credit(teams: Sequence[int], clicked: Sequence[int], n_teams: int) -> list[int]:
    """Clicks per team. `teams[i]` is the team of position i + 1; `clicked` holds
    1-based positions."""
    out = [0] * n_teams
    for pos in set(clicked):
        if 1 <= pos <= len(teams):
            out[teams[pos - 1]] += 1
    return out


def outcome(credits: Sequence[int]) -> int | None:
    """The team with strictly the most credited clicks, or None (a tie, or no click)."""
    best = max(credits, default=0)
    if best == 0 or list(credits).count(best) > 1:
        return None
    return list(credits).index(best)
