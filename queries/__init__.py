"""The kit's built-in SQL queries, installed as the package data ``forensics._queries`` (docs/layout.md)."""
