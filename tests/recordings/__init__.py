"""Spans of real agent frameworks, recorded once by their ``record_*.py`` scripts.

Each ``<name>.json`` holds the OTLP/JSON request of one scenario's spans, made by
the framework's own code driven by a fake model (no network); ``<name>.truth.json``
says what the scenario did, written by the script from what it asked the fake model
to do (never from the store). The replay tests feed the requests to otel-obs (the
exporter path and OTLP into ``otel-obs serve``) and compare the rows with the truth.
"""
