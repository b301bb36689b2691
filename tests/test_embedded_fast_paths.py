"""What the embedded engine does for speed, checked for correctness: HNSW graphs from
faiss (dead nodes skipped, rebuilt when too many are dead, snapshots from before faiss
upgraded) and lexical hits named from the vector snapshots' ids."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from engine_conformance import DIM, small_schema

from hybrid.engines.embedded import EmbeddedEngine, graph, vectors
from hybrid.engines.embedded.graph import Graph
from hybrid.engines.schema import IndexSchema

pytestmark = pytest.mark.integration


def unit_rows(n: int, dim: int, seed: int = 3) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.unit
def test_graph_finds_each_vector_and_skips_dead_nodes(tmp_path: Path) -> None:
    x = unit_rows(500, 32)
    keys = np.arange(1000, 1500, dtype=np.int64)
    g = Graph.build(32, 16, 100, keys, x)
    found = [int(g.search(v, 1, 100)[0][0]) for v in x]
    assert found == keys.tolist()
    g.save(tmp_path / "g")
    # key 1000 replaced by a new vector, key 1001 removed
    g2 = Graph.load(tmp_path / "g", writable=True).extend(
        np.array([1000, 1001]), np.array([1000]), -x[:1])
    assert g2.dead == 2 and g2.index.ntotal == 501
    g2.save(tmp_path / "g2")
    again = Graph.load(tmp_path / "g2")  # memory-mapped, as readers load it
    keys1, sims1 = again.search(x[1], 500, 100)
    assert 1001 not in keys1.tolist()  # its node is dead
    assert len(keys1) == len(set(keys1.tolist()))  # the replaced key appears once
    top, sim = again.search(-x[0], 1, 100)
    assert top.tolist() == [1000] and sim[0] == pytest.approx(1.0, abs=1e-5)
    assert np.all(np.diff(sims1) <= 1e-6)  # best first


def engine_with_vectors(path: Path, n: int, ef_search: int | None = None
                        ) -> tuple[EmbeddedEngine, np.ndarray]:
    """An index of n random unit vectors in text_vector (ef_search: the index setting)."""
    schema = small_schema()
    if ef_search is not None:
        body = json.loads(json.dumps(schema.body))
        body["settings"]["index"]["knn.algo_param.ef_search"] = ef_search
        schema = IndexSchema.from_dict(body)
    e = EmbeddedEngine(path, mapping=schema)
    x = unit_rows(n, DIM)
    e.add([{"id": f"d{i:03d}", "title": f"doc {i}", "vectors": {"text_vector": x[i]}}
           for i in range(n)])
    e.commit()
    return e, x


def test_fold_rebuilds_a_graph_with_too_many_dead_nodes(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vectors, "EXACT_BELOW", 0)  # search the graph even at 200 vectors
    e, x = engine_with_vectors(tmp_path / "ix", 200)
    field = e.vectors.fields["text_vector"]
    e.delete([f"d{i:03d}" for i in range(20)])  # 10% dead: extended
    e.commit()
    assert field.snap.hnsw is not None and field.snap.hnsw.dead == 20
    monkeypatch.setattr(graph, "REBUILD_DEAD_SHARE", 0.15)
    e.delete([f"d{i:03d}" for i in range(20, 40)])  # 20% more: rebuilt
    e.commit()
    assert field.snap.hnsw is not None and field.snap.hnsw.dead == 0
    assert field.snap.hnsw.index.ntotal == 160
    # k=1 of 160 vectors goes through the graph, not the exact path
    assert e.knn_search("text_vector", x[100], k=1).hits[0].id == "d100"
    assert e.knn_search("text_vector", x[5], k=1).hits[0].id != "d005"
    e.close()


def test_a_small_field_is_searched_exactly(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The reported case: on the demo catalog (7,116 products) HNSW at ef 100 left 18% of
    the true top 10 of grocery queries out (a small cluster, queried in words). Below
    EXACT_BELOW vectors the snapshot is scanned: the top 10 is the exact one, however
    poor the graph's search is made here (ef 1)."""
    e, x = engine_with_vectors(tmp_path / "ix", 3000, ef_search=1)
    assert e.vectors.fields["text_vector"].snap.hnsw is not None
    queries = unit_rows(30, DIM, seed=11)
    exact = [[f"d{i:03d}" for i in np.argsort(-(x @ q), kind="stable")[:10]] for q in queries]

    def top10() -> list[list[str]]:
        return [[h.id for h in e.knn_search("text_vector", q, k=10).hits] for q in queries]
    assert top10() == exact
    monkeypatch.setattr(vectors, "EXACT_BELOW", 0)  # the graph alone, at ef 1, misses some
    assert top10() != exact
    e.close()


