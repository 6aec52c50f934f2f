"""Hostile and bad input: addresses, label packs, customer books, secrets in RPC URLs, SQL.

Every bad input ends in exit code 2 (or a reported problem) and one clear line, never a
traceback; label text is data in every report format; credentials never leave the URL; every
value reaches DuckDB as a bound parameter. Property-based cases come from hypothesis, curated
ones from tests/faults.py (which ``bench/reliability.py`` also runs through the real CLI).
"""

from __future__ import annotations

import ast
import contextlib
import csv
import html
import json
import re
import shutil
from pathlib import Path

import pytest
from eth_utils import to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exposure.batch import read_book
from exposure.cli import main
from exposure.devchain.exposure_scenario import addr
from exposure.errors import ExposureError, InputError
from exposure.labels.catalog import import_labels
from exposure.screening import detect_chain
from exposure.store import connect
from tests.conftest import REPO, run_cli
from tests.faults import BAD_ADDRESSES, SQL_STRINGS, VALID_BECH32, FaultPlan
from tests.proxy import ProxyRules, RpcProxy
from tests.test_browser import browser  # noqa: F401  (the headless Chromium fixture)

HYPOTHESIS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def cli(capsys, *args: str) -> tuple[int, str]:
    """Run the CLI's entry point in this process: (exit code, stderr)."""
    capsys.readouterr()
    code = main(list(args))
    return code, capsys.readouterr().err


# -- addresses -----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", BAD_ADDRESSES, ids=range(len(BAD_ADDRESSES)))
def test_every_malformed_address_exits_2_with_one_clear_line(exposure_world, capsys, bad):
    db, _ = exposure_world
    code, err = cli(capsys, "screen", bad, "--db", str(db))
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ")
    assert "unexpected" not in err


def test_malformed_addresses_through_the_real_cli_never_show_a_traceback(exposure_world, tmp_path):
    db, _ = exposure_world
    for bad in (BAD_ADDRESSES[3], BAD_ADDRESSES[8], "1" * 100_000):
        done = run_cli("screen", bad, "--db", str(db))
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    book = tmp_path / "hostile.csv"
    with book.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["customer", "address"])
        writer.writerows([(i, bad) for i, bad in enumerate(BAD_ADDRESSES) if bad.strip()])
    done = run_cli("batch", str(book), "--db", str(db), "--no-shares")
    assert done.returncode == 0 and "Traceback" not in done.stderr
    rows = list(csv.DictReader(done.stdout.splitlines()))
    assert rows and all(r["status"] == "invalid" for r in rows)


@given(st.text(max_size=200))
@HYPOTHESIS
def test_any_text_is_an_address_or_an_input_error(text):
    for chain in ("auto", "ethereum", "bitcoin", "bitcoin-regtest"):
        with contextlib.suppress(InputError):
            detect_chain(text, chain, ["ethereum", "bitcoin-regtest"])


@given(st.binary(min_size=20, max_size=20), st.data())
@HYPOTHESIS
def test_a_mixed_case_evm_address_is_accepted_only_with_its_eip55_checksum(raw, data):
    good = to_checksum_address(raw)
    flips = data.draw(st.sets(st.integers(2, 41), min_size=1, max_size=3))
    chars = list(good)
    for i in flips:
        chars[i] = chars[i].swapcase()
    candidate = "".join(chars)
    body = candidate[2:]
    carries_checksum = body not in (body.lower(), body.upper())
    accepted = True
    try:
        detect_chain(candidate, "auto", ["ethereum"])
    except InputError:
        accepted = False
    assert accepted == (not carries_checksum or candidate == good)


@given(st.integers(4, len(VALID_BECH32) - 1), st.sampled_from("qpzry9x8gf2tvdw0s3jn54khce6mua7l"))
@HYPOTHESIS
def test_a_bech32_address_with_one_character_changed_is_refused(position, char):
    changed = VALID_BECH32[:position] + char + VALID_BECH32[position + 1 :]
    if changed != VALID_BECH32:
        with pytest.raises(InputError):
            detect_chain(changed, "auto", [])


# -- label packs -----------------------------------------------------------------------------


