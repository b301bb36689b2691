"""What shadow mode costs the shoppers: served latency with shadow mode off and with every
search shadowed (sample 1.0), in one run.

A shop's existing index (its own mapping and BM25 search template, hybrid.testing.shop)
holds N shared-catalog products on a real OpenSearch node; `hybrid import` brings them in
with the proposed field map (text vectors included). Two `hybrid serve` instances answer
with the old search (the template profile): one without shadows, one running hybrid's
profile (BM25 + e5-small text vectors) beside every search. A client sends the dev
fashion_text queries at a steady pace, one at a time, alternating blocks between the two
servers, and compares the served p50 (client-side, over HTTP). Target: the ratio on/off
is at most 1.05.

    .venv/bin/python benchmarks/shadow.py [--products 2000] [--rounds 6] [--block 25]
        [--interval-ms 60] [--opensearch-url URL] [--out shadow.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import requests

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO))

from hybrid.search.profiles import ProfileStore  # noqa: E402
from hybrid.testing.opensearch_node import OpenSearchNode  # noqa: E402
from hybrid.testing.servers import ApiServer  # noqa: E402
from hybrid.testing.shop import create_source, profiles  # noqa: E402


def hybrid(index: Path, *args: str) -> str:
    res = subprocess.run([sys.executable, "-m", "hybrid.cli.main", "--index", str(index), *args],
                         cwd=REPO, capture_output=True, text=True,
                         env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)})
    if res.returncode:
        raise SystemExit(f"hybrid {' '.join(args)} failed:\n{res.stderr[-2000:]}")
    return res.stdout


def build(folder: Path, url: str, n: int) -> tuple[Path, str]:
    from opensearchpy import OpenSearch

    rows = [json.loads(x) for x in (DATA / "catalog" / "products.jsonl").read_text()
            .splitlines()][:n]
    source = f"shadow-bench-{uuid.uuid4().hex[:8]}"
    create_source(OpenSearch(url, timeout=60), source, rows)
    index = folder / "index"
    (folder / "field-map.json").write_text(hybrid(index, "import", "--from-index", source,
                                                  "--url", url))
    print(hybrid(index, "import", "--from-index", source, "--url", url, "--field-map",
                 str(folder / "field-map.json"), "--no-progress").strip(), file=sys.stderr)
    store = ProfileStore(index / "profiles")
    for p in profiles(source).values():
        store.save(p)
    return index, source


def shadow_counts(url: str) -> dict[str, float]:
    text = requests.get(f"{url}/metrics", timeout=10).text
    return {m.group(1): float(m.group(2)) for m in re.finditer(
        r'^hybrid_shadow_requests_total\{outcome="(\w+)"\} ([0-9.e+]+)$', text, re.M)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--products", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--block", type=int, default=25, help="queries per server per round")
    ap.add_argument("--interval-ms", type=float, default=60.0,
                    help="one query every this many ms (a steady, not saturating, load)")
    ap.add_argument("--opensearch-url", help="an existing node (default: start one)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    queries = [json.loads(x)["text"] for x in
               (DATA / "dev" / "fashion_text" / "queries.jsonl").read_text().splitlines()]
    node = None
    url = args.opensearch_url
    if url is None:
        node = OpenSearchNode()
        url = node.start()
    folder = Path(tempfile.mkdtemp(prefix="shadow-bench-"))
    servers: dict[str, ApiServer] = {}
    source = None
    try:
        index, source = build(folder, url, args.products)
        env = {"HYBRID_PROFILE": "old", "HYBRID_CONNECTIONS": json.dumps({"shop": url})}
        for mode, extra in (("off", {}), ("on", {"HYBRID_SHADOW_PROFILES": "hybrid",
                                                 "HYBRID_SHADOW_SAMPLE": "1"})):
            servers[mode] = ApiServer(index, folder / f"serve-{mode}.log", env=env | extra)
            servers[mode].start()
        for mode in servers:  # warm: connections, and the shadow's encoder in each worker
            for q in queries[:30]:
                requests.get(f"{servers[mode].url}/search", params={"q": q}, timeout=60)
        time.sleep(5)
        latency: dict[str, list[float]] = {"off": [], "on": []}
        server_ms: dict[str, list[float]] = {"off": [], "on": []}
        before = shadow_counts(servers["on"].url)
        i = 0
        for _ in range(args.rounds):
            for mode in ("off", "on"):
                for _ in range(args.block):
                    q = queries[i % len(queries)]
                    i += 1
                    start = time.perf_counter()
                    r = requests.get(f"{servers[mode].url}/search", params={"q": q}, timeout=60)
                    took = (time.perf_counter() - start) * 1000
                    r.raise_for_status()
                    latency[mode].append(took)
                    server_ms[mode].append(r.json()["took_ms"]["total"])
                    time.sleep(max(0.0, args.interval_ms / 1000 - took / 1000))
        time.sleep(5)
        after = shadow_counts(servers["on"].url)
        log = index / "shadow" / "shadow.jsonl"
        result = {
            "products": args.products, "queries_per_mode": len(latency["on"]),
            "interval_ms": args.interval_ms,
            **{f"{mode}_{stat}_ms": round(float(np.percentile(v, q)), 2)
               for mode, v in latency.items() for stat, q in (("p50", 50), ("p99", 99))},
            **{f"{mode}_server_p50_ms": round(float(np.percentile(v, 50)), 2)
               for mode, v in server_ms.items()},
            "p50_ratio": round(float(np.percentile(latency["on"], 50)
                                     / np.percentile(latency["off"], 50)), 3),
            "shadow": {k: after.get(k, 0) - before.get(k, 0)
                       for k in ("queued", "dropped", "logged", "failed")},
            "shadow_log_lines": len(log.read_text().splitlines()) if log.exists() else 0,
        }
    finally:
        for s in servers.values():
            s.stop()
        if node is not None:
            node.stop()
        elif source:
            from opensearchpy import OpenSearch

            OpenSearch(url).indices.delete(index=source, ignore_unavailable=True)
    print(json.dumps(result, indent=2))
    rows = [("served p50 (client, ms)", result["off_p50_ms"], result["on_p50_ms"]),
            ("served p99 (client, ms)", result["off_p99_ms"], result["on_p99_ms"]),
            ("served p50 (server, ms)", result["off_server_p50_ms"], result["on_server_p50_ms"])]
    print(f"\n{'':<26}{'shadow off':>12}{'shadow on':>12}")
    for name, off, on in rows:
        print(f"{name:<26}{off:>12}{on:>12}")
    print(f"p50 ratio on/off: {result['p50_ratio']} (target <= 1.05); shadows "
          f"{result['shadow']}")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
