"""The ``/_sim/`` control API: ground truth, mutations, clock, faults, log and budget resets.

No authentication, not rate limited, not logged. Bodies are JSON; answers are JSON.

    GET  /_sim/stats | /_sim/log | /_sim/ground_truth | /_sim/faults | /_sim/info
    POST /_sim/clock/advance                 {"seconds"|"minutes"|"hours"|"days": n}
    POST /_sim/faults                        {"kind": ..., "path": regex, "count": n, ...}
    POST /_sim/faults/clear                  (also DELETE /_sim/faults)
    POST /_sim/log/reset | /_sim/budget/reset {"total": n?} | /_sim/ratelimit/reset
    POST /_sim/records/{entity}              record fields            -> created record
    POST /_sim/records/{entity}/{id}/update  changes                  -> updated record
    POST /_sim/records/{entity}/{id}/delete | /archive | /restore (deals, leads)
    GET  /_sim/deleted/{entity}              [{"id", "deleted_at"}] (Account.deleted_records)
         (deal_followers {"deal_id", "user_id"} / deal_participants {"deal_id", "person_id"} too;
          their {id} is "<deal_id>:<user_id>" / "<deal_id>:<participant id>")
    POST /_sim/fields/{set}                  {"name", "field_type", "options"?} -> {"field_code"}
    POST /_sim/fields/{set}/{code}/rename    {"name"}
    POST /_sim/fields/{set}/{code}/type      {"field_type", "touch_records"?: bool}
    POST /_sim/fields/{set}/{code}/delete    {"touch_records"?: bool}
    POST /_sim/fields/{set}/{code}/options/{option_id}/rename {"label"}
    POST /_sim/fields/{set}/{code}/options/{option_id}/delete
    POST /_sim/neighbours                    {"per_second"?: n, "fire"?: n, "path"?, "token"?} -> its stats
    GET  /_sim/neighbours | POST /_sim/neighbours/stop   greedy neighbours (SimServer.add_neighbour)
    GET  /_sim/oauth                         OAuth settings and counters (no secrets)
    POST /_sim/oauth/revoke                  expire every issued OAuth access token now
    POST /_sim/oauth/config                  {"expires_in"?: s, "rotate_refresh_tokens"?: bool}
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from .neighbours import DEFAULT_PATH as NEIGHBOUR_PATH

if TYPE_CHECKING:
    from .server import SimServer

Action = Callable[["SimServer", dict[str, str], dict[str, Any]], Any]


def _ident(raw: str) -> int | str:
    """Path id: int when numeric (lead ids are UUID strings)."""
    return int(raw) if raw.isdigit() else raw


def _mutate(server: SimServer, fn: Callable[[], Any]) -> Any:
    with server.data_lock:
        return fn()


def _advance(server: SimServer, args: dict[str, str], body: dict[str, Any]) -> Any:
    units = {k: body[k] for k in ("seconds", "minutes", "hours", "days") if k in body}
    _mutate(server, lambda: server.account.clock.advance(**units))
    return {"now": server.account.clock.now().isoformat()}


def _add_fault(server: SimServer, args: dict[str, str], body: dict[str, Any]) -> Any:
    return server.faults.add(**body).to_dict()


def _clear_faults(server: SimServer, args: dict[str, str], body: dict[str, Any]) -> Any:
    server.faults.clear()
    return {"faults": []}


def _reset_log(server: SimServer, args: dict[str, str], body: dict[str, Any]) -> Any:
    server.reset_log()
    return {"requests": 0}


def _reset_budget(server: SimServer, args: dict[str, str], body: dict[str, Any]) -> Any:
    server.budget.reset(body.get("total"))
    return {"total": server.budget.total, "remaining": server.budget.remaining}


def _reset_ratelimit(server: SimServer, args: dict[str, str], body: dict[str, Any]) -> Any:
    server.limiter.reset()
    server.abuse.reset()
    return {"ok": True}


def _create(server: SimServer, args: dict[str, str], body: dict[str, Any]) -> Any:
    return _mutate(server, lambda: server.account.create(args["entity"], body))


def _update(server: SimServer, args: dict[str, str], body: dict[str, Any]) -> Any:
    return _mutate(server, lambda: server.account.update(args["entity"], _ident(args["id"]), body))


def _delete(server: SimServer, args: dict[str, str], body: dict[str, Any]) -> Any:
    return _mutate(server, lambda: server.account.delete(args["entity"], _ident(args["id"])))


def _archive(server: SimServer, args: dict[str, str], body: dict[str, Any]) -> Any:
    return _mutate(server, lambda: server.account.archive(args["entity"], _ident(args["id"])))


def _restore(server: SimServer, args: dict[str, str], body: dict[str, Any]) -> Any:
    return _mutate(server, lambda: server.account.restore(args["entity"], _ident(args["id"])))


def _deleted(server: SimServer, args: dict[str, str], body: dict[str, Any]) -> Any:
    deleted = _mutate(server, lambda: server.account.deleted_records(args["entity"]))
    return [{"id": rec_id, "deleted_at": at.isoformat()} for rec_id, at in deleted.items()]


def _add_field(server: SimServer, args: dict[str, str], body: dict[str, Any]) -> Any:
    code = _mutate(
        server,
        lambda: server.account.add_field(args["set"], body["name"], body["field_type"], body.get("options")),
    )
    return {"field_code": code}


def _rename_field(server: SimServer, args: dict[str, str], body: dict[str, Any]) -> Any:
    return _mutate(server, lambda: server.account.rename_field(args["set"], args["code"], body["name"]))


def _change_type(server: SimServer, args: dict[str, str], body: dict[str, Any]) -> Any:
    return _mutate(server, lambda: server.account.change_field_type(
        args["set"], args["code"], body["field_type"], bool(body.get("touch_records"))))


def _delete_field(server: SimServer, args: dict[str, str], body: dict[str, Any]) -> Any:
    return _mutate(server, lambda: server.account.delete_field(args["set"], args["code"], bool(body.get("touch_records"))))


def _rename_option(server: SimServer, args: dict[str, str], body: dict[str, Any]) -> Any:
    return _mutate(
        server,
        lambda: server.account.rename_option(args["set"], args["code"], _ident(args["option"]), body["label"]),
    )


def _delete_option(server: SimServer, args: dict[str, str], body: dict[str, Any]) -> Any:
    return _mutate(server, lambda: server.account.delete_option(args["set"], args["code"], _ident(args["option"])))


def _ground_truth(server: SimServer, args: dict[str, str], body: dict[str, Any]) -> Any:
    return _mutate(server, server.account.ground_truth)


def _add_neighbour(server: SimServer, args: dict[str, str], body: dict[str, Any]) -> Any:
    neighbour = server.add_neighbour(body.get("token"), body.get("path") or NEIGHBOUR_PATH, body.get("per_second"))
    neighbour.fire(int(body.get("fire") or 0))
    return neighbour.stats()


def _stop_neighbours(server: SimServer, args: dict[str, str], body: dict[str, Any]) -> Any:
    for neighbour in server.neighbours:
        neighbour.stop()
    return [n.stats() for n in server.neighbours]


def _revoke_oauth(server: SimServer, args: dict[str, str], body: dict[str, Any]) -> Any:
    return {"revoked": server.oauth.revoke_all()}


def _configure_oauth(server: SimServer, args: dict[str, str], body: dict[str, Any]) -> Any:
    return server.oauth.configure(**body)


CONTROL_ROUTES: tuple[tuple[str, str, Action], ...] = (
    ("GET", "/_sim/stats", lambda s, a, b: s.stats()),
    ("GET", "/_sim/log", lambda s, a, b: s.log),
    ("GET", "/_sim/ground_truth", _ground_truth),
    ("GET", "/_sim/faults", lambda s, a, b: s.faults.describe()),
    ("GET", "/_sim/info", lambda s, a, b: s.info()),
    ("POST", "/_sim/clock/advance", _advance),
    ("POST", "/_sim/faults", _add_fault),
    ("POST", "/_sim/faults/clear", _clear_faults),
    ("DELETE", "/_sim/faults", _clear_faults),
    ("POST", "/_sim/log/reset", _reset_log),
    ("POST", "/_sim/budget/reset", _reset_budget),
    ("POST", "/_sim/ratelimit/reset", _reset_ratelimit),
    ("POST", "/_sim/neighbours", _add_neighbour),
    ("GET", "/_sim/neighbours", lambda s, a, b: [n.stats() for n in s.neighbours]),
    ("POST", "/_sim/neighbours/stop", _stop_neighbours),
    ("GET", "/_sim/oauth", lambda s, a, b: s.oauth.describe()),
    ("POST", "/_sim/oauth/revoke", _revoke_oauth),
    ("POST", "/_sim/oauth/config", _configure_oauth),
    ("POST", "/_sim/records/{entity}", _create),
    ("POST", "/_sim/records/{entity}/{id}/update", _update),
    ("POST", "/_sim/records/{entity}/{id}/delete", _delete),
    ("POST", "/_sim/records/{entity}/{id}/archive", _archive),
    ("POST", "/_sim/records/{entity}/{id}/restore", _restore),
    ("GET", "/_sim/deleted/{entity}", _deleted),
    ("POST", "/_sim/fields/{set}", _add_field),
    ("POST", "/_sim/fields/{set}/{code}/rename", _rename_field),
    ("POST", "/_sim/fields/{set}/{code}/type", _change_type),
    ("POST", "/_sim/fields/{set}/{code}/delete", _delete_field),
    ("POST", "/_sim/fields/{set}/{code}/options/{option}/rename", _rename_option),
    ("POST", "/_sim/fields/{set}/{code}/options/{option}/delete", _delete_option),
)
_COMPILED = tuple(
    (method, re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path) + "/?$"), action)
    for method, path, action in CONTROL_ROUTES
)


def handle_control(server: SimServer, method: str, path: str, raw_body: bytes) -> tuple[int, bytes]:
    """Answer one ``/_sim/`` request -> (status, JSON body)."""
    for route_method, regex, action in _COMPILED:
        found = regex.match(path)
        if found and route_method == method:
            try:
                body = orjson.loads(raw_body) if raw_body.strip() else {}
                result = action(server, found.groupdict(), body)
            except Exception as exc:  # noqa: BLE001 - report any data-layer error to the caller
                return 400, orjson.dumps({"success": False, "error": f"{type(exc).__name__}: {exc}"})
            return 200, orjson.dumps({"success": True, "data": result}, default=str)
    return 404, orjson.dumps({"success": False, "error": f"unknown control call {method} {path}"})