@pytest.fixture
def con(tmp_path):
    c = connect(tmp_path / "labels.duckdb")
    yield c
    c.close()


PACK_HEAD = "title: t\ncreator: c\nsource: s\nconfidence: web_crawl\ncurrency: ETH\n"


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("alias bomb", "a: &a [x, x, x, x, x, x, x, x, x]\n"
         + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, "
                   f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
                   f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(9))
         + "title: *j\ncreator: c\ntags: []\n", "header field"),
        ("deep nesting", "title: " + "[" * 5_000 + "]" * 5_000 + "\ncreator: c\ntags: []\n", ""),
        ("a list, not a mapping", "- a\n- b\n", ""),
        ("a bare scalar", "42\n", ""),
        ("an empty file", "", ""),
        ("tabs", "title:\tt\n\tcreator: c\n", "yaml"),
        ("python object", "title: !!python/object/new:os.system [echo pwned]\n", "construct"),
        ("binary tag", f"{PACK_HEAD}tags:\n- address: !!binary aGVsbG8=\n  label: x\n", "address"),
        ("NUL byte", f"{PACK_HEAD}tags:\n- address: '0x\x00'\n  label: x\n", ""),
        ("a label of 1 MB", f"{PACK_HEAD}tags:\n- address: '{addr('y')}'\n  label: '"
         + "x" * 2**20 + "'\n", ""),
    ],
)
def test_a_hostile_label_pack_is_a_reported_problem_never_a_crash(tmp_path, con, name, text,
                                                                  problem):
    path = tmp_path / "hostile.yaml"
    path.write_text(text, encoding="utf-8")
    report = import_labels(con, [path])
    if report.failed_files:
        assert report.problems and all(str(p).startswith(f"{path}:") for p in report.problems)
        assert problem in " ".join(str(p) for p in report.problems)
        assert con.execute("SELECT count(*) FROM tags").fetchall()[0][0] == 0


def test_a_huge_label_file_is_refused_without_reading_it(tmp_path, con):
    from exposure.labels.loader import MAX_PACK_BYTES

    path = tmp_path / "huge.yaml"
    with path.open("wb") as f:
        f.truncate(MAX_PACK_BYTES + 1)
    report = import_labels(con, [path])
    assert report.failed_files == (str(path),) and "too large" in str(report.problems[0])


def test_any_text_as_a_label_pack_imports_or_reports_problems(tmp_path):
    c = connect(tmp_path / "x.duckdb")
    pack = tmp_path / "fuzz.yaml"

    @given(st.text(max_size=400))
    @settings(max_examples=100, deadline=None)
    def imports_or_reports(text: str) -> None:
        pack.write_text(PACK_HEAD + text, encoding="utf-8")
        report = import_labels(c, [pack])
        assert report.failed_files == () or report.problems

    try:
        imports_or_reports()
    finally:
        c.close()


HOSTILE_TEXTS = (
    "<script>window.pwned=1</script>",
    "<img src=x onerror=\"window.pwned=2\">",
    "\"><svg onload=window.pwned=3>",
    "</title></svg><script>window.pwned=4</script>",
    "javascript:window.pwned=5",
    "[click](javascript:alert(1)) | **bold** `code`",
    "\x1b[2J\x1b[31mred",
)


def _hostile_world(exposure_world, tmp_path: Path) -> Path:
    world, _ = exposure_world
    db = tmp_path / "hostile.duckdb"
    shutil.copyfile(world, db)
    lines = [
        "title: Hostile", "creator: tests", "source: '<b>tests</b>'", "confidence: ownership",
        "network: devchain", "currency: ETH", "tags:",
        f"- address: '{addr('y')}'", f"  label: {json.dumps(' '.join(HOSTILE_TEXTS))}",
        "  category: exchange",
    ]
    pack = tmp_path / "hostile.yaml"
    pack.write_text("\n".join(lines) + "\n", encoding="utf-8")
    c = connect(db)
    try:
        report = import_labels(c, [pack])
    finally:
        c.close()
    assert report.failed_files == (), report.problems
    return db


