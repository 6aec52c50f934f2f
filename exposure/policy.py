"""Rating policies: a small YAML file of rules that turn exposures into a level."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from .errors import InputError
from .labels.taxonomy import SCREENING_CATEGORIES
from .report.model import Exposure, Rating, Reason

DEFAULT_POLICY = Path(__file__).resolve().parent / "policies" / "default.yaml"


@dataclass(frozen=True)
class Rule:
    """Fires for an exposure of ``category`` (and ``direction``) meeting every stated bound."""

    category: str
    level: str
    direction: str = "both"
    max_hops: int | None = None
    min_share: float | None = None
    #: its number in the policy file (1 = first rule)
    number: int = 0

    def fires(self, exposure: Exposure) -> bool:
        """Whether this rule applies to ``exposure``."""
        if exposure.category != self.category or exposure.hops is None:
            return False
        if self.direction != "both" and exposure.direction != self.direction:
            return False
        if self.max_hops is not None and exposure.hops > self.max_hops:
            return False
        return not (self.min_share is not None and exposure.share < self.min_share)

    def reason(self, exposure: Exposure) -> Reason:
        """Why the rule fired for ``exposure``, as values (the report layer words them)."""
        return Reason(level=self.level, category=exposure.category,
                      direction=exposure.direction, hops=int(exposure.hops or 0),
                      rule=self.number, max_hops=self.max_hops, min_share=self.min_share,
                      share=exposure.share)


@dataclass(frozen=True)
class Policy:
    """Ordered levels (lowest first) and rules."""

    name: str
    levels: tuple[str, ...]
    rules: tuple[Rule, ...]
    path: str = ""

    def rank(self, level: str) -> int:
        """Position of ``level`` (InputError if unknown)."""
        try:
            return self.levels.index(level)
        except ValueError:
            raise InputError(
                f"unknown level {level!r} for policy {self.name!r} (levels: "
                f"{', '.join(self.levels)})"
            ) from None

    def rate(self, exposures: tuple[Exposure, ...]) -> Rating:
        """The highest level of any rule that fires; per exposure one reason, the highest rule
        it meets (of equal levels the first in the file), highest level first, then nearest."""
        best = 0
        reasons = []
        for exposure in exposures:
            met = [rule for rule in self.rules if rule.fires(exposure)]
            if met:
                top = max(met, key=lambda r: (self.rank(r.level), -r.number))
                best = max(best, self.rank(top.level))
                reasons.append(top.reason(exposure))
        reasons.sort(key=lambda r: (-self.rank(r.level), r.hops, r.rule, r.direction))
        return Rating(self.levels[best], self.name, tuple(reasons), self.levels)


#: The fields a rule may state.
RULE_FIELDS = ("category", "level", "direction", "max_hops", "min_share")


def _line(node: yaml.Node | None) -> int:
    return node.start_mark.line + 1 if node is not None else 1


def load_policy(path: str | Path | None = None) -> Policy:
    """Load a policy YAML (default: the shipped one); a bad file is one InputError naming the
    file and line: unknown fields, categories, directions or levels are refused (a misspelt
    category would otherwise load and never fire)."""
    target = Path(path) if path else DEFAULT_POLICY
    try:
        text = target.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read policy {target}: {exc.strerror}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise InputError(f"policy {target}{where}: invalid YAML") from None

    def fail(node: yaml.Node | None, problem: str) -> InputError:
        return InputError(f"policy {target}:{_line(node)}: {problem}")

    if not isinstance(data, dict) or not isinstance(root, yaml.MappingNode):
        raise fail(root, "expected a mapping with levels and rules")
    top = {k.value: v for k, v in root.value}
    unknown_top = sorted(set(data) - {"name", "description", "levels", "rules"})
    if unknown_top:
        key = next(k for k, _ in root.value if k.value == unknown_top[0])
        raise fail(key, f"unknown field {unknown_top[0]!r} (fields: name, description, levels, "
                        "rules)")
    levels = data.get("levels") or ["none", "low", "medium", "high"]
    if not isinstance(levels, list) or not all(isinstance(x, str) for x in levels):
        raise fail(top.get("levels"), "levels must be a list of names, lowest first")
    rule_nodes = top.get("rules")
    raw_rules = data.get("rules") or []
    if not isinstance(raw_rules, list):
        raise fail(rule_nodes, "rules must be a list")
    nodes = rule_nodes.value if isinstance(rule_nodes, yaml.SequenceNode) else []
    rules = []
    for i, raw in enumerate(raw_rules, start=1):
        node = nodes[i - 1] if i - 1 < len(nodes) else rule_nodes
        fields = ({k.value: (k, v) for k, v in node.value}
                  if isinstance(node, yaml.MappingNode) else {})

        def at(name: str, node=node, fields=fields) -> yaml.Node | None:
            return fields[name][0] if name in fields else node

        if not isinstance(raw, dict) or "category" not in raw or "level" not in raw:
            raise fail(node, f"rule {i} needs a category and a level")
        unknown = sorted(set(raw) - set(RULE_FIELDS))
        if unknown:
            raise fail(at(unknown[0]), f"rule {i}: unknown field {unknown[0]!r} (fields: "
                                       f"{', '.join(RULE_FIELDS)})")
        if raw["category"] not in SCREENING_CATEGORIES:
            raise fail(at("category"), f"rule {i}: unknown category {raw['category']!r} "
                                       f"(categories: {', '.join(SCREENING_CATEGORIES)})")
        if raw["level"] not in levels:
            raise fail(at("level"), f"rule {i}: level {raw['level']!r} not in levels "
                                    f"({', '.join(levels)})")
        if raw.get("direction", "both") not in ("in", "out", "both"):
            raise fail(at("direction"), f"rule {i}: unknown direction "
                                        f"{raw.get('direction')!r} (in, out or both)")
        try:
            rules.append(
                Rule(
                    category=str(raw["category"]),
                    level=str(raw["level"]),
                    direction=str(raw.get("direction", "both")),
                    max_hops=None if raw.get("max_hops") is None else int(raw["max_hops"]),
                    min_share=None if raw.get("min_share") is None else float(raw["min_share"]),
                    number=i,
                )
            )
        except (TypeError, ValueError):
            raise fail(node, f"rule {i}: max_hops/min_share must be numbers") from None
    return Policy(str(data.get("name") or target.stem), tuple(levels), tuple(rules), str(target))
