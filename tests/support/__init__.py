"""Support code for tests, examples and benchmarks: the real test models (see README.md)."""