def test_hostile_label_text_is_escaped_in_every_report_format(exposure_world, tmp_path, browser):  # noqa: F811
    db = _hostile_world(exposure_world, tmp_path)
    outputs = {}
    for fmt in ("text", "json", "markdown", "html"):
        out = tmp_path / f"report.{fmt}"
        done = run_cli("screen", addr("c6"), "--db", str(db), "--format", fmt, "--out", str(out))
        assert done.returncode == 0, done.stderr
        outputs[fmt] = out.read_text(encoding="utf-8")
    label = json.loads(outputs["json"])
    assert any(HOSTILE_TEXTS[0] in json.dumps(e) for e in label["exposures"])  # data, verbatim
    assert "\x1b" not in outputs["text"] and "\x1b" not in outputs["markdown"]
    assert "<script" not in outputs["markdown"] and "[click](javascript:" not in outputs["markdown"]
    page_html = outputs["html"]
    for hostile in HOSTILE_TEXTS[:4]:
        assert hostile not in page_html
    assert html.escape(HOSTILE_TEXTS[0]) in page_html
    page = browser.new_page()
    try:
        page.goto((tmp_path / "report.html").as_uri(), wait_until="load")
        page.mouse.move(300, 300)
        assert page.evaluate("() => typeof window.pwned") == "undefined"
        assert page.locator("script").count() == 0
        assert page.locator("img").count() == 0
        assert page.locator("td").filter(has_text=HOSTILE_TEXTS[1]).first.is_visible()
    finally:
        page.close()


# -- customer books ------------------------------------------------------------------------------


