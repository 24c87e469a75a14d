"""Conformance tooling: run test suites nobody here wrote, through Hyperion's engine.

- :mod:`hyperion.conformance.fixture_json` — the JSON shapes ethereum/tests and t8n tools use
  (numbers, allocs, transactions, headers), to and from Hyperion's types.
- :mod:`hyperion.conformance.fixtures` — the ``BlockchainTests`` / ``GeneralStateTests`` runner
  (``hyperion fixtures``).
- :mod:`hyperion.conformance.skips` — the one list of what the runner skips, and why.
- :mod:`hyperion.conformance.t8n` — the state-transition tool (``hyperion t8n``).
- :mod:`hyperion.conformance.rules` — header rules (base fee, excess blob gas, gas limit) that
  a block's environment is derived from and checked against.
"""
