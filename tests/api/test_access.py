"""Every route of the app, walked with every kind of token, on a server with tokens configured
and on one without. The routes come from the running Api replica's own app (api/auth.py's
``access_table``: included routers expanded, routes hidden from the OpenAPI schema too), so a
route added later is walked without anyone listing it here."""

from __future__ import annotations

import asyncio
import functools
import re
import threading

import pytest
from ray import serve


# Routes that need no token, and routes that need an admin one. Marking a route public or admin
# (api/auth.py) means adding it here: the walk fails on a level it does not expect.
EXPECTED_PUBLIC = {
    ("GET", "/api/v0/health"), ("GET", "/api/v0/ready"),
    ("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/docs/oauth2-redirect"), ("GET", "/redoc"),
    ("HEAD", "/openapi.json"), ("HEAD", "/docs"), ("HEAD", "/docs/oauth2-redirect"), ("HEAD", "/redoc"),
    # Signed-URL transfers: the signature in the URL is the credential.
    ("PUT", "/api/v1/files/{object_name}/content"), ("GET", "/api/v1/files/{object_name}/content"),
}
EXPECTED_ADMIN_PREFIXES = ("/api/v0/deploy",)
EXPECTED_ADMIN = {("DELETE", "/api/v0/execute-algorithm/all")}
REFUSALS = {(401, "unauthorized"), (403, "forbidden")}


def expected_level(method: str, path: str) -> str:
    if (method, path) in EXPECTED_PUBLIC:
        return "public"
    if path.startswith(EXPECTED_ADMIN_PREFIXES) or (method, path) in EXPECTED_ADMIN:
        return "admin"
    return "user"


@functools.cache
def handle_loop() -> asyncio.AbstractEventLoop:
    """One loop for the Serve handles of this module: where Serve runs a handle's router on the
    caller's loop (RAY_SERVE_RUN_ROUTER_IN_SEPARATE_LOOP=0), that loop must outlive the call."""
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True, name="serve-handles").start()
    return loop


def endpoints(server) -> list[tuple[str, str, str]]:
    """(method, path, level) of every endpoint of the server's app, as its Api replica has it."""
    async def access_table():
        return await serve.get_deployment_handle("Api", app_name=server.name).access_table.remote()

    table = asyncio.run_coroutine_threadsafe(access_table(), handle_loop()).result(60)
    unwalkable = [row for row in table if not row["methods"]]
    assert not unwalkable, f"routes the walk cannot request (websocket? mount?): extend the walk: {unwalkable}"
    return [(method, row["path"], row["access"]) for row in table for method in row["methods"]]


def concrete(path: str) -> str:
    """Path parameters filled with an id no record has: a route answers 404/422, never does harm."""
    return re.sub(r"\{[^}]+\}", "x0", path)


def walk(server, headers: dict) -> list[tuple[str, str, str, int, dict]]:
    """Every endpoint requested once: (method, path, level, status, body)."""
    answers = []
    with server.client(timeout=30) as client:
        for method, path, level in endpoints(server):
            response = client.request(method, concrete(path), headers=headers)
            is_json = response.content and response.headers.get("content-type", "").startswith("application/json")
            body = response.json() if is_json else {}  # HEAD answers, streams, docs pages: no error body
            answers.append((method, path, level, response.status_code, body if isinstance(body, dict) else {}))
    return answers


def refused(status: int, body: dict) -> bool:
    return (status, body.get("code")) in REFUSALS


def tokens(server) -> dict[str, list[str]]:
    return {"user": [token.get_secret_value() for token in server.settings.user_tokens],
            "admin": [token.get_secret_value() for token in server.settings.admin_tokens]}


def test_the_walk_sees_every_router_and_each_level_is_the_one_expected(secured_server):
    found = endpoints(secured_server)
    paths = {path for _, path, _ in found}
    # Each router of api/main.py is there (a walk that found nothing would pass everything).
    assert {"/", "/api/v0/files", "/api/v0/execute-algorithm", "/api/v0/sample", "/api/v0/train-algorithm",
            "/api/v0/checkpoint/all", "/api/v0/algorithm/all", "/api/v0/deploy", "/docs"} <= paths
    wrong = [(method, path, level, expected_level(method, path)) for method, path, level in found
             if level != expected_level(method, path)]
    assert not wrong, f"(method, path, level, expected): {wrong}"


@pytest.mark.parametrize("presented", ["none", "wrong", "one_character_off", "prefix", "longer", "basic_scheme"])
def test_without_a_valid_token_only_public_routes_answer(secured_server, presented):
    token = tokens(secured_server)["admin"][0]
    headers = {"none": {}, "wrong": {"Authorization": "Bearer not-a-token-of-this-server"},
               "one_character_off": {"Authorization": f"Bearer {token[:-1]}{'A' if token[-1] != 'A' else 'B'}"},
               "prefix": {"Authorization": f"Bearer {token[:-1]}"},
               "longer": {"Authorization": f"Bearer {token}x"},
               "basic_scheme": {"Authorization": f"Basic {token}"}}[presented]
    wrong = []
    for method, path, level, status, body in walk(secured_server, headers):
        if level == "public" and refused(status, body):
            wrong.append((method, path, status, "a public route refused"))
        elif level != "public" and (status, body.get("code")) != (401, "unauthorized"):
            wrong.append((method, path, status, "not 401 unauthorized"))
        elif token in str(body):
            wrong.append((method, path, status, "the token is in the answer"))
    assert not wrong


def test_a_user_token_opens_every_route_but_the_admin_ones(secured_server):
    for user_token in tokens(secured_server)["user"]:
        wrong = []
        for method, path, level, status, body in walk(secured_server, {"Authorization": f"Bearer {user_token}"}):
            if level == "admin" and (status, body.get("code")) != (403, "forbidden"):
                wrong.append((method, path, status, "an admin route not refused with 403"))
            elif level != "admin" and refused(status, body):
                wrong.append((method, path, status, "refused"))
        assert not wrong


def test_every_admin_token_opens_every_route(secured_server):
    # Two admin tokens (one of them through the deprecated admin_token): rotation works.
    admin_tokens = tokens(secured_server)["admin"]
    assert len(admin_tokens) == 2
    for admin_token in admin_tokens:
        walked = walk(secured_server, {"Authorization": f"bearer {admin_token}"})  # the scheme in any case
        assert not [(method, path, status) for method, path, _, status, body in walked if refused(status, body)]


def test_without_tokens_configured_every_route_is_open(local_server):
    walked = walk(local_server, {})
    assert len(walked) > 30
    assert not [(method, path, status) for method, path, _, status, body in walked if refused(status, body)]


def test_openapi_says_what_each_operation_needs(secured_server):
    with secured_server.client() as client:
        schema = client.get("/openapi.json").json()
    bearer = schema["components"]["securitySchemes"]["bearer"]
    assert (bearer["type"], bearer["scheme"]) == ("http", "bearer")
    deploy_operation = schema["paths"]["/api/v0/deploy"]["post"]
    assert deploy_operation["x-compox-access"] == "admin" and deploy_operation["security"] == [{"bearer": []}]
    health = schema["paths"]["/api/v0/health"]["get"]
    assert health["x-compox-access"] == "public" and "security" not in health
