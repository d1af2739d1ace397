"""`python -m bench [serving serving_scale promote governance diff history audit worlds gamenight planning schedules load start]`: run the benchmarks, print a summary, exit 0."""

from __future__ import annotations

import datetime
import importlib
import os
import sys
import time
import traceback

from bench._common import Results, backend_label

ALL = ("serving", "serving_scale", "promote", "governance", "diff", "history", "audit", "worlds", "gamenight", "planning",
       "schedules", "load",
       "start")


def main(argv: list[str]) -> int:
    names = argv or list(ALL)
    unknown = [n for n in names if n not in ALL]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(ALL)}")
        return 0
    results = Results()
    started = time.perf_counter()
    print(f"# Promotion Desk benchmarks, {datetime.datetime.now().isoformat(timespec='seconds')}, "
          f"{os.cpu_count()} cores, {backend_label()}", flush=True)
    for name in names:
        try:
            importlib.import_module(f"bench.{name}").run(results)
        except Exception:  # noqa: BLE001 — a broken benchmark reports, it does not stop the others
            print(f"# {name}: ERROR\n" + "\n".join("#   " + line for line in traceback.format_exc().splitlines()),
                  flush=True)
            results.skipped(f"{name}_error", "error: see the traceback above")
    print(f"\n# Summary ({time.perf_counter() - started:.0f} s)")
    for name, value, target, verdict in results.lines:
        if verdict:
            print(f"{verdict:4}  {name}: {value} ({target})")
    misses = [n for n, _, _, v in results.lines if v == "MISS"]
    print(f"# {len(misses)} MISS: {', '.join(misses)}" if misses else "# all targets met", flush=True)
    return 0  # benchmarks report; they never fail the build


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
