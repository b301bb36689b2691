"""`hybrid serve`: the search API under gunicorn."""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from typing import Any

from hybrid.errors import HybridError


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("serve", help="serve the search API over HTTP (gunicorn)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=2, help="processes (default %(default)s)")
    p.add_argument("--threads", type=int, default=4, help="threads per process")
    p.add_argument("--timeout", type=int, default=120, help="seconds before a stuck "
                   "worker is restarted")
    p.add_argument("--example", default="women black handbags",
                   help="the query the start-up banner suggests")
    p.add_argument("--no-warm", action="store_true",
                   help="load encoders on first use instead of at start")
    p.set_defaults(run=cmd_serve)
    return p


def cmd_serve(args: argparse.Namespace) -> int:

    os.environ["HYBRID_INDEX"] = str(args.index)
    if args.no_warm:
        os.environ["HYBRID_WARM"] = "false"
    # before any worker imports prometheus_client: every worker writes its metrics here
    prom = tempfile.mkdtemp(prefix="hybrid-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = prom
    # prometheus_client picks its multiprocess mode when first imported: only after this
    try:
        import flask  # noqa: F401
        import prometheus_client  # noqa: F401
        from gunicorn.app.base import BaseApplication
    except ImportError as e:
        shutil.rmtree(prom, ignore_errors=True)
        raise HybridError(f"hybrid serve needs the API extra: pip install 'hybrid[api]' ({e})"
                          ) from e

    _answer_problems()

    class Server(BaseApplication):
        def load_config(self) -> None:
            settings = {"bind": f"{args.host}:{args.port}", "workers": args.workers,
                        "threads": args.threads, "worker_class": "gthread",
                        "timeout": args.timeout, "graceful_timeout": 10,
                        # the longest request line gunicorn takes: a long GET query reaches
                        # the app, which answers with its own limits
                        "limit_request_line": MAX_REQUEST_LINE,
                        "accesslog": "-", "child_exit": _child_exit,
                        "when_ready": lambda server: print(_banner(args), flush=True)}
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            from hybrid.api import create_app

            return create_app()

    try:
        Server().run()
    finally:
        shutil.rmtree(prom, ignore_errors=True)
    return 0


MAX_REQUEST_LINE = 8190  # bytes; gunicorn's maximum


def _answer_problems() -> None:
    """Make gunicorn's own error answers (a request line over MAX_REQUEST_LINE: 414;
    headers too large: 431; a malformed request: 400) problem details like the app's,
    instead of HTML. gunicorn has no hook for their body: its workers call
    `gunicorn.util.write_error`, which is replaced here, before the workers fork."""
    import json
    import re

    from gunicorn import util

    def write_problem(sock: Any, status: int, reason: str, mesg: str) -> None:
        detail = mesg or reason
        if status == 414:
            detail = (f"the request line is over {MAX_REQUEST_LINE} bytes ({mesg}); send "
                      "long queries by POST /search with a JSON body")
        kind = re.sub(r"[^a-z]+", "-", reason.lower()).strip("-")
        body = json.dumps({"type": f"/problems/{kind}", "title": reason, "status": status,
                           "detail": detail}).encode()
        head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
                f"Content-Type: application/problem+json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1")
        util.write_nonblock(sock, head + body)

    util.write_error = write_problem


def _banner(args: argparse.Namespace) -> str:
    from urllib.parse import quote_plus

    url = f"http://{args.host}:{args.port}"
    return (f"\nhybrid: serving {args.index} at {url} ({args.workers} workers; Ctrl-C stops)\n"
            f"  try:  curl '{url}/search?q={quote_plus(args.example)}&size=5&explain=true'\n"
            f"        curl -F image=@photo.jpg -F size=5 {url}/search\n"
            f"  API:  {url}/openapi.json   health: {url}/readyz   metrics: {url}/metrics\n"
            f"  inspector:  {url}/\n")


def _child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
