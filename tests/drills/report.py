"""What a drill found: `drill <name>: N lost, M duplicated`, printed at the end of the run and failing on either.

    from tests.drills.report import drill
    drill("sigkill mid fan-out", lost=expected - arrived, duplicated=sum(n - 1 for n in counts if n > 1))

The lines are collected here and printed by `pytest_terminal_summary` in tests/conftest.py, so they show in
`make test`, `make drills` and CI's log whether or not pytest captures output.
"""

from __future__ import annotations

LINES: list[str] = []


def drill(name: str, *, lost: int, duplicated: int) -> None:
    line = f"drill {name}: {lost} lost, {duplicated} duplicated"
    LINES.append(line)
    print(line)
    assert lost == 0 and duplicated == 0, line
