"""Fields and row shaping: how a raw Pipedrive record becomes a table row.

It owns the field definitions of every field set and the run's cache of them (`definitions`),
the custom-field mapper that gives each hash a stable, readable column and turns option ids into
labels (`mapper`), the one-pass shaping of records into rows used by listings and deal children
alike (`rows`), the column type hints of built-in and custom columns (`column_hints`), and the
tables that describe the fields themselves (`tables`). It reads definitions through the HTTP
client and keeps its decisions in the source state; it never builds a listing.
"""

from .definitions import FieldSetCache
from .mapper import CustomFieldMapper
from .rows import RowBuilder

__all__ = ["CustomFieldMapper", "FieldSetCache", "RowBuilder"]
