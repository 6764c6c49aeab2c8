"""Who may call what: REST tokens, browser origins and Host names, checked for every request.

Access levels (``Access``), one per route:
- ``public``: anyone: health, readiness, the OpenAPI docs, signed-URL transfers (the signature is
  the credential).
- ``user``: a user or an admin token: the client workflows. **The default of every route**: a
  route added without a mark needs a token as soon as tokens are configured.
- ``admin``: an admin token: deploy routes, algorithm deletion, deploy jobs (they show server
  paths), and anything else that reads server paths or brings new code.

With no token configured every route is open, as in Compox (the server then listens on loopback
only: ``require_safe_exposure``). Once any token is configured, a request without a valid
``Authorization: Bearer <token>`` gets 401 ``unauthorized`` and a user token on an admin route 403
``forbidden``. Tokens are compared in constant time against every configured token.

Marking a route: decorate its endpoint function with ``@public`` or ``@admin``, next to the router
decorator (either order works: the router registers the function object itself)::

    @router.get("/api/v0/blobs/{blob_id}/signed-download")
    @public
    async def signed_download(...): ...

    @router.delete("/api/v0/execute-algorithm/all")
    @admin
    async def stop_all_executions(...): ...

For a ``Mount`` or a route added with ``app.add_route``, ``mark(route_or_endpoint, Access.PUBLIC)``.
Inside a route, ``holds_admin_token(request)`` says whether the caller may see what only an admin
may (e.g. other sessions' tokens in a listing): an admin token, or no token configured at all.
Making a route public or admin also means adding it to the expectations of tests/api/test_access.py,
which walks every route of the app with every kind of token.

Browser rules, for every route:
- ``Host`` must name one of ``allowed_hosts`` (loopback names by default): a DNS-rebinding page
  reaches a loopback server under its own name, and is refused (421 ``host_not_allowed``).
- A request that may change something (any method but GET, HEAD, OPTIONS) with an ``Origin`` that
  is neither in ``cors_origins`` nor this server's own origin is refused (403 ``forbidden_origin``);
  ``Origin: null`` (sandboxed frames, file pages) always is. Desktop clients, scripts and curl send
  no ``Origin`` and pass. Browsers send ``Origin`` with every cross-site POST, also the no-cors
  ones that need no CORS preflight, so a web page cannot deploy or delete through a visitor's
  token-less loopback server.
- CORS headers are sent only where ``cors_origins`` is set (Starlette's CORSMiddleware).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
from dataclasses import dataclass
from enum import Enum
from typing import Callable, Iterable, TypeVar

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from compox_ray.api.errors import error_response
from compox_ray.settings import Settings

logger = logging.getLogger(__name__)


class Access(str, Enum):
    PUBLIC = "public"
    USER = "user"
    ADMIN = "admin"


_ACCESS_ATTRIBUTE = "__compox_access__"
# Where the middleware leaves the caller's own level for the route (holds_admin_token).
_CALLER_KEY = "compox_ray.caller_access"
# Methods that never change anything on this server: the Origin rule leaves them alone.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
Marked = TypeVar("Marked")


def mark(target: Marked, access: Access) -> Marked:
    """Give an endpoint function (or a Mount, or a Starlette route) its access level."""
    setattr(target, _ACCESS_ATTRIBUTE, Access(access))
    return target


def public(endpoint: Callable) -> Callable:
    return mark(endpoint, Access.PUBLIC)


def admin(endpoint: Callable) -> Callable:
    return mark(endpoint, Access.ADMIN)


def route_access(route: BaseRoute) -> Access:
    """A route's level: its mark, its endpoint's or its mounted app's; ``user`` if none."""
    for target in (route, getattr(route, "endpoint", None), getattr(route, "app", None)):
        level = getattr(target, _ACCESS_ATTRIBUTE, None)
        if level is not None:
            return level
    return Access.USER


def holds_admin_token(request: Request) -> bool:
    """The caller presented an admin token, or the server has none configured (everything open).
    False where AccessControl did not see the request: closed by default."""
    return request.scope.get(_CALLER_KEY) == Access.ADMIN


class UnsafeExposure(RuntimeError):
    """The server would answer beyond this machine with no token configured."""


def is_loopback_host(host: str) -> bool:
    name = host.strip().strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # another name, or "" / "0.0.0.0"-like: reachable from elsewhere


