"""Tests for hybrid.catalog: Product validation, FieldMapping and the file loaders."""

from __future__ import annotations

import csv
import gzip
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from hybrid.catalog import (
    FieldMapping,
    LoadReport,
    MediaRoots,
    Product,
    Rejected,
    RowError,
    iter_catalog,
)
from hybrid.errors import CatalogError

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[1]
SHARED_CATALOG = Path("/work/shared/data/catalog/products.jsonl")

ROWS = [
    {"id": "p1", "title": "Red Shirt", "brand": "Acme", "price": 19.5, "colour": "red",
     "image": "img/p1.jpg"},
    {"id": "p2", "title": "Blue Jeans", "category": "Apparel > Bottomwear > Jeans",
     "price": "1,299.00", "currency": "eur", "image": "https://cdn.example.com/p2.jpg"},
]  # fmt: skip


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_csv(path: Path, header: list[str], rows: list[list[str]], **kw: Any) -> Path:
    with open(path, "w", newline="", encoding=kw.pop("encoding", "utf-8")) as f:
        writer = csv.writer(f, **kw)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def load(path: Path, mapping: FieldMapping | None = None, **kw: Any):
    report = LoadReport()
    products = list(iter_catalog(path, mapping, report, **kw))
    return products, report


# --- Product -------------------------------------------------------------------------


def test_product_round_trip() -> None:
    product = Product(
        id="p1", title="Shirt", description="Soft", brand="Acme",
        category=["Apparel", "Topwear"],
        attributes={"size": ["S", "M"], "cotton": True, "gsm": 180},
        price=12.5, currency="EUR", images=["/a.jpg"], audio=["https://x/a.mp3"],
        vectors={"text_vector": [0.1, 0.2]},
    )  # fmt: skip
    d = product.to_dict()
    json.dumps(d)
    assert Product.from_dict(d) == product


def test_product_to_dict_omits_empty_values() -> None:
    assert Product(id="p1", title="T").to_dict() == {"id": "p1", "title": "T"}


def test_product_normalises_values() -> None:
    p = Product.from_dict(
        {"id": 42, "title": " Shirt ", "category": "A / B>C", "price": "1,299.00",
         "currency": "usd", "images": "a.jpg", "vectors": {"v": "[1, 2.5]"}}
    )  # fmt: skip
    assert p.id == "42"
    assert p.title == "Shirt"
    assert p.category == ["A", "B", "C"]
    assert p.price == 1299.0
    assert p.currency == "USD"
    assert p.images == ["a.jpg"]
    assert p.vectors == {"v": [1.0, 2.5]}


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [
        ({"title": "T"}, "id", "required"),
        ({"id": "  ", "title": "T"}, "id", "must not be empty"),
        ({"id": "a\tb", "title": "T"}, "id", "must not contain control characters"),
        ({"id": "x" * 513, "title": "T"}, "id", "longer than 512 characters"),
        ({"id": True, "title": "T"}, "id", "expected text, got bool"),
        ({"id": "p"}, "title", "required"),
        ({"id": "p", "title": ""}, "title", "must not be empty"),
        ({"id": "p", "title": ["T"]}, "title", "expected text, got list"),
        ({"id": "p", "title": "T", "brand": 3}, "brand", "expected text, got int"),
        ({"id": "p", "title": "T", "currency": "EURO"}, "currency", "expected a 3-letter code"),
        ({"id": "p", "title": "T", "price": "abc"}, "price", "expected a number, got 'abc'"),
        ({"id": "p", "title": "T", "price": "12,50"}, "price", "expected a number"),
        ({"id": "p", "title": "T", "price": True}, "price", "expected a number, got bool"),
        ({"id": "p", "title": "T", "price": -1}, "price", "must not be negative"),
        ({"id": "p", "title": "T", "price": math.inf}, "price", "expected a finite number"),
        ({"id": "p", "title": "T", "category": ["A", ""]}, "category", "must not be empty"),
        ({"id": "p", "title": "T", "category": 5}, "category", "expected text or a list"),
        ({"id": "p", "title": "T", "attributes": {"a": {"b": 1}}}, "attributes.a", "nested"),
        ({"id": "p", "title": "T", "attributes": {"a": [1]}}, "attributes.a", "text only"),
        ({"id": "p", "title": "T", "attributes": "x"}, "attributes", "expected an object"),
        ({"id": "p", "title": "T", "images": 3}, "images", "expected text or a list"),
        ({"id": "p", "title": "T", "audio": ["a", 1]}, "audio", "expected text, got int"),
        ({"id": "p", "title": "T", "vectors": {"v": []}}, "vectors.v", "must not be empty"),
        ({"id": "p", "title": "T", "vectors": {"v": [1, "a"]}}, "vectors.v", "expected a number"),
        ({"id": "p", "title": "T", "vectors": {"v": [math.nan]}}, "vectors.v", "finite"),
        ({"id": "p", "title": "T", "vectors": {"v": "[1,"}}, "vectors.v", "list of numbers"),
        ({"id": "p", "title": "T", "colour": "red"}, "colour", "unknown product field"),
    ],
)
def test_product_validation(data: dict[str, Any], field: str, reason: str) -> None:
    with pytest.raises(RowError) as info:
        Product.from_dict(data)
    assert info.value.field == field
    assert reason in info.value.reason
    assert str(info.value) == f"{field}: {info.value.reason}"
    assert isinstance(info.value, CatalogError)


