"""The preview runner: plain Python over local paths and configuration (no Django, no ORM).

SECURITY/cost: web processes import `specs`, `files` and `materialize` from here (cheap, no
torch). Only `engine` imports torch and diffusers, and only the Celery worker imports it, at
task run time; tests/workers/test_web_imports.py keeps it that way.
"""
