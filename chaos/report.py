"""The table `make chaos` prints: one row per fault kind, summed over seeds."""
from __future__ import annotations

from collections.abc import Callable, Iterable

COLUMNS: list[tuple[str, str, Callable[[Iterable[int]], int]]] = [  # (heading, result key, combined by)
    ("operations", "operations", sum), ("AWS calls", "calls", sum), ("faults injected", "faults", sum),
    ("client-visible 5xx", "client_5xx", sum), ("gave up (sent after)", "gave_up", sum),
    ("unexpected answers", "unexpected", sum), ("landed DELETE answered 404 (moto)", "landed_404", sum),
    ("home timelines divergent", "home_divergent", sum),
    ("user timelines divergent", "user_timelines_divergent", sum),
    ("hashtag/notification lists divergent", "lists_divergent", sum),
    ("counts wrong", "counts_wrong", sum), ("celebrity states wrong", "celebrity_wrong", sum),
    ("duplicates", "duplicates", sum), ("lost", "lost", sum), ("extra", "extra", sum),
    ("redriven", "redriven", sum), ("heal rounds (max)", "heal_rounds", max),
]


def table(results: Iterable[dict]) -> str:
    by_kind: dict[str, list[dict]] = {}
    for result in results:
        by_kind.setdefault(result["kind"], []).append(result)
    head = ["kind", "p", "seeds", *(c[0] for c in COLUMNS), "failure queues empty", "clean runs", "s per run"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for kind, runs in by_kind.items():
        rates = sorted({r["rate"] for r in runs})
        row = [kind, "/".join(f"{rate:g}" for rate in rates), str(len(runs))]
        row += [str(combine(r[key] for r in runs)) for _, key, combine in COLUMNS]
        empty = sum(r["queues_empty"] for r in runs)
        row += [f"{empty}/{len(runs)}", f"{sum(r['clean'] for r in runs)}/{len(runs)}",
                f"{sum(r['seconds'] for r in runs) / len(runs):.0f}"]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def failures(results: Iterable[dict]) -> str:
    """What went wrong in the runs that were not clean, to reproduce each."""
    out = []
    for r in results:
        if r["clean"] and not r["details"]:
            continue
        out.append(f"{r['kind']} seed {r['seed']} (p={r['rate']:g}, {r['operations']} operations): "
                   f"{'clean' if r['clean'] else 'NOT CLEAN'}")
        out += [f"  - {line}" for line in r["details"]]
    return "\n".join(out)
