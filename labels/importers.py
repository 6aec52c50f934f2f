"""Importers for public label dumps that are not TagPacks, turned into packs of tags.

- etherscan-style dumps (the brianleect/etherscan-labels and dawsbot/eth-labels layouts): the
  combined ``{address: {name, labels}}`` JSON, per-label ``{address: name}`` JSON and CSVs,
  per-label ``accounts.json`` / ``tokens.json`` lists, and ``tokens.csv`` with chain ids. These are
  scraped explorer labels: confidence ``web_crawl``.
- OFAC SDN digital-currency address lists (``sanctioned_addresses_<ASSET>.txt|json``): category
  ``sanction``, confidence ``authority_data``.

Rows that do not hold a valid address for their chain are reported as problems of the file
(``path:line``) and the file imports nothing, like a malformed TagPack.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from exposure.addresses import looks_tron, normalize
from exposure.domain import LabelPack, PackProblem, Tag
from exposure.errors import InputError

from .taxonomy import CONFIDENCE

#: Explorer label -> (GraphSense concept, actor id, exposure attributes). The actor ids are
#: GraphSense's, so the shipped ActorPack decides which exchanges serve mainland residents.
EXPLORER_LABELS: dict[str, tuple[str | None, str | None, dict[str, str]]] = {
    "binance": ("exchange", "binance", {}),
    "binance-deposit": ("deposit_wallet", "binance", {}),
    "okx": ("exchange", "okex", {}),
    "okex": ("exchange", "okex", {}),
    "huobi": ("exchange", "huobi", {}),
    "htx": ("exchange", "huobi", {}),
    "kucoin": ("exchange", "kucoin", {}),
    "gate-io": ("exchange", "gate", {}),
    "gate": ("exchange", "gate", {}),
    "bybit": ("exchange", "bybit", {}),
    "mexc": ("exchange", "mexc", {}),
    "mexc-global": ("exchange", "mexc", {}),
    "bitget": ("exchange", "bitget", {}),
    "kraken": ("exchange", "kraken", {}),
    "coinbase": ("exchange", "coinbase", {}),
    "bitfinex": ("exchange", "bitfinex", {}),
    "bitstamp": ("exchange", "bitstamp", {}),
    "gemini": ("exchange", "gemini", {}),
    "crypto-com": ("exchange", "cryptocom", {}),
    "poloniex": ("exchange", "poloniex", {}),
    "bittrex": ("exchange", "bittrex", {}),
    "upbit": ("exchange", "upbit", {}),
    "bithumb": ("exchange", "bithumb", {}),
    "ftx": ("exchange", "ftx", {}),
    "exchange": ("exchange", None, {}),
    "ofac-sanctions-lists": ("sanction", None, {}),
    "tornado-cash": ("mixing_service", "tornadocash", {}),
    "mixer": ("mixing_service", None, {}),
    "bridge": ("defi_bridge", None, {}),
    "stablecoin": (None, None, {"stablecoin": "token"}),
    "centre": (None, "circle", {"stablecoin": "token"}),
    "circle": (None, "circle", {"stablecoin": "issuer"}),
    "tether": (None, "tether", {"stablecoin": "issuer"}),
    "real-world-assets": ("defi_token", None, {"rwa": "token"}),
    "tokenized-asset": ("defi_token", None, {"rwa": "token"}),
    "tokenized-equity": ("defi_token", None, {"rwa": "token"}),
    "security-token": ("defi_token", None, {"rwa": "token"}),
    "real-estate": ("defi_token", None, {"rwa": "token"}),
    "gold": ("defi_token", None, {"rwa": "token"}),
    "cache-gold": ("defi_token", None, {"rwa": "token"}),
    "blackrock": ("defi_token", "blackrock", {"rwa": "token"}),
}

#: EVM chain ids of ``tokens.csv`` to the project's chain names.
CHAIN_IDS = {
    1: "ethereum",
    56: "bsc",
    137: "polygon",
    42161: "arbitrum",
    10: "optimism",
    8453: "base",
    43114: "avalanche",
}

#: OFAC asset codes to chains (USDT/USDC/ARB... follow the address shape where ambiguous).
OFAC_ASSETS = {
    "XBT": "bitcoin",
    "ETH": "ethereum",
    "TRX": "tron",
    "BSC": "bsc",
    "ARB": "arbitrum",
    "LTC": "litecoin",
    "BCH": "bitcoin_cash",
    "BSV": "bitcoin_sv",
    "BTG": "bitcoin_gold",
    "DASH": "dash",
    "ETC": "ethereum_classic",
    "XMR": "monero",
    "ZEC": "zcash",
    "XRP": "ripple",
    "XVG": "verge",
}

_OFAC_FILE = re.compile(r"sanctioned_addresses_([A-Z0-9]+)\.(txt|json)$")
_OFAC_SOURCE = "https://sanctionssearch.ofac.treas.gov/ (SDN list, digital currency addresses)"


class _Rows:
    """Accumulates tags of one file, and problems with their line numbers."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tags: list[Tag] = []
        self.problems: list[PackProblem] = []

    def add(
        self,
        line: int,
        chain: str | None,
        address: Any,
        label: str,
        source: str,
        confidence: str,
        explorer_label: str | None = None,
        category: str | None = None,
        extra: dict[str, str] | None = None,
    ) -> None:
        if chain is None:
            self.problems.append(
                PackProblem(
                    str(self.path), line, "address", f"cannot tell the chain of {address!r}"
                )
            )
            return
        if not isinstance(address, str):
            self.problems.append(PackProblem(str(self.path), line, "address", "not text"))
            return
        try:
            normal = normalize(chain, address)
        except InputError as exc:
            self.problems.append(PackProblem(str(self.path), line, "address", str(exc)))
            return
        concept, actor, attrs = EXPLORER_LABELS.get(explorer_label or "", (None, None, {}))
        attrs = {**attrs, **(extra or {})}
        concept = category or concept
        context = {"explorer_label": explorer_label} if explorer_label else {}
        if attrs:
            context["exposure"] = attrs
        self.tags.append(
            Tag(
                chain=chain,
                address=normal,
                label=label or explorer_label or "labelled address",
                source=source,
                confidence=confidence,
                confidence_level=CONFIDENCE[confidence],
                category=concept,
                actor=actor,
                rwa=attrs.get("rwa"),
                stablecoin=attrs.get("stablecoin"),
                context=json.dumps(context, sort_keys=True) if context else None,
                line=line,
            )
        )


