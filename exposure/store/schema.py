"""The store's schema, as an ordered list of forward migrations. The version is the list's length.

Natural keys (documented, enforced by the writers' range replacement rather than by indexes,
which would cost memory on hundreds of millions of rows):

- ``token_transfers``: (chain, tx_hash, log_index)
- ``native_transfers``: (chain, tx_hash, trace_address); ``trace_address`` is '' for the
  transaction's own value, else the call's position in the call tree, e.g. '0.2'
- ``blocks``: (chain, number)
- ``addresses``: (chain, address), with ``id`` dense per chain from 0; every transfer row's
  ``from_id``/``to_id`` point into it (set by the writers in the transaction that stores the row,
  :func:`exposure.store.writes.encode_addresses`). Ids are never reused or renumbered; an address
  whose transfers were all rolled back keeps its id.

Amounts are exact integers in base units: ``amount_raw`` (UHUGEINT, up to 2**128-1) and, for the
rare uint256 that does not fit, ``amount_raw`` is NULL and ``amount_raw_big`` (BIGNUM) holds it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    """One forward step: statements run in one transaction together with its version record."""

    description: str
    statements: tuple[str, ...]


_TRANSFERS_VIEW = """
CREATE OR REPLACE VIEW transfers AS
SELECT t.chain,
       coalesce(a.asset, t.token_address) AS asset,
       t.token_address,
       t.tx_hash,
       t.log_index,
       CAST(NULL AS VARCHAR) AS trace_address,
       t.block_number,
       b.timestamp AS block_time,
       t.from_address,
       t.to_address,
       t.amount_raw,
       t.amount_raw_big,
       coalesce(CAST(t.amount_raw AS DOUBLE), CAST(t.amount_raw_big AS DOUBLE))
           / pow(10, a.decimals) AS amount
FROM token_transfers t
LEFT JOIN assets a ON a.chain = t.chain AND a.token_address = t.token_address
LEFT JOIN blocks b ON b.chain = t.chain AND b.number = t.block_number
UNION ALL
SELECT n.chain,
       c.native_symbol AS asset,
       CAST(NULL AS VARCHAR) AS token_address,
       n.tx_hash,
       CAST(NULL AS UINTEGER) AS log_index,
       n.trace_address,
       n.block_number,
       b.timestamp AS block_time,
       n.from_address,
       n.to_address,
       n.amount_raw,
       CAST(NULL AS BIGNUM) AS amount_raw_big,
       CAST(n.amount_raw AS DOUBLE) / pow(10, c.native_decimals) AS amount
