"""`make bench`: pull vs push vs hybrid on seeded power-law graphs.

    make bench                  # the default sizes (a few minutes)
    BENCH_QUICK=1 make bench    # one small graph (about a minute)

Writes bench/out/results.json and bench/out/fanout.png and prints a table;
then one author's delivery to many followers (bench.delivery).
Settings: BENCH_SEED (default 7), BENCH_OUT (default bench/out),
BENCH_SIZES ("users:posts:reads,..." instead of the presets), BENCH_PACKAGE
(0 skips building the deployment packages), BENCH_DELIVERY ("2000,10000:50000":
the delivery benchmark's follower counts, pushed and then past the threshold).
"""
import logging
import os
import sys
import time
from pathlib import Path

# Sizes: (users, posts, home reads). The last is "the default graph" whose
# numbers head results.json; the others show how costs grow.
DEFAULT_SIZES = [(1_000, 80, 80), (2_000, 80, 80), (4_000, 120, 120)]
QUICK_SIZES = [(800, 60, 60)]
# Hybrid's threshold: the follower count of the 98th percentile, so the top 2%
# of accounts (the heavy tail) are pulled, as CELEBRITY_THRESHOLD = 10,000
# picks out the tail of a real network.
CELEBRITY_PERCENTILE = 0.98


def _size(text: str) -> tuple[int, int, int]:
    users, posts, reads = (int(n) for n in text.split(":"))
    return users, posts, reads


def _sizes(text: str) -> list[tuple[int, int, int]]:
    return [_size(size) for size in text.split(",")]


