"""``python -m otel_obs`` runs the ``otel-obs`` command line."""

from otel_obs.cli import main

if __name__ == "__main__":
    main()
