"""Benchmarks behind `unembed bench WHAT`; each module measures against a baseline run in the same process."""