# --- FieldMapping ----------------------------------------------------------------------


def test_default_mapping_detects_aliases_case_insensitively() -> None:
    row = {
        "SKU": "s1", "Product_Name": "Lamp", "Desc": "Bright", "Manufacturer": "Lux",
        "Product_Type": "Home/Lighting", "Sale_Price": "9.99", "Currency": "gbp",
        "Image_URL": "a.jpg|b.jpg", "audio_path": "a.mp3", "text_vector": "[0.5, 1]",
        "vector_clip": [1, 2], "Wattage": "40", "empty": "", "nothing": None,
    }  # fmt: skip
    shaped = FieldMapping.default().apply(row)
    assert shaped == {
        "id": "s1", "title": "Lamp", "description": "Bright", "brand": "Lux",
        "category": "Home/Lighting", "price": "9.99", "currency": "gbp",
        "images": ["a.jpg", "b.jpg"], "audio": ["a.mp3"], "attributes": {"Wattage": "40"},
        "vectors": {"text_vector": "[0.5, 1]", "vector_clip": [1, 2]},
    }  # fmt: skip
    product = Product.from_dict(shaped)
    assert product.category == ["Home", "Lighting"]
    assert product.vectors == {"text_vector": [0.5, 1.0], "vector_clip": [1.0, 2.0]}


def test_first_alias_wins_and_other_aliases_become_attributes() -> None:
    shaped = FieldMapping.default().apply({"product_id": "p", "sku": "S-1", "name": "N"})
    assert shaped == {"id": "p", "title": "N", "attributes": {"sku": "S-1"}}


def test_mapping_category_columns_and_attribute_catch_all() -> None:
    mapping = FieldMapping(
        fields={"id": "code", "title": "label", "category": ["l1", "l2", "l3"]},
        ignore=["internal"],
    )
    row = {"code": "c1", "label": "Tee", "l1": "Apparel", "l2": "", "l3": "T/Shirts",
           "size": "M", "internal": "x", "attributes": '{"fit": "slim"}'}  # fmt: skip
    shaped = mapping.apply(row)
    assert shaped["category"] == ["Apparel", "T/Shirts"]
    assert shaped["attributes"] == {"fit": "slim", "size": "M"}
    assert Product.from_dict(shaped).category == ["Apparel", "T/Shirts"]


def test_mapping_explicit_attributes_and_vectors() -> None:
    mapping = FieldMapping(
        fields={"id": "id", "title": "title"}, attributes=["colour"], vectors={"text_vector": "emb"}
    )
    shaped = mapping.apply({"id": "1", "title": "T", "colour": "red", "size": "M", "emb": [1.0]})
    assert shaped == {"id": "1", "title": "T", "attributes": {"colour": "red"},
                      "vectors": {"text_vector": [1.0]}}  # fmt: skip


def test_mapping_scalar_list_is_a_fallback_chain() -> None:
    mapping = FieldMapping(fields={"title": ["title", "name"]})
    assert mapping.apply({"id": "1", "title": "", "name": "N"})["title"] == "N"
    assert mapping.apply({"id": "1", "title": "T", "name": "N"})["title"] == "T"


def test_mapping_bad_attributes_json_is_a_row_error() -> None:
    with pytest.raises(RowError) as info:
        FieldMapping.default().apply({"id": "1", "title": "T", "attributes": "{oops"})
    assert info.value.field == "attributes"


