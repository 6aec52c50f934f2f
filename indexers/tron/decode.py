"""Decode java-tron blocks and transaction infos into the store's columns (pure, no I/O).

What moves value (issue 13; only in transactions whose ``contractRet`` is ``SUCCESS``):

- TRC-20 ``Transfer(address,address,uint256)`` logs of the tracked tokens: the same fact as an
  ERC-20 transfer (:func:`exposure.indexers.evm.erc20_transfer_mask`: three topics, one 32-byte
  data word), the log's ``address`` one of the tracked contracts. ``log_index`` is the log's
  position in its transaction's ``log`` list (TRON numbers logs per transaction).
- TRX: a ``TransferContract``'s ``amount`` (kind ``transfer``), the ``call_value`` of a
  ``TriggerSmartContract`` (kind ``call``), both with ``trace_address`` ''; and each internal
  transaction that was not ``rejected`` and carries TRX (a ``callValueInfo`` entry without a
  ``tokenId``), kind from its note (``call``, ``create``, ``suicide``), ``trace_address`` its
  position in ``internal_transactions``.

Fees, burns, freezes, delegations and TRC-10 tokens are not transfers. Addresses arrive as
``T...`` (``visible: true``), ``41``-hex (``visible: false``) or 20-byte hex (log topics, and log
addresses when not visible); all leave as ``T...``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from exposure.addresses import tron_encode_many, tron_from_bytes, tron_to_hex
from exposure.domain import Token

from ..evm.blocks import BLOCK_SCHEMA, NATIVE_SCHEMA
from ..evm.logs import TRANSFER_SCHEMA, erc20_transfer_mask

SUCCESS = "SUCCESS"
_NOTES = {"63616c6c": "call", "637265617465": "create", "73756963696465": "suicide"}


def block_number(block: Mapping[str, Any]) -> int:
    """The height of a java-tron block (JSON)."""
    return int(block["block_header"]["raw_data"].get("number", 0))


def block_columns(blocks: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Header columns (number, hash = ``blockID``, parent hash, unix seconds) of ``blocks``."""
    raws = [b["block_header"]["raw_data"] for b in blocks]
    return pa.table(
        [
            pa.array([int(r.get("number", 0)) for r in raws], type=pa.uint64()),
            pa.array([b["blockID"].lower() for b in blocks], type=pa.string()),
            pa.array([r["parentHash"].lower() for r in raws], type=pa.string()),
            pa.array([int(r.get("timestamp", 0)) // 1000 for r in raws], type=pa.int64()),
        ],
        schema=BLOCK_SCHEMA,
    )


def tx_succeeded(tx: Mapping[str, Any]) -> bool:
    """Whether a block's transaction took effect: its first ``ret`` says ``SUCCESS``."""
    ret = tx.get("ret") or ()
    return bool(ret) and ret[0].get("contractRet") == SUCCESS


def info_succeeded(info: Mapping[str, Any]) -> bool:
    """Whether a transaction info agrees the transaction took effect (no ``FAILED`` result and,
    where a receipt result is given, ``SUCCESS``)."""
    if info.get("result") == "FAILED":
        return False
    result = (info.get("receipt") or {}).get("result")
    return result is None or result == SUCCESS


class AddressForms:
    """Turns any of java-tron's address forms into ``T...``, remembering what it converted."""

    def __init__(self) -> None:
        self._seen: dict[str, str] = {}

    def __call__(self, value: str) -> str:
        got = self._seen.get(value)
        if got is None:
            if len(value) == 34:
                got = value
            else:
                got = tron_from_bytes(bytes.fromhex(value.removeprefix("0x")))
            if len(self._seen) > 1_000_000:
                self._seen.clear()
            self._seen[value] = got
        return got

    def many_hex20(self, values: list[str]) -> list[str]:
        """``T...`` of many 40-digit hex strings (the 20-byte EVM form, as in log topics): the
        ones seen before from the cache, the rest encoded at once (tron_encode_many)."""
        seen = self._seen
        out = [seen.get(v) for v in values]
        missing = [i for i, got in enumerate(out) if got is None]
        if missing:
            fresh = [values[i] for i in missing]
            raw = np.frombuffer(bytes.fromhex("".join(fresh)), dtype=np.uint8)
            encoded = tron_encode_many(raw.reshape(len(fresh), 20))
            if len(seen) > 1_000_000:
                seen.clear()
            for i, value, got in zip(missing, fresh, encoded, strict=True):
                out[i] = got
                seen[value] = got
        return out  # type: ignore[return-value]


def token_lookup(tokens: Iterable[Token]) -> dict[str, Token]:
    """Every form a log's ``address`` may take (T..., 41-hex, 20-byte hex) -> the token."""
    out: dict[str, Token] = {}
    for token in tokens:
        hex41 = tron_to_hex(token.address)
        for form in (token.address, hex41, hex41[2:], "0x" + hex41[2:], "0x" + hex41):
            out[form] = token
    return out


def decode_transfers(
    blocks: Sequence[Mapping[str, Any]],
    infos: Mapping[int, Sequence[Mapping[str, Any]]],
    tokens: Mapping[str, Token],
    *,
    native: bool,
    forms: AddressForms | None = None,
) -> tuple[pa.Table, pa.Table]:
    """The token and TRX transfers of ``blocks``.

    Parameters
    ----------
    blocks:
        java-tron blocks (``getblockbylimitnext``/``getblockbynum`` JSON, either ``visible``).
    infos:
        Block height -> its ``gettransactioninfobyblocknum`` list (each info's ``id`` is a txID
        of that block; the caller checked).
    tokens:
        :func:`token_lookup` of the tracked tokens; empty tracks none.
    native:
        Whether TRX transfers are wanted.
    forms:
        An address converter to reuse across batches (its cache).

    Returns
    -------
    (tokens, native):
        ``TRANSFER_SCHEMA`` and ``NATIVE_SCHEMA`` tables; hashes lowercase hex without ``0x``
        (folded column at a time), addresses ``T...``, token addresses the tokens' ``T...``.
    """
    forms = forms or AddressForms()
    log_rows: list[tuple[str, int, str, str, int]] = []  # token, block, block hash, tx, index
    topics: list[Sequence[str]] = []
    data: list[str] = []
    nat: list[tuple[int, str, str, str, str, str, int]] = []
    for block in blocks:
        number = int(block["block_header"]["raw_data"].get("number", 0))
        block_hash = block["blockID"]
        ok: dict[str, bool] = {}
        for tx in block.get("transactions") or ():
            tx_id = tx["txID"]
            ret = tx.get("ret")
            good = bool(ret) and ret[0].get("contractRet") == SUCCESS  # tx_succeeded, inline
            ok[tx_id] = good
            if not (native and good):
                continue
            contract = tx["raw_data"]["contract"][0]
            kind = contract.get("type")
            if kind == "TransferContract":
                value = contract["parameter"]["value"]
                amount = int(value.get("amount", 0))
                if amount > 0:
                    nat.append((number, tx_id, "", "transfer", forms(value["owner_address"]),
                                forms(value["to_address"]), amount))
            elif kind == "TriggerSmartContract":
                value = contract["parameter"]["value"]
                amount = int(value.get("call_value", 0))
                if amount > 0:
                    nat.append((number, tx_id, "", "call", forms(value["owner_address"]),
                                forms(value["contract_address"]), amount))
        for info in infos.get(number, ()):
            logs = info.get("log")
            internal = info.get("internal_transactions") if native else None
            if not logs and not internal:
                continue
            tx_id = info["id"]
            if not ok.get(tx_id, False) or not info_succeeded(info):
                continue
            if tokens and logs:
                for index, log in enumerate(logs):
                    token = tokens.get(log.get("address", ""))
                    if token is not None:
                        log_rows.append((token.address, number, block_hash, tx_id, index))
                        topics.append(log.get("topics") or ())
                        data.append(log.get("data") or "")
            if internal:
                for i, itx in enumerate(internal):
                    if itx.get("rejected"):
                        continue
                    trx = [int(v.get("callValue", 0)) for v in itx.get("callValueInfo") or ()
                           if not v.get("tokenId")]
                    for j, amount in enumerate(trx):
                        if amount > 0:
                            nat.append((number, tx_id, str(i) if len(trx) == 1 else f"{i}:{j}",
                                        _NOTES.get(itx.get("note", ""), "call"),
                                        forms(itx["caller_address"]),
                                        forms(itx["transferTo_address"]), amount))
    return _token_table(log_rows, topics, data, forms), _native_table(nat)


def _token_table(
    rows: list[tuple[str, int, str, str, int]],
    topics: list[Sequence[str]],
    data: list[str],
    forms: AddressForms,
) -> pa.Table:
    if rows:  # the one definition of a Transfer log, in java-tron's unprefixed hex
        keep = erc20_transfer_mask(topics, data, prefix="")
        if not keep.all():
            rows = [r for r, k in zip(rows, keep, strict=True) if k]
            topics = [t for t, k in zip(topics, keep, strict=True) if k]
            data = [d for d, k in zip(data, keep, strict=True) if k]
    n = len(rows)
    if n == 0:
        return TRANSFER_SCHEMA.empty_table()
    words = np.frombuffer(bytes.fromhex("".join(data)), dtype=">u8").reshape(n, 4)
    fits = (words[:, 0] == 0) & (words[:, 1] == 0)
    big: list[str | None] = [None] * n
    for i in np.flatnonzero(~fits):
        big[i] = str(int(data[i], 16))
    both = forms.many_hex20([w[24:] for t in topics for w in (t[1], t[2])])
    return pa.table(
        [
            pa.array([r[0] for r in rows], type=pa.string()),
            pa.array([r[1] for r in rows], type=pa.uint64()),
            pc.utf8_lower(pa.array([r[2] for r in rows], type=pa.string())),
            pc.utf8_lower(pa.array([r[3] for r in rows], type=pa.string())),
            pa.array([r[4] for r in rows], type=pa.uint32()),
            pa.array(both[0::2], type=pa.string()),
            pa.array(both[1::2], type=pa.string()),
            pa.array(np.where(fits, words[:, 2], 0).astype(np.uint64), type=pa.uint64()),
            pa.array(np.where(fits, words[:, 3], 0).astype(np.uint64), type=pa.uint64()),
            pa.array(big, type=pa.string()),
        ],
        schema=TRANSFER_SCHEMA,
    )


def _native_table(rows: list[tuple[int, str, str, str, str, str, int]]) -> pa.Table:
    cols = list(zip(*rows, strict=True)) if rows else [()] * 7
    return pa.table(
        [
            pa.array(cols[0], type=pa.uint64()),
            pc.utf8_lower(pa.array(cols[1], type=pa.string())),
            pa.array(cols[2], type=pa.string()),
            pa.array(cols[3], type=pa.string()),
            pa.array(cols[4], type=pa.string()),
            pa.array(cols[5], type=pa.string()),
            pa.array([str(a) for a in cols[6]], type=pa.string()),
        ],
        schema=NATIVE_SCHEMA,
    )