def test_snapshot_without_a_faiss_graph_is_rebuilt_then_saved_on_commit(tmp_path: Path) -> None:
    e, x = engine_with_vectors(tmp_path / "ix", 120)
    field = e.vectors.fields["text_vector"]
    name = json.loads(field.manifest.read_text())["name"]
    e.close()
    for p in field.dir.glob(f"{name}.faiss"):  # as a usearch-era snapshot would be
        p.unlink()
    again = EmbeddedEngine(tmp_path / "ix")
    assert again.knn_search("text_vector", x[7], k=1).hits[0].id == "d007"
    assert not list(field.dir.glob("*.faiss"))  # a reader does not write
    again.commit()
    assert (field.dir / f"{name}.faiss").exists()
    again.close()
    third = EmbeddedEngine(tmp_path / "ix")
    assert third.knn_search("text_vector", x[9], k=1).hits[0].id == "d009"
    third.close()



def test_lexical_ids_come_right_from_snapshot_delta_or_document(tmp_path: Path) -> None:
    e, x = engine_with_vectors(tmp_path / "ix", 50)  # d000-d049 in the snapshot
    e.add([{"id": "late", "title": "doc late", "vectors": {"text_vector": x[0]}},  # delta
           {"id": "plain", "title": "doc plain"}])  # no vectors at all
    e.delete(["d003"])
    fresh = EmbeddedEngine(tmp_path / "ix")  # a process that has not searched vectors
    for engine in (e, fresh):
        ids = {h.id for h in engine.lexical_search("doc", size=100, source=False).hits}
        assert ids == {f"d{i:03d}" for i in range(50)} - {"d003"} | {"late", "plain"}
        with_source = engine.lexical_search("doc", size=100).hits
        assert all(h.source is not None and h.source["id"] == h.id for h in with_source)
    fresh.close()
    e.close()


def test_lexical_ties_are_ordered_by_id_whichever_source_names_them(tmp_path: Path) -> None:
    """Ids named by the snapshot, the delta and the stored documents sort together: a
    tie group (every title is "doc" and one other word) is by id, not ingest order."""
    e, x = engine_with_vectors(tmp_path / "ix", 20)  # d000-d019 in the snapshot
    e.add([{"id": "zlate", "title": "doc zlate", "vectors": {"text_vector": x[0]}},  # delta
           {"id": "plain", "title": "doc plain"},  # no vectors at all
           {"id": "alate", "title": "doc alate", "vectors": {"text_vector": x[1]}}])
    order = ["alate"] + [f"d{i:03d}" for i in range(20)] + ["plain", "zlate"]
    fresh = EmbeddedEngine(tmp_path / "ix")
    for engine in (e, fresh):
        for source in (False, True):
            hits = engine.lexical_search("doc", size=23, source=source).hits
            assert [h.id for h in hits] == order and len({h.score for h in hits}) == 1
            page = engine.lexical_search("doc", size=3, offset=20, source=source).hits
            assert [h.id for h in page] == order[20:23]
            assert [h.id for h in engine.lexical_search("doc", size=2, source=source).hits
                    ] == order[:2]
    fresh.close()
    e.close()


def test_ef_search_comes_from_the_mapping(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The index setting knn.algo_param.ef_search (OpenSearch's vocabulary) sets how many
    candidates the graph examines: at 1 it misses neighbours that 400 finds."""
    monkeypatch.setattr(vectors, "EXACT_BELOW", 0)  # the graph, at every size
    queries = unit_rows(30, DIM, seed=11)

    def recall(ef: int) -> float:
        e, x = engine_with_vectors(tmp_path / f"ef{ef}", 3000, ef_search=ef)
        assert e.vectors.fields["text_vector"].field.ef_search == ef
        exact = [set(np.argsort(-(x @ q))[:10].tolist()) for q in queries]
        found = [{int(h.id[1:]) for h in e.knn_search("text_vector", q, k=10).hits}
                 for q in queries]
        e.close()
        return sum(len(a & b) for a, b in zip(exact, found, strict=True)) / 300
    assert recall(400) > recall(1)
    assert recall(400) >= 0.95
