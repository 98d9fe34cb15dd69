"""``python -m otel_obs.demo worker …``: the entry point of one demo worker process."""

from __future__ import annotations

import sys

from .run import worker_main

if __name__ == "__main__":
    if sys.argv[1:2] != ["worker"]:
        sys.stderr.write("usage: python -m otel_obs.demo worker --plan … (or run: otel-obs demo)\n")
        sys.exit(2)
    sys.exit(worker_main(sys.argv[2:]))