def test_mapping_round_trip() -> None:
    mapping = FieldMapping(
        fields={"id": "sku", "category": ["a", "b"]}, attributes=["c"], ignore=["d"],
        vectors={"text_vector": "e"}, detect=False,
    )  # fmt: skip
    data = json.loads(json.dumps(mapping.to_dict()))
    assert FieldMapping.from_dict(data) == mapping
    assert FieldMapping.from_dict(FieldMapping.default().to_dict()) == FieldMapping.default()


def test_mapping_rejects_unknown_keys_and_fields() -> None:
    with pytest.raises(CatalogError, match="colums"):
        FieldMapping.from_dict({"fields": {}, "colums": []})
    with pytest.raises(CatalogError, match="colour"):
        FieldMapping.from_dict({"fields": {"colour": "c"}})
    with pytest.raises(CatalogError, match="detect"):
        FieldMapping.from_dict({"detect": "yes"})


def test_mapping_load(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"fields": {"id": "sku"}}))
    assert FieldMapping.load(path) == FieldMapping(fields={"id": "sku"})
    with pytest.raises(CatalogError, match="not found"):
        FieldMapping.load(tmp_path / "missing.json")
    path.write_text("{")
    with pytest.raises(CatalogError, match="cannot read"):
        FieldMapping.load(path)


def test_shipped_shared_mapping_file_matches() -> None:
    shipped = FieldMapping.load(REPO / "mappings" / "catalog-shared.json")
    assert shipped == FieldMapping.shared_catalog()


# --- loaders ---------------------------------------------------------------------------


def check_rows(products: list[Product], report: LoadReport, base: Path) -> None:
    assert [p.id for p in products] == ["p1", "p2"]
    p1, p2 = products
    assert p1.brand == "Acme"
    assert p1.price == 19.5
    assert p1.attributes == {"colour": "red"}
    assert p1.images == [str(base / "img" / "p1.jpg")]
    assert p2.category == ["Apparel", "Bottomwear", "Jeans"]
    assert p2.price == 1299.0
    assert p2.currency == "EUR"
    assert p2.images == ["https://cdn.example.com/p2.jpg"]
    assert (report.read, report.accepted, report.rejected) == (2, 2, [])


@pytest.mark.parametrize("name", ["c.jsonl", "c.ndjson", "c.json"])
def test_jsonl_round_trip(tmp_path: Path, name: str) -> None:
    products, report = load(write_jsonl(tmp_path / name, ROWS))
    check_rows(products, report, tmp_path)


def test_jsonl_gz(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in ROWS)
    check_rows(*load(path), tmp_path)


def test_product_dicts_load_back_unchanged(tmp_path: Path) -> None:
    original = Product(
        id="p", title="T", category=["A", "B"], attributes={"k": 1}, price=2.0,
        images=[str(tmp_path / "x.jpg")], vectors={"text_vector": [0.25]},
    )  # fmt: skip
    products, _ = load(write_jsonl(tmp_path / "c.jsonl", [original.to_dict()]))
    assert products == [original]


CSV_HEADER = ["id", "title", "brand", "category", "price", "currency", "image", "colour"]
CSV_ROWS = [
    ["p1", "Red Shirt", "Acme", "", "19.5", "", "img/p1.jpg", "red"],
    ["p2", "Blue Jeans", "", "Apparel > Bottomwear > Jeans", "1,299.00", "eur",
     "https://cdn.example.com/p2.jpg", ""],
]  # fmt: skip


def test_csv_round_trip_with_bom(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "c.csv", CSV_HEADER, CSV_ROWS, encoding="utf-8-sig")
    check_rows(*load(path), tmp_path)


def test_tsv_and_csv_gz(tmp_path: Path) -> None:
    check_rows(*load(write_csv(tmp_path / "c.tsv", CSV_HEADER, CSV_ROWS, delimiter="\t")), tmp_path)
    plain = write_csv(tmp_path / "plain.csv", CSV_HEADER, CSV_ROWS)
    (tmp_path / "c.csv.gz").write_bytes(gzip.compress(plain.read_bytes()))
    check_rows(*load(tmp_path / "c.csv.gz"), tmp_path)


def test_csv_list_cells_and_json_columns(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "c.csv",
        ["id", "title", "images", "attributes", "text_vector"],
        [["p1", "T", "a.jpg|https://x/b.jpg", '{"size": "M"}', "[0.5, 1.5]"],
         ["p2", "T", '["c.jpg", "d.jpg"]', "", ""]],
    )  # fmt: skip
    (p1, p2), report = load(path)
    assert p1.images == [str(tmp_path / "a.jpg"), "https://x/b.jpg"]
    assert p1.attributes == {"size": "M"}
    assert p1.vectors == {"text_vector": [0.5, 1.5]}
    assert p2.images == [str(tmp_path / "c.jpg"), str(tmp_path / "d.jpg")]
    assert report.rejected == []


