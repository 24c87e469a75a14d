"""Issue 2's comparison as a script: the same as ``hyperion bench foundation``.

    python benchmarks/foundation.py [--txs 1000] [--repeats 3] [--batch transfer|erc20] [--no-twins] [--json out.json]
"""
from hyperion.commands.bench import foundation

if __name__ == "__main__":
    foundation(prog_name="benchmarks/foundation.py")
