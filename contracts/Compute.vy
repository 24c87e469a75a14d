# pragma version 0.4.3
"""
@title Compute-heavy workloads for the interpreter benchmark (benchmarks/bench_interp.py)
@notice Three loops that spend their time in the EVM's opcode loop, not in state access:
        a keccak hash chain, token transfers inside one call, fixed-point Mandelbrot.
"""

balances: HashMap[uint256, uint256]

ACCOUNTS: constant(uint256) = 10
ONE: constant(int256) = 65536


@deploy
def __init__():
    for k: uint256 in range(ACCOUNTS):
        self.balances[k] = 1000


@external
def hash_loop(n: uint256) -> bytes32:
    h: bytes32 = empty(bytes32)
    for i: uint256 in range(n, bound=100000):
        h = keccak256(concat(h, convert(i, bytes32)))
    return h


@external
def token_loop(n: uint256) -> uint256:
    moved: uint256 = 0
    for i: uint256 in range(n, bound=100000):
        source: uint256 = i % ACCOUNTS
        target: uint256 = (i * 7 + 3) % ACCOUNTS
        amount: uint256 = i % 5
        if self.balances[source] >= amount:
            self.balances[source] -= amount
            self.balances[target] += amount
            moved += amount
    return moved


@external
def mandelbrot(size: uint256, iterations: uint256) -> uint256:
    count: uint256 = 0
    side: int256 = convert(size, int256)
    for py: uint256 in range(size, bound=256):
        for px: uint256 in range(size, bound=256):
            x0: int256 = convert(px, int256) * 3 * ONE // side - 2 * ONE
            y0: int256 = convert(py, int256) * 2 * ONE // side - ONE
            x: int256 = 0
            y: int256 = 0
            for k: uint256 in range(iterations, bound=1000):
                x2: int256 = x * x // ONE
                y2: int256 = y * y // ONE
                if x2 + y2 > 4 * ONE:
                    break
                y = 2 * x * y // ONE + y0
                x = x2 - y2 + x0
                count += 1
    return count
