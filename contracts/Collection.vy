# pragma version 0.4.3
"""
@title NFT collection with open minting
@notice Anyone mints the next token id to themselves (ERC-721 ownership and Transfer
        event, no transfers or approvals).  The benchmark runner's ``nft`` workload:
        every mint on one collection reads and writes its ``total_supply``, so mints
        on one collection conflict and mints on different collections do not.
"""

event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    token_id: indexed(uint256)

total_supply: public(uint256)
ownerOf: public(HashMap[uint256, address])
balanceOf: public(HashMap[address, uint256])


@external
def mint() -> uint256:
    """Mint token ``total_supply`` to the caller; -> its id."""
    token_id: uint256 = self.total_supply
    self.total_supply = token_id + 1
    self.ownerOf[token_id] = msg.sender
    self.balanceOf[msg.sender] += 1
    log Transfer(sender=empty(address), receiver=msg.sender, token_id=token_id)
    return token_id
