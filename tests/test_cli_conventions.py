"""CLI conventions of issue 14, through the real CLI on the real-shaped store: --db before or
after the command, help as paragraphs, --lang zh-CN, policy errors with file and line, --until
including its day, bech32 in either case."""

from __future__ import annotations

import inspect
import json

import pytest

from exposure.cli import app
from tests.conftest import run_cli
from tests.realshaped import CUSTOMER, HTX_WALLET
from tests.test_cli import _commands

BECH32 = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"  # BIP 173 test vector


def _json(done) -> dict:
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    data.pop("screened_at")
    data["verdict"].pop("text")
    return data


def test_db_goes_before_the_command_as_well_as_after(real_world):
    before = _json(run_cli("--db", str(real_world), "screen", CUSTOMER, "--format", "json"))
    after = _json(run_cli("screen", CUSTOMER, "--format", "json", "--db", str(real_world)))
    assert before == after and before["findings"]
    info = run_cli("--db", str(real_world), "db", "info")  # a command of a group too
    assert info.returncode == 0, info.stderr
    assert info.stdout.startswith(f"{real_world}: schema version")


def test_the_commands_own_db_wins_over_the_one_before_it(real_world, tmp_path):
    done = run_cli("--db", str(tmp_path / "nothing.duckdb"), "db", "info", "--db", str(real_world))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{real_world}:")
    assert not (tmp_path / "nothing.duckdb").exists()


def _paragraphs(text: str) -> list[str]:
    return [" ".join(p.split()) for p in inspect.cleandoc(text).split("\n\n") if p.strip()]


@pytest.mark.parametrize("path", [p for p in _commands(app) if p],
                         ids=lambda p: " ".join(p))
def test_help_texts_wrap_as_paragraphs(path):
    import typer.main

    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    done = run_cli(*path, "--help", env={"COLUMNS": "1000"})
    assert done.returncode == 0, done.stderr
    lines = [line.strip(" │") for line in done.stdout.splitlines()]
    for paragraph in _paragraphs(command.help or ""):
        # each paragraph is one line at a wide terminal: no hard break mid-sentence
        assert paragraph in lines, (path, paragraph, done.stdout)


@pytest.mark.parametrize("lang", ["zh", "zh-CN", "zh_cn", "ZH"])
def test_lang_zh_and_zh_cn_are_both_chinese(real_world, lang):
    done = run_cli("screen", CUSTOMER, "--db", str(real_world), "--lang", lang)
    assert done.returncode == 0, done.stderr
    assert "虚拟货币地址关联风险筛查报告" in done.stdout


def test_an_unknown_language_is_one_line_with_exit_2(real_world):
    done = run_cli("screen", CUSTOMER, "--db", str(real_world), "--lang", "fr")
    assert done.returncode == 2
    assert done.stderr.strip() == "error: --lang must be one of en, zh, got 'fr'"


@pytest.mark.parametrize(("policy", "line", "problem"), [
    ("rules:\n  - {category: mainland_exchange, level: high, max_hops: 1}\n"
     "  - category: mainland_exchang\n    level: high\n",
     3, "rule 2: unknown category 'mainland_exchang' (categories: mainland_exchange, rwa,"),
    ("rules:\n  - {category: rwa, level: high, direction: inbound}\n",
     2, "rule 1: unknown direction 'inbound' (in, out or both)"),
    ("rules:\n  - category: rwa\n    level: high\n    max_hop: 2\n",
     4, "rule 1: unknown field 'max_hop' (fields: category, level, direction, max_hops,"),
    ("levels: [none, high]\nrule:\n  - {category: rwa, level: high}\n",
     2, "unknown field 'rule' (fields: name, description, levels, rules)"),
    ("rules:\n  - {category: rwa, level: severe}\n",
     2, "rule 1: level 'severe' not in levels (none, low, medium, high)"),
])
def test_a_policy_with_an_unknown_name_is_one_line_naming_file_and_line(
        real_world, tmp_path, policy, line, problem):
    path = tmp_path / "policy.yaml"
    path.write_text(policy, encoding="utf-8")
    done = run_cli("screen", CUSTOMER, "--db", str(real_world), "--policy", str(path))
    assert done.returncode == 2
    assert done.stdout == ""
    message = done.stderr.strip()
    assert "\n" not in message
    assert message.startswith(f"error: policy {path}:{line}: {problem}"), message


def test_until_a_date_includes_that_whole_day(real_world):
    # HTX paid the customer at 2023-04-30 23:59:59; the customer paid Binance at 2023-05-01
    data = _json(run_cli("screen", CUSTOMER, "--db", str(real_world), "--format", "json",
                         "--until", "2023-04-30"))
    assert [(f["direction"], f["hops"]) for f in data["findings"]] == [("in", 1)]
    assert data["data_state"]["settings"]["end"] == "2023-04-30"
    earlier = _json(run_cli("screen", CUSTOMER, "--db", str(real_world), "--format", "json",
                            "--until", "2023-04-30T23:59:58"))
    assert earlier["findings"] == []
    since = _json(run_cli("screen", CUSTOMER, "--db", str(real_world), "--format", "json",
                          "--since", "2023-05-01"))
    assert [(f["direction"], f["hops"]) for f in since["findings"]] == [("out", 1)]


@pytest.mark.parametrize("address", [BECH32, BECH32.upper()])
def test_bech32_is_accepted_in_either_case(real_world, address):
    done = run_cli("screen", address, "--db", str(real_world), "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["address"] == BECH32 and data["chain"] == "bitcoin"


def test_bech32_in_mixed_case_is_refused_in_one_line(real_world):
    mixed = BECH32[:10] + BECH32[10:].upper()
    done = run_cli("screen", mixed, "--db", str(real_world))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"error: not a valid Bitcoin address: bech32 in mixed case: {mixed!r}")


def test_an_exchange_wallet_can_be_screened_with_db_first_in_chinese(real_world):
    done = run_cli("--db", str(real_world), "screen", HTX_WALLET, "--lang", "zh-CN")
    assert done.returncode == 0, done.stderr
    assert "该地址本身即为HTX(Huobi)" in "".join(done.stdout.split())
