def test_signup_tweet_follow_timeline(api, make_user):
    alice, alice_token = make_user("alice")
    bob, bob_token = make_user("bob")
    tweet = api.post("/tweets", {"text": "hello"}, token=alice_token)
    assert tweet.status == 201
    assert api.post("/users/alice/follow", token=bob_token).json == {"following": True}
    page = api.get("/users/alice/tweets").json
    assert [t["id"] for t in page["data"]] == [tweet.json["id"]]
    assert api.get("/users/alice").json["followers_count"] == 1
