"""The kit's report notebooks, installed as the package data ``forensics._notebooks`` (docs/layout.md)."""
