"""Query sets and judgment lists as files.

A task folder holds `queries.jsonl` (qid, and text, image or audio, paths relative to the
file's folder's parent as in ../shared/data/dev, or absolute) and `qrels.tsv`
(`qid<TAB>doc<TAB>grade`, or TREC's four columns `qid 0 doc grade`). Judgment lists
convert between TREC qrels and JSON (`{"qid": {"doc": grade}}` or a list of
`{"qid", "doc", "grade"}` records, what the inspector records), so judgments made later
feed `hybrid eval` and `hybrid learn`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hybrid.errors import HybridError

Qrels = dict[str, dict[str, int]]


class JudgmentError(HybridError):
    """A query set or judgment file cannot be read."""


@dataclass(frozen=True)
class Query:
    qid: str
    task: str
    text: str = ""
    image: str | None = None      # absolute path
    audio: str | None = None      # absolute path
    exclude: tuple[str, ...] = ()  # documents to leave out of its results (the query's own)
    transcript: str | None = None  # the reference transcript of a spoken query (not used
    # to search: the system transcribes the audio itself)

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(m for m, v in (("text", self.text), ("image", self.image),
                                    ("audio", self.audio)) if v)


@dataclass
class QuerySet:
    name: str
    queries: list[Query]
    qrels: Qrels = field(default_factory=dict)

    def judged(self) -> list[Query]:
        """The queries that have at least one judgment."""
        return [q for q in self.queries if self.qrels.get(q.qid)]


def load_task(folder: str | Path, name: str | None = None) -> QuerySet:
    folder = Path(folder)
    qfile = folder / "queries.jsonl"
    if not qfile.exists():
        raise JudgmentError(f"{folder}: no queries.jsonl (a task folder holds queries.jsonl "
                            "and qrels.tsv)")
    base = folder.parent  # dev/<task>/queries.jsonl names files relative to dev/
    queries = []
    for n, line in enumerate(qfile.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            queries.append(_query(row, base, folder, name or folder.name))
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise JudgmentError(f"{qfile}:{n}: not a query ({e})") from e
    qrels = read_qrels(folder / "qrels.tsv") if (folder / "qrels.tsv").exists() else {}
    qids = {q.qid for q in queries}  # a qrels file may judge queries the set leaves out
    return QuerySet(name or folder.name, queries, {q: d for q, d in qrels.items() if q in qids})


def _query(row: Mapping[str, Any], base: Path, folder: Path, task: str) -> Query:
    def path(key: str) -> str | None:
        value = row.get(key)
        if not value:
            return None
        p = Path(value)
        if not p.is_absolute():
            p = base / p if (base / p).exists() or not (folder / p).exists() else folder / p
        return str(p.resolve())

    exclude = row.get("exclude") or ()
    return Query(str(row["qid"]), str(row.get("task") or task), str(row.get("text") or ""),
                 path("image"), path("audio"),
                 (exclude,) if isinstance(exclude, str) else tuple(exclude),
                 row.get("transcript"))


def read_qrels(path: str | Path) -> Qrels:
    """TREC qrels (3 or 4 columns) or JSON, by the file's content."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise JudgmentError(f"cannot read judgments {p}: {e.strerror or e}") from e
    if text.lstrip().startswith(("{", "[")):
        try:
            return from_json(json.loads(text))
        except json.JSONDecodeError as e:
            raise JudgmentError(f"{p}: not valid JSON ({e})") from e
    qrels: Qrels = {}
    for n, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) == 4:
            parts = [parts[0], parts[2], parts[3]]
        if len(parts) != 3:
            raise JudgmentError(f"{p}:{n}: expected 'qid doc grade' or 'qid 0 doc grade'")
        try:
            grade = int(float(parts[2]))
        except ValueError as e:
            raise JudgmentError(f"{p}:{n}: grade {parts[2]!r} is not a number") from e
        qrels.setdefault(parts[0], {})[parts[1]] = grade
    return qrels


def from_json(data: Any) -> Qrels:
    if isinstance(data, Mapping):
        return {str(q): {str(d): int(g) for d, g in docs.items()} for q, docs in data.items()}
    qrels: Qrels = {}
    for rec in data:
        try:
            qrels.setdefault(str(rec["qid"]), {})[str(rec["doc"])] = int(rec["grade"])
        except (KeyError, TypeError, ValueError) as e:
            raise JudgmentError(f"a judgment record needs qid, doc and grade: {rec!r}") from e
    return qrels


def write_qrels(qrels: Qrels, path: str | Path, fmt: str | None = None) -> None:
    """TREC (`qid 0 doc grade`) or JSON, by `fmt` or the file's suffix."""
    p = Path(path)
    fmt = fmt or ("json" if p.suffix == ".json" else "trec")
    if fmt == "json":
        p.write_text(json.dumps(qrels, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    elif fmt == "trec":
        p.write_text("".join(f"{q} 0 {d} {g}\n" for q, docs in sorted(qrels.items())
                             for d, g in sorted(docs.items())), encoding="utf-8")
    else:
        raise JudgmentError(f"unknown judgment format {fmt!r}; use trec or json")


def merge(lists: Iterable[Qrels]) -> Qrels:
    """Later lists win where two judge the same (query, document)."""
    out: Qrels = {}
    for qrels in lists:
        for q, docs in qrels.items():
            out.setdefault(q, {}).update(docs)
    return out
