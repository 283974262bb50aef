"""What running Chirp costs per month, projected from the measured units.

Prices are AWS's public list prices for us-east-1 (N. Virginia) as of the
date below: DynamoDB on-demand after its 1 November 2024 price cut, Lambda
on x86, API Gateway REST APIs in their first tier. Free tiers are ignored.
Check https://aws.amazon.com/dynamodb/pricing/, /lambda/pricing/ and
/api-gateway/pricing/ before relying on them.
"""

PRICES = {
    "as_of": "2026-11-21 (unchanged since the 2024-11-01 DynamoDB on-demand cut)",
    "region": "us-east-1",
    "dynamodb_per_million_write_request_units": 0.625,
    "dynamodb_per_million_read_request_units": 0.125,
    "dynamodb_storage_per_gb_month": 0.25,
    "lambda_per_million_requests": 0.20,
    "lambda_per_gb_second": 0.0000166667,
    "api_gateway_rest_per_million_requests": 3.50,
    "sqs_per_million_requests": 0.40,
}

WORKLOAD = {
    "daily_active_users": 1_000_000,
    "home_reads_per_user_per_day": 10,
    "posts_per_user_per_day": 1,
    "days_per_month": 30,
    # Assumed, not measured: what one invocation takes on Lambda with 1 GB.
    "api_invocation_seconds": 0.05,
    "stream_batch_size": 100,  # tweets per stream invocation (the mapping's batch size)
    "stream_invocation_seconds": 0.5,
    "lambda_memory_gb": 1.0,
    "timeline_item_bytes": 100,  # an entry (ids only) with DynamoDB's per-item overhead
}


def monthly_bill(strategy: dict, workload: dict = WORKLOAD, prices: dict = PRICES) -> dict:
    """Dollars per month for one strategy's measured per-operation units."""
    days = workload["days_per_month"]
    reads = workload["daily_active_users"] * workload["home_reads_per_user_per_day"] * days
    posts = workload["daily_active_users"] * workload["posts_per_user_per_day"] * days
    read_units = reads * strategy["home_read_units_mean"]
    write_units = posts * strategy["post_write_units_mean"]
    fans_out = strategy["timeline_items_per_user"] > 0
    stream_invocations = posts / workload["stream_batch_size"] if fans_out else 0
    api_requests = reads + posts
    gb_seconds = workload["lambda_memory_gb"] * (api_requests * workload["api_invocation_seconds"]
                                                 + stream_invocations * workload["stream_invocation_seconds"])
    storage_gb = (workload["daily_active_users"] * strategy["timeline_items_per_user"]
                  * workload["timeline_item_bytes"] / 1e9)
    lines = {
        "dynamodb_reads": read_units / 1e6 * prices["dynamodb_per_million_read_request_units"],
        "dynamodb_writes": write_units / 1e6 * prices["dynamodb_per_million_write_request_units"],
        "dynamodb_timeline_storage": storage_gb * prices["dynamodb_storage_per_gb_month"],
        "lambda_requests": (api_requests + stream_invocations) / 1e6 * prices["lambda_per_million_requests"],
        "lambda_compute": gb_seconds * prices["lambda_per_gb_second"],
        "api_gateway": api_requests / 1e6 * prices["api_gateway_rest_per_million_requests"],
    }
    return {"usd_per_month": {k: round(v, 2) for k, v in lines.items()},
            "total_usd_per_month": round(sum(lines.values()), 2),
            "read_request_units_per_month": read_units, "write_request_units_per_month": write_units}
