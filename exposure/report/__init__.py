"""Screening reports: the stable model (JSON schema) and its renderings (text, Markdown, HTML)."""

from .model import Activity, AssetActivity, Exposure, Hop, Rating, Report, StopNode

__all__ = ["Activity", "AssetActivity", "Exposure", "Hop", "Rating", "Report", "StopNode"]
