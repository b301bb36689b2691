"""The hybrid command: index a catalog, search it, serve the API, evaluate and learn fusion.

A thin shell: it reads arguments, calls the catalog loaders and the engine, and prints.
Errors are one line on stderr and exit status 2 (bad input) or 1 (anything else).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from itertools import islice
from pathlib import Path
from typing import Any

from hybrid.errors import HybridError

DEFAULT_INDEX = "var/index"
DEFAULT_ALIAS = "products"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        from hybrid.engines import OPENSEARCH_PREFIX, locate

        if args.index is None:
            opensearch = (args.engine or os.environ.get("HYBRID_ENGINE")) == "opensearch"
            args.index = DEFAULT_ALIAS if opensearch else DEFAULT_INDEX
        args.index = locate(args.index, args.engine)  # a folder, or opensearch:<alias>
        args.opensearch = args.index.startswith(OPENSEARCH_PREFIX)
        result: int = args.run(args)
        return result
    except HybridError as e:
        print(f"hybrid: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hybrid: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (hybrid search --json | head): no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the exit's flush
        return 141  # 128 + SIGPIPE, as a shell reports a command its pipe ended


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hybrid", description=__doc__.splitlines()[0])
    p.add_argument("--index", default=os.environ.get("HYBRID_INDEX"),
                   help=f"index folder, or the index alias on OpenSearch (env HYBRID_INDEX; "
                        f"default {DEFAULT_INDEX}, on OpenSearch {DEFAULT_ALIAS})")
    p.add_argument("--engine", choices=["embedded", "opensearch"],
                   help="index engine (env HYBRID_ENGINE; default embedded). OpenSearch is "
                        "reached at OPENSEARCH_URL")
    sub = p.add_subparsers(required=True, metavar="COMMAND")

    ix = sub.add_parser("index", help="ingest a catalog file (JSONL, CSV or Parquet)")
    ix.add_argument("catalog", type=Path)
    ix.add_argument("--mapping", type=Path,
                    help="index mapping JSON (default mappings/products.json)")
    ix.add_argument("--field-map", type=Path, help="catalog column mapping JSON")
    ix.add_argument("--format", choices=["jsonl", "csv", "tsv", "parquet"])
    ix.add_argument("--batch-size", type=int, default=2000)
    ix.add_argument("--fresh", action="store_true", help="delete the index folder first")
    ix.add_argument("--rejects", type=Path, help="write every rejected row here as JSONL")
    ix.add_argument("--no-progress", action="store_true")
    ix.add_argument("--no-vectors", action="store_true",
                    help="lexical only; compute vectors later with 'hybrid encode'")
    ix.add_argument("--recompute-vectors", action="store_true",
                    help="compute every vector, replacing those the catalog supplies")
    ix.set_defaults(run=cmd_index)

    st = sub.add_parser("stats", help="documents, vectors and disk use of the index")
    st.add_argument("--json", action="store_true")
    st.set_defaults(run=cmd_stats)

    rx = sub.add_parser("reindex", help="OpenSearch: build the next index version and "
                        "move the alias to it")
    rx.add_argument("--mapping", type=Path, help="the new version's mapping (default: the "
                    "current one)")
    rx.add_argument("--keep-old", action="store_true", help="keep the previous version")
    rx.set_defaults(run=cmd_reindex)

    from hybrid.cli import align, evaluate, experiments, replace, search, serve, similar, vectors

    search.add_parser(sub, _open_existing, table)
    vectors.add_parsers(sub, _open_existing, table)
    align.add_parser(sub)
    serve.add_parser(sub)
    evaluate.add_parsers(sub, _open_existing)
    experiments.add_parsers(sub)
    replace.add_parsers(sub, ingest, _open_existing)
    similar.add_parser(sub, _open_existing, table)
    return p


def _engine(args: argparse.Namespace, mapping: Path | None = None) -> Any:
    from hybrid.engines import open_index

    return open_index(args.index, mapping=mapping)


def _open_existing(args: argparse.Namespace) -> Any:
    from hybrid.engines import index_exists

    if not index_exists(args.index):
        raise HybridError(f"no index at {args.index}; create one with 'hybrid index CATALOG'")
    return _engine(args)


def cmd_reindex(args: argparse.Namespace) -> int:
    if not args.opensearch:
        raise HybridError("reindex is for the OpenSearch engine (--engine opensearch); an "
                          "embedded index is rebuilt with 'hybrid index --fresh'")
    from hybrid.engines.schema import IndexSchema

    with _open_existing(args) as engine:
        report = engine.reindex(IndexSchema.load(args.mapping) if args.mapping else None,
                                keep_old=args.keep_old)
    print(f"reindexed {report['documents']:,} documents of {report['alias']} from "
          f"{', '.join(report['from'])} to {report['to']} in {report['seconds']} s"
          + ("" if report["kept_old"] else "; the old version is deleted"))
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    from hybrid.catalog import FieldMapping, LoadReport

    if args.batch_size < 1:
        raise HybridError("--batch-size must be at least 1")
    # a missing or unreadable catalog or field map fails here, before --fresh deletes anything
    mapping = FieldMapping.load(args.field_map) if args.field_map else None
    report = LoadReport()
    catalog = read_catalog(args.catalog, mapping, report, args.format)
    index = Path(args.index)
    if args.fresh and args.opensearch:
        from hybrid.engines import index_exists

        if index_exists(args.index):
            with _engine(args) as old:
                old.drop()
    elif args.fresh and index.exists():
        if not (index / "mapping.json").exists() and any(index.iterdir()):
            raise HybridError(f"--fresh: {index} is not an index folder; not deleting it")
        shutil.rmtree(index)
    return ingest(args, *catalog)


def read_catalog(path: Path, mapping: Any, report: Any, format: str | None
                 ) -> tuple[Iterator[Any], Any, list[str], dict[str, int]]:
    """(products, report, media roots, vector dims) for `ingest`: media may come from the
    catalog's folder and HYBRID_MEDIA_ROOTS; the dims are filled in by `ingest`."""
    from hybrid.catalog import MediaRoots, iter_catalog
    from hybrid.catalog.media import configured_roots

    roots = [str(Path(path).absolute().parent), *configured_roots()]
    dims: dict[str, int] = {}
    products = iter_catalog(path, mapping, report, format=format,
                            media=MediaRoots.of(roots), vector_dims=dims)
    return products, report, roots, dims