@given(st.binary(max_size=600))
@HYPOTHESIS
def test_any_bytes_as_a_book_are_rows_or_one_input_error(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("books") / "book.csv"
    path.write_bytes(raw)
    try:
        rows = read_book(path)
    except InputError as exc:
        assert str(exc).startswith(str(path))
    else:
        assert all(isinstance(r.address, str) and r.line >= 1 for r in rows)


def _book_bytes(text: str, encoding: str) -> bytes:
    return text.encode(encoding)


@pytest.mark.parametrize(
    ("name", "raw", "expect"),
    [
        ("GBK with a Chinese header", _book_bytes(f"客户,钱包地址\n张三,{addr('c1')}\n", "gbk"), 1),
        ("UTF-8 BOM", b"\xef\xbb\xbf" + f"address\n{addr('c1')}\n".encode(), 1),
        ("UTF-16 from Excel's Unicode Text", f"钱包地址\t名字\n{addr('c1')}\t客户\n".encode("utf-16"), 1),
        ("CRLF and semicolons", f"name;address\r\na;{addr('c1')}\r\nb;0x12\r\n".encode(), 2),
        ("a NUL byte", f"address\n{addr('c1')}\n0x\x00\n".encode(), 2),
        ("an unclosed quote", f'address\n"{addr("c1")}\n'.encode() + b"x" * 200_000, "unreadable"),
        ("only a header", b"address\n", 0),
        ("empty", b"", "empty"),
        ("whitespace only", b" \n\t\n", "empty"),
        ("Latin-1 bytes", "address,name\n0x12,Jos\xe9\n".encode("latin-1"), "not UTF-8 or GBK"),
        ("UTF-16 without text", b"\xff\xfe\x00\xd8", "UTF-16"),
    ],
)
def test_bad_books_are_read_or_refused_in_one_line(tmp_path, name, raw, expect):
    path = tmp_path / "book.csv"
    path.write_bytes(raw)
    if isinstance(expect, str):
        with pytest.raises(InputError, match=expect):
            read_book(path)
    else:
        assert len(read_book(path)) == expect


def test_a_utf16_book_screens_like_its_utf8_copy(exposure_world, tmp_path):
    db, _ = exposure_world
    text = f"钱包地址\t名字\n{addr('c1')}\t客户\n0x12\t坏\n"
    results = []
    for encoding in ("utf-16", "utf-8"):
        path = tmp_path / f"book-{encoding}.csv"
        path.write_bytes(text.encode(encoding))
        done = run_cli("batch", str(path), "--db", str(db), "--no-shares")
        assert done.returncode == 0 and "Traceback" not in done.stderr
        assert f"{path}:3:" in done.stderr
        results.append(done.stdout)
    assert results[0] == results[1]


# -- credentials in RPC URLs --------------------------------------------------------------------


def test_rpc_credentials_never_reach_output_errors_reports_or_tables(anvil, chain, tmp_path):
    from exposure.devchain import seed_scenario

    s = seed_scenario(chain)
    secret = "Sup3rSecretKey0123456789xyz"
    db = tmp_path / "x.duckdb"
    seen: list[str] = []
    plan = FaultPlan(0.15, seed=5)
    with RpcProxy(anvil.url, ProxyRules(faults=plan), path=f"/v3/{secret}") as proxy:
        url = proxy.url.replace("http://", f"http://user:{secret}@") + f"?apikey={secret}"
        common = ["--rpc", url, "--chain", "local", "--confirmations", "0",
                  "--token", f"USDT={s.usdt}:6", "--db", str(db)]
        done = run_cli("index", "evm", *common, "--batch-blocks", "20", timeout=300)
        assert done.returncode == 0, done.stderr
        seen += [done.stdout, done.stderr]
        plan.rate = 0.0
        proxy.rules.hidden_methods = {"eth_getBlockByNumber"}  # now the node fails: a message
        chain.mine(3)
        failed = run_cli("index", "evm", *common, timeout=300)
        assert failed.returncode == 5 and "JSON-RPC error -32601" in failed.stderr
        seen += [failed.stdout, failed.stderr]
    bad_url = run_cli("index", "evm", "--rpc", f"htp:/user:{secret}@@nowhere", "--db", str(db))
    assert bad_url.returncode == 2 and "must start with http:// or https://" in bad_url.stderr
    seen += [bad_url.stdout, bad_url.stderr]
    assert plan.total > 0
    for fmt in ("text", "json", "markdown", "html"):
        report = run_cli("screen", s.fresh_addresses[0], "--db", str(db), "--format", fmt)
        assert report.returncode == 0, report.stderr
        seen += [report.stdout, report.stderr]
    info = run_cli("db", "info", "--db", str(db))
    seen += [info.stdout, info.stderr]
    for text in seen:
        assert secret not in text and "Traceback" not in text
    c = connect(db, read_only=True)
    try:
        for (table,) in c.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
        ).fetchall():
            assert secret not in str(c.execute(f'SELECT * FROM "{table}"').fetchall()), table
    finally:
        c.close()
    for file in (f for f in tmp_path.glob("x.duckdb*") if f.is_file()):
        assert secret.encode() not in file.read_bytes(), file


# -- SQL ------------------------------------------------------------------------------------------


def _counts(db: Path) -> dict[str, int]:
    c = connect(db, read_only=True)
    try:
        tables = [t for (t,) in c.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
        ).fetchall()]
        return {t: c.execute(f'SELECT count(*) FROM "{t}"').fetchall()[0][0] for t in tables}
    finally:
        c.close()


SQL_ERRORS = re.compile(r"Parser Error|Binder Error|Catalog Error|syntax error|unexpected",
                        re.IGNORECASE)


