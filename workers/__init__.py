"""Celery workers that fill the vector fields.

    celery -A workers.app worker -Q text,image,audio
"""
