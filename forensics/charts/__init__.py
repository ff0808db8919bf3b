"""Altair charts, and nothing else. One module per area; ``timeline`` is re-exported here."""

from forensics.charts.timeline import timeline

__all__ = ["timeline"]