FROM native_transfers n
JOIN chains c ON c.chain = n.chain
LEFT JOIN blocks b ON b.chain = n.chain AND b.number = n.block_number
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "EVM chains, assets, blocks, token and native transfers, checkpoints, transfers view",
        (
            """CREATE TABLE chains (
                chain VARCHAR PRIMARY KEY,
                chain_id BIGINT,
                native_symbol VARCHAR NOT NULL,
                native_decimals INTEGER NOT NULL
            )""",
            """CREATE TABLE assets (
                chain VARCHAR NOT NULL,
                asset VARCHAR NOT NULL,
                token_address VARCHAR NOT NULL,
                decimals INTEGER NOT NULL,
                PRIMARY KEY (chain, token_address)
            )""",
            """CREATE TABLE blocks (
                chain VARCHAR NOT NULL,
                number UBIGINT NOT NULL,
                hash VARCHAR NOT NULL,
                parent_hash VARCHAR NOT NULL,
                timestamp TIMESTAMPTZ NOT NULL
            )""",
            """CREATE TABLE token_transfers (
                chain VARCHAR NOT NULL,
                token_address VARCHAR NOT NULL,
                block_number UBIGINT NOT NULL,
                tx_hash VARCHAR NOT NULL,
                log_index UINTEGER NOT NULL,
                from_address VARCHAR NOT NULL,
                to_address VARCHAR NOT NULL,
                amount_raw UHUGEINT,
                amount_raw_big BIGNUM
            )""",
            """CREATE TABLE native_transfers (
                chain VARCHAR NOT NULL,
                block_number UBIGINT NOT NULL,
                tx_hash VARCHAR NOT NULL,
                trace_address VARCHAR NOT NULL,
                kind VARCHAR NOT NULL,
                from_address VARCHAR NOT NULL,
                to_address VARCHAR NOT NULL,
                amount_raw UHUGEINT NOT NULL
            )""",
            """CREATE TABLE checkpoints (
                chain VARCHAR NOT NULL,
                stream VARCHAR NOT NULL,
                first_block UBIGINT NOT NULL,
                last_block UBIGINT NOT NULL,
                updated_at TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (chain, stream)
            )""",
            """CREATE TABLE index_runs (
                chain VARCHAR NOT NULL,
                source VARCHAR NOT NULL,
                node_chain_id BIGINT,
                tracing VARCHAR NOT NULL,
                from_block UBIGINT NOT NULL,
                to_block UBIGINT NOT NULL,
                reorgs INTEGER NOT NULL,
                finished_at TIMESTAMPTZ NOT NULL
            )""",
            _TRANSFERS_VIEW,
        ),
    ),
)

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        "label packs, actors, tags, derived address categories, best-tag views",
        (
            """CREATE TABLE label_packs (
                pack_id VARCHAR PRIMARY KEY,
                name VARCHAR NOT NULL,
                path VARCHAR NOT NULL,
                kind VARCHAR NOT NULL,
                title VARCHAR NOT NULL,
                creator VARCHAR NOT NULL,
                sha256 VARCHAR NOT NULL,
                lastmod DATE,
                shipped BOOLEAN NOT NULL,
                is_demo BOOLEAN NOT NULL,
                tags INTEGER NOT NULL,
                actors INTEGER NOT NULL,
                loaded_at TIMESTAMPTZ NOT NULL
            )""",
            """CREATE TABLE actors (
                pack_id VARCHAR NOT NULL,
                actor_id VARCHAR NOT NULL,
                label VARCHAR NOT NULL,
                uri VARCHAR,
                categories VARCHAR[] NOT NULL,
                jurisdictions VARCHAR[] NOT NULL,
                serves_mainland VARCHAR NOT NULL,
                rwa VARCHAR,
                stablecoin VARCHAR,
                evidence VARCHAR,
                as_of DATE,
                grade VARCHAR,
                licence VARCHAR,
                context VARCHAR,
                line INTEGER NOT NULL
            )""",
            "CREATE SEQUENCE tag_ids START 1",
            """CREATE TABLE tags (
                tag_id BIGINT NOT NULL,
                pack_id VARCHAR NOT NULL,
                chain VARCHAR NOT NULL,
                address VARCHAR NOT NULL,
                label VARCHAR NOT NULL,
                source VARCHAR NOT NULL,
                confidence VARCHAR NOT NULL,
                confidence_level INTEGER NOT NULL,
                category VARCHAR,
                concepts VARCHAR[] NOT NULL,
                actor VARCHAR,
                lastmod DATE,
                serves_mainland VARCHAR,
                rwa VARCHAR,
                stablecoin VARCHAR,
                context VARCHAR,
                line INTEGER NOT NULL
            )""",
            """CREATE TABLE address_categories (
                chain VARCHAR NOT NULL,
                address VARCHAR NOT NULL,
                category VARCHAR NOT NULL,
                tag_id BIGINT NOT NULL
            )""",
            # One actor per id: a pack that states attributes beats one that does not, a user's
            # pack beats a shipped one, then the newest load.
            """CREATE VIEW actor_best AS
            SELECT * EXCLUDE (rn) FROM (
                SELECT a.*, p.title AS pack_title, p.shipped,
                       row_number() OVER (
                           PARTITION BY a.actor_id
                           ORDER BY (a.serves_mainland <> 'unknown' OR a.rwa IS NOT NULL
                                     OR a.stablecoin IS NOT NULL) DESC,
                                    p.shipped ASC, p.loaded_at DESC, a.pack_id
                       ) AS rn
                FROM actors a JOIN label_packs p USING (pack_id)
            ) WHERE rn = 1""",
            # The best tag per address: highest confidence, then newest, then a stable order.
            """CREATE VIEW best_tags AS
            SELECT * EXCLUDE (rn) FROM (
                SELECT t.*, p.title AS pack_title, p.name AS pack_name, p.shipped, p.is_demo,
                       row_number() OVER (
                           PARTITION BY t.chain, t.address
                           ORDER BY t.confidence_level DESC, t.lastmod DESC NULLS LAST,
                                    p.shipped ASC, t.tag_id
                       ) AS rn
                FROM tags t JOIN label_packs p USING (pack_id)
            ) WHERE rn = 1""",
        ),
    ),
)

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        "address_exposure: hop distances of every address to every category, per graph",
        (
            """CREATE TABLE address_exposure (
                chain VARCHAR NOT NULL,
                address VARCHAR NOT NULL,
                category VARCHAR NOT NULL,
                direction VARCHAR NOT NULL,
                hops UTINYINT NOT NULL
            )""",
            """CREATE TABLE address_exposure_state (
                chain VARCHAR PRIMARY KEY,
                graph_key VARCHAR NOT NULL,
                max_hops INTEGER NOT NULL,
                rows BIGINT NOT NULL,
                computed_at TIMESTAMPTZ NOT NULL
            )""",
        ),
    ),
)

