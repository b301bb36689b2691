"""`hybrid similar ID`: the products most like one product of the index, under the
similar-products profile (`hybrid.search.similar`)."""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(sub: Any, open_existing: Any, table: Any) -> None:
    p = sub.add_parser("similar", help="products like a given one (its image, text and "
                       "fused vectors as the query)")
    p.add_argument("id", help="product id")
    p.add_argument("--profile", default="similar", metavar="NAME[@V]",
                   help="profile (default %(default)s, built in)")
    p.add_argument("--filter", action="append", default=[], metavar="EXPR",
                   help="brand=Nike, colour=Red,Blue, price>=10, price<50, brand!=X, price?")
    p.add_argument("--facet", action="append", default=[], metavar="SPEC",
                   help="brand, colour:20 (top 20), price=0-50,50-100,100-")
    p.add_argument("--size", type=int, default=10)
    p.add_argument("--page", type=int, default=1)
    p.add_argument("--explain", action="store_true", help="per-signal scores of each hit")
    p.add_argument("--json", action="store_true", help="print the response as JSON")
    p.set_defaults(run=lambda a: cmd_similar(a, open_existing, table))


def cmd_similar(args: argparse.Namespace, open_existing: Any, table: Any) -> int:
    from hybrid.engines import filters, state_dir
    from hybrid.planner.plan import parse_request
    from hybrid.search.profiles import ProfileStore
    from hybrid.search.searcher import Searcher
    from hybrid.search.similar import similar

    with open_existing(args) as engine:
        flt = filters.parse_cli(args.filter, engine.schema)
        facets = filters.parse_cli_facets(args.facet, engine.schema)
        req = parse_request({"filter": flt, "facets": facets, "size": args.size,
                             "page": args.page, "explain": args.explain,
                             "profile": args.profile}, engine.schema)
        profile = ProfileStore(state_dir(args.index) / "profiles").resolve(args.profile)
        searcher = Searcher(engine)
        try:
            res = similar(searcher, args.id, req, profile)
        finally:
            searcher.pool.shutdown()
    if args.json:
        print(json.dumps(res, ensure_ascii=False, indent=2))
        return 0
    print(f"{res['total']:,} products like {args.id!r} ({res['took_ms']['total']:.1f} ms; "
          f"signals {', '.join(s['name'] for s in res['signals'])})")
    for name, why in res["skipped"].items():
        print(f"skipped {name}: {why}")
    rows = [[str((args.page - 1) * args.size + i + 1), f"{h['score']:.3f}", h["id"],
             _cut(str(h["fields"].get("title", "")), 48)] for i, h in enumerate(res["hits"])]
    print(table(["#", "score", "id", "title"], rows))
    for facet, buckets in res["facets"].items():
        print(f"{facet}: " + (", ".join(f"{b['key']} ({b['count']})" for b in buckets) or "-"))
    return 0


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
