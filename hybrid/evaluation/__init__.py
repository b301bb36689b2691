"""Offline evaluation: query sets and judgments, collected sub-query results, ranx
metrics and significance tests, reports (`hybrid eval`)."""
