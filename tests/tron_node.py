"""A java-tron FullNode HTTP API on 127.0.0.1 for tests (no TRON node can be installed here).

It serves the ``/wallet/...`` (and ``/walletsolidity/...``) paths the indexer uses, with the JSON
shapes of java-tron's servlets as documented at tronprotocol.github.io/documentation-en/api/http:

- ``getnowblock``, ``getblockbynum`` (``{}`` for a block it does not have),
  ``getblockbylimitnext`` (``startNum`` inclusive, ``endNum`` exclusive, at most 100 blocks,
  ``{"block": [...]}``; ``{}`` when nothing is in range), ``gettransactioninfobyblocknum`` (a list,
  ``[]`` for a block without transactions), ``triggerconstantcontract`` (``decimals()`` of the
  tokens it knows);
- ``visible``: ``true`` gives ``T...`` addresses (log addresses too, as the servlet rewrites
  them), ``false`` (the default) 21-byte hex with ``41`` (20-byte hex for log addresses and
  always for log topics);
- errors as java-tron answers them: HTTP 200 with ``{"Error": "class ... : message"}`` for a body
  it cannot parse, an HTML 404 page for an unknown path.

The chain it serves is real data plus built blocks:

- :func:`recorded_block` reads a mainnet block recorded by others from ``/work/shared/data/tron``
  (never copied into the project) and checks it: txID = sha256(raw_data_hex), the block id from
  the header's protobuf and ``txTrieRoot`` as the Merkle root of the full transactions.
  :func:`raw_recorded_block` does the same for the block recorded as raw gRPC bytes, decoding
  the protobuf into java-tron's JSON (the contract kinds the indexer reads in full, the others
  with their owner only).
  Its transaction infos are not recorded (only one transaction's is): :func:`derived_infos`
  rebuilds them for the direct USDT ``transfer``/``transferFrom`` calls, whose Transfer log is
  fixed by the call, and a test checks that against the one recorded info.
- :class:`Chain` builds further blocks from real transactions: raw_data protobuf encoded here,
  signed with secp256k1 (eth_keys), ids and roots computed the same way. What a contract call
  emitted (logs, internal transactions, a REVERT) is stated by the test, as there is no TVM.

Test knobs on :class:`TronNode`: an API key to require (``TRON-PRO-API-KEY`` header or ``apikey``
query), a number of requests to answer 429 with ``Retry-After``, a request count after which the
node dies (the listening socket closes), a latency, and every request's path and headers for
assertions.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from eth_hash.auto import keccak
from eth_keys import keys

from exposure.addresses import base58check_decode, tron_from_bytes

DATA = Path("/work/shared/data/tron")
RECORDED_BLOCK = DATA / "bjrobin-note" / "getblock_60836289_visible.json"
RECORDED_RAW_BLOCK = (
    DATA / "untron-v3"
    / "tron_blockext_raw_79072107_860981c986ef3c0313916283483e6e0f8614686b2c011c31d68d42e8efff6601.json"
)
RECORDED_INFO = (
    DATA / "bjrobin-note"
    / "gettransactioninfo_661f1df88ce02b746efe7449c3c7a04d6d21a7fc019723c92679228d8275ad57.json"
)
USDT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
USDC = "TEkxiTehnzSmSe2XqrBj4w32RUN966rdz8"
TRANSFER_TOPIC = "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
_CONTRACT_TYPES = {"TransferContract": 1, "TriggerSmartContract": 31}
_RESULT_NAMES = ("DEFAULT", "SUCCESS", "REVERT", "BAD_JUMP_DESTINATION", "OUT_OF_MEMORY",
                 "PRECOMPILED_CONTRACT", "STACK_TOO_SMALL", "STACK_TOO_LARGE",
                 "ILLEGAL_OPERATION", "STACK_OVERFLOW", "OUT_OF_ENERGY", "OUT_OF_TIME",
                 "JVM_STACK_OVER_FLOW", "UNKNOWN", "TRANSFER_FAILED", "INVALID_CODE")
_RESULT_CODES = {name: i for i, name in enumerate(_RESULT_NAMES)}


# -- protobuf, just the fields TRON's block, transaction and contract messages use -------------
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _int(field_no: int, n: int) -> bytes:
    return _varint(field_no << 3) + _varint(n) if n else b""


def _bytes(field_no: int, b: bytes) -> bytes:
    return _varint(field_no << 3 | 2) + _varint(len(b)) + b if b else b""


def address_bytes(address: str) -> bytes:
    """21 bytes (0x41 + 20) of a ``T...`` or ``41``-hex address."""
    return base58check_decode(address) if address.startswith("T") else bytes.fromhex(address)


def contract_bytes(kind: str, value: dict[str, Any]) -> bytes:
    """``TransferContract`` / ``TriggerSmartContract`` protobuf of a contract's JSON value."""
    if kind == "TransferContract":
        return (_bytes(1, address_bytes(value["owner_address"]))
                + _bytes(2, address_bytes(value["to_address"])) + _int(3, value.get("amount", 0)))
    if kind == "TriggerSmartContract":
        return (_bytes(1, address_bytes(value["owner_address"]))
                + _bytes(2, address_bytes(value["contract_address"]))
                + _int(3, value.get("call_value", 0))
                + _bytes(4, bytes.fromhex(value.get("data", ""))))
    raise ValueError(f"no encoder for {kind}")


