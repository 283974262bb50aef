"""Putting a synthetic graph into the tables, as each strategy needs it.

The graph (users with their counts, follows) is written once per size
straight into the embedded moto's tables (its backend, not its HTTP API: a
million follows load in half a minute instead of four, and leave no stream
records): replaying them through the API would measure the follow path,
not fan-out. What the follows stream
would have left behind for the hybrid strategy (authors past the threshold
in the `celebrity` state, their followers' celebrity lists) is written the
same way. Tweets and timelines start empty for every strategy.
"""
import os
from collections.abc import Iterable, Set
from dataclasses import dataclass

import boto3

from bench.graph import Graph
from chalicelib.accounts import activity
from chalicelib.storage import batches
from chalicelib.storage.ids import new_id
from chalicelib.storage.tables import FollowModel, TimelineModel, TweetModel, UserModel
from deploy.tables import create_table_params
from devstack.resources import ensure_queues, ensure_tables

PROGRESS_EVERY = 250_000  # follows


@dataclass
class World:
    graph: Graph
    ids: list[int]  # user number -> user id
    followers: list[list[int]]  # user number -> follower numbers

    def user(self, number: int, celebrities: Set[int] = frozenset()) -> UserModel:
        following = self.graph.following[number]
        followed_celebrities = {self.ids[f] for f in following if f in celebrities}
        return UserModel(
            id=self.ids[number], handle=f"user{number}", display_name=f"User {number}", bio="",
            password_hash="-", followers_count=len(self.followers[number]), following_count=len(following),
            tweets_count=0, last_active_day=activity.today(),
            celebrity_state="celebrity" if number in celebrities else None,
            celebrity_followees=followed_celebrities or None)


def load(graph: Graph, progress) -> World:
    """Creates the tables and queues and writes users and follows."""
    client = boto3.client("dynamodb")
    ensure_tables(client)
    ensure_queues(boto3.client("sqs"))
    world = World(graph, [new_id() for _ in range(graph.users)], graph.followers)
    write_users(world, set())
    follows = (FollowModel(follower_id=world.ids[u], followee_id=world.ids[f], follow_id=new_id())
               for u, followees in enumerate(graph.following) for f in followees)
    write_directly(FollowModel.Meta.table_name, follows,
                   lambda n: progress(f"follows {n:,}/{graph.edges:,}") if n % PROGRESS_EVERY == 0 else None)
    progress(f"follows {graph.edges:,}/{graph.edges:,}")
    return world


def write_users(world: World, celebrities: set[int]) -> None:
    write_directly(UserModel.Meta.table_name, (world.user(n, celebrities) for n in range(world.graph.users)))


def write_directly(table_name: str, models: Iterable, written=None) -> None:
    """Puts the models' items into the embedded moto's table itself, with
    its stream off meanwhile (nothing reads these records: the graph stands
    for what the follows stream left behind long ago)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][os.environ["AWS_DEFAULT_REGION"]]
    table = backend.get_table(table_name)
    shard, table.stream_shard = table.stream_shard, None
    try:
        for n, model in enumerate(models, 1):
            backend.put_item(table_name, batches.put_request(model)["PutRequest"]["Item"])
            if written:
                written(n)
    finally:
        table.stream_shard = shard


def celebrities(world: World, threshold: int) -> set[int]:
    return {n for n, followers in enumerate(world.followers) if len(followers) >= threshold}


def reset_content() -> None:
    """Empty tweets and timelines tables, with fresh streams. (The fan-out
    queue is empty already: every strategy drains its pump.)"""
    client = boto3.client("dynamodb")
    for model in (TweetModel, TimelineModel):
        client.delete_table(TableName=model.Meta.table_name)
        client.get_waiter("table_not_exists").wait(TableName=model.Meta.table_name, WaiterConfig={"Delay": 1})
        client.create_table(**create_table_params(model))
        client.get_waiter("table_exists").wait(TableName=model.Meta.table_name, WaiterConfig={"Delay": 1})


def timeline_items() -> int:
    client = boto3.client("dynamodb")
    total = 0
    pages = client.get_paginator("scan").paginate(TableName=TimelineModel.Meta.table_name, Select="COUNT")
    for page in pages:
        total += page["Count"]
    return total
