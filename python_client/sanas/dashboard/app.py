"""The dashboard's web app (Starlette): HTML shells, a JSON API served from the per-study
in-memory index, server-sent events from the shared watch streams, CSV export, and a
guarded delete. Everything it knows comes from the controller's gRPC API."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import datetime
import hmac
import html
import io
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request, cookie_parser
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..convert import space_config_from_pb
from ..errors import SanasError, StudyDeletedError, StudyNotFoundError
from ..spaces import CombinedSpace, SpaceConfigError
from ..spaces import describe as describe_tokens
from ..v1 import sanas_pb2 as pb
from ..wire import is_study_id
from .hub import RETRY_AFTER_SECONDS, Hub, StudyFeed, WatchCapReached, study_json
from .index import MAX_PAGE_SIZE, Query, QueryError, Row, parse_query

STATIC = Path(__file__).resolve().parent / "static"
COOKIE = "sanas_dashboard"
MAX_CSV_ROWS = 200_000
READY_TIMEOUT = 30.0
KEEPALIVE = 15.0
STUDY_TTL = 0.5
PREFETCH = 8  # active studies indexed when the studies page lists them
# How long a request waits for the controller to free the slot of a stream the dashboard
# cancelled to make room (the controller looks every 0.5 s).
REFUSED_RETRY_SECONDS = 3.0

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
# Live pages (event streams) open at once, over all studies; more are refused.
MAX_EVENT_STREAMS = 256
# CSV exports and chart series are built (and serialised) in threads, HEAVY_THREADS at a
# time, so the event loop keeps answering; at most HEAVY_QUEUE wait or run (more: 503).
HEAVY_THREADS = 2
HEAVY_QUEUE = 8
YIELD_ROWS = 200  # CSV rows written between two offers of the GIL to the event loop
# The liveness probe's path: answered without the token (it tells nothing but "up").
HEALTHZ = "/healthz"
# On every response. The page loads only its own script and styles (uPlot is vendored),
# talks only to its own origin and may not be framed (clickjacking a delete button).
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "x-frame-options": "DENY",  # frame-ancestors for browsers without CSP 2
    "x-content-type-options": "nosniff",
    # Never send the address (which may carry ?token=) to another site.
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
}


@dataclass(frozen=True)
class Settings:
    controller: str
    allow_delete: bool = False
    token: str | None = None  # required on every request when set
    host: str = "127.0.0.1"  # the address the dashboard is bound to
    max_event_streams: int = MAX_EVENT_STREAMS


def host_name(header: str) -> str:
    """The name part of a Host header ("[::1]:8080" -> "::1", "a:80" -> "a")."""
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class HostGuard:
    """ASGI middleware of a dashboard without a token (bound to loopback): it answers
    only requests addressed to a loopback name, so a web page whose domain is rebound to
    127.0.0.1 (DNS rebinding) cannot read it, or delete studies through it."""

    def __init__(self, app: ASGIApp, bound_host: str) -> None:
        self.app = app
        self.allowed = {*LOOPBACK_NAMES, bound_host.strip("[]")}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            name = host_name(Headers(scope=scope).get("host", "")).lower()
            if name not in self.allowed:
                await PlainTextResponse(
                    f"sanas dashboard: requests must be addressed to "
                    f"{' or '.join(sorted(self.allowed))}, not {name[:80]!r}\n",
                    status_code=421,
                )(scope, receive, send)
                return
        await self.app(scope, receive, send)


class SecurityHeaders:
    """ASGI middleware, outermost: SECURITY_HEADERS on every response, the guards' 401
    and 421 and the static files included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.raw = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *((k, v) for k, v in self.raw if k not in present),
                ]
            await send(message)

        await self.app(scope, receive, with_headers)


