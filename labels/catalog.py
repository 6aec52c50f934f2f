"""The label catalogue in the store: import packs and dumps, keep the shipped packs current,
derive the screening categories of every labelled address, and look labels up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from exposure.domain import Actor, LabelPack, PackProblem, Tag
from exposure.store import writes
from exposure.store.writes import TAG_SIGNATURE_SQL

from .importers import dump_files, import_dump
from .loader import load_yaml_pack
from .shipped import shipped_current, shipped_files
from .taxonomy import screening_categories


@dataclass(frozen=True)
class ImportedPack:
    """One pack written to the store."""

    pack_id: str
    kind: str
    title: str
    tags: int
    actors: int
    unchanged: bool = False


@dataclass(frozen=True)
class ImportReport:
    """What an import did: packs written, and every problem (files with errors import nothing)."""

    packs: tuple[ImportedPack, ...]
    problems: tuple[PackProblem, ...]
    failed_files: tuple[str, ...]

    @property
    def tags(self) -> int:
        """Tags written."""
        return sum(p.tags for p in self.packs)


def pack_id(pack: LabelPack) -> str:
    """A pack's identity in the store: re-importing the same file name and title replaces it."""
    return f"{pack.kind}:{pack.name}:{pack.title}"


def label_files(paths: Iterable[Path]) -> list[Path]:
    """Every label file at or under ``paths``: YAML packs and the known dump layouts."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml")))
            out.extend(dump_files(path))
        elif path.exists():
            out.append(path)
        else:
            out.append(path)  # reported as unreadable by the loader
    return out


def load_file(path: Path, *, lenient: bool = False) -> tuple[LabelPack | None, list[PackProblem]]:
    """Load one label file of any supported layout."""
    if not path.exists():
        return None, [PackProblem(str(path), 0, "file", "no such file")]
    if path.suffix in (".yaml", ".yml"):
        return load_yaml_pack(path, lenient=lenient)
    return import_dump(path, lenient=lenient)


def _tags_table(packs: Sequence[LabelPack]) -> pa.Table:
    tags = [t for p in packs for t in p.tags]
    ids = [pack_id(p) for p in packs for _ in p.tags]

    def col(name: str, kind: pa.DataType) -> pa.Array:
        return pa.array([getattr(t, name) for t in tags], type=kind)

    return pa.table(
        {
            "pack_id": pa.array(ids, pa.string()),
            "chain": col("chain", pa.string()),
            "address": col("address", pa.string()),
            "label": col("label", pa.string()),
            "source": col("source", pa.string()),
            "confidence": col("confidence", pa.string()),
            "confidence_level": col("confidence_level", pa.int32()),
            "category": col("category", pa.string()),
            "concepts": pa.array([list(t.concepts) for t in tags], type=pa.list_(pa.string())),
            "actor": col("actor", pa.string()),
            "lastmod": _dates([t.lastmod for t in tags]),
            "serves_mainland": col("serves_mainland", pa.string()),
            "rwa": col("rwa", pa.string()),
            "stablecoin": col("stablecoin", pa.string()),
            "context": col("context", pa.string()),
            "line": col("line", pa.int32()),
        }
    )


def _dates(values: Sequence[str | None]) -> pa.Array:
    return pa.array([dt.date.fromisoformat(v) if v else None for v in values], pa.date32())


def _actors_table(packs: Sequence[LabelPack]) -> pa.Table:
    actors = [a for p in packs for a in p.actors]
    ids = [pack_id(p) for p in packs for _ in p.actors]

    def col(name: str, kind: pa.DataType) -> pa.Array:
        return pa.array([getattr(a, name) for a in actors], type=kind)

    return pa.table(
        {
            "pack_id": pa.array(ids, pa.string()),
            "actor_id": col("id", pa.string()),
            "label": col("label", pa.string()),
            "uri": col("uri", pa.string()),
            "categories": pa.array([list(a.categories) for a in actors], pa.list_(pa.string())),
            "jurisdictions": pa.array(
                [list(a.jurisdictions) for a in actors], pa.list_(pa.string())
            ),
            "serves_mainland": col("serves_mainland", pa.string()),
            "rwa": col("rwa", pa.string()),
            "stablecoin": col("stablecoin", pa.string()),
            "evidence": col("evidence", pa.string()),
            "as_of": _dates([a.as_of for a in actors]),
            "grade": col("grade", pa.string()),
            "licence": col("licence", pa.string()),
            "context": col("context", pa.string()),
            "line": col("line", pa.int32()),
        }
    )


def _packs_table(packs: Sequence[LabelPack], shipped: bool) -> pa.Table:
    def col(name: str) -> pa.Array:
        return pa.array([getattr(p, name) for p in packs], pa.string())

    return pa.table(
        {
            "pack_id": pa.array([pack_id(p) for p in packs], pa.string()),
            "name": col("name"),
            "path": col("path"),
            "kind": col("kind"),
            "title": col("title"),
            "creator": col("creator"),
            "sha256": col("sha256"),
            "lastmod": _dates([p.lastmod for p in packs]),
            "shipped": pa.array([shipped] * len(packs), pa.bool_()),
            "is_demo": pa.array([p.is_demo for p in packs], pa.bool_()),
            "tags": pa.array([len(p.tags) for p in packs], pa.int32()),
            "actors": pa.array([len(p.actors) for p in packs], pa.int32()),
        }
    )


def write_packs(
    con: duckdb.DuckDBPyConnection,
    packs: Sequence[LabelPack],
    *,
    shipped: bool,
    drop_shipped: bool = False,
) -> list[ImportedPack]:
    """Write (or replace) loaded packs in one transaction, then re-derive categories."""
    writes.replace_label_packs(
        con,
        _packs_table(packs, shipped),
        _tags_table(packs),
        _actors_table(packs),
        drop_shipped=drop_shipped,
    )
    refresh_categories(con)
    return [ImportedPack(pack_id(p), p.kind, p.title, len(p.tags), len(p.actors)) for p in packs]


def import_labels(
    con: duckdb.DuckDBPyConnection,
    paths: Iterable[str | Path],
    *,
    shipped: bool = False,
    lenient: bool = False,
) -> ImportReport:
    """Import every label file at or under ``paths``; files with problems import nothing.

    Re-importing a pack replaces its previous version. Everything is written in one
    transaction and the screening categories are re-derived once at the end.
    """
    loaded: list[LabelPack] = []
    problems: list[PackProblem] = []
    failed: list[str] = []
    for path in label_files(Path(p) for p in paths):
        pack, found = load_file(path, lenient=lenient)
        problems.extend(found)
        if pack is None:
            failed.append(str(path))
        else:
            loaded.append(pack)
    written = write_packs(con, loaded, shipped=shipped) if loaded else []
    return ImportReport(tuple(written), tuple(problems), tuple(failed))


def ensure_shipped(con: duckdb.DuckDBPyConnection) -> bool:
    """Load the shipped packs if the store lacks them or holds other versions; True if changed.

    A shipped pack that fails to load is a packaging defect and raises LabelPackError.
    """
    from exposure.errors import LabelPackError

    if shipped_current(con):
        return False
    files = shipped_files()
    packs: list[LabelPack] = []
    problems: list[PackProblem] = []
    for path in files:
        pack, found = load_file(path)
        problems.extend(found)
        if pack is not None:
            packs.append(pack)
    if problems:
        raise LabelPackError(problems)
    write_packs(con, packs, shipped=True, drop_shipped=True)
    return True


def refresh_categories(con: duckdb.DuckDBPyConnection) -> int:
    """Re-derive ``address_categories`` from all tags and the best actor records.

    Categories depend only on a tag's signature (category, concepts, actor, own attributes), so
    they are computed once per distinct signature with :func:`screening_categories` and joined.
    """
    actors = {
        row[0]: Actor(
            id=row[0],
            label=row[1],
            uri=None,
            categories=tuple(row[2] or ()),
            jurisdictions=(),
            serves_mainland=row[3],
            rwa=row[4],
            stablecoin=row[5],
            licence=row[6],
        )
        for row in con.execute(
            "SELECT actor_id, label, categories, serves_mainland, rwa, stablecoin, licence "
            "FROM actor_best"
        ).fetchall()
    }
    sigs = con.execute(
        f"SELECT DISTINCT {TAG_SIGNATURE_SQL} AS sig, category, concepts, actor, "
        "serves_mainland, rwa, stablecoin FROM tags t"
    ).fetchall()
    rules_sig, rules_cats = [], []
    for sig, category, concepts, actor, serves, rwa, stable in sigs:
        tag = Tag(
            chain="",
            address="",
            label="",
            source="",
            confidence="",
            confidence_level=0,
            category=category,
            concepts=tuple(concepts or ()),
            actor=actor,
            serves_mainland=serves,
            rwa=rwa,
            stablecoin=stable,
        )
        cats = screening_categories(tag, actors.get(actor) if actor else None)
        if cats:
            rules_sig.append(sig)
            rules_cats.append(list(cats))
    rules = pa.table(
        {
            "sig": pa.array(rules_sig, pa.string()),
            "categories": pa.array(rules_cats, pa.list_(pa.string())),
        }
    )
    writes.replace_address_categories(con, rules)
    return len(rules_sig)


@dataclass(frozen=True)
class AddressLabel:
    """A tag on an address with its provenance and derived screening categories."""

    chain: str
    address: str
    label: str
    actor: str | None
    actor_label: str | None
    categories: tuple[str, ...]
    confidence: str
    confidence_level: int
    source: str
    lastmod: str | None
    pack: str
    serves_mainland: str | None
    evidence: str | None
    is_best: bool


def labels_of(
    con: duckdb.DuckDBPyConnection, address: str, chain: str | None = None
) -> list[AddressLabel]:
    """Every tag on ``address`` (normalised), best first, with categories and actor evidence."""
    rows = con.execute(
        """
        SELECT t.chain, t.address, t.label, t.actor, a.label, t.confidence, t.confidence_level,
               t.source, CAST(t.lastmod AS VARCHAR), p.title,
               coalesce(t.serves_mainland, a.serves_mainland), a.evidence,
               (SELECT list(category ORDER BY category) FROM address_categories c
                 WHERE c.tag_id = t.tag_id),
               b.tag_id = t.tag_id
        FROM tags t
        JOIN label_packs p USING (pack_id)
        LEFT JOIN actor_best a ON a.actor_id = t.actor
        LEFT JOIN best_tags b ON b.chain = t.chain AND b.address = t.address
        WHERE t.address = ? AND (? IS NULL OR t.chain = ?)
        ORDER BY t.confidence_level DESC, t.lastmod DESC NULLS LAST, t.tag_id
        """,
        [address, chain, chain],
    ).fetchall()
    return [
        AddressLabel(
            chain=r[0],
            address=r[1],
            label=r[2],
            actor=r[3],
            actor_label=r[4],
            categories=tuple(r[12] or ()),
            confidence=r[5],
            confidence_level=r[6],
            source=r[7],
            lastmod=r[8],
            pack=r[9],
            serves_mainland=r[10],
            evidence=r[11],
            is_best=bool(r[13]),
        )
        for r in rows
    ]


def address_category_rows(
    con: duckdb.DuckDBPyConnection,
    *,
    category: str | None = None,
    actor: str | None = None,
    chain: str | None = None,
    limit: int = 100,
) -> list[tuple[Any, ...]]:
    """Labelled addresses with their category, actor, label, confidence and pack (for listing)."""
    return con.execute(
        """
        SELECT c.chain, c.address, c.category, t.actor, t.label, t.confidence, p.title
        FROM address_categories c
        JOIN tags t USING (tag_id)
        JOIN label_packs p USING (pack_id)
        WHERE (? IS NULL OR c.category = ?) AND (? IS NULL OR t.actor = ?)
          AND (? IS NULL OR c.chain = ?)
        ORDER BY c.category, t.actor NULLS LAST, c.chain, c.address
        LIMIT ?
        """,
        [category, category, actor, actor, chain, chain, limit],
    ).fetchall()