def test_sql_metacharacters_in_every_user_facing_string_are_data(exposure_world, tmp_path, capsys):
    world, _ = exposure_world
    db = tmp_path / "x.duckdb"
    shutil.copyfile(world, db)
    before = _counts(db)
    runs = []
    for evil in SQL_STRINGS:
        book = tmp_path / "book.csv"
        book.write_text(f"address,{evil}\n{evil},{evil}\n{addr('c1')},x\n", encoding="utf-8")
        runs += [
            ("screen", evil, "--db", str(db)),
            ("screen", addr("c1"), "--chain", evil, "--db", str(db)),
            ("screen", addr("c1"), "--since", evil, "--db", str(db)),
            ("screen", addr("c1"), "--until", evil, "--db", str(db)),
            ("screen", addr("c1"), "--direction", evil, "--db", str(db)),
            ("labels", "show", evil, "--db", str(db)),
            ("labels", "show", addr("c1"), "--chain", evil, "--db", str(db)),
            ("labels", "list", "--category", evil, "--db", str(db)),
            ("labels", "list", "--actor", evil, "--db", str(db)),
            ("labels", "list", "--chain", evil, "--db", str(db)),
            ("batch", str(book), "--db", str(db), "--no-shares"),
            ("batch", str(book), "--address-column", evil, "--db", str(db)),
            ("batch", str(book), "--chain", evil, "--db", str(db)),
            ("index", "evm", "--rpc", "http://127.0.0.1:9/", "--chain", evil, "--db", str(db)),
            ("index", "evm", "--rpc", "http://127.0.0.1:9/", "--token", f"{evil}=0x12", "--db",
             str(db)),
        ]
    for args in runs:
        code, err = cli(capsys, *args)
        assert code in (0, 2, 5), (args, err)
        assert not SQL_ERRORS.search(err), (args, err)
    assert _counts(db) == before


def test_label_pack_fields_with_sql_metacharacters_are_stored_verbatim(tmp_path, con):
    pack = tmp_path / "sql.yaml"
    tags = "".join(
        f"- address: '{addr(f'q{i}')}'\n  label: {json.dumps(evil)}\n"
        for i, evil in enumerate(SQL_STRINGS)
    )
    pack.write_text(f"title: {json.dumps(SQL_STRINGS[0])}\ncreator: {json.dumps(SQL_STRINGS[1])}\n"
                    f"source: s\nconfidence: web_crawl\ncurrency: ETH\ntags:\n{tags}",
                    encoding="utf-8")
    report = import_labels(con, [pack])
    assert report.failed_files == (), report.problems
    labels = {r[0] for r in con.execute("SELECT label FROM tags").fetchall()}
    assert labels == set(SQL_STRINGS)


SQL_CALLS = {"execute", "sql", "query", "executemany"}
#: Names code may splice into SQL text: identifiers and SQL fragments the code itself chooses
#: (table and column names, constant sub-queries), never a value. A new name here needs a look.
SQL_FRAGMENTS = {
    "table", "column", "name", "doomed", "_FILTERED", "other", "mine", "edges_sql", "member",
    "members", "blocks", "TAG_SIGNATURE_SQL",
    # the graph's one edge predicate and representative-transfer key, its aggregate list, the
    # cluster join of entity mode, generated $b0.. placeholders for evidence blocks
    "edge_predicate_sql", "_REP_KEY", "REP_ORDER_SQL", "aggregates", "cluster_join",
    "placeholders",
    # the address encoder's union of sub-queries and its from/to side; a bulk import's rows query
    "missing", "side", "rows",
    # the encoder's address sub-query; a bulk chunk's CREATE/INSERT verb and its id joins
    "addresses_sql", "verb", "id_joins",
}


def _spliced_names(query: ast.AST) -> set[str]:
    """Names whose values become part of the SQL text of ``query``."""
    if isinstance(query, ast.JoinedStr):
        parts = [p.value for p in ast.walk(query) if isinstance(p, ast.FormattedValue)]
    elif isinstance(query, ast.BinOp | ast.Call):
        parts = [query]
    else:
        return set()
    return {n.id for part in parts for n in ast.walk(part) if isinstance(n, ast.Name)}


def test_library_sql_splices_only_identifiers_and_fragments_never_values():
    offenders = []
    for folder in ("exposure", "indexers", "labels"):
        for path in sorted((REPO / folder).rglob("*.py")):
            if "bulk" in path.parts:
                continue
            for call in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                        and call.func.attr in SQL_CALLS and call.args):
                    extra = _spliced_names(call.args[0]) - SQL_FRAGMENTS
                    if extra:
                        offenders.append(f"{path}:{call.lineno}: splices {sorted(extra)}")
    assert offenders == []


def test_an_exposure_error_never_escapes_as_a_traceback_from_main(capsys):
    code, err = cli(capsys, "screen", "0x12", "--db", "/nonexistent/dir/x.duckdb")
    assert code in (2, 4) and err.count("\n") == 1
    assert issubclass(InputError, ExposureError)
