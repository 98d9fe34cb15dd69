"""otel-obs as an OpenTelemetry plugin: standard settings, sampling, provider cooperation.

- :mod:`.standard`: the standard ``OTEL_*`` variables, read the way the SDK
  reads them (exporter list, per-signal protocol, resource, ``OTEL_SDK_DISABLED``);
  a value that cannot be used is logged once and skipped.
- :mod:`.sampling`: the producers' sampler, which keeps every producer span
  recording (so it reaches the store) while exporters see the sampled ones only.
- :mod:`.providers`: the producers' own tracer provider (never the global one),
  free of span limits, and the application's provider it hands spans to.
- :mod:`.export_step`: the processor step every exported producer span passes
  (payload policy, derived tool facts) on its way to any exporter.
- :mod:`.entry_points`: the ``otel_obs`` distro, configurator and span exporter
  that ``opentelemetry-instrument`` and ``OTEL_TRACES_EXPORTER`` find.
"""
