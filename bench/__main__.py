"""`make bench`: pull vs push vs hybrid on seeded power-law graphs.

    make bench                  # the default sizes (a few minutes)
    BENCH_QUICK=1 make bench    # one small graph (about a minute)

Writes bench/out/results.json, bench/out/fanout.png and bench/out/costmap.png
(the cost model across workloads) and prints a table;
then one author's delivery to many followers (bench.delivery).
Settings: BENCH_SEED (default 7), BENCH_OUT (default bench/out),
BENCH_SIZES ("users:posts:reads[:least followed],..." instead of the presets), BENCH_PACKAGE
(0 skips building the deployment packages), BENCH_DELIVERY ("2000,10000:50000":
the delivery benchmark's follower counts, pushed and then past the threshold).
"""
import logging
import os
import sys
import time
from pathlib import Path

from bench import graph as graphs

# Sizes: (users, posts, home reads, least accounts followed). The last is
# "the default graph" whose numbers head results.json; the others show how
# costs grow, one of them with a mean following past 100 (the minimum sets
# it: about three times the minimum, less the cap).
SPARSE = graphs.FOLLOWING_MIN  # a mean following near 28
DENSE = 45  # a mean following near 105
DEFAULT_SIZES = [(1_000, 80, 80, SPARSE), (2_000, 80, 80, DENSE), (10_000, 120, 120, SPARSE),
                 (50_000, 300, 120, SPARSE)]
QUICK_SIZES = [(800, 60, 60, SPARSE)]
# Hybrid's threshold: the follower count of the 98th percentile, so the top 2%
# of accounts (the heavy tail) are pulled, as CELEBRITY_THRESHOLD = 10,000
# picks out the tail of a real network.
CELEBRITY_PERCENTILE = 0.98


def _size(text: str) -> tuple[int, int, int, int]:
    """"users:posts:reads" or "users:posts:reads:least followed"."""
    numbers = [int(n) for n in text.split(":")]
    users, posts, reads = numbers[:3]
    return users, posts, reads, numbers[3] if len(numbers) > 3 else SPARSE


def _sizes(text: str) -> list[tuple[int, int, int, int]]:
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
    progress("cost model: the measured per-operation costs across workloads")
    samples, timed = results.pop("_samples"), results.pop("_timed_samples")
    followers, tweet_bytes = results.pop("_follower_counts"), results.pop("_tweet_bytes")
    threshold = results["graph"]["celebrity_threshold"]
    results["cost_model"] = costmodel.model(samples, timed, tweet_bytes, followers, threshold)
    results["explanation"] = report.explanation(results["strategies"], results["graph"],
                                                results["cost_model"]["benchmark_graph"])
    results["mode"] = "quick" if quick else "default"
    results["command"] = "BENCH_QUICK=1 make bench" if quick else "make bench"
    results["seconds"] = round(time.monotonic() - started, 1)
    report.write_json(out / "results.json", results)
    report.plot(out / "fanout.png", results)
    report.plot_cost_map(out / "costmap.png", results["cost_model"])
    print()
    print(report.table(results["strategies"]))
    print()
    for scale in results["scaling"]:
        graph, every = scale["graph"], scale["write_units_per_post"]
        print(f"{graph['users']:>6,} users, {graph['follows']:>8,} follows: " + ", ".join(
            f"{name} reads {m['home_read_calls_mean']:.1f} calls / "
            f"writes {m['post_write_units_mean']:.1f} units"
            for name, m in scale["strategies"].items())
            + f"; over every author hybrid writes "
            f"{every['hybrid_share_of_push_over_every_author']:.1%} of push's")
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
    for line in report.cost_lines(results["cost_model"]):
        print(line)
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
    print(f"\nwrote {out / 'results.json'}, {out / 'fanout.png'} and {out / 'costmap.png'} "
          f"in {results['seconds']} s")
    return results


def _run(sizes, seed: int, endpoint: str, progress) -> dict:
    import requests

    from bench import costmodel, run, world
    from bench.capacity import CapacityMeter
    from chalicelib.storage.tables import TweetModel

    scaling = []
    timed = None
    for users, posts, reads, following_min in sizes:
        requests.post(f"{endpoint}/moto-api/reset", timeout=30).raise_for_status()
        progress(f"graph of {users:,} users, each following at least {following_min} (seed {seed})")
        graph = graphs.build(users, seed, following_min)
        loaded = world.load(graph, progress)
        work = run.workload(graph, posts, reads, seed)
        followers = sorted(graph.follower_counts())
        threshold = max(2, followers[int(len(followers) * CELEBRITY_PERCENTILE)])
        samples = {}
        with CapacityMeter() as meter:
            for name in run.STRATEGIES:
                progress(f"{name} on {users:,} users: {posts} posts, {reads} home reads")
                samples[name] = run.run_strategy(name, loaded, work, threshold, meter, progress)
        timed = timed or samples  # handler seconds from the smallest graph (see bench.costmodel)
        costs = costmodel.per_operation(samples, meter.mean_item_bytes(TweetModel.Meta.table_name))
        over_every_author = costmodel.on_the_graph(samples, costs, graph.follower_counts(), threshold)
        scaling.append({
            "graph": _describe(graph, threshold, len(world.celebrities(loaded, threshold)), seed),
            "strategies": {name: run.summary(s, users) for name, s in samples.items()},
            "write_units_per_post": over_every_author,
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
            "scaling": [{"graph": s["graph"], "strategies": s["strategies"],
                         "write_units_per_post": s["write_units_per_post"]} for s in scaling],
            # the default graph's raw samples, for the cost model (not written to results.json)
            "_samples": samples, "_timed_samples": timed, "_follower_counts": graph.follower_counts(),
            "_tweet_bytes": meter.mean_item_bytes(TweetModel.Meta.table_name)}


def _describe(graph, threshold: int, celebrities: int, seed: int) -> dict:

    followers = sorted(graph.follower_counts())
    following = sorted(len(f) for f in graph.following)
    return {
        "users": graph.users, "follows": graph.edges, "seed": seed, "following_min": following[0],
        "zipf_exponent": graphs.ZIPF_EXPONENT, "following_pareto_shape": graphs.FOLLOWING_PARETO_SHAPE,
        "following_mean": graph.edges / graph.users, "following_median": following[len(following) // 2],
        "following_max": following[-1], "followers_median": followers[len(followers) // 2],
        "followers_p99": followers[int(len(followers) * 0.99)], "followers_max": followers[-1],
        "celebrity_threshold": threshold, "celebrities": celebrities,
    }


if __name__ == "__main__":
    main()
    sys.exit(0)
