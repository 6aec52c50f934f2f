"""``python -m exposure``."""

from .cli import run

run()
