"""Bitcoin clustering (common-input ownership), CoinJoin exclusion, the merge guard, apportioned
transfers and mining payout labels, on Bitcoin rows written through the store's own writer."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from exposure.graph.cluster_kernels import union_links
from exposure.graph.clusters import compute_clusters, is_coinjoin
from exposure.labels.mining import derive_mining_labels
from exposure.store import connect
from exposure.store.writes import write_btc_batch

COIN = 100_000_000
CHAIN = "bitcoin-test"
A, B, C, D, E, F, G, H, I, J = (f"bc1q{c * 38}" for c in "acdefghjkl")  # noqa: E741


def tx_tables(txs):
    """txs: list of (block, txid, is_coinbase, script, inputs[(prev_txid, vout)], outputs[(addr, sat)])."""
    t_rows, o_rows, i_rows = [], [], []
    for pos, (block, txid, coinbase, script, ins, outs) in enumerate(txs):
        t_rows.append((block, pos, txid, coinbase, script, len(ins) or 1, len(outs)))
        for vout, (addr, sat) in enumerate(outs):
            o_rows.append((block, txid, vout, sat, "p2wpkh", addr))
        if coinbase:
            i_rows.append((block, txid, 0, "00" * 32, 4294967295, True))
        for vin, (prev, n) in enumerate(ins):
            i_rows.append((block, txid, vin, prev, n, False))

    def table(rows, names, types):
        return pa.table({n: pa.array([r[k] for r in rows], t) for k, (n, t) in enumerate(zip(names, types, strict=True))})

    txs_t = table(t_rows, ["block_number", "position", "txid", "is_coinbase", "coinbase_script", "n_in", "n_out"],
                  [pa.uint64(), pa.int32(), pa.string(), pa.bool_(), pa.binary(), pa.int32(), pa.int32()])
    outs_t = table(o_rows, ["block_number", "txid", "vout", "value_sat", "script_type", "address"],
                   [pa.uint64(), pa.string(), pa.int32(), pa.uint64(), pa.string(), pa.string()])
    ins_t = table(i_rows, ["block_number", "txid", "vin", "prev_txid", "prev_vout", "is_coinbase"],
                  [pa.uint64(), pa.string(), pa.int32(), pa.string(), pa.uint64(), pa.bool_()])
    return txs_t, outs_t, ins_t


@pytest.fixture
def con(tmp_path):
    c = connect(tmp_path / "btc.duckdb")
    txs = [
        (1, "cb1", True, b"\x03\x01\x00\x00/ViaBTC/ hello", [], [(A, 50 * COIN)]),
        (2, "cb2", True, b"\x03\x02\x00\x00", [], [(B, 50 * COIN)]),
        (3, "cb3", True, b"", [], [(E, 10 * COIN)]),
        (3, "cb4", True, b"", [], [(F, 10 * COIN)]),
        (3, "cb5", True, b"", [], [(G, 10 * COIN)]),
        (4, "t1", False, None, [("cb1", 0), ("cb2", 0)], [(C, 60 * COIN), (D, 39 * COIN)]),
        (5, "mix", False, None, [("cb3", 0), ("cb4", 0), ("cb5", 0)],
         [(H, 9 * COIN), (I, 9 * COIN), (J, 9 * COIN), (E, 2 * COIN)]),
    ]
    t, o, i = tx_tables(txs)
    blocks = pa.table({"number": pa.array([1, 2, 3, 4, 5], pa.uint64()),
                       "hash": pa.array([f"h{n}" for n in range(1, 6)]),
                       "parent_hash": pa.array([f"h{n}" for n in range(0, 5)]),
                       "timestamp": pa.array([1_700_000_000 + n for n in range(5)], pa.int64())})
    c.execute("INSERT INTO chains VALUES (?, NULL, 'BTC', 8)", [CHAIN])
    write_btc_batch(c, CHAIN, 1, 5, blocks, t, o, i)
    yield c
    c.close()


def test_inputs_spent_together_form_one_cluster_with_the_linking_transaction(con):
    counts = compute_clusters(con, CHAIN)
    rows = {a: (cl, by, size) for a, cl, by, size in con.execute(
        "SELECT address, cluster, linked_by, size FROM btc_clusters WHERE chain = ?", [CHAIN]).fetchall()}
    assert rows[A][0] == rows[B][0] and rows[A][2] == 2
    assert {rows[A][1], rows[B][1]} == {"t1", None}  # the representative has no linking tx
    assert counts["coinjoins"] == 1


def test_coinjoin_shaped_transactions_do_not_link_their_inputs(con):
    compute_clusters(con, CHAIN)
    clustered = {r[0] for r in con.execute("SELECT address FROM btc_clusters").fetchall()}
    assert not clustered & {E, F, G}


def test_apportioned_transfers_split_each_output_by_input_share(con):
    rows = con.execute(
        "SELECT from_address, to_address, amount_sat FROM btc_transfers WHERE txid = 't1' ORDER BY 1, 2"
    ).fetchall()
    assert rows == [(A, C, 30 * COIN), (A, D, 19.5 * COIN), (B, C, 30 * COIN), (B, D, 19.5 * COIN)]
    view = con.execute("SELECT asset, vin, vout, amount FROM transfers WHERE tx_hash = 't1' ORDER BY vin, vout").fetchall()
    assert view[0] == ("BTC", 0, 0, 30.0)


def test_coinbase_payouts_are_mining_labels_and_pool_tags_name_the_pool(con):
    assert derive_mining_labels(con, CHAIN) == 5
    labels = dict(con.execute("SELECT address, label FROM tags WHERE chain = ?", [CHAIN]).fetchall())
    assert labels[A] == "mining payout address (ViaBTC)" and labels[B] == "mining payout address"
    cats = {r[0] for r in con.execute(
        "SELECT category FROM address_categories WHERE address = ?", [A]).fetchall()}
    assert cats == {"mining_service"}
    assert derive_mining_labels(con, CHAIN) == 5  # re-deriving replaces, never duplicates
    assert con.execute("SELECT count(*) FROM tags WHERE chain = ?", [CHAIN]).fetchall()[0][0] == 5


def test_the_guard_refuses_to_merge_two_large_clusters():
    # 0-1-2 and 3-4-5 are clusters of 3; the link 2-3 would merge them: refused at max_merge=2
    a = np.array([0, 1, 3, 4, 2], dtype=np.int32)
    b = np.array([1, 2, 4, 5, 3], dtype=np.int32)
    root, joined_by, refused, size = union_links(6, a, b, np.arange(5, dtype=np.int32), 2)
    assert list(refused) == [4]
    assert len({root[0], root[3]}) == 2 and list(size) == [3] * 6
    assert sum(j >= 0 for j in joined_by) == 4


@pytest.mark.parametrize(
    ("inputs", "outputs", "equal", "coinjoin"),
    [(5, 5, 5, True), (50, 120, 40, True), (3, 4, 3, True), (2, 2, 2, True),
     (2, 2, 1, False), (6, 2, 1, False), (2, 3, 3, False)],
)
def test_coinjoin_shape_rule(inputs, outputs, equal, coinjoin):
    got = is_coinjoin(np.array([inputs]), np.array([outputs]), np.array([equal]))
    assert bool(got[0]) is coinjoin
