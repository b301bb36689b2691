"""`hybrid search`: the product's search from the command line. By default it runs the
hybrid profile through the same planner and Searcher as the API (text, `--image`,
`--audio`, fused; `--explain` shows each signal's contribution); `--lexical` runs BM25
alone on the engine."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from hybrid.errors import HybridError


def add_parser(sub: Any, open_existing: Any, table: Any) -> None:
    se = sub.add_parser("search", help="search the index: hybrid (text, image, audio) "
                        "or BM25 alone (--lexical)")
    se.add_argument("text", nargs="?", default="")
    se.add_argument("--image", type=Path, metavar="PATH", help="a photo to search with")
    se.add_argument("--audio", type=Path, metavar="PATH", help="a spoken query (WAV, MP3, ...)")
    se.add_argument("--profile", metavar="NAME[@VERSION]",
                    help="fusion profile (default: default, its latest version)")
    se.add_argument("--explain", action="store_true",
                    help="show each signal's contribution to every hit's score")
    se.add_argument("--lexical", action="store_true", help="BM25 alone, no vectors")
    se.add_argument("--filter", action="append", default=[], metavar="EXPR",
                    help="brand=Nike, colour=Red,Blue, price>=10, price<50, brand!=X, price?")
    se.add_argument("--facet", action="append", default=[], metavar="SPEC",
                    help="brand, colour:20 (top 20), price=0-50,50-100,100-")
    se.add_argument("--fields", help="--lexical: fields and boosts, e.g. title=3,description=1")
    se.add_argument("--size", type=int, default=10)
    se.add_argument("--offset", type=int, default=0,
                    help="skip this many hits (hybrid: a multiple of --size)")
    se.add_argument("--json", action="store_true", help="print the result as JSON")
    se.set_defaults(run=lambda a: cmd_search(a, open_existing, table))


def cmd_search(args: argparse.Namespace, open_existing: Any, table: Any) -> int:
    if args.size < 1 or args.offset < 0:
        raise HybridError("--size must be at least 1 and --offset at least 0")
    if args.lexical:
        if args.image or args.audio or args.profile or args.explain:
            raise HybridError("--lexical searches text with BM25 alone; it takes no "
                              "--image, --audio, --profile or --explain")
        return _lexical(args, open_existing, table)
    if args.fields:
        raise HybridError("--fields applies to --lexical; a profile sets the hybrid fields")
    if args.offset % args.size:
        raise HybridError("--offset must be a multiple of --size (pages of the fused ranking)")
    return _hybrid(args, open_existing, table)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise HybridError(f"cannot read --{what} {path}: {e.strerror or e}") from e


def _hybrid(args: argparse.Namespace, open_existing: Any, table: Any) -> int:
    from hybrid.engines import filters, state_dir
    from hybrid.planner.plan import parse_request
    from hybrid.search.inputs import Limits, decode_audio, decode_image
    from hybrid.search.profiles import ProfileStore
    from hybrid.search.searcher import Searcher

    limits = Limits()
    image = decode_image(_read(args.image, "image"), limits, str(args.image)) \
        if args.image else None
    audio = decode_audio(_read(args.audio, "audio"), limits, str(args.audio)) \
        if args.audio else None
    with open_existing(args) as engine:
        schema = engine.schema
        data: dict[str, Any] = {"q": args.text, "size": args.size,
                                "page": args.offset // args.size + 1,
                                "filter": filters.parse_cli(args.filter, schema),
                                "facets": filters.parse_cli_facets(args.facet, schema),
                                "explain": args.explain}
        if args.profile:
            data["profile"] = args.profile
        req = parse_request(data, schema, image=image is not None, audio=audio is not None)
        profile = ProfileStore(state_dir(args.index) / "profiles").resolve(
            req.profile or "default")
        searcher = Searcher(engine)
        try:
            result = searcher.search(req, profile, image=image, audio=audio)
        finally:
            searcher.pool.shutdown()
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    what = " + ".join(x for x in (repr(args.text) if args.text else "",
                                  f"image {args.image.name}" if args.image else "",
                                  f"audio {args.audio.name}" if args.audio else "") if x)
    p = result["profile"]
    print(f"{result['total']:,} hit{'s' if result['total'] != 1 else ''} for {what or 'all'} "
          f"(profile {p['name']}@{p['version']}, {result['took_ms']['total']:.0f} ms)")
    if result["transcript"] is not None:
        print(f"heard: {result['transcript']!r}")
    print("signals: " + ", ".join(f"{s['name']} (weight {s['weight']:.2f}, {s['hits']} hits)"
                                  for s in result["signals"]))
    for name, why in result["skipped"].items():
        print(f"skipped {name}: {why}")
    names = [s["name"] for s in result["signals"]] if args.explain else []
    rows = []
    for i, h in enumerate(result["hits"]):
        f = h["fields"]
        row = [str(args.offset + i + 1), f"{h['score']:.3f}", h["id"],
               _cut(f.get("title", ""), 44), _cut(" > ".join(f.get("category", [])), 28),
               _price(f)]
        row += [_contribution(h.get("explain", {}).get(n)) for n in names]
        rows.append(row)
    print(table(["#", "score", "id", "title", "category", "price", *names], rows))
    _print_facets(result["facets"])
    return 0


def _contribution(part: dict[str, Any] | None) -> str:
    if part is None or part.get("missing"):
        return "-"
    return f"{part['contribution']:.3f} (#{part['rank']})"


def _lexical(args: argparse.Namespace, open_existing: Any, table: Any) -> int:
    from hybrid.engines import filters

    with open_existing(args) as engine:
        flt = filters.parse_cli(args.filter, engine.schema)
        facets = filters.parse_cli_facets(args.facet, engine.schema)
        start = time.perf_counter()
        res = engine.lexical_search(args.text, fields=_fields(args.fields), filter=flt,
                                    facets=facets, size=args.size, offset=args.offset)
        took = (time.perf_counter() - start) * 1000
    if args.json:
        print(json.dumps({"total": res.total, "took_ms": round(took, 3), "facets": res.facets,
                          "hits": [{"id": h.id, "score": h.score, "source": h.source}
                                   for h in res.hits]}, ensure_ascii=False, indent=2))
        return 0
    print(f"{res.total:,} match{'es' if res.total != 1 else ''} for {args.text!r} "
          f"(BM25, {took:.1f} ms)")
    rows = [[str(args.offset + i + 1), f"{h.score:.3f}", h.id, _cut(h.source.get("title", ""), 48),
             _cut(" > ".join(h.source.get("category", [])), 32), _price(h.source)]
            for i, h in enumerate(res.hits)]
    print(table(["#", "score", "id", "title", "category", "price"], rows))
    _print_facets(res.facets)
    return 0


def _print_facets(facets: dict[str, Any]) -> None:
    for name, buckets in facets.items():
        shown = ", ".join(f"{b['key']} ({b['count']})" for b in buckets) or "-"
        print(f"{name}: {shown}")


def _fields(spec: str | None) -> dict[str, float] | None:
    if not spec:
        return None
    out = {}
    for part in spec.split(","):
        name, _, boost = part.partition("=")
        try:
            out[name.strip()] = float(boost) if boost else 1.0
        except ValueError as e:
            raise HybridError(f"--fields: {part!r} should look like title=3") from e
    return out


def _price(src: dict[str, Any]) -> str:
    price = src.get("price")
    return "" if price is None else f"{price:,.2f} {src.get('currency', '')}".strip()


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