def raw_bytes(raw: dict[str, Any]) -> bytes:
    """``Transaction.raw`` protobuf of a transaction's ``raw_data`` JSON (one contract)."""
    contract = raw["contract"][0]
    kind = contract["type"]
    any_value = (_bytes(1, contract["parameter"]["type_url"].encode())
                 + _bytes(2, contract_bytes(kind, contract["parameter"]["value"])))
    return (_bytes(1, bytes.fromhex(raw["ref_block_bytes"]))
            + _bytes(4, bytes.fromhex(raw["ref_block_hash"]))
            + _int(8, raw["expiration"])
            + _bytes(11, _int(1, _CONTRACT_TYPES[kind]) + _bytes(2, any_value))
            + _int(14, raw.get("timestamp", 0))
            + _int(18, raw.get("fee_limit", 0)))


def transaction_bytes(tx: dict[str, Any]) -> bytes:
    """The full ``Transaction`` protobuf (raw, signatures, results) the txTrieRoot is over."""
    return (_bytes(1, bytes.fromhex(tx["raw_data_hex"]))
            + b"".join(_bytes(2, bytes.fromhex(s)) for s in tx.get("signature", ()))
            + b"".join(_bytes(5, _int(3, _RESULT_CODES[r.get("contractRet", "DEFAULT")]))
                       for r in tx.get("ret", ())))


def header_bytes(raw: dict[str, Any]) -> bytes:
    """``BlockHeader.raw`` protobuf of a block header's ``raw_data`` JSON."""
    return (_int(1, raw["timestamp"]) + _bytes(2, bytes.fromhex(raw["txTrieRoot"]))
            + _bytes(3, bytes.fromhex(raw["parentHash"])) + _int(7, raw["number"])
            + _int(8, raw.get("witness_id", 0)) + _bytes(9, address_bytes(raw["witness_address"]))
            + _int(10, raw.get("version", 0))
            + _bytes(11, bytes.fromhex(raw.get("accountStateRoot", ""))))


def tx_trie_root(txs: Iterable[dict[str, Any]]) -> str:
    """Merkle root of sha256 of each full transaction (pairs hashed, an odd last one promoted)."""
    level = [hashlib.sha256(transaction_bytes(tx)).digest() for tx in txs]
    if not level:
        return "00" * 32
    while len(level) > 1:
        nxt = [hashlib.sha256(level[i] + level[i + 1]).digest()
               for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0].hex()


def block_id(raw: dict[str, Any]) -> str:
    """8-byte big-endian height, then bytes 8..32 of sha256(BlockHeader.raw)."""
    return raw["number"].to_bytes(8, "big").hex() + hashlib.sha256(header_bytes(raw)).hexdigest()[16:]


def check_block(block: dict[str, Any]) -> None:
    """AssertionError unless every txID, the txTrieRoot and the block id hold."""
    for tx in block.get("transactions", ()):
        assert hashlib.sha256(bytes.fromhex(tx["raw_data_hex"])).hexdigest() == tx["txID"], tx["txID"]
    raw = block["block_header"]["raw_data"]
    assert tx_trie_root(block.get("transactions", ())) == raw["txTrieRoot"], "txTrieRoot"
    assert block_id(raw) == block["blockID"], "blockID"


