"""Follows: follow/unfollow, counts, and the followers/following lists."""
from support import assert_error

from chalicelib.accounts import follows


def counts(api, handle):
    user = api.get(f"/users/{handle}").json
    return user["followers_count"], user["following_count"]


def handles(body):
    return [u["handle"] for u in body["data"]]


def test_follow_and_unfollow_are_idempotent(api, make_user):
    alice, _ = make_user("alice")
    bob, bob_token = make_user("bob")

    for _ in range(3):
        reply = api.post("/users/alice/follow", token=bob_token)
        assert reply.status == 200
        assert reply.json == {"following": True}
    assert counts(api, "alice") == (1, 0)
    assert counts(api, "bob") == (0, 1)
    assert follows.is_following(int(bob["id"]), int(alice["id"]))

    for _ in range(3):
        reply = api.delete("/users/alice/follow", token=bob_token)
        assert reply.status == 200
        assert reply.json == {"following": False}
    assert counts(api, "alice") == (0, 0)
    assert counts(api, "bob") == (0, 0)
    assert not follows.is_following(int(bob["id"]), int(alice["id"]))


def test_unfollow_without_following_changes_nothing(api, make_user):
    make_user("alice")
    _, bob_token = make_user("bob")
    assert api.delete("/users/alice/follow", token=bob_token).json == {"following": False}
    assert counts(api, "alice") == (0, 0) and counts(api, "bob") == (0, 0)


def test_follow_ignores_handle_case(api, make_user):
    make_user("alice")
    _, bob_token = make_user("bob")
    assert api.post("/users/ALICE/follow", token=bob_token).json == {"following": True}
    assert api.post("/users/alice/follow", token=bob_token).json == {"following": True}
    assert counts(api, "alice") == (1, 0)
    assert api.delete("/users/Alice/follow", token=bob_token).json == {"following": False}
    assert counts(api, "alice") == (0, 0)


def test_following_yourself_is_400(api, make_user):
    _, token = make_user("alice")
    for path in ("/users/alice/follow", "/users/ALICE/follow"):
        assert_error(api.post(path, token=token), 403, "cannot_follow_self", path)
        assert_error(api.delete(path, token=token), 403, "cannot_follow_self", path)
    assert counts(api, "alice") == (0, 0)


def test_unknown_user_is_404(api, make_user):
    _, token = make_user("alice")
    for path in ("/users/nobody/follow", "/users/bad%20handle/follow", "/users/" + "a" * 16 + "/follow"):
        assert_error(api.post(path, token=token), 404, "not_found", path)
        assert_error(api.delete(path, token=token), 404, "not_found", path)
    assert counts(api, "alice") == (0, 0)


def test_mutual_follows(api, make_user):
    _, alice_token = make_user("alice")
    _, bob_token = make_user("bob")
    api.post("/users/bob/follow", token=alice_token)
    api.post("/users/alice/follow", token=bob_token)
    assert counts(api, "alice") == (1, 1) and counts(api, "bob") == (1, 1)
    assert handles(api.get("/users/alice/followers").json) == ["bob"]
    assert handles(api.get("/users/alice/following").json) == ["bob"]


def test_lists_paginate_most_recent_first(api, make_user):
    star, star_token = make_user("star")
    fans = []
    for n in range(7):
        _, token = make_user(f"fan{n}")
        assert api.post("/users/star/follow", token=token).status == 200
        assert api.post(f"/users/fan{n}/follow", token=star_token).status == 200
        fans.append(f"fan{n}")
    newest_first = fans[::-1]
    assert counts(api, "star") == (7, 7)

    for list_name in ("followers", "following"):
        first = api.get(f"/users/star/{list_name}?limit=3").json
        assert set(first) == {"data", "meta"}
        assert handles(first) == newest_first[:3]
        assert first["meta"]["newest_id"] == first["data"][0]["id"]
        assert first["meta"]["oldest_id"] == first["data"][-1]["id"]
        seen, body = [], first
        while True:
            seen += handles(body)
            if body["meta"]["next_cursor"] is None:
                break
            body = api.get(f"/users/star/{list_name}?limit=3&cursor={body['meta']['next_cursor']}").json
        assert seen == newest_first, list_name
        assert handles(api.get(f"/users/star/{list_name}?limit=100").json) == newest_first
        exact = api.get(f"/users/star/{list_name}?limit=7").json
        assert handles(exact) == newest_first and exact["meta"]["next_cursor"] is None

    # Listed users are whole user objects with live counts.
    fan = api.get("/users/star/followers?limit=1").json["data"][0]
    assert fan == api.get(f"/users/{fan['handle']}").json
    assert (fan["followers_count"], fan["following_count"]) == (1, 1)

    # Each fan's own lists hold just the star.
    assert handles(api.get("/users/fan3/followers").json) == ["star"]
    assert handles(api.get("/users/fan3/following").json) == ["star"]


def test_refollow_moves_to_the_top_and_unfollow_leaves_the_list(api, make_user):
    make_user("star")
    tokens = {}
    for name in ("a", "b", "c"):
        _, tokens[name] = make_user(name)
        api.post("/users/star/follow", token=tokens[name])
    assert handles(api.get("/users/star/followers").json) == ["c", "b", "a"]
    api.delete("/users/star/follow", token=tokens["b"])
    assert handles(api.get("/users/star/followers").json) == ["c", "a"]
    api.post("/users/star/follow", token=tokens["a"])  # already following: no change
    assert handles(api.get("/users/star/followers").json) == ["c", "a"]
    api.post("/users/star/follow", token=tokens["b"])
    assert handles(api.get("/users/star/followers").json) == ["b", "c", "a"]
    assert counts(api, "star") == (3, 0)


def test_list_parameters(api, make_user):
    make_user("alice")
    _, bob_token = make_user("bob")
    api.post("/users/alice/follow", token=bob_token)
    for list_name in ("followers", "following"):
        for query in ("max_id=1", "since_id=1", "limit=0", "limit=101", "limit=x", "cursor=garbage"):
            code = "invalid_cursor" if query.startswith("cursor") else "invalid_request"
            assert_error(api.get(f"/users/alice/{list_name}?{query}"), 400, code, f"{list_name}?{query}")
        assert_error(api.get(f"/users/nobody/{list_name}"), 404, "not_found")
    # A users-list cursor works only on its own list.
    make_user("carol")
    _, dave_token = make_user("dave")
    api.post("/users/alice/follow", token=dave_token)
    followers_cursor = api.get("/users/alice/followers?limit=1").json["meta"]["next_cursor"]
    assert followers_cursor
    assert len(api.get(f"/users/alice/followers?limit=1&cursor={followers_cursor}").json["data"]) == 1
    for other in ("/users/alice/following", "/users/bob/followers", "/users/alice/tweets"):
        assert_error(api.get(f"{other}?cursor={followers_cursor}"), 400, "invalid_cursor", other)


def test_empty_lists(api, make_user):
    make_user("alice")
    empty = {"data": [], "meta": {"next_cursor": None, "newest_id": None, "oldest_id": None}}
    assert api.get("/users/alice/followers").json == empty
    assert api.get("/users/alice/following").json == empty
