"""Helpers that start real servers (Redis, Celery workers) for tests and benchmarks."""
