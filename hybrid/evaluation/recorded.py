"""Judgments recorded one at a time (the inspector, through `PUT /judgments`), kept as a
task folder that `hybrid eval` and `hybrid learn` read as they are:

    <index>/judgments/inspector/queries.jsonl   {"qid", "text", "task": "inspector"} a line
    <index>/judgments/inspector/qrels.tsv       TREC qrels: `qid 0 doc grade` a line

so `hybrid eval --data <index>/judgments` scores profiles on them, `hybrid learn --data
<index>/judgments` fits on them, and `--qrels <index>/judgments/inspector/qrels.tsv`
uses them with another query set when their qids match (a judgment may name the qid
of a dev query). Writers in several processes (gunicorn workers) take a file lock;
each file is replaced whole, so readers never see half of one.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hybrid.errors import QueryError
from hybrid.evaluation.judgments import Qrels, read_qrels, write_qrels

TASK = "inspector"
GRADES = (0, 1, 2)  # not relevant, partly relevant, relevant
MAX_TEXT = 1000
_QID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


def qid_of(text: str) -> str:
    """A stable qid for a query text: case and spacing do not matter."""
    key = " ".join(text.split()).lower()
    return "iq_" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:12]


class JudgmentStore:
    """The recorded judgments of one index. `folder` is `<index>/judgments`."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder) / TASK
        self.queries_file = self.folder / "queries.jsonl"
        self.qrels_file = self.folder / "qrels.tsv"

    def get(self, text: str | None = None, qid: str | None = None) -> dict[str, Any]:
        """{"qid", "query", "judgments": {doc: grade}} of one query (empty when none is
        recorded). Name it by its text, its qid, or both."""
        text, qid = _check_query(text, qid)
        queries = self._texts()
        qid = qid or self._find(queries, text) or qid_of(text or "")
        return {"qid": qid, "query": queries.get(qid, text or ""),
                "judgments": self._qrels().get(qid, {})}

    def put(self, text: str | None, doc: Any, grade: Any, qid: str | None = None
            ) -> dict[str, Any]:
        """Record (or change) one judgment; returns the query's judgments as `get` does.
        Raises QueryError for a missing query, an empty doc or a grade not in 0..2."""
        text, qid = _check_query(text, qid)
        if not isinstance(doc, str) or not doc or len(doc) > 512 or doc != doc.strip() \
                or any(c.isspace() for c in doc):
            raise QueryError("'doc' must be a product id: 1 to 512 characters, no spaces")
        if isinstance(grade, bool) or grade not in GRADES:
            raise QueryError(f"'grade' must be 0, 1 or 2, got {grade!r}")
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._locked():
            queries = self._texts()
            qid = qid or self._find(queries, text) or qid_of(text or "")
            if qid not in queries:  # a new query: its text as first recorded stays
                if not text:
                    raise QueryError(f"no recorded query has qid {qid!r}; send its text "
                                     "as 'query'")
                queries[qid] = text
                _replace(self.queries_file, "".join(
                    json.dumps({"qid": q, "text": t, "task": TASK}, ensure_ascii=False) + "\n"
                    for q, t in queries.items()))
            qrels = self._qrels()
            qrels.setdefault(qid, {})[doc] = int(grade)
            tmp = self.qrels_file.with_suffix(".tmp")
            write_qrels(qrels, tmp, "trec")
            os.replace(tmp, self.qrels_file)
        return {"qid": qid, "query": queries[qid], "judgments": qrels[qid]}

    def queries(self) -> list[dict[str, Any]]:
        """Every recorded query: qid, text and how many documents it has judged."""
        qrels = self._qrels()
        return [{"qid": q, "query": t, "judged": len(qrels.get(q, {}))}
                for q, t in self._texts().items()]

    # -- files --------------------------------------------------------------------------
    def _texts(self) -> dict[str, str]:
        if not self.queries_file.exists():
            return {}
        out = {}
        for line in self.queries_file.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                out[str(row["qid"])] = str(row.get("text") or "")
        return out

    def _qrels(self) -> Qrels:
        return read_qrels(self.qrels_file) if self.qrels_file.exists() else {}

    @staticmethod
    def _find(queries: dict[str, str], text: str | None) -> str | None:
        if not text:
            return None
        key = " ".join(text.split()).lower()
        return next((q for q, t in queries.items() if " ".join(t.split()).lower() == key),
                    None)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.folder / ".lock", "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)


def _check_query(text: Any, qid: Any) -> tuple[str | None, str | None]:
    if text is not None and not isinstance(text, str):
        raise QueryError("'query' must be the query's text")
    text = " ".join(text.split()) if text else None
    if text and len(text) > MAX_TEXT:
        raise QueryError(f"'query' is {len(text)} characters long; the limit is {MAX_TEXT}")
    if qid is not None and (not isinstance(qid, str) or not _QID.match(qid)):
        raise QueryError("'qid' must be 1 to 128 letters, digits or _ . : -")
    if not text and not qid:
        raise QueryError("name the query: its text as 'query', or its 'qid'")
    return text, qid


def _replace(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
