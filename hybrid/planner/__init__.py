"""Query planning and score fusion: pure functions, no I/O (the search shell runs them)."""

from hybrid.planner.fusion import Fused, SignalScore, fuse
from hybrid.planner.plan import Plan, SearchRequest, SubQuery, parse_request, plan
from hybrid.planner.profile import Profile, Signal, default_profile

__all__ = ["Fused", "Plan", "Profile", "SearchRequest", "Signal", "SignalScore", "SubQuery",
           "default_profile", "fuse", "parse_request", "plan"]
