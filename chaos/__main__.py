"""`make chaos`: every fault kind, several seeds each, against the model.

    make chaos                              # 5 seeds x 7 kinds, 100 operations each
    CHAOS_SEEDS=1 CHAOS_KINDS=500 make chaos

Each worker process runs its own embedded moto (devstack.stack), so runs go
in parallel (CHAOS_WORKERS, default: one per CPU; more do not go faster). Settings:
CHAOS_SEEDS (a count, or seeds "1,5,9"), CHAOS_KINDS ("500,mix"),
CHAOS_OPERATIONS (100), CHAOS_RATE (one fault rate for every kind instead of
RATES), CHAOS_USERS (8), CHAOS_OUT (chaos/out). Prints the table (markdown)
and what went wrong in any run that was not clean, writes
chaos/out/results.json, and exits 1 unless every run was clean.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from chaos import report, run
from chaos.faults import KINDS

# Fault rates per kind: high, as in the storms (the request path's
# SDK retries mean a client sees far fewer). `unprocessed` applies only to
# batch calls, `stream` and `queue` only to their services' calls.
RATES = {"500": 0.4, "throttle": 0.35, "write-then-500": 0.3, "unprocessed": 0.5, "stream": 0.4,
         "queue": 0.4, "mix": 0.4}


def _seeds(text: str) -> list[int]:
    return [int(s) for s in text.split(",")] if "," in text else list(range(1, int(text) + 1))


def main() -> int:
    started = time.monotonic()
    kinds = os.environ.get("CHAOS_KINDS", ",".join(KINDS)).split(",")
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise SystemExit(f"unknown kinds {sorted(unknown)}; the kinds are {', '.join(KINDS)}")
    seeds = _seeds(os.environ.get("CHAOS_SEEDS", "5"))
    operations = int(os.environ.get("CHAOS_OPERATIONS", "100"))
    users = int(os.environ.get("CHAOS_USERS", "8"))
    fixed = os.environ.get("CHAOS_RATE")
    workers = int(os.environ.get("CHAOS_WORKERS", os.cpu_count() or 1))
    out = Path(os.environ.get("CHAOS_OUT", Path(__file__).parent / "out"))
    runs = [(kind, seed, operations, float(fixed) if fixed else RATES[kind], users)
            for seed in seeds for kind in kinds]
    print(f"{len(runs)} runs ({len(kinds)} kinds x {len(seeds)} seeds, {operations} operations each) "
          f"on {workers} workers", flush=True)
    results = []
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: settings are read at import
    with ProcessPoolExecutor(workers, mp_context=context, initializer=run.start_worker) as pool:
        futures = [pool.submit(run.as_dict, *spec) for spec in runs]
        for future in as_completed(futures):
            result = future.result()
            results.append(result)
            print(f"[{time.monotonic() - started:6.1f}s] {result['kind']} seed {result['seed']}: "
                  f"{'clean' if result['clean'] else 'NOT CLEAN'} ({result['faults']} faults, "
                  f"{result['seconds']} s)", flush=True)
            if not result["clean"]:
                print(report.failures([result]), flush=True)
    order = {(kind, seed): n for n, (kind, seed, *_) in enumerate(runs)}
    results.sort(key=lambda r: (kinds.index(r["kind"]), order[r["kind"], r["seed"]]))
    seconds = round(time.monotonic() - started, 1)
    out.mkdir(parents=True, exist_ok=True)
    command = " ".join(f"{k}={os.environ[k]}" for k in sorted(os.environ) if k.startswith("CHAOS_"))
    (out / "results.json").write_text(json.dumps(
        {"command": f"{command} make chaos".strip(), "seconds": seconds, "runs": results}, indent=1))
    print()
    print(report.table(results))
    print()
    problems = report.failures(results)
    if problems:
        print(problems)
        print()
    clean = sum(r["clean"] for r in results)
    print(f"{clean} of {len(results)} runs clean in {seconds} s; wrote {out / 'results.json'}")
    return 0 if clean == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
