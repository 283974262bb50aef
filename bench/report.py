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


def explanation(strategies: dict[str, dict], graph: dict, on_graph: dict | None = None) -> str:
    """`on_graph`: the cost model's write units per post over every author,
    when there is one (the sampled posts' ratio swings with the heavy tail)."""
    pull, push, hybrid = strategies["pull"], strategies["push"], strategies["hybrid"]
    read_ratio = hybrid["home_read_calls_mean"] / pull["home_read_calls_mean"]
    sampled = hybrid["post_write_units_mean"] / push["post_write_units_mean"]
    write_ratio = (f"{on_graph['hybrid_share_of_push_over_every_author']:.0%} of push's units per post over "
                   f"every author ({sampled:.0%} for the posts this run drew)" if on_graph
                   else f"{sampled:.0%} of push's units per post")
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
        f"caches; and it writes {write_ratio}, because the "
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


def cost_lines(cost: dict) -> list[str]:
    """The cost model, in a few lines: the default bill, the best threshold,
    the crossovers and how well the model predicts the measured graph."""
    w, default = cost["workload"], cost["at_default"]
    bills = {name: b["total_usd_per_month"] for name, b in default["strategies"].items()}
    push_units = default["strategies"]["push"]["write_units_per_post"]
    hybrid = default["strategies"]["hybrid"]
    best = default["hybrid_best"]
    lines = [
        f"cost model ({w['daily_active_users']:,} daily users, "
        f"{w['home_reads_per_post']} home reads per post, "
        f"mean following {w['following_mean']}, threshold {w['celebrity_threshold']:,}): "
        + ", ".join(f"{name} ${usd:,.0f}" for name, usd in bills.items()) + " a month",
        f"  hybrid writes {hybrid['write_units_per_post']:.1f} units per post, "
        f"{hybrid['write_units_per_post'] / push_units:.1%} of push's {push_units:.1f}; "
        f"its cheapest threshold is {default['hybrid_best_threshold']:,} "
        f"(${best['total_usd_per_month']:,.0f})",
    ]
    where = cost["map"]["cells_where_cheapest"]
    everywhere = "; hybrid is below push in every one" if cost["map"]["hybrid_below_push_everywhere"] else ""
    lines.append(f"  cheapest across {sum(where.values())} workloads (reads per post 1-100 x following "
                 "25-1,000): " + ", ".join(f"{name} in {n}" for name, n in where.items()) + everywhere)
    for row in cost["map"]["crossovers"]:
        hybrid_x = row["hybrid_beats_pull_above_reads_per_post"]
        push_x = row["push_beats_pull_above_reads_per_post"]
        lines.append(f"  following {row['following_mean']:>5}: hybrid beats pull above "
                     f"{hybrid_x if hybrid_x is not None else '-'} reads per post, push above "
                     f"{push_x if push_x is not None else '-'}")
    graph = cost["benchmark_graph"]
    per_strategy = [f"{name} {graph[name]['over_every_author_write_units_per_post']:.1f} "
                    f"({graph[name]['sampled_write_units_per_post']:.1f}; the line misses a sampled post by "
                    f"{graph[name]['largest_miss_of_the_line_units']:g})" for name in ("push", "hybrid")]
    lines.append("  on the benchmark graph, write units per post over every author (the run's sampled "
                 f"posts): {', '.join(per_strategy)}; hybrid "
                 f"{graph['hybrid_share_of_push_over_every_author']:.1%} of push's "
                 f"({graph['hybrid_share_of_push_sampled']:.1%} sampled)")
    return lines


STRATEGY_COLOURS = {"pull": "tab:blue", "push": "tab:orange", "hybrid": "tab:green"}


def plot_cost_map(path: Path, cost: dict) -> None:
    """Left: the cheapest strategy over reads per post x mean following,
    with the crossover lines. Right: hybrid's bill and write share of push
    across thresholds at the default workload."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    cells = cost["map"]["cells"]
    xs = sorted({c["home_reads_per_post"] for c in cells})
    ys = sorted({c["following_mean"] for c in cells})
    names = list(STRATEGY_COLOURS)
    grid = [[names.index(next(c["cheapest"] for c in cells if c["home_reads_per_post"] == x
                              and c["following_mean"] == y)) for x in xs] for y in ys]
    fig, (where, sweep) = plt.subplots(1, 2, figsize=(13, 5))
    where.pcolormesh(xs, ys, grid, cmap=ListedColormap(list(STRATEGY_COLOURS.values())), vmin=-0.5,
                     vmax=len(names) - 0.5, shading="nearest", alpha=0.35)
    for key, label, style in (("hybrid_beats_pull_above_reads_per_post", "hybrid = pull", "-"),
                              ("push_beats_pull_above_reads_per_post", "push = pull", "--")):
        points = [(r[key], r["following_mean"]) for r in cost["map"]["crossovers"] if r[key] is not None]
        if points:
            where.plot(*zip(*points, strict=True), style, color="black", label=label)
    w = cost["workload"]
    where.plot([w["home_reads_per_post"]], [w["following_mean"]], "k*", markersize=12,
               label="default workload")
    for name, colour in STRATEGY_COLOURS.items():
        where.scatter([], [], color=colour, alpha=0.5, marker="s", label=f"{name} cheapest")
    where.set(xscale="log", yscale="log", xlabel="home reads per post", ylabel="mean accounts followed",
              title=f"Cheapest strategy (threshold {w['celebrity_threshold']:,})")
    where.legend(loc="lower left", fontsize=8)
    rows = cost["thresholds"]
    sweep.plot([r["threshold"] for r in rows], [r["total_usd_per_month"] for r in rows], marker="o",
               color=STRATEGY_COLOURS["hybrid"], label="hybrid")
    for name in ("pull", "push"):
        sweep.axhline(cost["at_default"]["strategies"][name]["total_usd_per_month"], linestyle="--",
                      color=STRATEGY_COLOURS[name], label=name)
    sweep.axvline(w["celebrity_threshold"], color="grey", linestyle=":", label="shipped threshold")
    sweep.set(xscale="log", xlabel="celebrity threshold (followers)", ylabel="US$ a month",
              title="Default workload across thresholds")
    share = sweep.twinx()
    share.plot([r["threshold"] for r in rows], [100 * r["write_share_of_push"] for r in rows], color="grey",
               alpha=0.6, label="hybrid write units, % of push's")
    share.set(ylabel="hybrid write units per post, % of push's")
    sweep.legend(loc="upper left", fontsize=8)
    share.legend(loc="center right", fontsize=8)
    fig.suptitle(f"Cost model: {w['daily_active_users']:,} daily users, measured per-operation costs")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
