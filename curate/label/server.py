"""`curate label serve`: the labelling app and its JSON API, on aiohttp.

Every request but the login link and the static files needs a labeller: `Authorization:
Bearer TOKEN`, or the HttpOnly cookie the login link sets. A state-changing request that
comes with the cookie alone must carry the session's CSRF token (`X-CSRF-Token`, from
`GET /api/me`), so another site cannot answer for a labeller whose browser holds the cookie.
Every page is sent with a Content-Security-Policy that runs no inline script, and item
contents reach the page only as sanitised HTML (render.py). The database calls are short and
run on the event loop itself, so requests reach SQLite one at a time; each answer is
committed before its reply.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from pathlib import Path

from aiohttp import web

from curate.label.agreement import agreement
from curate.label.render import safe_html
from curate.label.store import ANSWER, SKIP, Labeller, Project

STATIC = Path(__file__).with_name("static")
COOKIE = "curate_label"
CSRF_HEADER = "X-CSRF-Token"
MAX_TEXT = 100_000  # characters of a written answer
LABELLER = web.AppKey("labeller", Labeller)
PROJECT = web.AppKey("project", Project)
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the login link holds a token: never sent on
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def make_app(folder: Path) -> web.Application:
    app = web.Application(middlewares=[_headers, _auth], client_max_size=1 << 20)
    app[PROJECT] = Project(folder)
    app.on_cleanup.append(lambda app: _close(app))
    app.router.add_get("/login", login)
    app.router.add_get("/", page("label.html"))
    app.router.add_get("/admin", page("admin.html", admin=True))
    app.router.add_static("/static/", STATIC, show_index=False, follow_symlinks=False)
    app.router.add_get("/api/me", me)
    app.router.add_get("/api/next", next_item, allow_head=False)  # it hands out an item: never on a HEAD
    app.router.add_post("/api/answer", answer)
    app.router.add_post("/api/skip", skip)
    app.router.add_post("/api/undo", undo)
    app.router.add_get("/api/progress", progress)
    app.router.add_get("/api/admin/progress", admin_progress)
    return app


async def _close(app: web.Application) -> None:
    app[PROJECT].close()


@web.middleware
async def _headers(request: web.Request, handler):
    try:
        response = await handler(request)
    except web.HTTPException as error:
        response = error
    response.headers.update(HEADERS)
    return response


def csrf_token(project: Project, labeller: Labeller) -> str:
    secret = str(project.setting("secret")).encode()
    return hmac.new(secret, labeller.token_hash.encode(), hashlib.sha256).hexdigest()


@web.middleware
async def _auth(request: web.Request, handler):
    if request.path == "/login" or request.path.startswith("/static/"):
        return await handler(request)
    project = request.app[PROJECT]
    header = request.headers.get("Authorization", "")
    bearer = header[7:].strip() if header.lower().startswith("bearer ") else None
    token = bearer or request.cookies.get(COOKIE)
    labeller = project.labeller_by_token(token) if token else None
    if labeller is None:
        if request.path.startswith("/api/"):
            raise _failure(web.HTTPUnauthorized, "a valid token is needed")
        raise web.HTTPUnauthorized(text="Open your login link (curate label add prints it).")
    if request.method == "POST" and bearer is None:
        given = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(given, csrf_token(project, labeller)):
            raise _failure(web.HTTPForbidden, "missing or wrong CSRF token")
    request[LABELLER] = labeller
    return await handler(request)


async def login(request: web.Request) -> web.Response:
    token = request.query.get("token", "")
    labeller = request.app[PROJECT].labeller_by_token(token) if token else None
    if labeller is None:
        raise web.HTTPUnauthorized(text="This login link is not valid.")
    response = web.HTTPSeeOther("/admin" if labeller.admin else "/")
    response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/", secure=request.secure)
    return response


def page(name: str, admin: bool = False):
    async def handler(request: web.Request) -> web.FileResponse:
        if admin and not request[LABELLER].admin:
            raise web.HTTPForbidden(text="This page is for admins.")
        return web.FileResponse(STATIC / name)

    return handler


def _json(data: object, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda value: json.dumps(value, ensure_ascii=False))


def _error(status: int, message: str) -> web.Response:
    return _json({"error": message}, status)


def _failure(kind: type[web.HTTPException], message: str) -> web.HTTPException:
    """An API error to raise from a middleware or a helper, with the body `_error` gives."""
    return kind(text=json.dumps({"error": message}, ensure_ascii=False), content_type="application/json")


async def me(request: web.Request) -> web.Response:
    project, labeller = request.app[PROJECT], request[LABELLER]
    guidelines = (project.folder / "guidelines.md").read_text(encoding="utf-8")
    return _json(
        {
            "name": labeller.name,
            "admin": labeller.admin,
            "task": project.task,
            "csrf": csrf_token(project, labeller),
            "guidelines_html": safe_html(guidelines),
        }
    )


def shown_order(project: Project, labeller: Labeller, item: dict) -> list[str]:
    """The candidates' keys in this labeller's order for this item: random, the same every time."""
    keys = [candidate["key"] for candidate in item["candidates"]]
    seed = hashlib.sha256(f"{project.setting('secret')}:{labeller.id}:{item['id']}".encode()).digest()
    random.Random(seed).shuffle(keys)
    return keys


async def next_item(request: web.Request) -> web.Response:
    project, labeller = request.app[PROJECT], request[LABELLER]
    item_id = project.next_item(labeller.id)
    if item_id is None:
        return web.Response(status=204)
    item = project.item(item_id)
    contents = {candidate["key"]: candidate["content"] for candidate in item["candidates"]}
    return _json(
        {
            "item_id": item_id,
            "task": project.task,
            "messages": [
                {"role": m["role"], "content": m["content"], "html": safe_html(m["content"])} for m in item["messages"]
            ],
            "candidates": [
                {"key": key, "content": contents[key], "html": safe_html(contents[key])}
                for key in shown_order(project, labeller, item)
            ],
            "draft": item["draft"],
            "progress": project.progress(labeller.id),
        }
    )


async def _body(request: web.Request) -> dict:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise _failure(web.HTTPBadRequest, "the body is not JSON") from None
    item_id = body.get("item_id") if isinstance(body, dict) else None
    if type(item_id) is not int or not 0 < item_id < 2**63:  # not a bool, and an id SQLite can hold
        raise _failure(web.HTTPBadRequest, "item_id (an integer) is needed")
    return body


def checked_answer(task: str, keys: list[str], body: dict) -> dict | str:
    """The answer to store, or why the body is not one."""
    if task == "compare":
        choice = body.get("choice")
        return {"choice": choice} if choice in [*keys, "tie"] else f"choice must be one of {keys + ['tie']}"
    if task == "rank":
        order = body.get("order")
        valid = isinstance(order, list) and sorted(map(str, order)) == sorted(keys) and len(order) == len(keys)
        return {"order": order} if valid else f"order must list every key once: {keys}"
    if task == "rate":
        scores = body.get("scores")
        valid = isinstance(scores, dict) and sorted(scores) == sorted(keys)
        valid = valid and all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 5 for v in scores.values())
        return {"scores": scores} if valid else f"scores must give each of {keys} an integer from 1 to 5"
    text = body.get("text")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
        return f"text must be a non-empty string of at most {MAX_TEXT:,} characters"
    return {"text": text}


def _store(project: Project, labeller: Labeller, item_id: int, kind: str, payload: object) -> web.Response:
    try:
        project.record(labeller.id, item_id, kind, payload)
    except LookupError as error:  # another labeller's item, or one never shown: not this labeller's to answer
        return _error(403, str(error))
    except FileExistsError as error:
        return _error(409, str(error))
    return _json({"ok": True, "progress": project.progress(labeller.id)})


async def answer(request: web.Request) -> web.Response:
    project, labeller = request.app[PROJECT], request[LABELLER]
    body = await _body(request)
    item = project.item(body["item_id"])
    if item is None:
        return _error(404, "no such item")
    order = shown_order(project, labeller, item)
    given = checked_answer(project.task, order, body)
    if isinstance(given, str):
        return _error(400, given)
    return _store(project, labeller, item["id"], ANSWER, given | {"shown_order": order})


async def skip(request: web.Request) -> web.Response:
    project, labeller = request.app[PROJECT], request[LABELLER]
    body = await _body(request)
    return _store(project, labeller, body["item_id"], SKIP, None)


async def undo(request: web.Request) -> web.Response:
    project, labeller = request.app[PROJECT], request[LABELLER]
    try:
        item_id = project.undo(labeller.id)
    except FileExistsError as error:
        return _error(409, str(error))
    return _json({"undone": item_id, "progress": project.progress(labeller.id)})


async def progress(request: web.Request) -> web.Response:
    return _json(request.app[PROJECT].progress(request[LABELLER].id))


async def admin_progress(request: web.Request) -> web.Response:
    project, labeller = request.app[PROJECT], request[LABELLER]
    if not labeller.admin:
        return _error(403, "this is for admins")
    answers = project.answers()
    people = []
    for person in project.labellers():
        done = [a for a in answers if a["labeller"] == person.id]
        seconds = sorted(a["seconds"] for a in done)
        people.append(
            {
                "name": person.name,
                "admin": person.admin,
                **project.progress(person.id),
                "median_seconds": seconds[len(seconds) // 2] if seconds else None,
            }
        )
    return _json({"total": project.progress(), "labellers": people, "agreement": agreement(project.task, answers)})


def serve(folder: Path, host: str, port: int) -> None:
    import socket

    from curate.errors import UserError

    try:  # the address first, so a port in use or an unknown host is one line, not a traceback
        sock = socket.create_server((host, port))
    except OSError as error:
        raise UserError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    app = make_app(folder)
    print(f"curate label: serving {folder} on http://{host}:{port}/ (Ctrl-C stops)", flush=True)
    web.run_app(app, sock=sock, print=None, access_log=None)
