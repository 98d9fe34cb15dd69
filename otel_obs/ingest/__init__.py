"""Ingest: spans that reach the store from outside the agent's process.

``otel-obs serve`` receives OTLP traces (gRPC and HTTP, protobuf and JSON) from
workers or a Collector in front of them; ``otel-obs import`` reads JSONL
transcripts back into a store. Both go through the one span → rows mapping and
the store's public interface, so what arrives this way lands in the same rows
as what the local processor writes.
"""