def require_safe_exposure(settings: Settings, serve_http_host: str | None = None) -> None:
    """Refuse to serve beyond loopback without tokens; warn where the operator allowed it.

    ``serve_http_host``: where Serve's HTTP proxy and direct ingress listen (its ``http_options``),
    when Serve already runs; ``settings.host`` is checked as well.
    """
    exposed = [f"{name} {host!r}" for name, host in (("host", settings.host),
                                                     ("Serve's http_options.host", serve_http_host))
               if host is not None and not is_loopback_host(host)]
    if not exposed:
        return
    where = " and ".join(exposed)
    if not settings.has_rest_tokens:
        if not settings.allow_unauthenticated:
            raise UnsafeExposure(
                f"compox_ray will not start: {where} is reachable from other machines and no REST token is "
                "configured. Set COMPOX_RAY_USER_TOKENS and COMPOX_RAY_ADMIN_TOKENS (comma-separated; or the "
                "settings user_tokens_file / admin_tokens_file), or listen on 127.0.0.1, or set "
                "allow_unauthenticated: true (COMPOX_RAY_ALLOW_UNAUTHENTICATED=true) to serve a trusted network "
                "without tokens.")
        logger.warning("allow_unauthenticated is set: %s is reachable from other machines and every route, "
                       "deploy included, is open to anyone who reaches it", where)
    if "*" not in settings.allowed_hosts and all(is_loopback_host(name) for name in settings.allowed_hosts):
        logger.warning("%s is reachable from other machines, but allowed_hosts names only loopback names: requests "
                       "that name this server otherwise are refused (421 host_not_allowed); set "
                       "COMPOX_RAY_ALLOWED_HOSTS to the names clients use", where)


def _digest(token: str) -> bytes:
    # Equal-length digests: compare_digest then takes the same time whatever a token's length.
    return hashlib.sha256(token.encode()).digest()


class TokenCheck:
    """The configured tokens, kept only as digests."""

    def __init__(self, user_tokens: Iterable[str], admin_tokens: Iterable[str]):
        self.admin = [_digest(token) for token in admin_tokens]
        self.user = [_digest(token) for token in user_tokens]

    @property
    def configured(self) -> bool:
        return bool(self.admin or self.user)

    def level_of(self, presented: str) -> Access | None:
        """``admin``, ``user`` or None (not a token of this server), comparing against every token."""
        digest = _digest(presented)
        is_admin = is_user = False
        for known in self.admin:
            is_admin |= hmac.compare_digest(known, digest)
        for known in self.user:
            is_user |= hmac.compare_digest(known, digest)
        return Access.ADMIN if is_admin else Access.USER if is_user else None


