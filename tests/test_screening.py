"""Screening end to end: a scripted anvil chain with known answers, indexed, labelled, screened.

The scenario (exposure/devchain/exposure_scenario.py): customers 1, 2 and 4 hops from a labelled
mainland-serving exchange (actor binance, made mainland-serving by the shipped ActorPack) in
each direction, a path through another labelled exchange (kraken) that must not count, dust /
zero / counterfeit transfers that must not create exposure, a hub above the degree cap, and
value shares of 0.3 and 0.25.
"""

from __future__ import annotations

import itertools
import json

import pytest

from exposure.devchain.exposure_scenario import addr
from exposure.graph.settings import GraphSettings
from exposure.screening import Screener, ScreenOptions
from exposure.store import connect
from tests.conftest import run_cli

SETTINGS = GraphSettings(degree_cap=20)


@pytest.fixture(scope="module")
def world(exposure_world):
    return exposure_world


@pytest.fixture(scope="module")
def screener(world):
    db, _ = world
    con = connect(db, read_only=True)  # screens are read-only: the CLI tests can open it too
    yield Screener(con, options=ScreenOptions(settings=SETTINGS))
    con.close()


def hops(report, category, direction):
    return report.exposure(category, direction).hops


@pytest.mark.parametrize(
    ("customer", "direction", "expected"),
    [("c1", "in", 1), ("c2", "in", 2), ("c4", "in", 4), ("c1", "out", 1), ("c2", "out", 2),
     ("c8", "in", 1), ("c9", "in", 2), ("c10", "in", 1), ("c11", "in", 2), ("c12", "in", 4)],
)
def test_hops_to_the_mainland_serving_exchange(screener, customer, direction, expected):
    report = screener.screen(addr(customer))
    assert hops(report, "mainland_exchange", direction) == expected


def test_a_labelled_exchange_itself_is_zero_hops(screener):
    report = screener.screen(addr("exchange_binance"))
    assert hops(report, "mainland_exchange", "in") == 0
    assert report.labels and report.labels[0]["actor"] == "binance"


def test_rwa_issuer_four_hops_out(screener):
    report = screener.screen(addr("c4"))
    assert hops(report, "rwa", "out") == 4
    assert hops(report, "rwa", "in") is None


def test_a_path_through_another_labelled_exchange_does_not_count(screener):
    report = screener.screen(addr("c5"))
    assert hops(report, "mainland_exchange", "in") is None
    exchange = report.exposure("exchange", "in")
    assert exchange.hops == 1 and exchange.actor == "kraken"


def test_dust_zero_value_and_counterfeit_transfers_create_no_exposure(screener):
    report = screener.screen(addr("c6"))
    assert report.activity.seen
    assert report.found() == []
    assert report.rating.level == "none"


def test_an_unlabelled_hub_above_the_degree_cap_stops_the_walk_and_is_reported(screener):
    report = screener.screen(addr("c7"))
    assert hops(report, "mainland_exchange", "in") is None
    assert addr("hub") in {s.address.lower() for s in report.stop_nodes}


def test_in_path_lists_hops_in_money_order_from_the_exchange_to_the_customer(world, screener):
    _, s = world
    report = screener.screen(addr("c2"))
    path = report.exposure("mainland_exchange", "in").path
    assert [(h.from_address.lower(), h.to_address.lower()) for h in path] == [
        (addr("exchange_binance"), addr("m1")), (addr("m1"), addr("c2"))]
    assert [h.tx_hash for h in path] == [s.txs["binance->m1"], s.txs["m1->c2"]]
    assert [h.amount for h in path] == [800.0, 400.0]
    assert {h.asset for h in path} == {"USDT"}


def test_out_path_starts_at_the_customer_and_ends_at_the_issuer(world, screener):
    _, s = world
    path = screener.screen(addr("c4")).exposure("rwa", "out").path
    assert path[0].from_address.lower() == addr("c4")
    assert path[-1].to_address.lower() == addr("rwa_issuer")
    assert all(a.to_address == b.from_address for a, b in itertools.pairwise(path))
    assert [h.tx_hash for h in path] == [s.txs[k] for k in ("c4->e4", "e4->f4", "f4->g4", "g4->rwa")]


def test_value_shares_follow_the_money_proportionally(screener):
    assert screener.screen(addr("c8")).exposure("mainland_exchange", "in").share == pytest.approx(0.3, abs=1e-3)
    assert screener.screen(addr("c9")).exposure("mainland_exchange", "in").share == pytest.approx(0.25, abs=1e-3)
    assert screener.screen(addr("c1")).exposure("mainland_exchange", "in").share == pytest.approx(1.0, abs=1e-3)
    assert screener.screen(addr("c11")).exposure("mainland_exchange", "in").share == pytest.approx(0.01, abs=1e-3)
    c12 = screener.screen(addr("c12")).exposure("mainland_exchange", "in")
    assert (c12.hops, c12.share) == (4, pytest.approx(0.005, abs=1e-3))


def test_every_category_and_direction_is_always_present(screener):
    report = screener.screen(addr("c6"))
    pairs = {(e.category, e.direction) for e in report.exposures}
    assert ("mainland_exchange", "in") in pairs and ("rwa", "out") in pairs
    assert len(pairs) == len(report.exposures)


@pytest.mark.parametrize(
    ("customer", "level"),
    [("c1", "high"), ("c2", "high"), ("c9", "high"), ("c11", "medium"), ("c12", "low"),
     ("c5", "low"), ("c6", "none")],
)
def test_rating_under_the_default_policy(screener, customer, level):
    assert screener.screen(addr(customer)).rating.level == level


def test_an_address_never_seen_says_so_and_states_the_indexed_range(screener):
    report = screener.screen("0x" + "12" * 20)
    assert report.activity.seen is False
    assert "devchain blocks 0-" in report.activity.indexed_range


def test_cli_json_is_the_only_thing_on_stdout(world):
    db, _ = world
    done = run_cli("screen", addr("c2"), "--format", "json", "--db", str(db), "--degree-cap", "20")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert {"address", "chain", "activity", "exposures", "rating", "stop_nodes", "data_state"} <= set(data)
    entry = next(e for e in data["exposures"] if e["category"] == "mainland_exchange" and e["direction"] == "in")
    assert entry["hops"] == 2 and entry["exposure_type"] == "indirect" and len(entry["path"]) == 2


def test_cli_fail_on_high_exits_3(world):
    db, _ = world
    done = run_cli("screen", addr("c1"), "--fail-on", "high", "--db", str(db), "--degree-cap", "20")
    assert done.returncode == 3


@pytest.mark.parametrize("bad", ["0x12", "0x28C6c06298d514Db089934071355E5743bF21d60", "bc1qnotvalid",
                                 "0x" + "g" * 40, "１２３", "x" * 500])
def test_a_malformed_address_exits_2_with_one_line(world, bad):
    db, _ = world
    done = run_cli("screen", bad, "--db", str(db))
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