class TokenGuard:
    """ASGI middleware: every request (pages, API, SSE, static files) carries the token,
    as the cookie set from `?token=`, or as `Authorization: Bearer TOKEN`."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()

    def _matches(self, value: str) -> bool:
        return hmac.compare_digest(value.encode(), self.token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The kubelet's liveness probe cannot carry the token; HEALTHZ answers "ok" only.
        if scope["type"] != "http" or scope["path"] == HEALTHZ:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        given = query.get("token")
        if given is not None and self._matches(given):
            rest = urlencode([(k, v) for k, v in query.items() if k != "token"])
            location = scope["path"] + (f"?{rest}" if rest else "")
            response: Response = Response(status_code=303, headers={"location": location})
            response.set_cookie(COOKIE, given, httponly=True, samesite="strict")
            await response(scope, receive, send)
            return
        auth = headers.get("authorization", "")
        if auth.startswith("Bearer ") and self._matches(auth[7:].strip()):
            await self.app(scope, receive, send)
            return
        # Starlette's lenient parser: another app's odd cookie on the same host (browsers
        # send every port's cookies) must not hide ours.
        cookies = cookie_parser(headers.get("cookie", ""))
        if COOKIE in cookies and self._matches(cookies[COOKIE]):
            await self.app(scope, receive, send)
            return
        await PlainTextResponse(
            "sanas dashboard: a token is required: open the link with ?token=TOKEN once, "
            "or send Authorization: Bearer TOKEN\n",
            status_code=401,
        )(scope, receive, send)


def spreadsheet_safe(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula (trainer names and stop reasons
    come from clients) gets a leading quote; numbers stay as they are."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def study_id_of(request: Request) -> str:
    study_id = request.path_params["study_id"]
    if not is_study_id(study_id):
        raise HTTPException(400, f"bad study id {study_id[:40]!r}")
    return study_id


def describe(study: pb.Study, tokens: list[int]) -> dict[str, Any] | None:
    """The decoded architectures of `tokens` and their FLOPs and params, as the
    controller counts them (sanas.spaces.describe, no Paddle); None for custom token
    spaces."""
    if not tokens or not study.config.search_spaces:
        return None
    limits = study.config.constraints
    try:
        space = CombinedSpace.from_configs(
            [space_config_from_pb(c) for c in study.config.search_spaces]
        )
        described = describe_tokens(space, tokens, limits.in_channels, limits.input_size)
    except (SpaceConfigError, ValueError, IndexError):
        return None
    archs = described.architectures
    if not any(a.blocks for a in archs):
        return None
    return {
        "flops": described.cost.flops,
        "params": described.cost.params,
        "input_size": described.input_size,
        "architectures": [
            {
                "space": a.space,
                "in_channels": a.in_channels,
                "blocks": [
                    {
                        "kind": b.kind,
                        "out_channels": b.out_channels,
                        "kernel": b.kernel,
                        "stride": b.stride,
                        "expansion": b.expansion,
                        "repeats": b.repeats,
                        "act": b.act,
                    }
                    for b in a.blocks
                ],
            }
            for a in archs
        ],
    }


def page(title: str, kind: str, **data: str) -> HTMLResponse:
    attrs = " ".join(f'data-{k.replace("_", "-")}="{html.escape(v)}"' for k, v in data.items())
    return HTMLResponse(
        f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} - sanas dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/vendor/uPlot.min.css">
<link rel="stylesheet" href="/static/style.css">
</head><body data-page="{kind}" {attrs}>
<header><a href="/" class="brand">sanas</a> <span id="crumbs"></span>
<span id="live" class="live">connecting...</span></header>
<main id="main"></main>
<script src="/static/vendor/uPlot.iife.min.js"></script>
<script src="/static/app.js"></script>
</body></html>
"""
    )


