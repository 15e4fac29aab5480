"""Chaos harness (issue 18): the whole pipeline under seeded faults, then an exact account.

`harness.py` runs it, `test_chaos_short.py` is the short run of the test suite, and
`python -m tests.chaos --lines N` (from the repository root) is the long run whose summary
docs/reliability.md quotes.
"""
