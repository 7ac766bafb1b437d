"""Small fake POS (Square-shaped) and CRM servers on 127.0.0.1: real HTTP, real JSON, scriptable failures.

    pos = FakePos().start()            # pos.url
    pos.add_order(square_order("o-1", customer_id="c-1", location_id="PAR-FSH"))
    pos.script("POST /v2/orders/search", 500, "timeout", (429, 1), "not json")   # the next answers, in order
    reached, release = pos.gate("POST /v2/orders/search", call=3)                # hold the 3rd call until released
"""

from __future__ import annotations

import bisect
import json
import threading
import time
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse


class FakeServer:
    """A threaded HTTP server whose routes subclasses define as methods `route(method, path, query, body)`."""

    timeout_seconds = 3.0  # how long a scripted "timeout" keeps the client waiting (past its read time-out)

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, Any], Any]] = []
        self._scripts: dict[str, deque[Any]] = defaultdict(deque)
        self._gates: dict[tuple[str, int], tuple[threading.Event, threading.Event]] = {}
        self._calls: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    # --- scripting -------------------------------------------------------------------------------------------------

    def script(self, route: str, *answers: Any) -> None:
        """Answer the next calls of `route` ("POST /v2/orders/search") so: a status (500), "timeout", (429, seconds
        of Retry-After), "not json", "ok" (the usual answer), or a dict/list sent as the JSON body (a malformed page).
        Then as usual."""
        with self._lock:
            self._scripts[route].extend(answers)

    def gate(self, route: str, *, call: int) -> tuple[threading.Event, threading.Event]:
        """Hold the `call`-th call of `route` (counted from now, 1-based): `reached` is set when it arrives, the
        answer waits for `release`."""
        reached, release = threading.Event(), threading.Event()
        with self._lock:
            self._gates[(route, self._calls[route] + call)] = (reached, release)
        return reached, release

    def calls(self, route: str) -> int:
        with self._lock:
            return self._calls[route]

    # --- serving ---------------------------------------------------------------------------------------------------

    def start(self) -> FakeServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                parsed = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                query = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
                status, payload, headers = fake._dispatch(self.command, parsed.path, query, body, dict(self.headers))
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a time-out, a killed worker)

            do_GET = do_POST = do_PATCH = _handle  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def _dispatch(self, method: str, path: str, query: dict[str, Any], body: Any,
                  headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        route = f"{method} {path}"
        key = self._route_key(route)
        with self._lock:
            self._calls[key] += 1
            gate = self._gates.pop((key, self._calls[key]), None)
            scripted = self._scripts[key].popleft() if self._scripts[key] else None
            self.requests.append((method, path, query, body))
        if gate is not None:
            gate[0].set()
            gate[1].wait(120)
        if scripted is not None and scripted != "ok":
            if scripted == "timeout":
                time.sleep(self.timeout_seconds)
                return 504, {"errors": ["too late"]}, {}
            if scripted == "not json":
                return 200, b'{"orders": [{"id": "truncated', {}
            if isinstance(scripted, tuple):
                status, retry_after = scripted
                return status, {"errors": [{"code": "RATE_LIMITED"}]}, {"Retry-After": str(retry_after)}
            if isinstance(scripted, int):
                return scripted, {"errors": [{"code": "INTERNAL_SERVER_ERROR", "status": scripted}]}, {}
            return 200, scripted, {}
        return self.route(method, path, query, body, headers)

    def _route_key(self, route: str) -> str:
        return route

    def route(self, method: str, path: str, query: dict[str, Any], body: Any,
              headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        raise NotImplementedError


def money(amount: int, currency: str = "EUR") -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


def square_order(
    order_id: str, *, customer_id: str | None, location_id: str, updated_at: str, lines: int = 3,
    unit_amount: int = 10000, state: str = "COMPLETED", currency: str = "EUR", created_at: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An order as Square's Orders API returns it (RetrieveOrderResponse.json's shape), `lines` lines of 1 item."""
    line_items = [
        {
            "uid": f"{order_id}-{number}",
            "catalog_object_id": f"SKU-{number:03d}",
            "name": f"Article {number}",
            "quantity": "1",
            "base_price_money": money(unit_amount, currency),
            "total_money": money(unit_amount, currency),
        }
        for number in range(1, lines + 1)
    ]
    order = {
        "id": order_id,
        "location_id": location_id,
        "state": state,
        "created_at": created_at or updated_at,
        "updated_at": updated_at,
        "line_items": line_items,
        "total_money": money(unit_amount * lines, currency),
        "version": 1,
    }
    if customer_id is not None:
        order["customer_id"] = customer_id
    order.update(extra)
    return order


class FakePos(FakeServer):
    """Square's SearchOrders, BatchRetrieveOrders and BulkRetrieveCustomers, and the house's visits list.

    Orders are kept sorted by (updated_at, id); SearchOrders' start_at is inclusive, as Square's is; its cursor is
    an offset into that order, as opaque to the client as Square's.
    """

    def __init__(self) -> None:
        super().__init__()
        self.orders: list[tuple[str, str, dict[str, Any]]] = []  # (updated_at, id, order), sorted
        self.visits: list[dict[str, Any]] = []
        self.customers: dict[str, dict[str, Any]] = {}
        # Ids the POS answers 400 for, failing the whole batch that names one (as Square does for a malformed id).
        self.refused_ids: set[str] = set()

    def add_order(self, order: dict[str, Any]) -> None:
        with self._lock:
            self.orders = [row for row in self.orders if row[1] != order["id"]]
            bisect.insort(self.orders, (order["updated_at"], order["id"], order), key=lambda row: row[:2])

    def add_orders(self, orders: list[dict[str, Any]]) -> None:
        """Many new orders at once (ids not held yet), sorted once."""
        with self._lock:
            self.orders.extend((order["updated_at"], order["id"], order) for order in orders)
            self.orders.sort(key=lambda row: row[:2])

    def add_customer(self, customer_id: str, **fields: Any) -> None:
        self.customers[customer_id] = {"id": customer_id, **fields}

    def route(self, method: str, path: str, query: dict[str, Any], body: Any,
              headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        if not headers.get("Authorization", "").startswith("Bearer "):
            return 401, {"errors": [{"code": "UNAUTHORIZED"}]}, {}
        if (method, path) == ("POST", "/v2/orders/search"):
            return self._search(body)
        named = set(body.get("order_ids", []) or body.get("customer_ids", [])) if isinstance(body, dict) else set()
        if path in ("/v2/orders/batch-retrieve", "/v2/customers/bulk-retrieve") and named & self.refused_ids:
            return 400, {"errors": [{"code": "INVALID_VALUE", "detail": "malformed id"}]}, {}
        if (method, path) == ("POST", "/v2/orders/batch-retrieve"):
            wanted = set(body.get("order_ids", []))
            with self._lock:
                found = [order for _, order_id, order in self.orders if order_id in wanted]
            return 200, {"orders": found} if found else {}, {}
        if (method, path) == ("POST", "/v2/customers/bulk-retrieve"):
            responses = {customer_id: ({"customer": self.customers[customer_id]} if customer_id in self.customers
                                       else {"errors": [{"code": "NOT_FOUND"}]})
                         for customer_id in body.get("customer_ids", [])}
            return 200, {"responses": responses}, {}
        if (method, path) == ("GET", "/v2/visits"):
            return self._visits(query)
        return 404, {"errors": [{"code": "NOT_FOUND"}]}, {}

    def _search(self, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        limit = int(body.get("limit", 500))
        locations = set(body.get("location_ids", []))
        start_at = (body.get("query", {}).get("filter", {}).get("date_time_filter", {}).get("updated_at", {})
                    .get("start_at"))
        with self._lock:
            first = bisect.bisect_left(self.orders, (start_at, ""), key=lambda row: row[:2]) if start_at else 0
            offset = int(body["cursor"]) if body.get("cursor") else first
            selected, position = [], offset
            while position < len(self.orders) and len(selected) < limit:
                order = self.orders[position][2]
                if order["location_id"] in locations:
                    selected.append(order)
                position += 1
        answer: dict[str, Any] = {"orders": selected} if selected else {}
        if position < len(self.orders):
            answer["cursor"] = str(position)
        return 200, answer, {}

    def _visits(self, query: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        limit = int(query.get("limit", 100))
        rows = sorted((visit for visit in self.visits if visit["location_id"] == query.get("location_id")
                       and visit["visited_at"] >= query.get("begin_time", "")),
                      key=lambda visit: (visit["visited_at"], visit["id"]))
        offset = int(query.get("cursor") or 0)
        answer: dict[str, Any] = {"visits": rows[offset:offset + limit]}
        if offset + limit < len(rows):
            answer["cursor"] = str(offset + limit)
        return 200, answer, {}


class FakeCrm(FakeServer):
    """The house CRM: clients listed since a timestamp (inclusive) by pages, and PATCHed one at a time."""

    def __init__(self) -> None:
        super().__init__()
        self.clients: dict[str, dict[str, Any]] = {}
        self.patches: list[tuple[str, dict[str, Any], str]] = []  # (client id, fields, Idempotency-Key)
        self.refused: dict[str, int] = {}  # client id → status its PATCH gets

    def put_client(self, client_id: str, **fields: Any) -> None:
        self.clients[client_id] = {"id": client_id, **fields}

    def _route_key(self, route: str) -> str:
        return "PATCH /api/clients/{id}" if route.startswith("PATCH /api/clients/") else route

    def route(self, method: str, path: str, query: dict[str, Any], body: Any,
              headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        if headers.get("Authorization") != "Bearer crm-token":
            return 401, {"error": "unauthorized"}, {}
        if (method, path) == ("GET", "/api/clients"):
            since = query.get("updated_since", "")
            rows = sorted((client for client in self.clients.values() if client["updated_at"] >= since),
                          key=lambda client: (client["updated_at"], client["id"]))
            limit, offset = int(query.get("limit", 100)), int(query.get("cursor") or 0)
            more = offset + limit < len(rows)
            page = {"clients": rows[offset:offset + limit], "next_cursor": str(offset + limit) if more else None}
            return 200, page, {}
        if method == "PATCH" and path.startswith("/api/clients/"):
            client_id = unquote(path.rsplit("/", 1)[1])
            if client_id in self.refused:
                return self.refused[client_id], {"error": f"client {client_id} is locked for edits"}, {}
            if client_id not in self.clients:
                return 404, {"error": "no such client"}, {}
            self.patches.append((client_id, body["fields"], headers.get("Idempotency-Key", "")))
            self.clients[client_id].update(body["fields"])
            return 200, {"id": client_id, "status": "accepted"}, {}
        return 404, {"error": "not found"}, {}
