"""The ``otel_obs`` distro and configurator that ``opentelemetry-instrument`` loads.

``OTEL_PYTHON_DISTRO=otel_obs opentelemetry-instrument python worker.py``
gives the store ``configure()`` gives, live start rows included: the
configurator runs :func:`otel_obs.config.configure_from_environment`, which
reads the standard and ``OTEL_OBS_*`` variables and never raises for a value
it cannot use (logged once). The distro makes ``otel_obs`` the configurator
unless ``OTEL_PYTHON_CONFIGURATOR`` names another, so it works beside the
official ``opentelemetry-distro``. A worker started with ``TRACEPARENT`` /
``BAGGAGE`` (see :mod:`otel_obs.propagation`) joins that context for the
program's main thread, so its own spans land in the orchestrator's trace.
Traces only: metrics and logs are left to another configurator.

Needs ``opentelemetry-instrumentation`` (the ``instrument`` extra), which
``opentelemetry-instrument`` itself comes from.
"""

from __future__ import annotations

import os
from typing import Any

from opentelemetry.instrumentation.distro import BaseDistro
from opentelemetry.sdk._configuration import _BaseConfigurator

#: The variable ``opentelemetry-instrument`` reads to pick one configurator.
OTEL_PYTHON_CONFIGURATOR = "OTEL_PYTHON_CONFIGURATOR"
NAME = "otel_obs"


class OtelObsDistro(BaseDistro):
    """Picks the ``otel_obs`` configurator (unless one is named); instrumentors load as usual."""

    def _configure(self, **kwargs: Any) -> None:
        os.environ.setdefault(OTEL_PYTHON_CONFIGURATOR, NAME)


class OtelObsConfigurator(_BaseConfigurator):
    """Configures tracing as ``otel_obs.configure()`` does, from the environment alone."""

    def _configure(self, **kwargs: Any) -> None:
        from otel_obs.config import configure_from_environment
        from otel_obs.propagation import ENVIRONMENT_KEYS, join_environment

        configure_from_environment()
        if any(os.environ.get(key) for key in ENVIRONMENT_KEYS):
            # A worker an orchestrator started: the program's own spans join its trace.
            join_environment()


__all__ = ["OtelObsConfigurator", "OtelObsDistro"]
