# pragma version 0.4.3
"""
@title Token-weighted DAO voting with a running tally
@notice A voter's weight is their balance of the governance token (an ERC-20), read with
        a static call when they vote; each address votes once per proposal, and the
        proposal's tally is updated by every vote.  The benchmark runner's ``dao``
        workload: votes on one proposal read and write its tally, so they conflict, and
        votes on different proposals do not.
"""

interface ERC20:
    def balanceOf(holder: address) -> uint256: view

event Proposed:
    proposal: indexed(uint256)
    proposer: indexed(address)
    description_hash: bytes32

event Voted:
    proposal: indexed(uint256)
    voter: indexed(address)
    support: bool
    weight: uint256

GOVERNANCE_TOKEN: public(immutable(address))
proposal_count: public(uint256)
description_hash: public(HashMap[uint256, bytes32])
votes_for: public(HashMap[uint256, uint256])
votes_against: public(HashMap[uint256, uint256])
has_voted: public(HashMap[uint256, HashMap[address, bool]])


@deploy
def __init__(token: address):
    GOVERNANCE_TOKEN = token


@external
def propose(description_hash: bytes32) -> uint256:
    """Open proposal ``proposal_count``; -> its id."""
    proposal: uint256 = self.proposal_count
    self.proposal_count = proposal + 1
    self.description_hash[proposal] = description_hash
    log Proposed(proposal=proposal, proposer=msg.sender, description_hash=description_hash)
    return proposal


@external
def vote(proposal: uint256, support: bool) -> uint256:
    """Vote on ``proposal`` with the caller's token balance; -> the weight counted."""
    assert proposal < self.proposal_count, "no such proposal"
    assert not self.has_voted[proposal][msg.sender], "already voted"
    weight: uint256 = staticcall ERC20(GOVERNANCE_TOKEN).balanceOf(msg.sender)
    assert weight > 0, "no voting power"
    self.has_voted[proposal][msg.sender] = True
    if support:
        self.votes_for[proposal] += weight
    else:
        self.votes_against[proposal] += weight
    log Voted(proposal=proposal, voter=msg.sender, support=support, weight=weight)
    return weight