_TRANSFERS_VIEW_V4 = """
CREATE OR REPLACE VIEW transfers AS
SELECT t.chain,
       coalesce(a.asset, t.token_address) AS asset,
       t.token_address,
       t.tx_hash,
       t.log_index,
       CAST(NULL AS VARCHAR) AS trace_address,
       CAST(NULL AS INTEGER) AS vin,
       CAST(NULL AS INTEGER) AS vout,
       t.block_number,
       b.timestamp AS block_time,
       t.from_address,
       t.to_address,
       t.amount_raw,
       t.amount_raw_big,
       coalesce(CAST(t.amount_raw AS DOUBLE), CAST(t.amount_raw_big AS DOUBLE))
           / pow(10, a.decimals) AS amount
FROM token_transfers t
LEFT JOIN assets a ON a.chain = t.chain AND a.token_address = t.token_address
LEFT JOIN blocks b ON b.chain = t.chain AND b.number = t.block_number
UNION ALL
SELECT n.chain, c.native_symbol, CAST(NULL AS VARCHAR), n.tx_hash, CAST(NULL AS UINTEGER),
       n.trace_address, CAST(NULL AS INTEGER), CAST(NULL AS INTEGER), n.block_number,
       b.timestamp, n.from_address, n.to_address, n.amount_raw, CAST(NULL AS BIGNUM),
       CAST(n.amount_raw AS DOUBLE) / pow(10, c.native_decimals)
FROM native_transfers n
JOIN chains c ON c.chain = n.chain
LEFT JOIN blocks b ON b.chain = n.chain AND b.number = n.block_number
UNION ALL
SELECT x.chain, 'BTC', CAST(NULL AS VARCHAR), x.txid, CAST(NULL AS UINTEGER),
       CAST(NULL AS VARCHAR), x.vin, x.vout, x.block_number, b.timestamp, x.from_address,
       x.to_address, CAST(x.amount_sat AS UHUGEINT), CAST(NULL AS BIGNUM),
       CAST(x.amount_sat AS DOUBLE) / 1e8
FROM btc_transfers x
LEFT JOIN blocks b ON b.chain = x.chain AND b.number = x.block_number
"""

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        "Bitcoin: transactions, outputs, inputs, fetched prevouts, apportioned transfers; "
        "transfers view with vin/vout",
        (
            """CREATE TABLE btc_txs (
                chain VARCHAR NOT NULL,
                block_number UBIGINT NOT NULL,
                position INTEGER NOT NULL,
                txid VARCHAR NOT NULL,
                is_coinbase BOOLEAN NOT NULL,
                coinbase_script BLOB,
                n_in INTEGER NOT NULL,
                n_out INTEGER NOT NULL
            )""",
            """CREATE TABLE btc_outputs (
                chain VARCHAR NOT NULL,
                block_number UBIGINT NOT NULL,
                txid VARCHAR NOT NULL,
                vout INTEGER NOT NULL,
                value_sat UBIGINT NOT NULL,
                script_type VARCHAR NOT NULL,
                address VARCHAR
            )""",
            """CREATE TABLE btc_inputs (
                chain VARCHAR NOT NULL,
                block_number UBIGINT NOT NULL,
                txid VARCHAR NOT NULL,
                vin INTEGER NOT NULL,
                prev_txid VARCHAR NOT NULL,
                prev_vout UBIGINT NOT NULL,
                is_coinbase BOOLEAN NOT NULL
            )""",
            """CREATE TABLE btc_prevouts (
                chain VARCHAR NOT NULL,
                txid VARCHAR NOT NULL,
                vout INTEGER NOT NULL,
                value_sat UBIGINT NOT NULL,
                script_type VARCHAR NOT NULL,
                address VARCHAR
            )""",
            """CREATE TABLE btc_transfers (
                chain VARCHAR NOT NULL,
                block_number UBIGINT NOT NULL,
                txid VARCHAR NOT NULL,
                vin INTEGER NOT NULL,
                vout INTEGER NOT NULL,
                from_address VARCHAR NOT NULL,
                to_address VARCHAR NOT NULL,
                amount_sat UBIGINT NOT NULL
            )""",
            _TRANSFERS_VIEW_V4,
        ),
    ),
)

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        "Bitcoin address clusters (common-input ownership) with the linking transaction",
        (
            """CREATE TABLE btc_clusters (
                chain VARCHAR NOT NULL,
                address VARCHAR NOT NULL,
                cluster VARCHAR NOT NULL,
                linked_by VARCHAR,
                size INTEGER NOT NULL
            )""",
            """CREATE TABLE btc_cluster_refusals (
                chain VARCHAR NOT NULL,
                txid VARCHAR NOT NULL,
                size_a INTEGER NOT NULL,
                size_b INTEGER NOT NULL,
                reason VARCHAR NOT NULL
            )""",
            """CREATE TABLE btc_cluster_state (
                chain VARCHAR PRIMARY KEY,
                data_key VARCHAR NOT NULL,
                addresses BIGINT NOT NULL,
                clusters BIGINT NOT NULL,
                coinjoins BIGINT NOT NULL,
                refused BIGINT NOT NULL,
                computed_at TIMESTAMPTZ NOT NULL
            )""",
        ),
    ),
)

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        "blocks from bulk dumps may lack the parent hash of their first block (cryo's default)",
        ("ALTER TABLE blocks ALTER COLUMN parent_hash DROP NOT NULL",),
    ),
)

