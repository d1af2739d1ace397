"""Structural diff of two JSON documents: what a promotion dialog and the compare page show.

Objects are compared key by key. Arrays are compared by alignment, not by index: `difflib.SequenceMatcher` runs
over the elements' canonical JSON (sorted keys, so `1`, `1.0` and `true` stay three values), so inserting one chat
message at the front is "1 added", not "1 added, 4 modified". Within a run of replaced elements the old and new
ones are paired where they are alike (most of an object's fields equal; any two scalars) and compared in depth,
so a message whose text changed is one modification at its path; the rest of the run is added or removed. A moved element is one removed and one added. Paths name an element by
its index in the new array, and a removed one by its index in the old array.
"""

from __future__ import annotations

import difflib
import json
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

    @property
    def old_collapses(self) -> bool:
        return collapses(self.old)

    @property
    def new_collapses(self) -> bool:
        return collapses(self.new)

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "type": self.type, "old": self.old, "new": self.new}


def collapses(value: Any) -> bool:
    """A value the diff shows folded (a one-line preview that opens to all of it): a non-empty object or array,
    or a value whose JSON is longer than a line. Nothing is cut: the open value is the whole value."""
    if isinstance(value, dict | list):
        return bool(value)
    if isinstance(value, str):
        return "\n" in value or len(value) > LONG_TEXT_CHARS
    return False


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
        _walk_array(old, new, path, out)
    elif type(old) is not type(new) or old != new:
        # `type` matters: 1 and True and 1.0 are equal in Python but not the same JSON value.
        out.append(Change(path or "$", "modified", old, new))


def _canonical(value: Any) -> str:
    """One JSON value as text that is equal exactly when the values are (object key order aside)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _walk_array(old: list[Any], new: list[Any], path: str, out: list[Change]) -> None:
    old_keys, new_keys = [_canonical(v) for v in old], [_canonical(v) for v in new]
    if old_keys == new_keys:
        return
    # The common head and tail first: SequenceMatcher takes the longest block first, which is not always the
    # smallest diff ([a, b, a] → [a, a, b, a] would be "2 added, 1 removed"); one insertion or deletion
    # anywhere is then exactly that, whatever the elements repeat.
    head = 0
    while head < min(len(old), len(new)) and old_keys[head] == new_keys[head]:
        head += 1
    tail = 0
    while tail < min(len(old), len(new)) - head and old_keys[-1 - tail] == new_keys[-1 - tail]:
        tail += 1
    # autojunk off: in a long array of repeated values (stop words, empty strings) the heuristic would
    # drop the most common element from matching and report equal elements as changed.
    matcher = difflib.SequenceMatcher(None, old_keys[head:len(old) - tail], new_keys[head:len(new) - tail],
                                      autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            _replace(old, new, range(head + i1, head + i2), range(head + j1, head + j2), path, out)


PAIRING_LIMIT = 2_500  # old × new elements of one replaced run, above which they are paired in order


def _replace(old: list[Any], new: list[Any], olds: range, news: range, path: str, out: list[Change]) -> None:
    """A run of old elements replaced by a run of new ones: the pairs that are one element changed (most of an
    object's fields alike, say) are compared in depth; the others are removed and added."""
    for i, j in _pairs(old, new, olds, news):
        if i is None:
            out.append(Change(_join(path, j), "added", None, new[j]))
        elif j is None:
            out.append(Change(_join(path, i), "removed", old[i], None))
        else:
            _walk(old[i], new[j], _join(path, j), out)


def _pairs(old: list[Any], new: list[Any], olds: range, news: range) -> list[tuple[int | None, int | None]]:
    """The alignment of a replaced run that keeps the order and pairs the most alike elements (a weighted
    longest common subsequence over `_likeness`); (i, None) is removed, (None, j) added."""
    if not olds or not news or len(olds) * len(news) > PAIRING_LIMIT:
        paired = min(len(olds), len(news))
        return ([(olds[k], news[k]) for k in range(paired)] + [(i, None) for i in olds[paired:]]
                + [(None, j) for j in news[paired:]])
    m, n = len(olds), len(news)
    like = [[_likeness(old[i], new[j]) for j in news] for i in olds]
    best = [[0.0] * (n + 1) for _ in range(m + 1)]  # best[a][b]: the best score of olds[a:] with news[b:]
    for a in range(m - 1, -1, -1):
        for b in range(n - 1, -1, -1):
            take = best[a + 1][b + 1] + like[a][b] if like[a][b] else -1.0
            best[a][b] = max(take, best[a + 1][b], best[a][b + 1])
    pairs: list[tuple[int | None, int | None]] = []
    a = b = 0
    while a < m and b < n:
        if like[a][b] and best[a][b] == best[a + 1][b + 1] + like[a][b]:
            pairs.append((olds[a], news[b]))
            a, b = a + 1, b + 1
        elif best[a][b] == best[a + 1][b]:
            pairs.append((olds[a], None))
            a += 1
        else:
            pairs.append((None, news[b]))
            b += 1
    return pairs + [(i, None) for i in olds[a:]] + [(None, j) for j in news[b:]]


def _likeness(old: Any, new: Any) -> float:
    """How much two array elements are one element changed, 0 (not at all: removed and added) to 1. Two
    scalars are a modification (0.5); objects are alike in the share of their fields that are equal, arrays in
    the share of their elements; an object is never a changed array or scalar."""
    if isinstance(old, dict) and isinstance(new, dict):
        keys = old.keys() | new.keys()
        if not keys:
            return 1.0
        same = sum(1 for k in keys if k in old and k in new and _canonical(old[k]) == _canonical(new[k]))
        return same / len(keys) if same * 2 >= len(keys) else 0.0
    if isinstance(old, list) and isinstance(new, list):
        if not old and not new:
            return 1.0
        ratio = difflib.SequenceMatcher(None, [_canonical(v) for v in old], [_canonical(v) for v in new],
                                        autojunk=False).ratio()
        return ratio if ratio >= 0.5 else 0.0
    if isinstance(old, dict | list) or isinstance(new, dict | list):
        return 0.0
    return 0.5


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
