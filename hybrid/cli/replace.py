"""`hybrid import` and `hybrid shadow report`: bringing in a catalog from a shop's existing
OpenSearch index (or an export file), and reporting how hybrid compares with the old
search on shadow traffic and on judgments."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hybrid.errors import HybridError

SAMPLE_ROWS = 200  # rows of an export file that its field types are guessed from


def add_parsers(sub: Any, ingest: Callable[[argparse.Namespace, Iterator[Any], Any], int],
                open_existing: Callable[[argparse.Namespace], Any]) -> None:
    im = sub.add_parser("import", help="bring in a catalog from an existing OpenSearch index "
                        "(or an export file): propose a field map, then import with it")
    src = im.add_mutually_exclusive_group(required=True)
    src.add_argument("--from-index", metavar="NAME", help="the existing OpenSearch index")
    src.add_argument("--from-file", type=Path, metavar="FILE",
                     help="a catalog export (JSONL, CSV, TSV or Parquet)")
    where = im.add_mutually_exclusive_group()
    where.add_argument("--connection", default="default", help="named connection (default: "
                       "OPENSEARCH_URL and its credentials; N: HYBRID_CONNECTION_<N>_URL ...)")
    where.add_argument("--url", help="the cluster's URL (credentials from the environment of "
                       "the default connection when it is OPENSEARCH_URL)")
    im.add_argument("--field-map", type=Path, help="the (edited) field map; without it the "
                    "proposed map is printed and nothing is imported")
    im.add_argument("--mapping", type=Path, help="hybrid's index mapping (default "
                    "mappings/products.json)")
    im.add_argument("--format", choices=["jsonl", "csv", "tsv", "parquet"])
    im.add_argument("--batch-size", type=int, default=500)
    im.add_argument("--scroll", action="store_true", help="read the index with a scroll "
                    "rather than a point in time (used anyway where PIT is unavailable)")
    im.add_argument("--rejects", type=Path, help="write every rejected row here as JSONL")
    im.add_argument("--no-progress", action="store_true")
    im.add_argument("--no-vectors", action="store_true",
                    help="lexical only; compute vectors later with 'hybrid encode'")
    im.set_defaults(run=lambda a: cmd_import(a, ingest), recompute_vectors=False)

    sh = sub.add_parser("shadow", help="shadow traffic: report on the log hybrid serve writes")
    shsub = sh.add_subparsers(required=True, metavar="ACTION")
    rep = shsub.add_parser("report", help="aggregate a shadow log (and judged runs) into a "
                           "Markdown or HTML report")
    rep.add_argument("log", type=Path, nargs="?",
                     help="the shadow log (default <index>/shadow/shadow.jsonl)")
    rep.add_argument("--report", type=Path, required=True, help="FILE.md or FILE.html")
    rep.add_argument("--top", type=int, default=10, help="queries that differ most, shown")
    rep.add_argument("--profile", action="append", default=[], metavar="NAME[@V]",
                     help="also score these profiles on judgments (the first is the "
                     "baseline, e.g. the old search), with paired tests")
    rep.add_argument("--data", type=Path, default=Path("../shared/data/dev"))
    rep.add_argument("--task", action="append", default=[])
    rep.add_argument("--qrels", type=Path)
    rep.add_argument("--cache", type=Path, default=Path("var/cache/eval"))
    rep.add_argument("--json", action="store_true", help="print the aggregate as JSON")
    rep.set_defaults(run=lambda a: cmd_shadow_report(a, open_existing))


def _client(args: argparse.Namespace) -> Any:
    from hybrid.planner.template import TemplateSpec
    from hybrid.search.template import TemplateRunner, client_for, connection_options

    if args.url:
        spec = TemplateSpec(index=args.from_index, id="-", url=args.url)
        return client_for(TemplateRunner().options(spec))
    return client_for(connection_options(args.connection))


def cmd_import(args: argparse.Namespace, ingest: Callable[..., int]) -> int:
    from hybrid.catalog import FieldMapping, LoadReport, iter_rows
    from hybrid.catalog.source import field_types, propose, read_index, sample_types
    from hybrid.cli.main import read_catalog

    if args.batch_size < 1:
        raise HybridError("--batch-size must be at least 1")
    client = None
    if args.from_index:
        client = _client(args)
        try:
            found = client.indices.get_mapping(index=args.from_index)
        except Exception as e:  # opensearch-py: not found, refused, unreachable
            raise HybridError(f"cannot read the mapping of {args.from_index}: {e}") from e
        types: dict[str, str] = {}
        for body in found.values():  # an alias may stand for several indices
            types |= field_types(body.get("mappings", {}))
    else:
        from itertools import islice

        from hybrid.catalog.loaders import read_rows

        types = sample_types(list(islice(read_rows(args.from_file, args.format), SAMPLE_ROWS)))
    if not args.field_map:
        print(json.dumps(propose(types).to_dict(), indent=2, ensure_ascii=False))
        print("hybrid: edit this field map, save it, and import with --field-map FILE",
              file=sys.stderr)
        return 0
    mapping = FieldMapping.load(args.field_map)
    report = LoadReport()
    if client is not None:
        products = iter_rows(read_index(client, args.from_index, args.batch_size,
                                        args.scroll), mapping, report)
    else:
        return ingest(args, *read_catalog(args.from_file, mapping, report, args.format))
    return ingest(args, products, report)


def cmd_shadow_report(args: argparse.Namespace, open_existing: Callable[..., Any]) -> int:
    from hybrid.engines import index_exists, state_dir
    from hybrid.evaluation import shadow_report
    from hybrid.evaluation.report import report_path

    report_path(args.report)  # a wrong suffix is said before any work
    log = args.log or state_dir(args.index) / "shadow" / "shadow.jsonl"
    summary = shadow_report.summarize(shadow_report.read_log(log), top=args.top)
    titles: dict[str, str] = {}
    judged = None
    if index_exists(args.index):
        ids = {d for e in summary["shadows"].values() for w in e["worst"]
               for d in [*w["served"], *w["shadow"]]}
        with open_existing(args) as engine:
            titles = {d: str(doc.get("title", "")) for d, doc in
                      engine.get_many(sorted(ids)).items()}
    if args.profile:
        from hybrid.cli.evaluate import evaluate_profiles, table

        judged = evaluate_profiles(argparse.Namespace(**vars(args) | {
            "signals": False, "baseline": None}), open_existing)
        print(table(judged))
    for path in shadow_report.write(shadow_report.blocks(summary, str(log), titles, judged),
                                    args.report):
        print(f"wrote {path}", file=sys.stderr)
    if args.json:
        print(json.dumps({"requests": summary["requests"], "served": summary["served"],
                          "served_ms": summary["served_ms"],
                          "shadows": {n: e["summary"] | {"requests": e["requests"],
                                                         "errors": e["errors"]}
                                      for n, e in summary["shadows"].items()}}, indent=2))
    else:
        for name, e in summary["shadows"].items():
            s = e["summary"]
            print(f"{name}: {e['requests']} requests, mean overlap@k {_f(s['mean_overlap'])}, "
                  f"mean RBO {_f(s['mean_rbo'])}, zero results {_f(s['served_zero_rate'])} "
                  f"served -> {_f(s['zero_rate'])} shadow")
    return 0


def _f(x: Any) -> str:
    return "–" if x is None else f"{x:.3f}"
