# pragma version 0.4.3
"""
@title Data-asset tokens: datasets as tokens, paid uses, fees split with contributors
@notice In the spirit of a data-anchoring token: ``mint`` creates a token for a dataset
        (its content hash, its owner = the minter, up to four contributors); ``use``
        records one paid use of a dataset by its consumer and splits the fee sent with
        it: ``CONTRIBUTOR_BPS`` basis points shared equally by the contributors, the
        rest, rounding remainders included, to the owner (integer arithmetic; earnings
        are withdrawn by their holders).  The benchmark runner's ``data`` workload: uses
        of one dataset read and write its counters and its owner's and contributors'
        earnings, so they conflict, and uses of different datasets do not.
"""

MAX_CONTRIBUTORS: constant(uint256) = 4
#: the contributors' share of every fee, in basis points (1/10,000)
CONTRIBUTOR_BPS: constant(uint256) = 3000

event Minted:
    dataset: indexed(uint256)
    owner: indexed(address)
    content_hash: bytes32

event Used:
    dataset: indexed(uint256)
    consumer: indexed(address)
    fee: uint256
    use_number: uint256

dataset_count: public(uint256)
owner_of: public(HashMap[uint256, address])
content_hash: public(HashMap[uint256, bytes32])
contributors: public(HashMap[uint256, DynArray[address, MAX_CONTRIBUTORS]])
use_count: public(HashMap[uint256, uint256])
fees_paid: public(HashMap[uint256, uint256])
earnings: public(HashMap[address, uint256])


@external
def mint(content_hash: bytes32, contributors: DynArray[address, MAX_CONTRIBUTORS]) -> uint256:
    """A token for the dataset with ``content_hash``, owned by the caller; -> its id."""
    dataset: uint256 = self.dataset_count
    self.dataset_count = dataset + 1
    self.owner_of[dataset] = msg.sender
    self.content_hash[dataset] = content_hash
    self.contributors[dataset] = contributors
    log Minted(dataset=dataset, owner=msg.sender, content_hash=content_hash)
    return dataset


@external
@payable
def use(dataset: uint256) -> uint256:
    """Record one use of ``dataset`` by the caller, paying ``msg.value``; -> the use's number."""
    owner: address = self.owner_of[dataset]
    assert owner != empty(address), "no such dataset"
    fee: uint256 = msg.value
    to_owner: uint256 = fee
    shared: DynArray[address, MAX_CONTRIBUTORS] = self.contributors[dataset]
    if len(shared) > 0:
        each: uint256 = fee * CONTRIBUTOR_BPS // 10000 // len(shared)
        for contributor: address in shared:
            self.earnings[contributor] += each
        to_owner = fee - each * len(shared)
    self.earnings[owner] += to_owner
    number: uint256 = self.use_count[dataset] + 1
    self.use_count[dataset] = number
    self.fees_paid[dataset] += fee
    log Used(dataset=dataset, consumer=msg.sender, fee=fee, use_number=number)
    return number


@external
def withdraw() -> uint256:
    """Send the caller their earnings; -> the amount."""
    amount: uint256 = self.earnings[msg.sender]
    self.earnings[msg.sender] = 0
    send(msg.sender, amount)
    return amount