# -- protobuf decoding, for the block recorded as raw gRPC bytes -------------------------------
def _fields(buf: bytes) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, value) of a protobuf message: varints as int, length-delimited
    as bytes, fixed64/fixed32 as bytes."""
    i = 0
    while i < len(buf):
        key, i = _read_varint(buf, i)
        field_no, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _read_varint(buf, i)
        elif wire == 2:
            length, i = _read_varint(buf, i)
            value, i = buf[i:i + length], i + length
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {wire}")
        yield field_no, wire, value


def _read_varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def _contract_json(kind: str, value: bytes) -> dict[str, Any]:
    """The JSON value (``visible: true``) of the contract kinds the indexer reads; other kinds get
    their ``owner_address`` only (field 1 of every TRON contract): the test node decodes no
    more of them, and the indexer moves nothing for them."""
    f = {}
    for no, _, v in _fields(value):
        f.setdefault(no, v)
    out: dict[str, Any] = {}
    if kind == "TransferContract":
        out = {"owner_address": tron_from_bytes(f[1]), "to_address": tron_from_bytes(f[2])}
        if f.get(3):
            out["amount"] = f[3]
    elif kind == "TriggerSmartContract":
        out = {"owner_address": tron_from_bytes(f[1]), "contract_address": tron_from_bytes(f[2])}
        if f.get(3):
            out["call_value"] = f[3]
        if f.get(4):
            out["data"] = f[4].hex()
    elif kind == "TransferAssetContract":
        out = {"asset_name": f[1].decode(), "owner_address": tron_from_bytes(f[2]),
               "to_address": tron_from_bytes(f[3]), "amount": f.get(4, 0)}
    elif isinstance(f.get(1), bytes) and len(f[1]) == 21:
        out = {"owner_address": tron_from_bytes(f[1])}
    return out


def _transaction_json(tx_bytes: bytes) -> dict[str, Any]:
    raw_hex, signatures, rets = "", [], []
    for no, _, v in _fields(tx_bytes):
        if no == 1:
            raw_hex = v.hex()
        elif no == 2:
            signatures.append(v.hex())
        elif no == 5:
            ret = {}
            for rno, _, rv in _fields(v):
                if rno == 1 and rv:
                    ret["fee"] = rv
                elif rno == 3:
                    ret["contractRet"] = _RESULT_NAMES[rv]
            rets.append(ret)
    raw: dict[str, Any] = {"contract": []}
    for no, _, v in _fields(bytes.fromhex(raw_hex)):
        if no == 1:
            raw["ref_block_bytes"] = v.hex()
        elif no == 4:
            raw["ref_block_hash"] = v.hex()
        elif no == 8:
            raw["expiration"] = v
        elif no == 10:
            raw["data"] = v.hex()
        elif no == 11:
            c = dict((cno, cv) for cno, _, cv in _fields(v))
            param = dict((pno, pv) for pno, _, pv in _fields(c[2]))
            type_url = param[1].decode()
            kind = type_url.rsplit(".", 1)[-1]
            raw["contract"].append({"parameter": {"value": _contract_json(kind, param.get(2, b"")),
                                                  "type_url": type_url}, "type": kind})
        elif no == 14:
            raw["timestamp"] = v
        elif no == 18:
            raw["fee_limit"] = v
    return {"ret": rets or [{}], "signature": signatures,
            "txID": hashlib.sha256(bytes.fromhex(raw_hex)).hexdigest(),
            "raw_data": raw, "raw_data_hex": raw_hex, "_bytes": tx_bytes}


def raw_recorded_block() -> dict[str, Any]:
    """Mainnet block 79072107, recorded as gRPC ``GetBlockByNum2`` bytes (``BlockExtention``),
    as java-tron's JSON (``visible: true``), after checking it whole: each txID is the sha256 of
    its raw bytes and equals the recorded ``txid``, the txTrieRoot is the Merkle root of the
    recorded transaction bytes themselves, and the block id is the header's."""
    data = bytes.fromhex(json.loads(RECORDED_RAW_BLOCK.read_text())["blockExtention"][2:])
    txs, header_raw, witness_sig, recorded_id = [], b"", "", ""
    for no, _, v in _fields(data):
        if no == 1:
            ext = dict((eno, ev) for eno, _, ev in _fields(v))
            tx = _transaction_json(ext[1])
            assert tx["txID"] == ext[2].hex(), tx["txID"]
            txs.append(tx)
        elif no == 2:
            h = dict((hno, hv) for hno, _, hv in _fields(v))
            header_raw, witness_sig = h[1], h.get(2, b"").hex()
        elif no == 3:
            recorded_id = v.hex()
    raw: dict[str, Any] = {}
    for no, _, v in _fields(header_raw):
        key = {1: "timestamp", 2: "txTrieRoot", 3: "parentHash", 7: "number", 8: "witness_id",
               9: "witness_address", 10: "version", 11: "accountStateRoot"}.get(no)
        if key in ("txTrieRoot", "parentHash", "accountStateRoot"):
            raw[key] = v.hex()
        elif key == "witness_address":
            raw[key] = tron_from_bytes(v)
        elif key:
            raw[key] = v
    leaves = [hashlib.sha256(tx.pop("_bytes")).digest() for tx in txs]
    assert _merkle(leaves) == raw["txTrieRoot"], "txTrieRoot"
    number = raw["number"]
    assert recorded_id == number.to_bytes(8, "big").hex() + hashlib.sha256(
        header_raw).hexdigest()[16:], "blockID"
    return {"blockID": recorded_id,
            "block_header": {"raw_data": raw, "witness_signature": witness_sig},
            "transactions": txs}


