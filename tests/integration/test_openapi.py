"""The contract as OpenAPI 3.1 (chalicelib.web.openapi): valid, served, and
held to the code both ways. Routes: `document` refuses one on one side only.
Statuses: every status the integration tests see a route answer must be
documented (conftest's answers_are_documented). Query parameters: each one
documented is read by its route (a bad value is refused)."""
import pytest
from openapi_spec_validator import validate

from app import app
from chalicelib.web import openapi

DOCUMENT = openapi.document(app)
OPERATIONS = [(path, method.upper(), op) for path, methods in DOCUMENT["paths"].items()
              for method, op in methods.items()]
# A value each documented query parameter refuses with 400.
BAD_VALUES = {"limit": "0", "cursor": "forged.cursor", "max_id": "x", "since_id": "-1", "ranked": "maybe"}


def test_the_document_is_valid_openapi_3_1():
    assert DOCUMENT["openapi"] == "3.1.0"
    validate(DOCUMENT)


def test_every_route_and_method_is_documented_and_nothing_else():
    routes = {(path, method) for path, methods in app.routes.items() for method in methods}
    assert {(path, method) for path, method, _ in OPERATIONS} == routes


def test_path_parameters_are_the_routes_own():
    for path, _, op in OPERATIONS:
        named = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        assert named == {part[1:-1] for part in path.split("/") if part.startswith("{")}, path


def test_routes_behind_the_authorizer_require_the_bearer_scheme():
    for path, method, op in OPERATIONS:
        authorized = app.routes[path][method].authorizer is not None
        assert (op.get("security") == [{"bearer": []}]) == authorized, (method, path)
        assert "401" in op["responses"] or not authorized, (method, path)


def test_it_is_served(api):
    reply = api.get("/openapi.json")
    assert reply.status == 200 and reply.json == DOCUMENT


@pytest.fixture
def world(api, make_user, make_tweet):
    user, token = make_user("reader")
    tweet = make_tweet(token, "a #tag")
    return {"handle": "reader", "tweet_id": tweet["id"], "tag": "tag", "token": token}


def test_every_documented_query_parameter_is_read_by_its_route(api, world):
    checked = 0
    for path, method, op in OPERATIONS:
        for parameter in op.get("parameters", []):
            if parameter["in"] != "query":
                continue
            url = path.format(**world) + f"?{parameter['name']}={BAD_VALUES[parameter['name']]}"
            reply = api.request(method, url, token=world["token"])
            assert reply.status == 400, (method, url, reply.status, reply.json)
            checked += 1
    assert checked >= 20


def test_links_name_real_operations_and_their_parameters():
    by_id = {op["operationId"]: op for _, _, op in OPERATIONS}
    assert len(by_id) == len(OPERATIONS)  # operation ids are unique
    linked = 0
    for _, _, op in OPERATIONS:
        for answer in op["responses"].values():
            for link in answer.get("links", {}).values():
                target = by_id[link["operationId"]]
                names = {p["name"] for p in target.get("parameters", [])}
                assert set(link["parameters"]) <= names, link
                linked += 1
    assert linked >= 10