def _host_name(host_header: str) -> str:
    """``example.org:5481`` -> ``example.org``; ``[::1]:5481`` -> ``[::1]``."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[:host.find("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def normalise_host_name(name: str) -> str:
    name = name.strip().lower()
    return f"[{name}]" if ":" in name and not name.startswith("[") else name


@dataclass(frozen=True)
class AccessPolicy:
    tokens: TokenCheck
    cors_origins: frozenset[str]
    allowed_hosts: tuple[str, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> AccessPolicy:
        return cls(TokenCheck((token.get_secret_value() for token in settings.user_tokens),
                              (token.get_secret_value() for token in settings.admin_tokens)),
                   frozenset(settings.cors_origins),
                   tuple(normalise_host_name(name) for name in settings.allowed_hosts))

    def host_allowed(self, host_header: str) -> bool:
        host = _host_name(host_header)
        return bool(host) and any(allowed == "*" or host == allowed
                                  or (allowed.startswith("*.") and host.endswith(allowed[1:]))
                                  for allowed in self.allowed_hosts)

    def origin_allowed(self, origin: str, scheme: str, host_header: str) -> bool:
        origin = origin.strip().rstrip("/").lower()
        if origin == "null":
            return False
        # This server's own pages (the OpenAPI docs) are not cross-site; the Host rule has already
        # refused a name that is not this server's.
        return origin in self.cors_origins or origin == f"{scheme}://{host_header.strip().lower()}"


def _shown(value: str) -> str:
    return value[:200]


_RANK = {Access.PUBLIC: 0, Access.USER: 1, Access.ADMIN: 2}


def app_routes(routes: list[BaseRoute]) -> list[RouteContext]:
    """Every endpoint behind ``routes``, included routers expanded (FastAPI keeps them nested),
    each with the path and ``matches`` it has in the app."""
    return list(iter_route_contexts(routes))


class AccessControl:
    """ASGI middleware in front of every route, Starlette's own (docs) and mounts included.

    The level is that of the route the path and method match (the strictest, should two match);
    a request no route matches (404, 405) needs a user token.
    """

    def __init__(self, app: ASGIApp, policy: AccessPolicy, routes: list[BaseRoute]):
        self.app = app
        self.policy = policy
        self._routes = routes  # the app's own list, read at the first request: every route is in by then
        self._endpoints: list[tuple[RouteContext, Access]] | None = None

    def level_for(self, scope: Scope) -> Access:
        if self._endpoints is None:
            self._endpoints = [(route, route_access(route.original_route)) for route in app_routes(self._routes)]
        levels = [level for route, level in self._endpoints if route.matches(scope)[0] == Match.FULL]
        return max(levels, key=_RANK.__getitem__) if levels else Access.USER

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(scope)
        if refusal is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
        else:
            await refusal(scope, receive, send)

    def refusal(self, scope: Scope):
        """The error response for a request that may not pass, else None."""
        headers = {name: value.decode("latin-1") for name, value in scope["headers"]
                   if name in (b"host", b"origin", b"authorization")}
        host = headers.get(b"host", "")
        if not self.policy.host_allowed(host):
            return error_response(421, "host_not_allowed",
                                  f"This server does not answer to the Host {_shown(host)!r} (allowed_hosts).")
        origin = headers.get(b"origin")
        method = scope["method"] if scope["type"] == "http" else "WEBSOCKET"  # a socket can change things too
        if (origin is not None and method not in SAFE_METHODS
                and not self.policy.origin_allowed(origin, scope.get("scheme", "http"), host)):
            return error_response(403, "forbidden_origin",
                                  f"A web page of origin {_shown(origin)!r} may not change anything on this "
                                  "server (cors_origins).")
        if not self.policy.tokens.configured:
            scope[_CALLER_KEY] = Access.ADMIN  # as in Compox: everything open (loopback only)
            return None
        level = self.level_for(scope)
        scheme, _, presented = headers.get(b"authorization", "").strip().partition(" ")
        presented = presented.strip() if scheme.lower() == "bearer" else ""
        held = self.policy.tokens.level_of(presented) if presented else None
        scope[_CALLER_KEY] = held or Access.PUBLIC
        if level == Access.PUBLIC:
            return None
        if not presented:
            return error_response(401, "unauthorized", "This server needs 'Authorization: Bearer <token>'.",
                                  headers={"WWW-Authenticate": "Bearer"})
        if held is None:
            return error_response(401, "unauthorized", "The bearer token is not valid on this server.",
                                  headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if level == Access.ADMIN and held != Access.ADMIN:
            return error_response(403, "forbidden", "This operation needs an admin token.")
        return None


def _docs_routes(app: FastAPI) -> list[BaseRoute]:
    paths = {app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url} - {None}
    return [route.original_route for route in app_routes(app.routes) if route.path in paths]


def _describe_access_in_openapi(app: FastAPI) -> None:
    """The schema says what each operation needs (and /docs gets an Authorize button)."""
    build_schema = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build_schema()
        schema.setdefault("components", {}).setdefault("securitySchemes", {})["bearer"] = {
            "type": "http", "scheme": "bearer",
            "description": "A user token; deploy routes need an admin token. Needed only where tokens are configured."}
        for route in app_routes(app.routes):
            if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
                continue
            level = route_access(route.original_route)
            for method in route.methods:
                operation = schema.get("paths", {}).get(route.path_format, {}).get(method.lower())
                if operation is not None:
                    operation["x-compox-access"] = level.value
                    if level != Access.PUBLIC:
                        operation["security"] = [{"bearer": []}]
        return schema

    app.openapi = openapi


def install_access_control(app: FastAPI, policy: AccessPolicy) -> None:
    """Call after every other middleware: it must be the outermost but for CORS, which answers
    preflights and puts its headers on refusals too."""
    for route in _docs_routes(app):
        mark(route, Access.PUBLIC)
    _describe_access_in_openapi(app)
    app.add_middleware(AccessControl, policy=policy, routes=app.router.routes)
    if policy.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=sorted(policy.cors_origins), allow_methods=["*"],
                           allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
                           expose_headers=["Content-Disposition", "Content-Length"])


def access_table(app: FastAPI) -> list[dict]:
    """Every endpoint of ``app`` (those hidden from the OpenAPI schema too) with its access level."""
    return [{"path": route.path, "methods": sorted(route.methods or ()), "access": route_access(route.original_route).value,
             "kind": type(route.original_route).__name__} for route in app_routes(app.routes)]

