"""The investigation notebooks run top to bottom against a demo database, and the notebook API
(exposure.explore) behaves as documented: neighbourhoods with filters, flows per category,
exports, self-contained figures, and a clear error for a missing or empty database."""

from __future__ import annotations

import itertools
import json
import os
import re
from pathlib import Path

import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from exposure import explore
from exposure.devchain.exposure_scenario import addr
from exposure.errors import InputError, StoreError
from tests.conftest import REPO, _require_anvil

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def _nbclient():
    """nbclient and a Python kernel: required in CI, else the notebook runs are skipped."""
    try:
        import ipykernel  # noqa: F401
        import nbclient
        import nbformat
    except ImportError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"notebook tools not installed ({exc.name}): pip install -e '.[test]'")
    return nbclient, nbformat


def _require_plotly() -> None:
    try:
        import plotly  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip("plotly not installed: pip install -e '.[test]'")


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    """The one-command demo's database, built once for this module."""
    from exposure.demo import run_demo

    _require_anvil()
    folder = tmp_path_factory.mktemp("notebook-demo")
    return run_demo(folder / "exposure-demo.duckdb", folder / "reports").db


def _run_notebook(path: Path, db: Path, workdir: Path, monkeypatch) -> object:
    nbclient, nbformat = _nbclient()
    monkeypatch.setenv("EXPOSURE_DB", str(db))
    monkeypatch.delenv("EXPOSURE_ADDRESS", raising=False)
    book = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        book, timeout=120, kernel_name="python3", allow_errors=False,
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute()
    return book


