"""Spans in, rows out: the mapping, the span processor and exporter, and the store."""