def main() -> dict:
    started = time.monotonic()
    quick = os.environ.get("BENCH_QUICK") == "1"
    sizes = _sizes(os.environ["BENCH_SIZES"]) if os.environ.get("BENCH_SIZES") else (
        QUICK_SIZES if quick else DEFAULT_SIZES)
    seed = int(os.environ.get("BENCH_SEED", "7"))
    out = Path(os.environ.get("BENCH_OUT", Path(__file__).parent / "out"))
    package = os.environ.get("BENCH_PACKAGE", "1") != "0"

    def progress(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {message}", flush=True)

    from bench import fastmoto
    from devstack import stack

    fastmoto.install()
    server, endpoint = stack.start_moto()
    os.environ["CHIRP_STAGE"] = "bench"
    stack.configure_environment(endpoint)  # before chalicelib is imported: it reads settings then
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    try:
        results = _run(sizes, seed, endpoint, progress)
        from bench import delivery

        progress("delivery at scale: one author, many followers")
        results["delivery"] = delivery.measure(endpoint, quick, progress, os.environ.get("BENCH_DELIVERY"))
    finally:
        server.stop()
    from bench import coldstart, costmodel, report

    progress("cold start: import time and package size, Chirp and a minimal Chalice app")
    results["cold_start"] = coldstart.measure(package=package)
    results["cost_model"] = {
        "prices": costmodel.PRICES, "workload": costmodel.WORKLOAD,
        "strategies": {name: costmodel.monthly_bill(m) for name, m in results["strategies"].items()}}
    results["explanation"] = report.explanation(results["strategies"], results["graph"])
    results["mode"] = "quick" if quick else "default"
    results["command"] = "BENCH_QUICK=1 make bench" if quick else "make bench"
    results["seconds"] = round(time.monotonic() - started, 1)
    report.write_json(out / "results.json", results)
    report.plot(out / "fanout.png", results)
    print()
    print(report.table(results["strategies"]))
    print()
    for scale in results["scaling"]:
        graph = scale["graph"]
        print(f"{graph['users']:>6,} users, {graph['follows']:>8,} follows: " + ", ".join(
            f"{name} reads {m['home_read_calls_mean']:.1f} calls / "
            f"writes {m['post_write_units_mean']:.1f} units"
            for name, m in scale["strategies"].items()))
    hybrid = results["strategies"]["hybrid"]
    if "ranked_first_page_calls_mean" in hybrid:
        print(f"\nranked home (hybrid): first page {hybrid['ranked_first_page_calls_mean']:.1f} calls "
              f"(max {hybrid['ranked_first_page_calls_max']}), "
              f"{hybrid['ranked_first_page_units_mean']:.1f} units; "
              f"later page {hybrid.get('ranked_later_page_calls_mean', 0):.1f} calls "
              f"(max {hybrid.get('ranked_later_page_calls_max', 0)}), "
              f"{hybrid.get('ranked_later_page_units_mean', 0):.1f} units; chronological "
              f"{hybrid['home_read_calls_mean']:.1f} calls, {hybrid['home_read_units_mean']:.1f} units")
    if "views_write_units_per_1000" in hybrid:
        print(f"views: {hybrid['views_write_units_per_1000']:.0f} write units per 1,000 views "
              f"(the home reads' views, FIFO batches of 10)")
    print()
    for name, bill in results["cost_model"]["strategies"].items():
        print(f"{name}: ${bill['total_usd_per_month']:,.0f} a month for 1M daily users "
              f"(10 home reads and 1 post each a day)")
    print()
    for line in delivery.lines(results["delivery"]):
        print(line)
    cold = results["cold_start"]
    print(f"import app: {cold['import_seconds']['chirp']:.2f} s (a minimal Chalice app: "
          f"{cold['import_seconds']['minimal_chalice_app']:.2f} s)")
    if "import_seconds_minimal_dynamodb_app" in cold:
        print(f"  against a minimal Chalice app that creates one DynamoDB client: "
              f"{cold['import_seconds_minimal_dynamodb_app']:.2f} s, "
              f"{cold['import_ratio_to_minimal_dynamodb_app']:.2f}x (the target: at most 1.5x)")
    if cold.get("package_bytes"):
        print(f"deployment package: {cold['package_bytes']['chirp'] or 0:,} bytes (minimal: "
              f"{cold['package_bytes']['minimal_chalice_app'] or 0:,})")
    print()
    print(results["explanation"])
    print(f"\nwrote {out / 'results.json'} and {out / 'fanout.png'} in {results['seconds']} s")
    return results


def _run(sizes, seed: int, endpoint: str, progress) -> dict:
    import requests

    from bench import graph as graphs
    from bench import run, world
    from bench.capacity import CapacityMeter

    scaling = []
    for users, posts, reads in sizes:
        requests.post(f"{endpoint}/moto-api/reset", timeout=30).raise_for_status()
        progress(f"graph of {users:,} users (seed {seed})")
        graph = graphs.build(users, seed)
        loaded = world.load(graph, progress)
        work = run.workload(graph, posts, reads, seed)
        followers = sorted(graph.follower_counts())
        threshold = max(2, followers[int(len(followers) * CELEBRITY_PERCENTILE)])
        samples = {}
        with CapacityMeter() as meter:
            for name in run.STRATEGIES:
                progress(f"{name} on {users:,} users: {posts} posts, {reads} home reads")
                samples[name] = run.run_strategy(name, loaded, work, threshold, meter, progress)
        scaling.append({
            "graph": _describe(graph, threshold, len(world.celebrities(loaded, threshold)), seed),
            "strategies": {name: run.summary(s, users) for name, s in samples.items()},
            "by_following": {
                **{name: run.binned(s.reader_following, s.read_calls) for name, s in samples.items()},
                "hybrid, cold cache": run.binned(samples["hybrid"].reader_following,
                                                 samples["hybrid"].cold_read_calls)},
            "by_followers": {name: run.binned(s.author_followers, s.post_write_units)
                             for name, s in samples.items()},
            "workload": {"posts": posts, "home_reads": reads, "page_size": run.PAGE,
                         "author_weight": f"(1 + followers) ** {run.AUTHOR_EXPONENT}",
                         "readers": "uniform over users"},
        })
    default = scaling[-1]
    return {"graph": default["graph"], "strategies": default["strategies"], "workload": default["workload"],
            "by_following": default["by_following"], "by_followers": default["by_followers"],
            "scaling": [{"graph": s["graph"], "strategies": s["strategies"]} for s in scaling]}


def _describe(graph, threshold: int, celebrities: int, seed: int) -> dict:
    from bench import graph as graphs

    followers = sorted(graph.follower_counts())
    following = sorted(len(f) for f in graph.following)
    return {
        "users": graph.users, "follows": graph.edges, "seed": seed,
        "zipf_exponent": graphs.ZIPF_EXPONENT, "following_pareto_shape": graphs.FOLLOWING_PARETO_SHAPE,
        "following_mean": graph.edges / graph.users, "following_median": following[len(following) // 2],
        "following_max": following[-1], "followers_median": followers[len(followers) // 2],
        "followers_p99": followers[int(len(followers) * 0.99)], "followers_max": followers[-1],
        "celebrity_threshold": threshold, "celebrities": celebrities,
    }


if __name__ == "__main__":
    main()
    sys.exit(0)