def _merkle(level: list[bytes]) -> str:
    while len(level) > 1:
        nxt = [hashlib.sha256(level[i] + level[i + 1]).digest()
               for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0].hex() if level else "00" * 32


# -- recorded data ------------------------------------------------------------------------------
def recorded_block() -> dict[str, Any]:
    """Mainnet block 60836289 as recorded (``visible: true``), after checking it whole."""
    block = json.loads(RECORDED_BLOCK.read_text())
    check_block(block)
    return block


def recorded_info() -> dict[str, Any]:
    """The one recorded ``gettransactioninfobyid`` of block 60836289 (a USDT transfer)."""
    return json.loads(RECORDED_INFO.read_text())


def word(address: str) -> str:
    """A 32-byte ABI word of an address (its 20 bytes, left-padded)."""
    return "00" * 12 + address_bytes(address)[1:].hex()


def transfer_log(token: str, src: str, dst: str, amount: int) -> dict[str, Any]:
    """A TRC-20 Transfer log as java-tron shows it with ``visible: true``."""
    return {"address": token, "topics": [TRANSFER_TOPIC, word(src), word(dst)],
            "data": f"{amount:064x}"}


def derived_infos(block: dict[str, Any]) -> list[dict[str, Any]]:
    """Transaction infos of a recorded block, as far as the block fixes them: every transaction
    gets its id, height and time; a successful direct USDT ``transfer(to, amount)`` or
    ``transferFrom(from, to, amount)`` call gets the Transfer log the USDT contract emits for it.
    Logs of other contracts are unknown and left out (not recorded)."""
    raw = block["block_header"]["raw_data"]
    out = []
    for tx in block["transactions"]:
        contract = tx["raw_data"]["contract"][0]
        result = tx["ret"][0].get("contractRet", "SUCCESS")
        info: dict[str, Any] = {"id": tx["txID"], "blockNumber": raw["number"],
                                "blockTimeStamp": raw["timestamp"], "receipt": {}}
        if contract["type"] == "TriggerSmartContract":
            value = contract["parameter"]["value"]
            info["contract_address"] = value["contract_address"]
            info["receipt"]["result"] = result
            data = value.get("data", "")
            if result != "SUCCESS":
                info["result"] = "FAILED"
            elif value["contract_address"] == USDT and data[:8] == "a9059cbb":
                to = tron_from_bytes(bytes.fromhex(data[32:72]))
                info["log"] = [transfer_log(USDT, value["owner_address"], to, int(data[72:136], 16))]
            elif value["contract_address"] == USDT and data[:8] == "23b872dd":
                src = tron_from_bytes(bytes.fromhex(data[32:72]))
                dst = tron_from_bytes(bytes.fromhex(data[96:136]))
                info["log"] = [transfer_log(USDT, src, dst, int(data[136:200], 16))]
        out.append(info)
    return out


# -- building blocks ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Account:
    """A key pair and its TRON address (0x41 + the last 20 bytes of keccak(public key))."""

    key: keys.PrivateKey

    @classmethod
    def of(cls, seed: str) -> Account:
        return cls(keys.PrivateKey(hashlib.sha256(seed.encode()).digest()))

    @property
    def address(self) -> str:
        return tron_from_bytes(self.key.public_key.to_canonical_address())