def test_parquet_round_trip(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table({
        "id": ["p1", "p2", "p3"],
        "title": ["Red Shirt", "Blue Jeans", None],
        "brand": ["Acme", None, "X"],
        "category": [None, "Apparel > Bottomwear > Jeans", None],
        "price": [19.5, 1299.0, 1.0],
        "currency": [None, "eur", None],
        "image": ["img/p1.jpg", "https://cdn.example.com/p2.jpg", None],
        "colour": ["red", None, None],
    })  # fmt: skip
    path = tmp_path / "c.parquet"
    pq.write_table(table, path)
    products, report = load(path)
    assert report.rejected == [Rejected(3, "p3", "title", "required")]
    report.read, report.rejected = 2, []
    check_rows(products, report, tmp_path)


def test_parquet_vectors_and_int_ids(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table({"item_id": [7], "name": ["T"], "text_vector": [[0.5, 0.25]]})
    pq.write_table(table, tmp_path / "c.parquet")
    (product,), _ = load(tmp_path / "c.parquet")
    assert product.id == "7"
    assert product.vectors == {"text_vector": [0.5, 0.25]}


def test_parquet_without_pyarrow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.parquet"
    path.write_bytes(b"")
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(CatalogError, match=r"pip install 'hybrid\[parquet\]'"):
        iter_catalog(path)


def test_jsonl_bad_rows_are_reported_and_skipped(tmp_path: Path) -> None:
    lines = [
        b'{"id": "a", "title": "A"}',                 # 1 good
        b"",                                          # 2 blank: skipped silently
        b'{"id": "b", "title": "B"',                  # 3 invalid JSON
        b'["not", "an", "object"]',                   # 4 not an object
        b'{"id": "c", "title": "caf\xe9"}',           # 5 bad UTF-8
        b'{"title": "no id"}',                        # 6 missing id
        b'{"id": "d", "title": "D", "price": "abc"}', # 7 wrong type
        b'{"id": "a", "title": "A again"}',           # 8 duplicate
        b"   ",                                       # 9 blank
        b'{"id": "e", "title": "E"}',                 # 10 good
    ]  # fmt: skip
    path = tmp_path / "c.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    products, report = load(path)
    assert [p.id for p in products] == ["a", "e"]
    assert report.read == 8
    assert report.accepted == 2
    got = [(r.line, r.id, r.field) for r in report.rejected]
    assert got == [
        (3, None, None), (4, None, None), (5, None, None), (6, None, "id"),
        (7, "d", "price"), (8, "a", "id"),
    ]  # fmt: skip
    reasons = [r.reason for r in report.rejected]
    assert reasons[0].startswith("invalid JSON")
    assert reasons[1] == "expected a JSON object, got array"
    assert reasons[2].startswith("invalid UTF-8")
    assert reasons[3] == "required"
    assert reasons[4] == "expected a number, got 'abc'"
    assert reasons[5] == "duplicate id, first seen on line 1"


def test_csv_bad_rows_report_the_records_first_line(tmp_path: Path) -> None:
    data = (
        b"id,title,price\n"                    # 1 header
        b'a,"multi\nline title",1\n'           # 2-3 good
        b"b,B,abc\n"                           # 4 wrong type
        b",no id,2\n"                          # 5 missing id
        b"\n"                                  # 6 blank
        b"c,caf\xe9,3\n"                       # 7 bad UTF-8
        b"a,dup,4\n"                           # 8 duplicate
        b"d,D,5,extra\n"                       # 9 too many cells
        b'e,"E\nstill E",6\n'                  # 10-11 good
    )  # fmt: skip
    path = tmp_path / "c.csv"
    path.write_bytes(data)
    products, report = load(path)
    assert [(p.id, p.title) for p in products] == [("a", "multi\nline title"), ("e", "E\nstill E")]
    got = [(r.line, r.id, r.field) for r in report.rejected]
    assert got == [(4, "b", "price"), (5, None, "id"), (7, "c", None), (8, "a", "id"),
                   (9, None, None)]  # fmt: skip
    assert report.rejected[2].reason == "invalid UTF-8 in 'title'"
    assert report.rejected[3].reason == "duplicate id, first seen on line 2"
    assert (report.read, report.accepted) == (7, 2)


def test_relative_and_absolute_media_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    folder = tmp_path / "shop"
    folder.mkdir()
    row = {"id": "p", "title": "T", "images": ["a/b.jpg", "../c.jpg", "/abs/d.jpg"],
           "audio": "s.mp3"}  # fmt: skip
    monkeypatch.setenv("HYBRID_MEDIA_ROOTS", f"{tmp_path}{os.pathsep}/abs")
    (product,), _ = load(write_jsonl(folder / "c.jsonl", [row]))
    assert product.images == [str(folder / "a" / "b.jpg"), str(tmp_path / "c.jpg"), "/abs/d.jpg"]
    assert product.audio == [str(folder / "s.mp3")]


def test_media_outside_the_roots_rejects_the_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                 ) -> None:
    """Fault 13: media are read only from the catalog's folder and configured roots."""
    monkeypatch.delenv("HYBRID_MEDIA_ROOTS", raising=False)
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "ok.jpg").write_bytes(b"x")
    (folder / "escape.jpg").symlink_to(tmp_path / "secret.jpg")
    (tmp_path / "secret.jpg").write_bytes(b"x")
    (folder / "big.jpg").write_bytes(b"x" * 2000)
    rows = [{"id": "good", "title": "T", "image": "ok.jpg"},
            {"id": "up", "title": "T", "image": "../secret.jpg"},
            {"id": "abs", "title": "T", "image": "/etc/hostname"},
            {"id": "dev", "title": "T", "image": "/dev/zero"},
            {"id": "link", "title": "T", "image": "escape.jpg"},
            {"id": "dir", "title": "T", "audio": "."},
            {"id": "big", "title": "T", "image": "big.jpg"}]
    media = MediaRoots.of([folder], max_bytes=1000)
    products, report = load(write_jsonl(folder / "c.jsonl", rows), media=media)
    assert [p.id for p in products] == ["good"]
    got = {r.id: (r.line, r.field, r.reason) for r in report.rejected}
    assert set(got) == {"up", "abs", "dev", "link", "dir", "big"}
    for key in ("up", "abs", "dev", "link"):
        assert got[key][1] == "images" and "outside the media roots" in got[key][2]
    assert got["dir"][1:] == ("audio", ".: not a regular file")
    assert "2,000 bytes; the limit is 1,000" in got["big"][2]
    assert got["big"][0] == 7


