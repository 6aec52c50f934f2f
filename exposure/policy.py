"""Rating policies: a small YAML file of rules that turn exposures into a level."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from .errors import InputError
from .report.model import Exposure, Rating

DEFAULT_POLICY = Path(__file__).resolve().parent / "policies" / "default.yaml"


@dataclass(frozen=True)
class Rule:
    """Fires for an exposure of ``category`` (and ``direction``) meeting every stated bound."""

    category: str
    level: str
    direction: str = "both"
    max_hops: int | None = None
    min_share: float | None = None

    def fires(self, exposure: Exposure) -> bool:
        """Whether this rule applies to ``exposure``."""
        if exposure.category != self.category or exposure.hops is None:
            return False
        if self.direction != "both" and exposure.direction != self.direction:
            return False
        if self.max_hops is not None and exposure.hops > self.max_hops:
            return False
        return not (self.min_share is not None and exposure.share < self.min_share)

    def describe(self, exposure: Exposure) -> str:
        """Why the rule fired, in words."""
        parts = [f"{exposure.category} {exposure.direction} at {exposure.hops} hop(s)"]
        if self.max_hops is not None:
            parts.append(f"<= {self.max_hops}")
        if self.min_share is not None:
            parts.append(f"share {exposure.share:.1%} >= {self.min_share:.0%}")
        return f"{self.level}: " + " ".join(parts)


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
        """The highest level of any rule that fires, with every reason."""
        best = 0
        reasons = []
        for exposure in exposures:
            for rule in self.rules:
                if rule.fires(exposure):
                    best = max(best, self.rank(rule.level))
                    reasons.append(rule.describe(exposure))
        ordered = sorted(set(reasons), key=lambda r: (-self.rank(r.split(":")[0]), r))
        return Rating(self.levels[best], self.name, tuple(ordered))


def load_policy(path: str | Path | None = None) -> Policy:
    """Load a policy YAML (default: the shipped one); a bad file is one clear InputError."""
    target = Path(path) if path else DEFAULT_POLICY
    try:
        data = yaml.safe_load(target.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read policy {target}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise InputError(f"policy {target}{where}: invalid YAML") from None
    if not isinstance(data, dict):
        raise InputError(f"policy {target}: expected a mapping with levels and rules")
    levels = data.get("levels") or ["none", "low", "medium", "high"]
    if not isinstance(levels, list) or not all(isinstance(x, str) for x in levels):
        raise InputError(f"policy {target}: levels must be a list of names, lowest first")
    rules = []
    for i, raw in enumerate(data.get("rules") or [], start=1):
        if not isinstance(raw, dict) or "category" not in raw or "level" not in raw:
            raise InputError(f"policy {target}: rule {i} needs a category and a level")
        unknown = set(raw) - {"category", "level", "direction", "max_hops", "min_share"}
        if unknown:
            raise InputError(f"policy {target}: rule {i}: unknown field(s) {sorted(unknown)}")
        if raw["level"] not in levels:
            raise InputError(f"policy {target}: rule {i}: level {raw['level']!r} not in levels")
        if raw.get("direction", "both") not in ("in", "out", "both"):
            raise InputError(f"policy {target}: rule {i}: direction must be in, out or both")
        try:
            rules.append(
                Rule(
                    category=str(raw["category"]),
                    level=str(raw["level"]),
                    direction=str(raw.get("direction", "both")),
                    max_hops=None if raw.get("max_hops") is None else int(raw["max_hops"]),
                    min_share=None if raw.get("min_share") is None else float(raw["min_share"]),
                )
            )
        except (TypeError, ValueError):
            raise InputError(
                f"policy {target}: rule {i}: max_hops/min_share must be numbers"
            ) from None
    return Policy(str(data.get("name") or target.stem), tuple(levels), tuple(rules), str(target))
