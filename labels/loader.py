"""Strict loading of GraphSense TagPacks and ActorPacks.

YAML is parsed safely (no object construction), duplicate keys are errors, header fields are
inherited into tags as new values, and every problem of every file is reported as
``path:line: field: problem``. A file with any problem yields no pack at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from exposure.addresses import normalize
from exposure.domain import Actor, LabelPack, PackProblem, Tag
from exposure.errors import InputError

from .taxonomy import (
    CONCEPTS,
    CONFIDENCE,
    RWA_ROLES,
    SERVES_MAINLAND,
    STABLECOIN_ROLES,
    chain_of,
)

_LINE = "__line__"
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

TAG_FIELDS = frozenset(
    [
        "address",
        "label",
        "source",
        "currency",
        "network",
        "context",
        "confidence",
        "is_cluster_definer",
        "lastmod",
        "category",
        "abuse",
        "tx_hash",
        "actor",
        "concepts",
        "tag_type",
    ]
)
HEADER_FIELDS = (
    frozenset(["title", "creator", "description", "owner", "is_public", "tags"]) | TAG_FIELDS
)
ACTOR_FIELDS = frozenset(
    ["id", "uri", "label", "lastmod", "categories", "jurisdictions", "context", "aliases"]
)
ACTORPACK_HEADER = frozenset(["title", "creator", "description", "is_public", "lastmod", "actors"])
#: Problems that ``lenient`` loading turns into dropped tags (GraphSense's validator only warns).
DROPPABLE = frozenset({"address", "network"})
#: The largest pack file we read (a label pack is data, not a dump of the chain).
MAX_PACK_BYTES = 256 * 1024 * 1024


class _StrictLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe loader that rejects duplicate keys and records each mapping's line."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) and key is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, "mapping key is not a scalar", key_node.start_mark
                )
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first on line {seen[key]})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line + 1
        mapping = super().construct_mapping(node, deep=True)
        mapping[_LINE] = node.start_mark.line + 1
        return mapping


def _read_yaml(path: Path, problems: list[PackProblem]) -> Any:
    try:
        size = path.stat().st_size
        if size > MAX_PACK_BYTES:
            problems.append(PackProblem(str(path), 0, "file", f"too large ({size:,} bytes)"))
            return None
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.append(PackProblem(str(path), 0, "file", f"not UTF-8 text ({exc.reason})"))
        return None
    except OSError as exc:
        problems.append(PackProblem(str(path), 0, "file", f"cannot read ({exc.strerror})"))
        return None
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        what = exc.problem or "invalid YAML"
        if "could not determine a constructor" in what:
            what = "YAML tags that construct objects are not allowed"
        problems.append(PackProblem(str(path), line, "yaml", what))
    except yaml.YAMLError as exc:
        problems.append(PackProblem(str(path), 0, "yaml", str(exc).splitlines()[0]))
    return None


def _date(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    try:
        return dt.date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        raise ValueError(f"not a date: {text!r}") from None


def _exposure_context(raw: Any) -> tuple[dict[str, Any], str | None]:
    """Parse a ``context`` (JSON text or mapping): returns (exposure attributes, JSON text)."""
    if raw is None:
        return {}, None
    if isinstance(raw, dict):
        data = {k: v for k, v in raw.items() if k != _LINE}
    elif isinstance(raw, str):
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ValueError(f"not valid JSON ({exc.msg})") from None
        if not isinstance(data, dict):
            raise ValueError("must be a JSON object")
    else:
        raise ValueError("must be a JSON object (as text)")
    attrs = data.get("exposure") or {}
    if not isinstance(attrs, dict):
        raise ValueError("'exposure' must be an object")
    checks = {
        "serves_mainland": SERVES_MAINLAND,
        "rwa": (*RWA_ROLES, "none"),
        "stablecoin": (*STABLECOIN_ROLES, "none"),
    }
    for key, allowed in checks.items():
        if key in attrs and attrs[key] not in allowed:
            raise ValueError(
                f"exposure.{key} must be one of {', '.join(allowed)}, got {attrs[key]!r}"
            )
    if "as_of" in attrs:
        attrs = {**attrs, "as_of": _date(attrs["as_of"])}
    return attrs, json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value).strip()
    raise ValueError("must be text")


def _is_demo(data: dict[str, Any]) -> bool:
    return bool(data.get("is_demo")) or "demo" in str(data.get("title", "")).lower().split()


def load_tagpack(
    path: Path, data: dict[str, Any], problems: list[PackProblem], *, lenient: bool = False
) -> LabelPack | None:
    """Validate a parsed TagPack; append problems; return the pack if it has none.

    ``lenient`` accepts what GraphSense's own validator accepts: tags whose address is invalid
    for its network are dropped (their problems still reported) instead of failing the pack, and
    a missing confidence becomes ``unknown``; every other problem still fails it.
    """
    before = len(problems)
    p = str(path)

    def bad(line: int, field: str, problem: str) -> None:
        problems.append(PackProblem(p, line, field, problem))

    head_line = data.get(_LINE, 1)
    for field in ("title", "creator"):
        if not data.get(field):
            bad(head_line, field, "missing (TagPack headers need title and creator)")
    tags_raw = data.get("tags")
    if not isinstance(tags_raw, list):
        bad(head_line, "tags", "missing or not a list")
        tags_raw = []
    for key in data:
        if key != _LINE and key not in HEADER_FIELDS and key != "is_demo":
            bad(head_line, str(key), "not a TagPack header field")
    header = {k: v for k, v in data.items() if k in TAG_FIELDS}
    tags: list[Tag] = []
    actor_of: dict[tuple[str, str], tuple[str | None, int]] = {}
    for raw in tags_raw:
        if not isinstance(raw, dict):
            bad(head_line, "tags", "each tag must be a mapping")
            continue
        line = raw.get(_LINE, head_line)
        for key in raw:
            if key != _LINE and key not in TAG_FIELDS:
                bad(line, str(key), "not a TagPack tag field")
        merged = {**header, **{k: v for k, v in raw.items() if k != _LINE}}
        if merged.get("address") is None:
            if merged.get("tx_hash") is None:
                bad(line, "address", "missing")
            continue  # transaction tags are not address attributions
        if lenient and merged.get("confidence") is None:
            merged["confidence"] = "unknown"  # GraphSense's validator accepts it missing
        try:
            fields = _tag_fields(merged)
        except _FieldError as exc:
            bad(line, exc.field, exc.problem)
            continue
        key = (fields["chain"], fields["address"])
        previous = actor_of.get(key)
        if (
            previous is not None
            and previous[0] != fields["actor"]
            and previous[0]
            and fields["actor"]
        ):
            bad(
                line,
                "actor",
                f"{fields['address']} is tagged with actor {previous[0]!r} on line {previous[1]} "
                f"and {fields['actor']!r} here",
            )
            continue
        actor_of.setdefault(key, (fields["actor"], line))
        tags.append(Tag(line=line, **fields))
    new = problems[before:]
    if new and not (lenient and all(x.field in DROPPABLE for x in new)):
        return None
    return LabelPack(
        name=path.name,
        path=p,
        kind="tagpack",
        title=str(data.get("title")),
        creator=str(data.get("creator")),
        sha256="",
        lastmod=_safe_date(data.get("lastmod")),
        is_demo=_is_demo(data),
        tags=tuple(tags),
    )


def _safe_date(value: Any) -> str | None:
    try:
        return _date(value)
    except ValueError:
        return None


class _FieldError(Exception):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(problem)
        self.field = field
        self.problem = problem


def _tag_fields(merged: dict[str, Any]) -> dict[str, Any]:
    def field(name: str, required: bool = False) -> str | None:
        try:
            value = _text(merged.get(name))
        except ValueError as exc:
            raise _FieldError(name, str(exc)) from None
        if required and not value:
            raise _FieldError(name, "missing")
        return value

    label = field("label", True)
    source = field("source", True)
    confidence = field("confidence", True)
    if confidence not in CONFIDENCE:
        raise _FieldError("confidence", f"unknown confidence {confidence!r} (GraphSense scale)")
    address_raw = field("address", True) or ""
    code = field("network") or field("currency")
    if not code:
        raise _FieldError("currency", "missing (currency or network)")
    chain = chain_of(code, address_raw)
    if chain is None:
        raise _FieldError("network", f"cannot tell the chain of {code!r} for {address_raw!r}")
    try:
        address = normalize(chain, address_raw)
    except InputError as exc:
        raise _FieldError("address", f"{exc} on {chain}") from None
    category = field("category")
    concepts_raw = merged.get("concepts") or []
    if not isinstance(concepts_raw, list):
        raise _FieldError("concepts", "must be a list")
    concepts = tuple(str(c) for c in concepts_raw)
    abuse = field("abuse")
    for name, value in (("category", category), ("abuse", abuse)):
        if value is not None and value not in CONCEPTS:
            raise _FieldError(name, f"unknown category {value!r} (not a GraphSense concept)")
    for concept in concepts:
        if concept not in CONCEPTS:
            raise _FieldError("concepts", f"unknown concept {concept!r}")
    try:
        lastmod = _date(merged.get("lastmod"))
    except ValueError as exc:
        raise _FieldError("lastmod", str(exc)) from None
    try:
        attrs, context = _exposure_context(merged.get("context"))
    except ValueError as exc:
        raise _FieldError("context", str(exc)) from None
    actor = field("actor")
    return {
        "chain": chain,
        "address": address,
        "label": label,
        "source": source,
        "confidence": confidence,
        "confidence_level": CONFIDENCE[confidence],
        "category": category,
        "concepts": tuple(dict.fromkeys((*concepts, *([abuse] if abuse else [])))),
        "actor": actor.lower() if actor else None,
        "lastmod": lastmod,
        "serves_mainland": attrs.get("serves_mainland"),
        "rwa": attrs.get("rwa"),
        "stablecoin": attrs.get("stablecoin"),
        "context": context,
    }


def load_actorpack(
    path: Path, data: dict[str, Any], problems: list[PackProblem]
) -> LabelPack | None:
    """Validate a parsed ActorPack; append problems; return the pack if it has none."""
    before = len(problems)
    p = str(path)
    head_line = data.get(_LINE, 1)
    for field in ("title", "creator"):
        if not data.get(field):
            problems.append(PackProblem(p, head_line, field, "missing"))
    actors_raw = data.get("actors")
    if not isinstance(actors_raw, list):
        problems.append(PackProblem(p, head_line, "actors", "missing or not a list"))
        actors_raw = []
    actors: list[Actor] = []
    seen: dict[str, int] = {}
    for raw in actors_raw:
        if not isinstance(raw, dict):
            problems.append(PackProblem(p, head_line, "actors", "each actor must be a mapping"))
            continue
        line = raw.get(_LINE, head_line)

        def bad(field: str, problem: str, line: int = line) -> None:
            problems.append(PackProblem(p, line, field, problem))

        for key in raw:
            if key != _LINE and key not in ACTOR_FIELDS:
                bad(str(key), "not an ActorPack actor field")
        actor_id = str(raw.get("id") or "").strip().lower()
        if not actor_id:
            bad("id", "missing")
            continue
        if actor_id in seen:
            bad("id", f"actor {actor_id!r} already defined on line {seen[actor_id]}")
            continue
        seen[actor_id] = line
        for field in ("label", "uri"):
            if not raw.get(field):
                bad(field, "missing")
        categories = raw.get("categories")
        if categories is None:
            categories = []
        if not isinstance(categories, list):
            bad("categories", "must be a list of GraphSense concepts")
            categories = []
        for c in categories:
            if c not in CONCEPTS:
                bad("categories", f"unknown category {c!r} (not a GraphSense concept)")
        jurisdictions = raw.get("jurisdictions") or []
        if not isinstance(jurisdictions, list):
            bad("jurisdictions", "must be a list of country codes")
            jurisdictions = []
        try:
            attrs, context = _exposure_context(raw.get("context"))
        except ValueError as exc:
            bad("context", str(exc))
            continue
        actors.append(
            Actor(
                id=actor_id,
                label=str(raw.get("label", "")),
                uri=_text(raw.get("uri")),
                categories=tuple(str(c) for c in categories),
                jurisdictions=tuple(str(j) for j in jurisdictions),
                serves_mainland=attrs.get("serves_mainland", "unknown"),
                rwa=attrs.get("rwa"),
                stablecoin=attrs.get("stablecoin"),
                evidence=_text(attrs.get("evidence")) if attrs.get("evidence") else None,
                as_of=attrs.get("as_of"),
                grade=_text(attrs.get("grade")) if attrs.get("grade") else None,
                licence=_text(attrs.get("licence")) if attrs.get("licence") else None,
                context=context,
                line=line,
            )
        )
    if len(problems) > before:
        return None
    return LabelPack(
        name=path.name,
        path=p,
        kind="actorpack",
        title=str(data.get("title")),
        creator=str(data.get("creator")),
        sha256="",
        lastmod=_safe_date(data.get("lastmod")),
        is_demo=_is_demo(data),
        actors=tuple(actors),
    )


def load_yaml_pack(
    path: Path, *, lenient: bool = False
) -> tuple[LabelPack | None, list[PackProblem]]:
    """Load one YAML file as a TagPack or ActorPack (told apart by ``tags`` / ``actors``).

    Returns the pack (None if it failed) and every problem found; with ``lenient`` a TagPack
    whose only problems are invalid addresses is returned without those tags.
    """
    problems: list[PackProblem] = []
    data = _read_yaml(path, problems)
    if problems:
        return None, problems
    if not isinstance(data, dict):
        return None, [PackProblem(str(path), 1, "file", "not a TagPack or ActorPack mapping")]
    if "actors" in data and "tags" not in data:
        pack = load_actorpack(path, data, problems)
    else:
        pack = load_tagpack(path, data, problems, lenient=lenient)
    if pack is None:
        return None, problems
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return _with_digest(pack, digest), problems


def _with_digest(pack: LabelPack, digest: str) -> LabelPack:
    from dataclasses import replace

    return replace(pack, sha256=digest)


def yaml_files(paths: Iterable[Path]) -> list[Path]:
    """The ``.yaml``/``.yml`` files at or under ``paths``, sorted."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml")))
        else:
            out.append(path)
    return out