def test_relative_catalog_path_gives_absolute_media(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_jsonl(tmp_path / "c.jsonl", [{"id": "p", "title": "T", "image": "x.jpg"}])
    monkeypatch.chdir(tmp_path)
    (product,), _ = load(Path("c.jsonl"))
    assert product.images == [str(tmp_path / "x.jpg")]


def test_explicit_format_and_errors(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "catalog.txt", ROWS)
    products, _ = load(path, format="jsonl")
    assert len(products) == 2
    with pytest.raises(CatalogError, match=r"\.jsonl.*\.parquet"):
        iter_catalog(path)
    with pytest.raises(CatalogError, match="unknown catalog format"):
        iter_catalog(path, format="xml")
    missing = tmp_path / "missing.jsonl"
    with pytest.raises(CatalogError, match="missing.jsonl"):
        iter_catalog(missing)


def test_report_is_optional(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", [*ROWS, {"id": "x"}])
    assert [p.id for p in iter_catalog(path)] == ["p1", "p2"]


# --- the shared demo catalog ---------------------------------------------------------


@pytest.mark.skipif(not SHARED_CATALOG.exists(), reason="shared demo catalog not present")
def test_shared_catalog_loads_cleanly() -> None:
    products, report = load(SHARED_CATALOG, FieldMapping.shared_catalog())
    assert len(products) == 7116
    assert report.rejected == []
    by_id = {p.id: p for p in products}
    shirt = by_id["f15970"]
    assert shirt.category == ["Apparel", "Topwear", "Shirts"]
    assert shirt.attributes["colour"] == "Navy Blue"
    assert shirt.attributes["gender"] == "Men"
    apple = by_id["g1"]
    assert apple.category == ["Apple"]
    assert apple.description
    assert Path(apple.images[0]).is_absolute()
    assert Path(apple.images[0]).exists()
    # its one empty title falls back to the article type
    assert by_id["f30991"].title == "Perfume and Body Mist"


# --- hostile rows (issue 9, faults 12 and 14) -------------------------------------------


def test_hostile_jsonl_lines_are_rejected_alone_with_their_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps({"id": "g1", "title": "Good shirt"}) + "\n")        # 1
        f.write("[" * 1000 + "]" * 1000 + "\n")                                 # 2
        f.write("[" * 100_000 + "]" * 100_000 + "\n")                           # 3
        f.write('{"id": "deep", "title": "T", "x": ' + "[" * 900 + "]" * 900 + "}\n")  # 4
        f.write(json.dumps({"id": "huge", "title": "a" * 2_000_000}) + "\n")    # 5
        f.write(json.dumps({"id": "long", "title": "b" * 150_000}) + "\n")      # 6
        f.write("5\nnull\n")                                                    # 7, 8
        f.write(json.dumps({"id": "g2", "title": "Good hat"}) + "\n")           # 9
        f.write(json.dumps({"id": "wide", "title": "t",                         # 10
                            **{f"c{i}": "v" for i in range(20_000)}}) + "\n")
    products, report = load(path)
    assert [p.id for p in products] == ["g1", "g2"]
    got = {r.line: (r.id, r.field, r.reason) for r in report.rejected}
    assert sorted(got) == [2, 3, 4, 5, 6, 7, 8, 10]
    assert got[10] == ("wide", "product", "more than 500 fields (20,002)")
    assert got[2] == (None, None, "invalid JSON: nested too deeply to parse")
    assert "nested too deeply" in got[3][2]
    assert got[4] == ("deep", "product", "nested deeper than 16 levels")
    assert got[5] == (None, None, "line longer than 1,048,576 bytes (not read)")
    assert got[6] == ("long", "title", "longer than 1,000 characters (150,000)")
    assert got[7][2] == "expected a JSON object, got number"
    assert report.read == 10 and report.accepted == 2


def test_oversized_csv_line_is_rejected_alone(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("id,title\na,First\nb," + "x" * 1_100_000 + "\nc,Third\n", encoding="utf-8")
    products, report = load(path)
    assert [p.id for p in products] == ["a", "c"]
    assert [(r.line, r.reason) for r in report.rejected] == [
        (3, "line longer than 1,048,576 bytes (not read)")]


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [
        ({"id": "p", "title": "t" * 1001}, "title", "longer than 1,000 characters (1,001)"),
        ({"id": "p", "title": "T", "brand": "b" * 201}, "brand", "longer than 200 characters"),
        ({"id": "p", "title": "T", "description": "d" * 32_001}, "description", "longer than"),
        ({"id": "p", "title": "T", "category": ["c"] * 17}, "category", "more than 16 levels"),
        ({"id": "p", "title": "T", "attributes": {"a": "v" * 1001}}, "attributes.a",
         "longer than 1,000"),
        ({"id": "p", "title": "T", "attributes": {str(i): "v" for i in range(201)}},
         "attributes", "more than 200 names"),
        ({"id": "p", "title": "T", "images": ["a.jpg"] * 21}, "images", "more than 20 files"),
        ({"id": "p", "title": "T", "vectors": {"v": [0.5] * 8193}}, "vectors.v",
         "more than 8,192 numbers"),
        (5, "product", "expected a JSON object, got number"),
        ([], "product", "expected a JSON object, got array"),
        (None, "product", "expected a JSON object, got null"),
    ],
)  # fmt: skip
def test_lexical_field_limits(data: Any, field: str, reason: str) -> None:
    with pytest.raises(RowError) as info:
        Product.from_dict(data)
    assert info.value.field == field and reason in info.value.reason


def test_parquet_row_group_over_the_limit_is_rejected_unread(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    from hybrid.catalog import loaders

    path = tmp_path / "c.parquet"
    with pq.ParquetWriter(path, pa.schema([("id", pa.string()), ("title", pa.string())])) as w:
        w.write_table(pa.table({"id": ["a", "b"], "title": ["Small", "Small too"]}))
        w.write_table(pa.table({"id": ["c", "d"], "title": ["x" * 50_000, "y" * 50_000]}))
        w.write_table(pa.table({"id": ["e"], "title": ["Small again"]}))
    monkeypatch.setattr(loaders, "MAX_ROW_GROUP_BYTES", 20_000)
    products, report = load(path)
    assert [p.id for p in products] == ["a", "b", "e"]
    assert [r.line for r in report.rejected] == [3, 4]
    assert "Parquet row group of" in report.rejected[0].reason
