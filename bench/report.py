"""The benchmark's outputs: a table on stdout, results.json and a plot."""
import json
from pathlib import Path

METRICS = ("home_read_calls_mean", "home_read_calls_p99", "home_read_units_mean", "post_write_units_mean",
           "post_write_units_p99", "fanout_lag_s_p50", "fanout_lag_s_p99", "timeline_items_per_user")


def table(strategies: dict[str, dict]) -> str:
    names = list(strategies)
    width = max(len(m) for m in METRICS) + 2
    lines = ["metric".ljust(width) + "".join(n.rjust(12) for n in names)]
    for metric in METRICS:
        lines.append(metric.ljust(width) + "".join(f"{strategies[n][metric]:12.2f}" for n in names))
    return "\n".join(lines)


def explanation(strategies: dict[str, dict], graph: dict) -> str:
    pull, push, hybrid = strategies["pull"], strategies["push"], strategies["hybrid"]
    read_ratio = hybrid["home_read_calls_mean"] / pull["home_read_calls_mean"]
    write_ratio = hybrid["post_write_units_mean"] / push["post_write_units_mean"]
    return (
        f"Pull pays on every read: a home page is one Query per account followed (readers here follow "
        f"{graph['following_mean']:.0f} on average, up to {graph['following_max']}), so its reads cost "
        f"{pull['home_read_calls_mean']:.1f} calls on average and {pull['home_read_calls_p99']:.0f} at the "
        f"99th percentile. Push pays on every write: a tweet is copied to each follower, so one post by the "
        f"most-followed account ({graph['followers_max']} followers) writes to that many timelines and the "
        f"99th-percentile post costs {push['post_write_units_p99']:.0f} write units. Hybrid reads like push "
        f"({hybrid['home_read_calls_mean']:.1f} calls, {read_ratio:.0%} of pull's; "
        f"{hybrid.get('home_read_calls_mean_cold_cache', 0):.1f} with a cold celebrity cache) because a "
        f"page is one timeline Query, one BatchGetItem and a Query per followed celebrity that the container "
        f"caches; and it writes {write_ratio:.0%} of push's units per post, because the "
        f"{graph['celebrities']} accounts past {graph['celebrity_threshold']} followers are not fanned out, "
        f"which is where push's write bill and its fan-out lag tail come from.")


def write_json(path: Path, results: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")


def plot(path: Path, results: dict) -> None:
    """Read cost against following count and write cost against follower
    count, per strategy, on the default (largest) graph."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (reads, writes) = plt.subplots(1, 2, figsize=(12, 4.8))
    for name, bins in results["by_following"].items():
        style = {"linestyle": "--", "color": "tab:green"} if "cold" in name else {}
        reads.plot([b["from"] or 1 for b in bins], [b["mean"] for b in bins], marker="o", label=name, **style)
    reads.set(xscale="log", yscale="log", xlabel="accounts the reader follows",
              ylabel="DynamoDB calls per home page (mean)", title="Read cost")
    for name, bins in results["by_followers"].items():
        writes.plot([b["from"] or 1 for b in bins], [b["mean"] for b in bins], marker="o", label=name)
    writes.set(xscale="log", yscale="log", xlabel="the author's followers",
               ylabel="write units per post, fan-out included (mean)", title="Write cost")
    for axes in (reads, writes):
        axes.grid(True, which="both", alpha=0.3)
        axes.legend()
    graph = results["graph"]
    fig.suptitle(f"Chirp fan-out strategies on a power-law graph of {graph['users']:,} users "
                 f"({graph['follows']:,} follows)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
