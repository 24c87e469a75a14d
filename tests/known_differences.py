"""The known differences between stock py-evm 0.12.1b1 and the execution specs (DECISIONS 1).

Hyperion follows the execution specs (PyPI ``ethereum-execution``).  Every test that compares
Hyperion with *stock* py-evm goes through this one list: a comparison may excuse a
difference only by naming an entry here, and nothing else may differ.  A difference whose
cause is not known yet is not added here: it stays visible as an ``xfail`` naming it.

Keys are the rule's name; values say what stock py-evm does and what the specs (and
Hyperion) do.  Keep it a plain module-level dict so every branch can add to it.
"""

KNOWN_DIFFERENCES = {
    "EIP-7623 receipt floor": (
        "Prague: for some calldata-heavy transactions py-evm's receipt (and so the cumulative gas "
        "and receipts root) reports less gas than the EIP-7623 calldata floor; the fee it charges "
        "is the floor, as in the specs. Hyperion's receipt reports the gas that was charged."
    ),
    "priority fee > max fee": (
        "py-evm includes a type-2/3/4 transaction whose max priority fee exceeds its max fee; the "
        "specs (check_transaction) make it invalid, and so does Hyperion."
    ),
    "EIP-3607": (
        "py-evm includes a transaction whose sender has code (other than an EIP-7702 delegation); "
        "the specs make it invalid, and so does Hyperion."
    ),
    "wrong chain id": (
        "py-evm's VM never checks a transaction's chain id (only its Chain class validates blocks "
        "against one): a transaction signed for another chain is executed. The specs and Hyperion "
        "reject it."
    ),
    "EIP-7610 storage collision": (
        "py-evm's contract-creation collision test looks at code and nonce only; EIP-7610 "
        "(retroactive to Frontier) also counts an address with non-empty storage as a collision, "
        "and so does Hyperion."
    ),
    "unexplained CREATE gas": (
        "In some transactions that execute CREATE or CREATE2, py-evm charges 1-12 gas more than the "
        "specs (root cause not found yet; the state root then differs through the fees). Hyperion "
        "runs py-evm's interpreter, so it matches py-evm here: a spec comparison must xfail it."
    ),
    "genesis header": (
        "py-evm builds a Cancun+ genesis header with parent_beacon_block_root = the empty trie root "
        "(geth and Hyperion use zero) and a pre-merge genesis with difficulty 1, so its genesis hash "
        "differs. Not an execution difference: comparisons give Hyperion py-evm's genesis hash as the "
        "parent hash and BLOCKHASH(0), since EIP-2935 and BLOCKHASH expose it."
    ),
}
