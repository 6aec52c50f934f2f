"""A store of real-shaped data, built the way a user builds one: ethereum-etl CSV dumps of two
mainnet blocks (17173049-50) imported with ``exposure import transfers``, and label packs
imported with ``exposure labels import`` (the shipped packs come in on the first screen).

What it holds, as the officer in issue 14 met it:

- ``CUSTOMER`` received 8,062.71 USDT straight from an HTX (Huobi) proof-of-reserves wallet
  (``HTX_WALLET``, labelled by the shipped packs: ``mainland_exchange`` and ``exchange``), and
  123,456,789,012.345 USDT left an OKX wallet (``OKX_WALLET``, labelled by this module's pack with
  a Chinese label and a 150-character source URL) for ``MULE``, who paid the customer 5,000 USDT;
- the customer sent 8,000 USDT to a Binance reserve wallet (``BINANCE_WALLET``, shipped packs);
- ``FILLER_PACKS`` more packs of one tag each, so the label set is large and the report must
  still name only the packs it uses.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_cli

CUSTOMER = "0x3dfaa087b7b2ab616858a6d23e01c56e5b95705d"
HTX_WALLET = "0x18709e89bd403f470088abdacebe86cc60dda12e"
BINANCE_WALLET = "0x4976a4a02f38326660d17bf34b431dc6e2eb2327"
OKX_WALLET = "0x7a1e3c5b9d2f4a6c8e0b1d3f5a7c9e2b4d6f8a0c"
MULE = "0x2b9f4e7a1c3d5f6e8a0b2c4d6e8f0a1b3c5d7e9f"
USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"
OKX_LABEL = "欧易 OKX 热钱包 3（据公开报道仍服务中国大陆用户）"
OKX_PACK = "欧易 OKX 钱包（测试用真实形态数据）"
LONG_URL = ("https://www.okx.com/zh-hans/help/proof-of-reserves-2023-05-01-ethereum-usdt-cold-and-"
            "hot-wallet-addresses-list-and-merkle-tree-verification?ref=announcement&lang=zh")
FILLER_PACKS = 60
TX_HTX = "0x5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22060"
BIG_RAW = "123456789012345000"  # 123,456,789,012.345 USDT: a float prints ...012.345001

BLOCKS = """number,hash,parent_hash,nonce,sha3_uncles,logs_bloom,transactions_root,state_root,\
receipts_root,miner,difficulty,total_difficulty,size,extra_data,gas_limit,gas_used,timestamp,\
transaction_count,base_fee_per_gas
17173049,0x8a4b3c1f0d9e2a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b,\
0x1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c,0x0000000000000000,0x1dcc,\
0x00,0x00,0x00,0x00,0x4838b106fce9647bdf1e7877bf73ce8b0bad5f97,0,58750003716598352816469,\
100000,0x,30000000,15000000,1682899199,150,40000000000
17173050,0x9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0,\
0x8a4b3c1f0d9e2a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b,0x0000000000000000,0x1dcc,\
0x00,0x00,0x00,0x00,0x4838b106fce9647bdf1e7877bf73ce8b0bad5f97,0,58750003716598352816469,\
100000,0x,30000000,15000000,1682899211,150,40000000000
"""

TRANSFERS = f"""token_address,from_address,to_address,value,transaction_hash,log_index,block_number
{USDT},{HTX_WALLET},{CUSTOMER},8062710000,{TX_HTX},101,17173049
{USDT},{OKX_WALLET},{MULE},{BIG_RAW},0x{"1f" * 32},7,17173049
{USDT},{MULE},{CUSTOMER},5000000000,0x{"2e" * 32},3,17173050
{USDT},{CUSTOMER},{BINANCE_WALLET},8000000000,0x{"3d" * 32},12,17173050
"""

OKX_PACK_YAML = f"""title: {OKX_PACK}
creator: exposure tests
description: An OKX hot wallet with a Chinese label and the long source URL of a real-shaped announcement.
is_public: true
confidence: service_data
lastmod: 2023-05-01
network: ethereum
currency: ETH
actor: okex
category: exchange
source: {LONG_URL}
tags:
- address: '{OKX_WALLET}'
  label: {OKX_LABEL}
"""


def _filler(i: int) -> str:
    address = f"0x{i + 1:040x}"
    return f"""title: Filler pack {i:03d}
creator: exposure tests
description: One unrelated tag, to make the label set large.
is_public: true
confidence: web_crawl
lastmod: 2024-01-01
network: ethereum
currency: ETH
category: exchange
source: https://example.org/filler/{i}
tags:
- address: '{address}'
  label: filler {i}
"""


def build_real_shaped_store(folder: Path) -> Path:
    """The store described in the module docstring, built through the real CLI; returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "real.duckdb"
    (folder / "blocks.csv").write_text(BLOCKS, encoding="utf-8")
    (folder / "token_transfers.csv").write_text(TRANSFERS, encoding="utf-8")
    packs = folder / "packs"
    packs.mkdir(exist_ok=True)
    (packs / "okx.yaml").write_text(OKX_PACK_YAML, encoding="utf-8")
    for i in range(FILLER_PACKS):
        (packs / f"filler-{i:03d}.yaml").write_text(_filler(i), encoding="utf-8")
    done = run_cli("import", "transfers", str(folder / "blocks.csv"),
                   str(folder / "token_transfers.csv"), "--format", "ethereum-etl", "--db", str(db))
    assert done.returncode == 0, done.stderr
    done = run_cli("labels", "import", str(packs), "--db", str(db))
    assert done.returncode == 0, done.stderr
    done = run_cli("screen", CUSTOMER, "--db", str(db))  # loads the shipped packs, once
    assert done.returncode == 0, done.stderr
    return db