def _evm_chain_of(address: str) -> str | None:
    return "ethereum" if address.startswith(("0x", "0X")) else None


def _json_lines(text: str) -> Any:
    return json.loads(text)


class _Lines:
    """Line numbers of successive items in a JSON text, found with a moving cursor (linear)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1

    def of(self, value: Any) -> int:
        needle = f'"{value}"' if isinstance(value, str) else json.dumps(value)
        found = self.text.find(needle, self.pos)
        if found < 0:
            return 0
        self.line += self.text.count("\n", self.pos, found)
        self.pos = found
        return self.line


def import_explorer_json(path: Path, text: str, data: Any) -> _Rows:
    """The etherscan-style JSON layouts (see the module docstring)."""
    rows = _Rows(path)
    folder_label = path.parent.name
    source = f"etherscan label cloud via {path.parent.name}/{path.name}"
    lines = _Lines(text)
    if isinstance(data, dict):
        for address, value in data.items():
            line = lines.of(address)
            if isinstance(value, dict):  # combined: {address: {name, labels}}
                labels = value.get("labels") or []
                first = labels[0] if labels else None
                rows.add(
                    line,
                    _evm_chain_of(address),
                    address,
                    str(value.get("name") or ""),
                    source,
                    "web_crawl",
                    first,
                )
            else:  # per label: {address: name}
                rows.add(
                    line,
                    _evm_chain_of(address),
                    address,
                    str(value or ""),
                    source,
                    "web_crawl",
                    path.stem,
                )
    elif isinstance(data, list):
        for item in data:
            if isinstance(item, str):
                continue  # eth-labels combined.json: addresses only, repeated in accounts/tokens
            if not isinstance(item, dict):
                rows.problems.append(PackProblem(str(path), 0, "file", "unexpected list item"))
                break
            address = item.get("address")
            line = lines.of(address)
            name = item.get("nameTag") or item.get("tokenName") or ""
            if item.get("tokenSymbol"):
                name = f"{name} ({item['tokenSymbol']})"
            rows.add(
                line,
                _evm_chain_of(str(address)),
                address,
                str(name),
                source,
                "web_crawl",
                folder_label,
            )
    return rows


def import_explorer_csv(path: Path, text: str) -> _Rows | None:
    """The etherscan-style CSV layouts; None if the header is not one of them."""
    reader = csv.DictReader(io.StringIO(text))
    fields = set(reader.fieldnames or ())
    rows = _Rows(path)
    source = f"etherscan label cloud via {path.parent.name}/{path.name}"
    if {"Address", "Name Tag"} <= fields:
        for i, row in enumerate(reader, start=2):
            rows.add(
                i,
                _evm_chain_of(row["Address"]),
                row["Address"],
                row["Name Tag"],
                source,
                "web_crawl",
                path.stem,
            )
    elif {"Contract Address", "Token Name"} <= fields:
        for i, row in enumerate(reader, start=2):
            rows.add(
                i,
                _evm_chain_of(row["Contract Address"]),
                row["Contract Address"],
                row["Token Name"],
                source,
                "web_crawl",
                path.stem,
            )
    elif {"address", "chainId", "label"} <= fields:
        for i, row in enumerate(reader, start=2):
            try:
                chain = CHAIN_IDS.get(int(row["chainId"]), f"evm:{int(row['chainId'])}")
            except (TypeError, ValueError):
                chain = None
            name = row.get("name") or ""
            if row.get("symbol"):
                name = f"{name} ({row['symbol']})"
            rows.add(i, chain, row["address"], name, source, "web_crawl", row["label"])
    else:
        return None
    return rows


def import_ofac(path: Path, text: str, asset: str, fmt: str) -> _Rows:
    """An OFAC SDN address list of one asset (one address per line, or a JSON array)."""
    rows = _Rows(path)
    if fmt == "json":
        items = json.loads(text)
        lines = _Lines(text)
        entries = [(lines.of(a), a) for a in items] if isinstance(items, list) else []
    else:
        entries = [
            (i, line.strip())
            for i, line in enumerate(text.splitlines(), start=1)
            if line.strip() and not line.startswith("#")
        ]
    for line, address in entries:
        chain = OFAC_ASSETS.get(asset)
        if chain is None or asset in ("USDT", "USDC", "ARB", "BSC"):
            if looks_tron(str(address)):
                chain = "tron"
            elif str(address).startswith(("0x", "0X")):
                chain = "ethereum" if asset in ("USDT", "USDC") else chain
            elif chain is None:
                chain = "bitcoin"  # Omni USDT lives on Bitcoin addresses
        rows.add(
            line,
            chain,
            address,
            f"OFAC SDN ({asset})",
            _OFAC_SOURCE,
            "authority_data",
            category="sanction",
        )
    return rows


def import_dump(path: Path, *, lenient: bool = False) -> tuple[LabelPack | None, list[PackProblem]]:
    """Import one non-YAML label file; (None, [problem]) if it is not a known layout.

    With ``lenient``, rows whose address is invalid are dropped (and still reported).
    """
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [PackProblem(str(path), 0, "file", f"cannot read as UTF-8 ({exc})")]
    match = _OFAC_FILE.search(path.name)
    try:
        if match:
            rows = import_ofac(path, text, match.group(1), match.group(2))
            kind, title = "ofac", f"OFAC SDN digital currency addresses ({match.group(1)})"
        elif path.suffix == ".json":
            rows = import_explorer_json(path, text, json.loads(text))
            kind, title = "explorer", f"explorer labels {path.parent.name}/{path.name}"
        elif path.suffix == ".csv":
            found = import_explorer_csv(path, text)
            if found is None:
                return None, [PackProblem(str(path), 1, "file", "unrecognised CSV label layout")]
            rows, kind, title = found, "explorer", f"explorer labels {path.parent.name}/{path.name}"
        else:
            return None, [PackProblem(str(path), 0, "file", "unrecognised label file format")]
    except json.JSONDecodeError as exc:
        return None, [PackProblem(str(path), exc.lineno, "json", exc.msg)]
    if rows.problems and not (lenient and all(p.field == "address" for p in rows.problems)):
        return None, rows.problems
    pack = LabelPack(
        name=f"{path.parent.name}/{path.name}",
        path=str(path),
        kind=kind,
        title=title,
        creator="imported",
        sha256=hashlib.sha256(raw).hexdigest(),
        lastmod=None,
        is_demo=False,
        tags=tuple(rows.tags),
    )
    return pack, rows.problems


def dump_files(root: Path) -> Iterator[Path]:
    """Label dump files under ``root`` (JSON, CSV, OFAC TXT), sorted."""
    for path in sorted(root.rglob("*")):
        if path.is_file() and (path.suffix in (".json", ".csv") or _OFAC_FILE.search(path.name)):
            yield path