class EventStream(StreamingResponse):
    """A server-sent event stream that calls `release` exactly once when it ends, however
    it ends: the client going away is noticed at once (its disconnect message), not at
    the next write, which may be a keep-alive KEEPALIVE seconds later."""

    def __init__(self, content: AsyncIterator[str], release: Callable[[], None]) -> None:
        super().__init__(
            content,
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as group:

                async def stream() -> None:
                    with contextlib.suppress(OSError):  # the client went away
                        await self.stream_response(send)
                    group.cancel_scope.cancel()

                async def disconnected() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    group.cancel_scope.cancel()

                group.start_soon(stream)
                group.start_soon(disconnected)
        finally:
            self._release()


class Busy(HTTPException):
    """503 with Retry-After: the page may try again then."""

    def __init__(self, detail: str, retry_after: int = RETRY_AFTER_SECONDS) -> None:
        super().__init__(503, detail, headers={"retry-after": str(retry_after)})


def create_app(hub: Hub, settings: Settings) -> ASGIApp:
    async def call(fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return await run_in_threadpool(fn, *args)
        except (StudyNotFoundError, StudyDeletedError) as exc:
            raise HTTPException(404, str(exc)) from None
        except SanasError as exc:
            raise HTTPException(502, f"controller {settings.controller}: {exc}") from None

    async def ready_feed(study_id: str) -> StudyFeed:
        retry_until: float | None = None
        while True:
            try:
                feed = hub.feed(study_id)
            except WatchCapReached as exc:
                raise Busy(str(exc)) from None
            await run_in_threadpool(feed.ready.wait, READY_TIMEOUT)
            if not feed.ready.is_set():
                # Still listing (300 trials of 10,000 reports take the controller ~20 s):
                # the feed goes on loading, and the page asks again.
                raise HTTPException(
                    504,
                    f"controller {settings.controller} has not finished listing the trials "
                    f"of {study_id!r}; try again shortly",
                    headers={"retry-after": "5"},
                )
            feed.touch()  # idle from now, however long the listing took
            if feed.study is not None:
                return feed
            hub.drop(study_id)
            if not feed.refused:
                raise HTTPException(404 if feed.not_found else 502, feed.error or "no such study")
            # The controller's watch slots are taken, maybe by this dashboard's unviewed
            # studies: free one of ours, and try again while the controller notices the
            # cancelled stream (it looks every 0.5 s).
            if retry_until is None and hub.make_room():
                retry_until = time.monotonic() + REFUSED_RETRY_SECONDS
            if retry_until is None or time.monotonic() > retry_until:
                raise Busy(f"controller {settings.controller}: {feed.error}")
            await asyncio.sleep(0.2)

    heavy_state: dict[str, Any] = {"limiter": None, "queued": 0}

    async def heavy(fn: Callable[..., Any], *args: Any) -> Any:
        """fn(*args) in one of HEAVY_THREADS threads, so the event loop (every other
        request, /api/health and live pages) is not held while it runs."""
        if heavy_state["queued"] >= HEAVY_QUEUE:
            raise Busy(f"{HEAVY_QUEUE} exports are running or waiting already", 5)
        if heavy_state["limiter"] is None:  # created in the event loop it belongs to
            heavy_state["limiter"] = anyio.CapacityLimiter(HEAVY_THREADS)
        heavy_state["queued"] += 1
        try:
            return await anyio.to_thread.run_sync(fn, *args, limiter=heavy_state["limiter"])
        finally:
            heavy_state["queued"] -= 1

    # -- pages ---------------------------------------------------------------------------
    async def studies_page(request: Request) -> Response:
        return page("studies", "studies", controller=settings.controller)

    async def study_page(request: Request) -> Response:
        study_id = study_id_of(request)
        return page(
            study_id,
            "study",
            study=study_id,
            allow_delete="1" if settings.allow_delete else "0",
        )

    async def trial_page(request: Request) -> Response:
        study_id = study_id_of(request)
        return page(f"{study_id} #{request.path_params['trial_id']}", "trial", study=study_id,
                    trial=str(request.path_params["trial_id"]))  # fmt: skip

    # -- API -----------------------------------------------------------------------------
    def list_studies() -> list[dict[str, Any]]:
        now = time.time()
        out = []
        prefetched = 0
        for s in hub.client.list_studies():
            item = study_json(s)
            running = []
            if s.trial_counts.active:
                running = list(hub.client.list_trials(s.study_id, state=pb.TRIAL_STATE_ACTIVE))
            lease = item["lease_seconds"]
            item["trainers_alive"] = sorted({t.client_id for t in running})
            item["running"] = [
                {
                    "trial_id": r.trial_id,
                    "client_id": r.client_id,
                    "age": now - r.create_time if r.create_time else None,
                    # Time since the lease was last renewed (a heartbeat or the suggest).
                    "lease_age": now - (r.lease_expire_time - lease)
                    if r.lease_expire_time
                    else None,
                }
                for r in (Row.from_pb(t) for t in running[:50])
            ]
            out.append(item)
            if s.state == pb.STUDY_STATE_ACTIVE and prefetched < PREFETCH:
                # Index the running studies now, so opening one finds it ready.
                prefetched += 1
                hub.prefetch(s.study_id)
        return out

    async def api_studies(request: Request) -> Response:
        return JSONResponse({"studies": await call(list_studies)})

    async def api_study(request: Request) -> Response:
        feed = await ready_feed(study_id_of(request))
        # Trial events carry no study: its counters and temperature come fresh from
        # GetStudy (one small unary call), at most every STUDY_TTL seconds.
        if time.monotonic() - feed.study_fetched > STUDY_TTL:
            feed.study = await call(hub.client.get_study, feed.study_id)
            feed.study_fetched = time.monotonic()
        assert feed.study is not None
        info = study_json(feed.study)
        info["trainers"] = await run_in_threadpool(feed.index.trainers, info["lease_seconds"])
        info["best"] = describe(feed.study, list(feed.study.best_tokens))
        info["indexed"] = len(feed.index)
        info["finished_watch"] = feed.finished
        return JSONResponse(info)

    async def api_series(request: Request) -> Response:
        feed = await ready_feed(study_id_of(request))
        body = await heavy(feed.index.series_json)
        return Response(body, media_type="application/json")

    async def api_trials(request: Request) -> Response:
        feed = await ready_feed(study_id_of(request))
        try:
            query = parse_query(dict(request.query_params))
        except QueryError as exc:
            raise HTTPException(400, str(exc)) from None
        # A sort of 100k rows takes tens of ms: not on the event loop.
        result = await run_in_threadpool(feed.index.query, query)
        return JSONResponse(
            {
                "total": result.total,
                "indexed": len(feed.index),
                "offset": query.offset,
                "limit": query.limit,
                "max_limit": MAX_PAGE_SIZE,
                "trials": [r.to_json() for r in result.rows],
            }
        )

    async def api_csv(request: Request) -> Response:
        study_id = study_id_of(request)
        feed = await ready_feed(study_id)
        params = {k: v for k, v in request.query_params.items() if k not in ("offset", "limit")}
        try:
            query = parse_query({**params, "limit": str(MAX_CSV_ROWS)}, max_limit=MAX_CSV_ROWS)
        except QueryError as exc:
            raise HTTPException(400, str(exc)) from None
        return Response(
            await heavy(trials_csv, feed, query),
            media_type="text/csv",
            headers={"content-disposition": f'attachment; filename="{study_id}-trials.csv"'},
        )

    async def api_trial(request: Request) -> Response:
        feed = await ready_feed(study_id_of(request))
        trial_id = request.path_params["trial_id"]
        row = feed.index.get(trial_id)
        if row is None:
            raise HTTPException(404, f"study {feed.study_id!r} has no trial {trial_id}")
        assert feed.study is not None
        out = row.to_json()
        # The kept points (at most CURVE_KEEP, the extremes of equal step ranges) and how
        # many were reported.
        out["measurements"] = row.curve.points() if row.curve else []
        out["measurements_reported"] = row.curve.count if row.curve else 0
        out["architecture"] = describe(feed.study, list(row.tokens))
        return JSONResponse(out)

    live = {"streams": 0}

    async def api_events(request: Request) -> Response:
        study_id = study_id_of(request)
        # The check and the reservation with no await between: on one event loop nothing
        # else runs in between, so 1,000 streams opened at once cannot all pass the check.
        if live["streams"] >= settings.max_event_streams:
            raise Busy(
                f"{settings.max_event_streams} live pages are open already: close some and reload"
            )
        live["streams"] += 1
        try:
            feed = await ready_feed(study_id)
            queue = feed.subscribe()
        except BaseException:
            live["streams"] -= 1
            raise

        def release() -> None:
            feed.unsubscribe(queue)
            live["streams"] -= 1

        async def stream() -> AsyncIterator[str]:
            assert feed.study is not None
            hello = {"type": "hello", "study": study_json(feed.study)}
            yield f"data: {json.dumps(hello)}\n\n"
            while True:
                try:
                    message = await asyncio.wait_for(queue.get(), KEEPALIVE)
                except asyncio.TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                yield f"data: {json.dumps(message)}\n\n"

        return EventStream(stream(), release)

    async def api_delete(request: Request) -> Response:
        study_id = study_id_of(request)
        if not settings.allow_delete:
            raise HTTPException(
                403, "deleting is off: start the dashboard with --allow-delete to allow it"
            )
        # A header no cross-site form can send: this cannot be a forged request.
        if request.headers.get("x-sanas-dashboard") != "1":
            raise HTTPException(400, "missing X-Sanas-Dashboard: 1 header")
        origin = request.headers.get("origin")
        if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
            raise HTTPException(403, f"a delete from another origin ({origin[:80]}) is refused")
        try:
            body = await request.json()
        except ValueError:
            raise HTTPException(400, 'body: JSON {"confirm": STUDY_ID} expected') from None
        if not isinstance(body, dict) or body.get("confirm") != study_id:
            raise HTTPException(400, f"confirm: type the study id {study_id!r} to delete it")
        # A soft delete (the controller's retention permitting): `sanas undelete` restores
        # it until its expire_time; purging is left to `sanas delete --purge`.
        deleted = await call(hub.client.delete_study, study_id)
        hub.drop(study_id)
        expires = None
        if deleted is not None and deleted.HasField("expire_time"):
            expires = deleted.expire_time.ToDatetime(datetime.timezone.utc).isoformat()
        return JSONResponse(
            {"deleted": study_id, "purged": deleted is None, "expire_time": expires}
        )

    async def api_health(request: Request) -> Response:
        feeds = hub.feeds()
        return JSONResponse(
            {
                "controller": settings.controller,
                "allow_delete": settings.allow_delete,
                "watching": sum(f.watching for f in feeds.values()),
                "max_watches": hub.max_watches,
                "idle_seconds": hub.idle_seconds,
                "event_streams": live["streams"],
                "max_event_streams": settings.max_event_streams,
                "feeds": {
                    k: {
                        "subscribers": f.subscribers,
                        "streams_opened": f.streams_opened,
                        "indexed": len(f.index),
                        "watching": f.watching,
                    }
                    for k, f in feeds.items()
                },
            }
        )

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if request.url.path.startswith("/api/"):
            return JSONResponse(
                {"error": exc.detail}, status_code=exc.status_code, headers=exc.headers
            )
        return PlainTextResponse(
            f"{exc.status_code}: {exc.detail}\n", status_code=exc.status_code, headers=exc.headers
        )

    routes = [
        Route("/", studies_page),
        Route("/study/{study_id}", study_page),
        Route("/study/{study_id}/trial/{trial_id:int}", trial_page),
        Route(HEALTHZ, healthz),
        Route("/api/health", api_health),
        Route("/api/studies", api_studies),
        Route("/api/studies/{study_id}", api_study),
        Route("/api/studies/{study_id}/series", api_series),
        Route("/api/studies/{study_id}/trials", api_trials),
        Route("/api/studies/{study_id}/trials.csv", api_csv),
        Route("/api/studies/{study_id}/trials/{trial_id:int}", api_trial),
        Route("/api/studies/{study_id}/events", api_events),
        Route("/api/studies/{study_id}/delete", api_delete, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error})
    app.state.hub = hub
    guarded = TokenGuard(app, settings.token) if settings.token else HostGuard(app, settings.host)
    return SecurityHeaders(guarded)


def trials_csv(feed: StudyFeed, query: Query) -> bytes:
    """The rows `query` selects as CSV (run in a heavy-work thread)."""
    rows = feed.index.query(query).rows
    buffer = io.StringIO()
    fields = list(Row.from_pb(pb.Trial()).to_json().keys())
    writer = csv.DictWriter(buffer, fieldnames=fields)
    writer.writeheader()
    for i, r in enumerate(rows):
        record = {k: spreadsheet_safe(v) for k, v in r.to_json().items()}
        record["tokens"] = " ".join(map(str, r.tokens))
        writer.writerow(record)
        if i % YIELD_ROWS == 0:
            # Hand the GIL over now: the event loop waiting for it answers at once, not
            # after the interpreter's 5 ms switch interval (per step of each request).
            time.sleep(0)
    return buffer.getvalue().encode()