_TRANSFERS_VIEW_V7 = _TRANSFERS_VIEW_V4.replace(
    "           / pow(10, a.decimals) AS amount\n",
    "           / pow(10, a.decimals) AS amount,\n       t.from_id, t.to_id\n",
).replace(
    "CAST(n.amount_raw AS DOUBLE) / pow(10, c.native_decimals)\n",
    "CAST(n.amount_raw AS DOUBLE) / pow(10, c.native_decimals), n.from_id, n.to_id\n",
).replace(
    "CAST(x.amount_sat AS DOUBLE) / 1e8\n",
    "CAST(x.amount_sat AS DOUBLE) / 1e8, x.from_id, x.to_id\n",
)

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        "open_blocks: blocks of a stream that an import left incomplete (a row was rejected), "
        "kept out of the checkpoint until `index evm` or a corrected import writes them whole",
        (
            """CREATE TABLE open_blocks (
                chain VARCHAR NOT NULL,
                stream VARCHAR NOT NULL,
                block_number UBIGINT NOT NULL,
                reason VARCHAR NOT NULL,
                source VARCHAR NOT NULL,
                recorded_at TIMESTAMPTZ NOT NULL
            )""",
        ),
    ),
)

#: The transfer tables that carry address ids (``from_id``/``to_id`` into ``addresses``).
ADDRESS_TABLES = ("token_transfers", "native_transfers", "btc_transfers")

MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        "addresses dictionary-encoded per chain: dense integer ids in `addresses`, from_id/to_id "
        "on every transfer table (the graph is built from integers); transfers view shows both",
        (
            """CREATE TABLE addresses (
                chain VARCHAR NOT NULL,
                id BIGINT NOT NULL,
                address VARCHAR NOT NULL
            )""",
            *(f"ALTER TABLE {t} ADD COLUMN {side}_id BIGINT"
              for t in ADDRESS_TABLES for side in ("from", "to")),
            # ids in address order per chain, for the addresses already stored
            """INSERT INTO addresses
            SELECT chain, (row_number() OVER (PARTITION BY chain ORDER BY address) - 1)::BIGINT,
                   address
            FROM (SELECT chain, from_address AS address FROM token_transfers
                  UNION SELECT chain, to_address FROM token_transfers
                  UNION SELECT chain, from_address FROM native_transfers
                  UNION SELECT chain, to_address FROM native_transfers
                  UNION SELECT chain, from_address FROM btc_transfers
                  UNION SELECT chain, to_address FROM btc_transfers)""",
            *(f"UPDATE {t} x SET {side}_id = a.id FROM addresses a "
              f"WHERE a.chain = x.chain AND a.address = x.{side}_address"
              for t in ADDRESS_TABLES for side in ("from", "to")),
            _TRANSFERS_VIEW_V7,
            # derived data moves to the graph cache (screening never writes the store)
            "DROP TABLE address_exposure",
            "DROP TABLE address_exposure_state",
        ),
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)