def build_tx(owner: Account, kind: str, value: dict[str, Any], *, ret: str = "SUCCESS",
             timestamp: int = 1_713_150_600_000, ref_block: str = "0000000000000000") -> dict:
    """A signed transaction (``visible: true`` JSON with ``raw_data_hex`` and ``txID``)."""
    value = {"owner_address": owner.address, **value}
    raw = {
        "contract": [{"parameter": {"value": value,
                                    "type_url": f"type.googleapis.com/protocol.{kind}"},
                      "type": kind}],
        "ref_block_bytes": ref_block[-4:], "ref_block_hash": ref_block[16:32] or "00" * 8,
        "expiration": timestamp + 60_000, "timestamp": timestamp,
    }
    if kind == "TriggerSmartContract":
        raw["fee_limit"] = 100_000_000
    raw_hex = raw_bytes(raw).hex()
    tx_id = hashlib.sha256(bytes.fromhex(raw_hex)).hexdigest()
    signature = owner.key.sign_msg_hash(bytes.fromhex(tx_id)).to_bytes().hex()
    return {"ret": [{"contractRet": ret}], "signature": [signature], "txID": tx_id,
            "raw_data": raw, "raw_data_hex": raw_hex}


def trx_transfer(owner: Account, to: str, amount: int, **kw: Any) -> dict:
    """A TransferContract of ``amount`` sun."""
    return build_tx(owner, "TransferContract", {"to_address": to, "amount": amount}, **kw)


def usdt_transfer(owner: Account, to: str, amount: int, *, token: str = USDT,
                  call_value: int = 0, **kw: Any) -> dict:
    """A TriggerSmartContract calling ``transfer(to, amount)`` on ``token``."""
    data = "a9059cbb" + word(to) + f"{amount:064x}"
    value: dict[str, Any] = {"data": data, "contract_address": token}
    if call_value:
        value["call_value"] = call_value
    return build_tx(owner, "TriggerSmartContract", value, **kw)


def contract_call(owner: Account, contract: str, *, call_value: int = 0, data: str = "d0e30db0",
                  **kw: Any) -> dict:
    """A TriggerSmartContract of any contract (default selector ``deposit()``)."""
    value: dict[str, Any] = {"data": data, "contract_address": contract}
    if call_value:
        value["call_value"] = call_value
    return build_tx(owner, "TriggerSmartContract", value, **kw)


def info_for(tx: dict, *, logs: Iterable[dict] = (), internal: Iterable[dict] = ()) -> dict:
    """The transaction info of a built transaction: what the test says the call did."""
    info: dict[str, Any] = {"id": tx["txID"], "fee": 345_000, "receipt": {"net_fee": 345_000}}
    kind = tx["raw_data"]["contract"][0]["type"]
    result = tx["ret"][0]["contractRet"]
    if kind == "TriggerSmartContract":
        info["contract_address"] = tx["raw_data"]["contract"][0]["parameter"]["value"][
            "contract_address"]
        info["receipt"] = {"energy_usage_total": 64_895, "net_fee": 345_000, "result": result}
        if result != "SUCCESS":
            info["result"] = "FAILED"
            info["resMessage"] = b"REVERT opcode executed".hex()
    if logs:
        info["log"] = list(logs)
    if internal:
        info["internal_transactions"] = list(internal)
    return info


def internal_tx(tx: dict, caller: str, to: str, amount: int, *, rejected: bool = False,
                token_id: str | None = None, note: str = "call") -> dict:
    """An internal transaction (``visible: true`` form) moving ``amount`` sun (or TRC-10)."""
    value: dict[str, Any] = {"callValue": amount} if amount else {}
    if token_id:
        value["tokenId"] = token_id
    out: dict[str, Any] = {
        "hash": hashlib.sha256(bytes.fromhex(tx["txID"]) + to.encode()).hexdigest(),
        "caller_address": caller, "transferTo_address": to, "callValueInfo": [value],
        "note": note.encode().hex(),
    }
    if rejected:
        out["rejected"] = True
    return out


_WITNESS = "TNaJADoq1u2atryP1ZzwvmEE4ZBELXfMqw"


