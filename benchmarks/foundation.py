"""Hyperion sequential vs stock py-evm, a preset of the runner; the code lives in
:mod:`hyperion.tools.bench.foundation`, and this script is ``hyperion bench foundation``.

    python benchmarks/foundation.py [--txs 1000] [--accounts 1000] [--rounds 3] [--workload eth|erc20] [--json out.json]
"""
from hyperion.commands.bench import foundation

if __name__ == "__main__":
    foundation(prog_name="benchmarks/foundation.py")
