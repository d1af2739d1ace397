"""Structural diff of two JSON documents: what a promotion dialog and the compare page show."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Literal

ChangeType = Literal["added", "removed", "modified"]
LONG_TEXT_CHARS = 120
_MISSING = object()


@dataclass(frozen=True, slots=True)
class Change:
    path: str
    type: ChangeType
    old: Any = None
    new: Any = None

    @property
    def is_long_text(self) -> bool:
        """Prompts and other long strings read better as a line diff than as two blobs."""
        return (
            self.type == "modified"
            and isinstance(self.old, str)
            and isinstance(self.new, str)
            and ("\n" in self.old or "\n" in self.new or max(len(self.old), len(self.new)) > LONG_TEXT_CHARS)
        )

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "type": self.type, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class Diff:
    changes: list[Change]

    @property
    def counts(self) -> dict[str, int]:
        counts = {"added": 0, "removed": 0, "modified": 0}
        for change in self.changes:
            counts[change.type] += 1
        return counts

    @property
    def summary(self) -> str:
        total = len(self.changes)
        if not total:
            return "No changes"
        parts = [f"{n} {kind}" for kind, n in self.counts.items() if n]
        return f"{total} change{'s' if total != 1 else ''}: {', '.join(parts)}"

    def as_json(self) -> dict[str, Any]:
        return {"changes": [c.as_json() for c in self.changes], "summary": self.summary}


def diff_documents(old: dict[str, Any] | None, new: dict[str, Any]) -> Diff:
    """Changes from `old` to `new`; with no `old` (a first promotion) every non-null field is added."""
    changes: list[Change] = []
    if old is None:
        for key, value in new.items():
            if value is not None:
                changes.append(Change(key, "added", None, value))
        return Diff(changes)
    _walk(old, new, "", changes)
    return Diff(changes)


def _join(prefix: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{prefix}[{key}]"
    return f"{prefix}.{key}" if prefix else key


def _walk(old: Any, new: Any, path: str, out: list[Change]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in old:
            child = _join(path, key)
            if key not in new:
                out.append(Change(child, "removed", old[key], None))
            else:
                _walk(old[key], new[key], child, out)
        for key in new:
            if key not in old:
                out.append(Change(_join(path, key), "added", None, new[key]))
    elif isinstance(old, list) and isinstance(new, list):
        for index in range(max(len(old), len(new))):
            child = _join(path, index)
            if index >= len(new):
                out.append(Change(child, "removed", old[index], None))
            elif index >= len(old):
                out.append(Change(child, "added", None, new[index]))
            else:
                _walk(old[index], new[index], child, out)
    elif type(old) is not type(new) or old != new:
        # `type` matters: 1 and True and 1.0 are equal in Python but not the same JSON value.
        out.append(Change(path or "$", "modified", old, new))


def line_diff(old: str, new: str, context: int = 3) -> list[tuple[str, str]]:
    """A unified line diff as (`kind`, `line`) pairs, kind one of `add`, `del`, `ctx`, `hunk`."""
    rows: list[tuple[str, str]] = []
    for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=context):
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("@@"):
            rows.append(("hunk", line))
        elif line.startswith("+"):
            rows.append(("add", line[1:]))
        elif line.startswith("-"):
            rows.append(("del", line[1:]))
        else:
            rows.append(("ctx", line[1:]))
    return rows
