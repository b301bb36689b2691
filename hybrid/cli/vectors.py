"""`hybrid encode` and `hybrid status`: computing vectors and showing how far they are."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

from hybrid.errors import HybridError


def add_parsers(sub: Any, open_existing: Any, table: Any) -> None:
    en = sub.add_parser("encode", help="compute the vectors that are missing or out of date")
    en.add_argument("--field", action="append", help="only this vector field (repeatable)")
    en.add_argument("--no-progress", action="store_true")
    en.add_argument("--recompute-vectors", action="store_true",
                    help="also compute the vectors that were supplied, replacing them")
    en.set_defaults(run=lambda a: cmd_encode(a, open_existing))
    st = sub.add_parser("status", help="vector fields per product: done, pending, failed")
    st.add_argument("--id", help="one product's fields")
    st.add_argument("--json", action="store_true")
    st.set_defaults(run=lambda a: cmd_status(a, open_existing, table))


def fill_vectors(index: str, engine: Any, docs: Sequence[Mapping[str, Any]],
                 fields: Sequence[str] | None = None, quiet: bool = False,
                 recompute: bool = False) -> dict[str, Any]:
    """Plan and run (or enqueue, with REDIS_URL) the vector jobs of `docs`; supplied
    vectors are kept unless `recompute`."""
    from tqdm import tqdm

    from hybrid.ingest.plan import DEFAULT_SPECS
    from hybrid.ingest.runner import dispatcher, plan_all

    specs = [s for s in DEFAULT_SPECS if not fields or s.field in fields]
    unknown = set(fields or ()) - {s.field for s in DEFAULT_SPECS}
    if unknown:
        raise HybridError(f"unknown vector field(s) {', '.join(sorted(unknown))}")
    jobs = plan_all(engine, docs, specs, recompute=recompute)
    bars = {f: tqdm(total=len(js), desc=f, unit=" items", disable=quiet or None, file=sys.stderr)
            for f, js in jobs.items() if js}
    run = dispatcher(index, progress=lambda f, n: bars[f].update(n) if f in bars else None)
    start = time.perf_counter()
    try:
        run.submit_all({field: js for field, js in jobs.items() if js})
    except Exception as e:  # the broker went away: what was not enqueued stays pending
        if type(e).__module__.split(".")[0] not in ("kombu", "redis", "celery"):
            raise
        raise HybridError(f"could not enqueue every vector job ({e}); the rest stay pending: "
                          "run 'hybrid encode' when the broker is back") from e
    finally:
        for b in bars.values():
            b.close()
    return {"mode": run.name, "seconds": round(time.perf_counter() - start, 1),
            "planned": {f: len(js) for f, js in jobs.items()}, "results": run.totals}


def print_fill(summary: Mapping[str, Any]) -> None:
    for field, n in summary["planned"].items():
        got = summary["results"].get(field, {})
        done = ", ".join(f"{k} {v:,}" for k, v in got.items()) or "nothing to do"
        print(f"  {field}: {n:,} planned; {done}")
    if summary["mode"] == "celery":
        print("  vectors are computed by the workers; follow them with 'hybrid status'")


def cmd_encode(args: argparse.Namespace, open_existing: Any) -> int:
    with open_existing(args) as engine:
        docs = list(engine.scan())
        summary = fill_vectors(args.index, engine, docs, args.field, args.no_progress,
                               args.recompute_vectors)
    print(f"vectors for {len(docs):,} products ({summary['mode']}, {summary['seconds']} s):")
    print_fill(summary)
    return 0


def cmd_status(args: argparse.Namespace, open_existing: Any, table: Any) -> int:
    from hybrid.engines.base import SUPPLIED
    from hybrid.ingest.runner import status

    with open_existing(args) as engine:
        if args.id:
            doc = engine.get(args.id)
            if doc is None:
                raise HybridError(f"no product with id {args.id!r}")
            docs = [doc]
        else:
            docs = list(engine.scan())
        result = status(engine, docs)
        if args.id:
            result = {f: {"state": next((k for k in ("done", "pending", "failed", "none")
                                         if v.get(k)), "unavailable"),
                          **engine.vector_info(f, [args.id]).get(args.id, {})}
                      for f, v in result.items()}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    if args.id:
        for field, v in result.items():
            reason = (f" ({v['error']})" if v.get("error") else
                      " (supplied)" if v.get("model") == SUPPLIED else "")
            print(f"{field}: {v['state']}{reason}")
        return 0
    rows = [[f, *(f"{v.get(k, 0):,}" for k in ("done", "pending", "failed", "none")),
             v.get("encoder", v.get("unavailable", ""))[:60]] for f, v in result.items()]
    print(f"{len(docs):,} products")
    print(table(["vector field", "done", "pending", "failed", "no input", "encoder"], rows))
    for field, v in result.items():
        for f in v.get("failures", [])[:5]:
            print(f"  {field} failed for {f['id']}: {f['reason']}")
    return 0