@dataclass
class Chain:
    """Blocks by height (``visible: true`` JSON) and their transaction infos."""

    blocks: dict[int, dict] = field(default_factory=dict)
    infos: dict[int, list[dict]] = field(default_factory=dict)

    @property
    def head(self) -> int:
        return max(self.blocks)

    def add_recorded(self) -> dict:
        """Mainnet block 60836289 with its derived infos."""
        block = recorded_block()
        number = block["block_header"]["raw_data"]["number"]
        self.blocks[number] = block
        self.infos[number] = derived_infos(block)
        return block

    def add_raw_recorded(self) -> dict:
        """Mainnet block 79072107 (recorded as gRPC bytes) with its derived infos."""
        block = raw_recorded_block()
        number = block["block_header"]["raw_data"]["number"]
        self.blocks[number] = block
        self.infos[number] = derived_infos(block)
        return block

    def add(self, txs: Iterable[dict] = (), infos: Iterable[dict] = (), *,
            number: int | None = None, salt: int = 0) -> dict:
        """A new block on top (or at ``number``, on top of ``number - 1``) holding ``txs``."""
        number = self.head + 1 if number is None else number
        parent = self.blocks[number - 1]
        txs = list(txs)
        raw = {"number": number, "txTrieRoot": tx_trie_root(txs),
               "witness_address": _WITNESS, "parentHash": parent["blockID"], "version": 29,
               "timestamp": parent["block_header"]["raw_data"]["timestamp"] + 3000 + salt}
        block = {"blockID": block_id(raw),
                 "block_header": {"raw_data": raw,
                                  "witness_signature": keccak(number.to_bytes(8, "big")).hex() * 2},
                 "transactions": txs}
        if not txs:
            del block["transactions"]
        self.blocks[number] = block
        stamped = []
        for info in infos:
            stamped.append({**info, "blockNumber": number, "blockTimeStamp": raw["timestamp"]})
        self.infos[number] = stamped
        for n in [n for n in self.blocks if n > number]:
            del self.blocks[n]
            self.infos.pop(n, None)
        return block


