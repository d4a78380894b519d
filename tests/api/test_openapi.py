"""The OpenAPI document describes exactly the blueprint's routes, and is a valid OpenAPI 3.1 document."""

import re

from openapi_spec_validator import validate

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def _routes(app) -> dict[tuple[str, str], set[str]]:
    """(path in OpenAPI form, method) -> path parameter names, for every route of the api blueprint."""
    prefix = app.extensions["mailer.api_prefix"]
    routes = {}
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule[len(prefix) :])
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes[(path, method.lower())] = set(rule.arguments)
    return routes


def _operations(doc: dict) -> dict[tuple[str, str], dict]:
    return {
        (path, method): op
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in HTTP_METHODS
    }


def test_document_is_served_without_a_key(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    doc = response.get_json()
    assert doc["openapi"].startswith("3.1") and doc["servers"] == [{"url": "/api/v1"}]


def test_every_route_is_documented_and_nothing_else(app, client):
    doc = client.get("/api/v1/openapi.json").get_json()
    routes, operations = _routes(app), _operations(doc)
    assert set(routes) == set(operations)
    for key, arguments in routes.items():
        declared = {p["name"] for p in operations[key].get("parameters", []) if p.get("in") == "path"}
        assert declared == arguments, key


def test_every_operation_documents_its_errors(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    for (path, method), op in _operations(doc).items():
        codes = set(op["responses"])
        assert any(code.startswith("2") for code in codes), (path, method)
        assert "429" in codes, (path, method)
        if op.get("security") != []:
            assert "401" in codes, (path, method)
        if method in ("post", "patch", "delete"):
            assert "403" in codes, (path, method)
        if "{" in path:
            assert "404" in codes, (path, method)
        if "requestBody" in op:
            assert {"400", "413", "415", "422"} <= codes, (path, method)
    error = doc["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"error", "detail"}  # a set in JSON Schema: apispec sorts it


def test_document_is_valid_openapi_3_1(client):
    validate(client.get("/api/v1/openapi.json").get_json())


def test_operations_keep_their_ids_and_say_what_they_do(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    ops = _operations(doc)
    ids = [op["operationId"] for op in ops.values()]
    assert len(ids) == len(set(ids))
    assert ops[("/lists", "get")]["operationId"] == "listLists"  # generated clients keep their method names
    assert ops[("/contacts/{public_id}", "patch")]["operationId"] == "updateContact"
    assert all(op["summary"] and not op["summary"].endswith(".") for op in ops.values())


def test_the_schema_that_validates_a_body_is_the_one_published(api, client):
    """The request schema in the document is the one the endpoint loads: what it requires is required."""
    doc = client.get("/api/v1/openapi.json").get_json()
    signup = doc["components"]["schemas"]["SignupRequest"]
    assert (
        set(signup["required"]) == {"email", "lists", "consent"} and signup["additionalProperties"] is False
    )
    refused = api.post("/subscriptions", json={"email": "ann@example.com"})
    assert refused.status_code == 422
    assert refused.get_json()["detail"] == {
        "lists": "this field is required",
        "consent": "this field is required",
    }


def test_unknown_query_parameters_are_refused_like_unknown_fields(api):
    answer = api.get("/lists?limt=5")
    assert answer.status_code == 422
    assert answer.get_json() == {
        "error": "Unknown fields in the request.",
        "detail": {"limt": "unknown field"},
    }


def test_the_idempotency_key_header_is_declared_where_it_is_honoured(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    headers = [p for p in doc["paths"]["/tx"]["post"]["parameters"] if p["in"] == "header"]
    assert [(h["name"], h["required"], h["schema"]["maxLength"]) for h in headers] == [
        ("Idempotency-Key", False, 255)
    ]
