"""Microbenchmarks for fixedpoint, measured side by side with peer libraries.

Run ``python -m bench [suite ...] [--quick] [--out bench-results.json] [--threads 1,all]``
from the repository root; see ``bench/README.md`` for the JSON schema and how to add a suite.

This module deliberately imports nothing heavy: ``python -m bench`` must be able to set the
BLAS/OpenMP thread environment variables before NumPy is imported.
"""

SCHEMA_VERSION = 1

__all__ = ["SCHEMA_VERSION"]