# -- visible=false: the hex forms --------------------------------------------------------------
def _hex_form(value: Any, *, in_log: bool = False) -> Any:
    if isinstance(value, list):
        return [_hex_form(v, in_log=in_log) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for k, v in value.items():
        if isinstance(v, str) and len(v) == 34 and v.startswith("T") and (
                k.endswith("address") or k.endswith("_address")):
            hex41 = address_bytes(v).hex()
            out[k] = hex41[2:] if (in_log and k == "address") else hex41
        else:
            out[k] = _hex_form(v, in_log=in_log or k == "log")
    return out


# -- the server ----------------------------------------------------------------------------------
class TronNode:
    """java-tron's HTTP API over :class:`Chain`, on 127.0.0.1 (a context manager)."""

    def __init__(self, chain: Chain, *, api_key: str | None = None,
                 ignore_visible: bool = False) -> None:
        self.chain = chain
        self.api_key = api_key
        self.ignore_visible = ignore_visible  # answer hex whatever ``visible`` says
        self.rate_limited = 0  # answer this many requests 429
        self.retry_after = "1"
        #: answer this many requests as TronGrid's rate limit in java-tron's error shape
        self.suspended = 0
        self.die_after: int | None = None  # close the socket after this many requests
        self.latency = 0.0  # seconds before each answer
        self.requests: list[tuple[str, dict]] = []
        self.lock = threading.Lock()
        self._cache: dict[tuple[str, int, bool], bytes] = {}
        node = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                node._handle(self, b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                node._handle(self, self.rfile.read(length))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda *a: None  # a client killed mid-request is expected
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> TronNode:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def stop(self) -> None:
        """Shut the node down (requests after this are refused)."""
        with contextlib.suppress(Exception):
            self.server.shutdown()
        with contextlib.suppress(Exception):
            self.server.server_close()

    def paths(self) -> list[str]:
        return [p for p, _ in self.requests]

    def forget(self) -> None:
        """Drop cached answers (after the chain changed)."""
        self._cache.clear()

    def _handle(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        parts = urlsplit(h.path)
        with self.lock:
            self.requests.append((parts.path, dict(h.headers.items())))
            count = len(self.requests)
            limited = self.rate_limited > 0
            if limited:
                self.rate_limited -= 1
            suspended = not limited and self.suspended > 0
            if suspended:
                self.suspended -= 1
        if self.latency:
            time.sleep(self.latency)
        if self.die_after is not None and count > self.die_after:
            threading.Thread(target=self.stop, daemon=True).start()
            h.close_connection = True
            return
        if self.api_key is not None:
            given = h.headers.get("TRON-PRO-API-KEY") or parse_qs(parts.query).get("apikey", [""])[0]
            if given != self.api_key:
                return self._send(h, 401, orjson.dumps(
                    {"Success": False, "Error": "ApiKey not exists"}))
        if limited:
            return self._send(h, 429, b'{"Error":"rate limit exceeded"}',
                              {"Retry-After": self.retry_after})
        if suspended:
            return self._send(h, 200, b'{"Error":"request rate exceeded the allowed_rps(10), '
                              b'and the query server is suspended for 0.2 s"}')
        path = parts.path.replace("/walletsolidity/", "/wallet/")
        try:
            args = orjson.loads(body) if body else {
                k: v[0] for k, v in parse_qs(parts.query).items()}
            if not isinstance(args, dict):
                raise ValueError("not an object")
        except (orjson.JSONDecodeError, ValueError) as exc:
            return self._send(h, 200, orjson.dumps(
                {"Error": f"class com.alibaba.fastjson.JSONException : {exc}"}))
        visible = str(args.get("visible", "false")).lower() == "true" and not self.ignore_visible
        try:
            answer = self._answer(path, args, visible)
        except (KeyError, ValueError, TypeError) as exc:
            return self._send(h, 200, orjson.dumps(
                {"Error": f"class java.lang.NumberFormatException : {exc}"}))
        if answer is None:
            html = b"<html><body><h2>HTTP ERROR 404 Not Found</h2></body></html>"
            return self._send(h, 404, html, {"Content-Type": "text/html"})
        self._send(h, 200, answer)

    def _send(self, h: BaseHTTPRequestHandler, status: int, body: bytes,
              headers: dict[str, str] | None = None) -> None:
        h.send_response(status)
        h.send_header("Content-Type", (headers or {}).pop("Content-Type", "application/json"))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _block(self, number: int, visible: bool) -> bytes:
        key = ("block", number, visible)
        got = self._cache.get(key)
        if got is None:
            block = self.chain.blocks[number]
            got = orjson.dumps(block if visible else _hex_form(block))
            self._cache[key] = got
        return got

    def _answer(self, path: str, args: dict[str, Any], visible: bool) -> bytes | None:
        blocks = self.chain.blocks
        if path == "/wallet/getnowblock":
            return self._block(self.chain.head, visible)
        if path == "/wallet/getblockbynum":
            number = int(args["num"])
            return self._block(number, visible) if number in blocks else b"{}"
        if path == "/wallet/getblockbylimitnext":
            start, end = int(args["startNum"]), int(args["endNum"])
            if end <= start or end - start > 100:
                return b"{}"
            got = [self._block(n, visible) for n in range(start, end) if n in blocks]
            return b'{"block":[' + b",".join(got) + b"]}" if got else b"{}"
        if path == "/wallet/gettransactioninfobyblocknum":
            number = int(args["num"])
            key = ("info", number, visible)
            if key not in self._cache:
                infos = self.chain.infos.get(number, [])
                self._cache[key] = orjson.dumps(
                    infos if visible else _hex_form(copy.deepcopy(infos)))
            return self._cache[key]
        if path == "/wallet/triggerconstantcontract":
            contract = args.get("contract_address", "")
            known = {USDT, USDC, address_bytes(USDT).hex(), address_bytes(USDC).hex()}
            if args.get("function_selector") == "decimals()" and contract in known:
                return orjson.dumps({"result": {"result": True},
                                     "constant_result": [f"{6:064x}"]})
            return orjson.dumps({"result": {"code": "CONTRACT_VALIDATE_ERROR",
                                            "message": "contract validate error"}})
        return None


@contextlib.contextmanager
def serving(chain: Chain, **kw: Any) -> Iterator[TronNode]:
    """A running :class:`TronNode` over ``chain``."""
    with TronNode(chain, **kw) as node:
        yield node


def main() -> None:
    """``python -m tests.tron_node``: serve recorded block 60836289 until stdin closes or ^C."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.parse_args()
    chain = Chain()
    chain.add_recorded()
    with serving(chain) as node:
        print(node.url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            sys.stdin.read()


if __name__ == "__main__":
    main()
