"""Benchmarks of the controller service against its peers, each measured in the same run.

``python -m bench`` (or ``make bench``) runs them all; ``python -m bench latency cancel`` a few.
Figures are printed as tables; nothing here asserts a timing (tests never do).
"""