def ingest(args: argparse.Namespace, products: Iterator[Any], report: Any,
           roots: list[str] | None = None, dims: dict[str, int] | None = None) -> int:
    """Write products in batches (lexically searchable once committed), report the rejected
    rows, then plan the vectors: computed here, or by the workers with REDIS_URL. Uses
    args.index, mapping, batch_size, no_progress, rejects, no_vectors and
    recompute_vectors. `roots` are remembered in the index as its media roots; `dims`
    is filled with the index's vector dimensions before the first product is read.
    A new OpenSearch index is loaded in one bulk load (no refresh and no replicas until
    the last batch is in); an index that already serves searches keeps its settings."""
    from tqdm import tqdm

    from hybrid.catalog import Rejected
    from hybrid.catalog.media import remember
    from hybrid.engines import index_exists, state_dir

    bulk = args.opensearch and not index_exists(args.index)
    engine = _engine(args, args.mapping)
    if dims is not None:
        dims.update({name: f.dimension for name, f in engine.schema.vector_fields.items()})
    if roots is not None:
        remember(state_dir(args.index), roots)
    start = time.perf_counter()
    written: list[dict[str, Any]] = []
    bar = tqdm(unit=" products", disable=args.no_progress or None, file=sys.stderr)
    try:
        with engine.bulk_load() if bulk else nullcontext():
            for batch in _batches((p.to_dict() for p in products), args.batch_size):
                for doc, res in zip(batch, engine.add(batch), strict=True):
                    if res.ok:
                        written.append(doc)
                    else:
                        report.rejected.append(Rejected(report.lines.get(str(res.id), 0),
                                                        res.id, None, res.error or "refused"))
                bar.update(len(batch))
        engine.commit()
        bar.close()
        took = time.perf_counter() - start
        _summary(args.index, len(written), took, report, args.rejects)
        if bulk:
            print("  (one bulk load into the new index: refreshed once, its settings restored)")
        if report.read and not written:  # a wrong file or field map, not a bad row or two
            raise HybridError(f"no product was indexed: all {report.read:,} rows were "
                              "rejected (the reasons are above)")
        if not args.no_vectors:
            from hybrid.cli.vectors import fill_vectors, print_fill

            summary = fill_vectors(args.index, engine, written, quiet=args.no_progress,
                                   recompute=args.recompute_vectors)
            engine.commit()
            print(f"vectors ({summary['mode']}, {summary['seconds']} s):")
            print_fill(summary)
    finally:
        bar.close()
        engine.close()
    return 0


def _summary(index: str, written: int, took: float, report: Any, rejects: Path | None) -> None:
    print(f"indexed {written:,} products into {index} in {took:.1f} s "
          f"({written / max(took, 1e-9):,.0f}/s); read {report.read:,}, "
          f"rejected {len(report.rejected):,}")
    for r in report.rejected[:20]:
        where = f"line {r.line}" if r.line else "engine"
        field = f" {r.field}" if r.field else ""
        print(f"  rejected {where} (id {r.id or '?'}){field}: {r.reason}")
    if len(report.rejected) > 20:
        print(f"  ... and {len(report.rejected) - 20:,} more"
              + ("" if rejects else " (see --rejects FILE)"))
    if rejects:
        with open(rejects, "w", encoding="utf-8") as fh:
            for r in report.rejected:
                fh.write(json.dumps(r.__dict__) + "\n")


def _batches(items: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    while batch := list(islice(items, size)):
        yield batch


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in [header, ["-" * w for w in widths], *rows]]
    return "\n".join(lines)


def cmd_stats(args: argparse.Namespace) -> int:
    with _open_existing(args) as engine:
        stats = engine.stats()
    if args.json:
        print(json.dumps(stats, indent=2))
        return 0
    print(f"index {stats['path']} ({stats['engine']}): {stats['documents']:,} documents, "
          f"{stats['disk_bytes'] / 1e6:,.1f} MB on disk")
    rows = [[name, f"{v['vectors']:,}", f"{v['snapshot']:,}", f"{v['delta']:,}"]
            for name, v in stats["vectors"].items()]
    print(table(["vector field", "vectors", "in HNSW", "pending"], rows))
    print("lexical fields: " + ", ".join(f"{k}^{v:g}" for k, v in stats["search_fields"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
