"""Every row of the database, to prove that a refused or failed request wrote nothing."""

from __future__ import annotations

from typing import Any

Rows = dict[str, set[str]]
# Bookkeeping of a request, not a write it was asked for: when a token was last used.
STAMPS = {"api_tokens": ("last_used_at",)}


def rows(db: Any, stamps: dict[str, tuple[str, ...]] | None = None) -> Rows:
    """Each table's rows, as text (JSON columns are not hashable), without the `stamps` columns."""
    stamps = STAMPS if stamps is None else stamps
    db.session.rollback()
    db.session.expire_all()
    return {table.name: {repr(tuple(row)) for row in db.session.execute(
        table.select().with_only_columns(*(c for c in table.columns if c.name not in stamps.get(table.name, ()))))}
        for table in db.metadata.sorted_tables}


def changes(before: Rows, after: Rows) -> dict[str, int]:
    """Per table: how many rows appeared, changed or went."""
    return {name: len(before[name] ^ after[name]) for name in before if before[name] != after[name]}
