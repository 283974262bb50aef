"""Putting a synthetic graph into the tables, as each strategy needs it.

The graph (users with their counts, follows) is written once per size with
BatchWriteItem, straight to the tables: replaying a million follows through
the API would measure the follow path, not fan-out. What the follows stream
would have left behind for the hybrid strategy (authors past the threshold
in the `celebrity` state, their followers' celebrity lists) is written the
same way. Tweets and timelines start empty for every strategy.
"""
from collections.abc import Set
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import boto3

from bench.graph import Graph
from chalicelib.accounts import activity
from chalicelib.storage import batches
from chalicelib.storage.ids import new_id
from chalicelib.storage.tables import FollowModel, TimelineModel, TweetModel, UserModel
from deploy.tables import create_table_params
from devstack.resources import ensure_queues, ensure_tables

LOAD_THREADS = 4


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
    follows = [batches.put_request(FollowModel(follower_id=world.ids[u], followee_id=world.ids[f],
                                               follow_id=new_id()))
               for u, followees in enumerate(graph.following) for f in followees]
    step, written = 2_500, 0

    def write_follows(chunk: list[dict]) -> int:
        batches.write(FollowModel.Meta.table_name, chunk)
        return len(chunk)

    with ThreadPoolExecutor(LOAD_THREADS) as pool:  # overlaps the HTTP round trips
        chunks = [follows[start:start + step] for start in range(0, len(follows), step)]
        for done in pool.map(write_follows, chunks):
            written += done
            if written % 25_000 < step or written == len(follows):
                progress(f"follows {written:,}/{len(follows):,}")
    return world


def write_users(world: World, celebrities: set[int]) -> None:
    batches.write(UserModel.Meta.table_name,
                  [batches.put_request(world.user(n, celebrities)) for n in range(world.graph.users)])


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
