# pragma version 0.4.3
"""
@title Constant-product pool
@notice Ether in, the pool's own token out (x * y = k, 0.3% fee, as in Uniswap v1).
        The benchmark runner's ``amm`` workload: every swap reads and writes both
        reserves of its pool, so swaps on one pool conflict and swaps on different pools
        do not.  Bought tokens are credited inside the pool (no token contract to call).
"""

ether_reserve: public(uint256)
token_reserve: public(uint256)
tokens: public(HashMap[address, uint256])

event Swap:
    buyer: indexed(address)
    ether_in: uint256
    tokens_out: uint256


@deploy
@payable
def __init__(token_reserve: uint256):
    self.ether_reserve = msg.value
    self.token_reserve = token_reserve


@external
@payable
def swap(min_tokens_out: uint256) -> uint256:
    """Buy tokens with ``msg.value`` ether; reverts if fewer than ``min_tokens_out``."""
    ether_in: uint256 = msg.value * 997
    tokens_out: uint256 = ether_in * self.token_reserve // (self.ether_reserve * 1000 + ether_in)
    assert tokens_out >= min_tokens_out, "slippage"
    self.ether_reserve += msg.value
    self.token_reserve -= tokens_out
    self.tokens[msg.sender] += tokens_out
    log Swap(buyer=msg.sender, ether_in=msg.value, tokens_out=tokens_out)
    return tokens_out
