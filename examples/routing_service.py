"""A small HTTP service that routes requests with an abkit router and records their outcomes.

Standard library only (``http.server.ThreadingHTTPServer``, HTTP/1.1 keep-alive). Endpoints:

- ``GET /route?unit_id=U``: the unit's route as JSON (``variant``, ``variant_index``,
  ``propensity``, ``experiment``, ``in_experiment``, ``shadows``).
- ``POST /record`` with a JSON body ``{"unit_id": U, "outcome": X}`` (optionally ``"variant"``):
  records the outcome; ``204 No Content``.
- ``GET /summary``: per-variant statistics (``Stats.to_dict()``) as JSON.
- ``GET /state``: the router's JSON state (what ``FixedSplitRouter.from_json`` reads back).
- With a ``bandit`` router (:class:`abkit.adapters.BanditRouter`): ``GET /bandit?unit_id=R``
  routes request ``R`` by the bandit policy (the route's ``propensity`` is the exact probability
  of that choice) and ``POST /bandit/record`` with ``{"unit_id": R, "outcome": reward}`` gives the
  reward to the arm that served it (``400`` when ``R`` has no pending decision).

Bad requests get ``400`` with ``{"error": message}``; the router's state is unchanged.

Run it with ``python examples/routing_service.py --port 8000`` and try
``curl 'http://127.0.0.1:8000/route?unit_id=user-1'``.
"""

from __future__ import annotations

import argparse
import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from abkit.adapters import BanditRouter, FixedSplitRouter

__all__ = ["make_server", "serve_in_thread"]


def _handler_for(router: FixedSplitRouter, bandit: BanditRouter | None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: every response carries Content-Length
        # Headers and body leave in one write (flushed after each request), without Nagle's
        # delay: small keep-alive responses otherwise stall on delayed ACKs.
        wbufsize = -1
        disable_nagle_algorithm = True

        def _send(self, status: int, body: Any = None, text: str | None = None) -> None:
            payload = b"" if body is None and text is None else (text or json.dumps(body)).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if payload:
                self.wfile.write(payload)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            try:
                if parts.path == "/route":
                    unit_id = parse_qs(parts.query).get("unit_id", [""])[0]
                    self._send(HTTPStatus.OK, router.route(unit_id).to_dict())
                elif parts.path == "/bandit" and bandit is not None:
                    unit_id = parse_qs(parts.query).get("unit_id", [""])[0]
                    self._send(HTTPStatus.OK, bandit.route(unit_id).to_dict())
                elif parts.path == "/summary":
                    self._send(HTTPStatus.OK, {k: s.to_dict() for k, s in router.summary().items()})
                elif parts.path == "/state":
                    self._send(HTTPStatus.OK, text=router.to_json())
                else:
                    self._send(HTTPStatus.NOT_FOUND, {"error": f"no such path {parts.path!r}"})
            except (TypeError, ValueError) as exc:
                self._send(HTTPStatus.BAD_REQUEST, {"error": str(exc)})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            raw = self.rfile.read(length)
            path = urlsplit(self.path).path
            if path != "/record" and (path != "/bandit/record" or bandit is None):
                self._send(HTTPStatus.NOT_FOUND, {"error": f"no such path {self.path!r}"})
                return
            try:
                body = json.loads(raw)
                if not isinstance(body, dict):
                    raise TypeError(f"the body must be a JSON object; got {body!r}")
                if path == "/record":
                    router.record(body.get("unit_id"), body.get("outcome"), variant=body.get("variant"))
                elif bandit is not None:
                    bandit.record(body.get("unit_id"), body.get("outcome"))
            except (TypeError, ValueError) as exc:
                self._send(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
                return
            self._send(HTTPStatus.NO_CONTENT)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: a router's access log belongs to its gateway."""

    return Handler


def make_server(router: FixedSplitRouter, host: str = "127.0.0.1", port: int = 0, *,
                bandit: BanditRouter | None = None) -> ThreadingHTTPServer:
    """A threading HTTP server around ``router`` and optionally ``bandit`` (``port=0``: a free port)."""
    server = ThreadingHTTPServer((host, port), _handler_for(router, bandit))
    server.daemon_threads = True
    return server


def serve_in_thread(router: FixedSplitRouter, host: str = "127.0.0.1", port: int = 0, *,
                    bandit: BanditRouter | None = None) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """Start the service in a daemon thread; stop it with ``server.shutdown(); server.server_close()``."""
    server = make_server(router, host, port, bandit=bandit)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, thread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--experiment", default="checkout-button")
    args = parser.parse_args()
    server = make_server(FixedSplitRouter(args.experiment), port=args.port)
    print(f"serving {args.experiment} on http://127.0.0.1:{server.server_address[1]}")
    server.serve_forever()


if __name__ == "__main__":
    main()
