"""Benchmarks for Promotion Desk: `make bench` (or `python -m bench [name ...]`).

Every benchmark prints `name: value (target)` lines followed by PASS/MISS, measures its baseline in
the same run, and never fails the build (exit code 0 always). See bench/README.md.
"""