def test_the_three_notebooks_are_there():
    assert [p.name for p in NOTEBOOKS] == [
        "01-screen-one-wallet.ipynb",
        "02-investigate-a-neighbourhood.ipynb",
        "03-screen-a-book.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs_and_uses_the_demo_db_variable(path):
    book = json.loads(path.read_text(encoding="utf-8"))
    code = [c for c in book["cells"] if c["cell_type"] == "code"]
    assert code
    for cell in code:
        assert cell["outputs"] == [] and cell["execution_count"] is None, path.name
    source = "".join("".join(c["source"]) for c in code)
    assert 'os.environ.get("EXPOSURE_DB", "exposure-demo.duckdb")' in source
    assert "explore.check_store(DB)" in source  # the first thing: a clear error on a bad DB


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom_against_the_demo_database(path, demo_db, tmp_path,
                                                                monkeypatch):
    book = _run_notebook(path, demo_db, tmp_path, monkeypatch)
    errors = [o for c in book.cells if c.cell_type == "code"
              for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []
    shown = json.dumps([c.get("outputs", []) for c in book.cells if c.cell_type == "code"])
    if path.name.startswith("01"):
        assert "image/svg+xml" in shown and "mainland_exchange" in shown
    elif path.name.startswith("02"):
        assert "application/vnd.plotly.v1+json" in shown and "edges.parquet" in shown
    else:
        assert "invalid" in shown and "high" in shown and "application/vnd.plotly" in shown


@pytest.mark.parametrize("state", ["missing", "empty"])
def test_notebook_pointed_at_an_empty_database_says_how_to_create_one(state, tmp_path,
                                                                        monkeypatch):
    nbclient, _ = _nbclient()
    db = tmp_path / "nothing-here.duckdb"
    if state == "empty":
        from exposure.store import connect

        connect(db).close()  # a valid store with nothing indexed
    with pytest.raises(nbclient.exceptions.CellExecutionError) as caught:
        _run_notebook(NOTEBOOKS[0], db, tmp_path, monkeypatch)
    message = re.sub(r"\x1b\[[0-9;]*m", "", str(caught.value))  # the traceback's colours
    assert "StoreError" in message
    assert f"exposure demo --db {db}" in message
    assert "exposure index evm" in message


# -- the notebook API ----------------------------------------------------------------------------


def test_check_store_summarises_the_demo(demo_db):
    summary = explore.check_store(demo_db)
    chains = {c[0]: c for c in summary.chains}  # bitcoin-regtest too where bcoin is installed
    assert chains["devchain"][3] > 50
    assert summary.labelled_addresses > 0
    assert "devchain blocks 0-" in str(summary)


def test_missing_or_empty_database_raises_a_store_error_saying_how_to_create_one(tmp_path):
    from exposure.store import connect

    missing = tmp_path / "missing.duckdb"
    with pytest.raises(StoreError, match=r"no database at .*exposure demo --db"):
        explore.neighbourhood(addr("c4"), db=missing)
    assert not missing.exists()  # asking did not create it
    empty = tmp_path / "empty.duckdb"
    connect(empty).close()
    with pytest.raises(StoreError, match=r"holds no indexed transfers.*exposure index evm"):
        explore.flows_over_time(addr("c4"), db=empty)


def test_validate_gives_chain_and_checksummed_address(demo_db):
    chain, address = explore.validate(addr("c4"), db=demo_db)
    assert chain == "devchain" and address.lower() == addr("c4") and address != addr("c4")
    broken = address[:-1] + ("A" if address[-1] != "A" else "B")
    with pytest.raises(InputError, match="EIP-55"):
        explore.validate(broken, db=demo_db)


def _rows(table, key="address"):
    return {r[key]: r for r in table.to_pylist()}


def test_neighbourhood_reaches_both_labelled_endpoints_of_c4_and_stops_at_them(demo_db, capsys):
    hood = explore.neighbourhood(addr("c4"), db=demo_db, hops=4)
    nodes = _rows(hood.nodes)
    centre = nodes[hood.address]
    assert centre["hops"] == 0 and centre["side"] == "centre"
    exchange = nodes[explore.validate(addr("exchange_binance"), db=demo_db)[1]]
    assert exchange["hops"] == 4 and exchange["side"] == "in"
    assert exchange["category"] == "mainland_exchange"
    assert exchange["categories"] == ["mainland_exchange", "exchange"]  # screening order
    assert exchange["label"] == "Binance hot wallet (demo)" and exchange["actor"] == "Binance"
    assert exchange["expanded"] is False  # labelled: terminal
    rwa = nodes[explore.validate(addr("rwa_issuer"), db=demo_db)[1]]
    assert rwa["hops"] == 4 and rwa["side"] == "out" and rwa["category"] == "rwa"
    # every node is EIP-55 and every edge joins two nodes
    assert all(a == explore.validate(a, db=demo_db)[1] for a in nodes)
    for e in hood.edges.to_pylist():
        assert e["from_address"] in nodes and e["to_address"] in nodes
        assert e["amount"] > 0 and e["transfers"] >= 1 and e["first_tx"].startswith("0x")
        assert e["first_time"] <= e["last_time"]
    # the binance -> a4 transfer of 1,005 USDT is an edge with its value
    a4 = explore.validate(addr("a4"), db=demo_db)[1]
    edge = _rows(hood.edges, "to_address")[a4]
    assert edge["from_address"] == exchange["address"]
    assert (edge["asset"], edge["amount"], edge["value"]) == ("USDT", 1005.0, 1005.0)
    assert capsys.readouterr() == ("", "")  # library code never prints


def test_neighbourhood_direction_and_filters(demo_db):
    inbound = explore.neighbourhood(addr("c4"), db=demo_db, hops=4, direction="in")
    assert set(inbound.nodes["side"].to_pylist()) == {"centre", "in"}
    assert "rwa" not in inbound.nodes["category"].to_pylist()
    # USDC: nothing moved in USDC, so only the centre is left
    usdc = explore.neighbourhood(addr("c4"), db=demo_db, assets="usdc")
    assert usdc.nodes.num_rows == 1 and usdc.edges.num_rows == 0
    # a window in the future keeps nothing; one around the data keeps everything
    assert explore.neighbourhood(addr("c4"), db=demo_db, since="2999-01-01").edges.num_rows == 0
    wide = explore.neighbourhood(addr("c4"), db=demo_db, since="2000-01-01", until="2999-01-01")
    assert wide.edges.num_rows == explore.neighbourhood(addr("c4"), db=demo_db).edges.num_rows
    # c1 receives 500 USDT from the exchange and sends it 100 back
    c1 = explore.neighbourhood(addr("c1"), db=demo_db, hops=1)
    assert c1.nodes.num_rows == 2 and c1.nodes["side"].to_pylist() == ["centre", "both"]
    big = explore.neighbourhood(addr("c1"), db=demo_db, hops=1, min_amount=200)
    assert big.edges["amount"].to_pylist() == [500.0]
    with pytest.raises(InputError, match="unknown asset 'DOGE'"):
        explore.neighbourhood(addr("c4"), db=demo_db, assets=["DOGE"])
    with pytest.raises(InputError, match="direction"):
        explore.neighbourhood(addr("c4"), db=demo_db, direction="sideways")
    with pytest.raises(InputError, match="since"):
        explore.neighbourhood(addr("c4"), db=demo_db, since="last tuesday")


def test_neighbourhood_hides_dust_unless_asked_and_caps_nodes(demo_db):
    exchange = explore.validate(addr("exchange_binance"), db=demo_db)[1]
    clean = explore.neighbourhood(addr("c6"), db=demo_db, hops=1)
    assert exchange not in clean.nodes["address"].to_pylist()  # dust and zero value: no edge
    dusty = explore.neighbourhood(addr("c6"), db=demo_db, hops=1, include_dust=True)
    dust = [e for e in dusty.edges.to_pylist() if e["from_address"] == exchange]
    assert [(e["asset"], e["amount"]) for e in dust] == [("USDT", 0.000001)]
    hub = explore.neighbourhood(addr("c7"), db=demo_db, hops=2, max_nodes=10)
    assert hub.nodes.num_rows == 10 and hub.truncated and "truncated" in repr(hub)
    assert not explore.neighbourhood(addr("c7"), db=demo_db, hops=2).truncated


def test_neighbourhood_exports_csv_and_parquet(demo_db, tmp_path):
    hood = explore.neighbourhood(addr("c4"), db=demo_db, hops=4)
    csv_paths = hood.to_csv(tmp_path / "csv")
    pq_paths = hood.to_parquet(tmp_path / "parquet")
    assert pq.read_table(pq_paths["nodes"]).equals(hood.nodes)
    assert pq.read_table(pq_paths["edges"]).equals(hood.edges)
    nodes = pa_csv.read_csv(csv_paths["nodes"]).to_pylist()
    assert len(nodes) == hood.nodes.num_rows
    assert "mainland_exchange;exchange" in [n["categories"] for n in nodes]
    assert pa_csv.read_csv(csv_paths["edges"]).num_rows == hood.edges.num_rows


def test_figure_colours_labelled_nodes_and_is_self_contained(demo_db, tmp_path):
    _require_plotly()
    from exposure.report.html import CATEGORY_COLOURS

    hood = explore.neighbourhood(addr("c4"), db=demo_db, hops=4)
    fig = hood.figure()
    traces = {t.name: t for t in fig.data if t.name}
    exchange = traces["exchange serving mainland-China residents"]
    assert exchange.marker.color == CATEGORY_COLOURS["mainland_exchange"]
    assert traces["RWA token issuer or token"].marker.color == CATEGORY_COLOURS["rwa"]
    assert len(fig.layout.annotations) == hood.edges.num_rows  # one arrow per edge
    # c9: 500 from the exchange and 1,500 from z into m9, 1,000 on to c9: width by value
    c9 = explore.neighbourhood(addr("c9"), db=demo_db, hops=2)
    widths = sorted(a.arrowwidth for a in c9.figure().layout.annotations)
    assert len(widths) == 3 and widths[0] < widths[1] < widths[2] == 8.0
    page = hood.to_html(tmp_path / "hood.html").read_text(encoding="utf-8")
    assert "<script src=" not in page and 'src="http' not in page  # nothing fetched
    assert len(page) > 1_000_000  # plotly.js inline (its unused map-tiles default names a CDN)


def test_figure_escapes_labels(demo_db):
    _require_plotly()
    hood = explore.neighbourhood(addr("c4"), db=demo_db, hops=4)
    hostile = hood.nodes.set_column(
        hood.nodes.schema.get_field_index("label"), "label",
        [["<img src=x onerror=alert(1)>"] * hood.nodes.num_rows],
    )
    fig = explore.Neighbourhood(hood.address, hood.chain, hood.hops, hood.direction,
                                hood.filters, hostile, hood.edges).figure()
    text = json.dumps(fig.to_plotly_json(), default=str)
    assert "<img" not in text and "&lt;img src=x" in text


def test_flows_over_time_split_by_category_like_the_value_share(demo_db):
    # c9: 1,000 in from m9, which got 500 from the exchange and 1,500 from an unlabelled source
    flows = explore.flows_over_time(addr("c9"), db=demo_db, hops=2).to_pylist()
    split = {r["category"]: r["value"] for r in flows}
    assert split == pytest.approx({"mainland_exchange": 250.0, "unlabelled": 750.0})
    assert {r["direction"] for r in flows} == {"in"}
    assert all(r["period"].hour == 0 and r["period"].minute == 0 for r in flows)  # whole days
    # one hop: m9 itself is unlabelled
    near = explore.flows_over_time(addr("c9"), db=demo_db, hops=1).to_pylist()
    assert [(r["category"], r["value"]) for r in near] == [("unlabelled", 1000.0)]
    # c4: inbound from the exchange 4 hops back, outbound to the RWA issuer 4 hops on
    c4 = explore.flows_over_time(addr("c4"), db=demo_db, hops=4, freq="s").to_pylist()
    assert {(r["direction"], r["category"], r["value"]) for r in c4} == {
        ("in", "mainland_exchange", 1000.0), ("out", "rwa", 900.0)}
    with pytest.raises(InputError, match="freq"):
        explore.flows_over_time(addr("c4"), db=demo_db, freq="fortnight")


def test_plot_flows_stacks_in_above_and_out_below(demo_db):
    _require_plotly()
    flows = explore.flows_over_time(addr("c4"), db=demo_db, hops=4)
    fig = explore.plot_flows(flows)
    values = {t.name: list(t.y) for t in fig.data}
    assert values == {
        "source of funds · exchange serving mainland-China residents": [1000.0],
        "destination of funds · RWA token issuer or token": [-900.0],
    }


def test_evidence_table_lists_every_hop_in_money_order(demo_db):
    import exposure

    report = exposure.screen(addr("c4"), db=demo_db)
    rows = explore.evidence_table(report).to_pylist()
    inbound = [r for r in rows if r["category"] == "mainland_exchange"]
    assert [r["step"] for r in inbound] == [1, 2, 3, 4]
    assert inbound[-1]["to_address"] == report.address  # money flows into the screened address
    for a, b in itertools.pairwise(inbound):
        assert a["to_address"] == b["from_address"]
    assert all(r["tx_hash"].startswith("0x") and r["amount_raw"].isdigit() for r in rows)
