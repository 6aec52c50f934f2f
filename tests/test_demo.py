"""The one-command demo: everything on a local chain, offline, in well under two minutes."""

from __future__ import annotations

import time

from tests.conftest import _require_anvil, run_cli


def test_demo_runs_end_to_end_and_writes_reports(tmp_path):
    _require_anvil()
    began = time.monotonic()
    done = run_cli("demo", "--db", str(tmp_path / "demo.duckdb"), "--out-dir",
                   str(tmp_path / "reports"), timeout=120)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - began < 120
    assert "c2   high" in done.stdout and "c6   none" in done.stdout
    reports = sorted((tmp_path / "reports").glob("report-*.html"))
    assert len(reports) in (7, 8)  # 8 with the Bitcoin part (bcoin installed)
    assert 'class="node screened"' in reports[0].read_text() or "node screened" in reports[0].read_text()


def test_demo_without_the_node_says_what_to_install(tmp_path):
    done = run_cli("demo", "--db", str(tmp_path / "d.duckdb"), "--out-dir", str(tmp_path / "r"),
                   env={"EXPOSURE_ANVIL": str(tmp_path / "missing-anvil")})
    assert done.returncode == 7
    assert "npm" in done.stderr and len(done.stderr.strip().splitlines()) == 1
