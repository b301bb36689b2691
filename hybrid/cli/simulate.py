"""`hybrid simulate`: simulated users searching a running API and reacting to what it
shows, to rehearse an experiment or test the whole loop.

Each search is a random user (of --users) asking a random text query of the tasks;
the user's id puts the search in the running experiment. The page shown is judged by
the task's qrels, and a click model (position-based or cascade,
`hybrid.experiments.clickmodels`) decides the clicks and purchases; the impressions,
clicks and purchases go back to POST /events with the search's query id.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from hybrid.errors import HybridError


def add_parser(sub: Any) -> None:
    from hybrid.cli.evaluate import DEFAULT_DATA

    si = sub.add_parser("simulate", help="drive simulated users through a running API")
    si.add_argument("--url", required=True, help="the API, e.g. http://127.0.0.1:8000")
    si.add_argument("--data", type=Path, default=DEFAULT_DATA,
                    help="folder of task folders (queries.jsonl + qrels.tsv); "
                    "default %(default)s")
    si.add_argument("--task", action="append", default=[],
                    help="task to draw text queries from (repeatable; default fashion_text)")
    si.add_argument("--searches", type=int, default=1000)
    si.add_argument("--queries", type=int, metavar="N",
                    help="only the first N text queries of the tasks (head traffic: many "
                    "searches per query, as learning from clicks needs)")
    si.add_argument("--users", type=int, default=500)
    si.add_argument("--click-model", choices=["pbm", "cascade"], default="pbm")
    si.add_argument("--eta", type=float, default=1.0,
                    help="position-based model: rank k is examined with (1/k)^eta")
    si.add_argument("--size", type=int, default=10, help="results per page")
    si.add_argument("--experiment", help="the experiment to join (default: the running one)")
    si.add_argument("--seed", type=int, default=0)
    si.add_argument("--json", action="store_true", help="print the summary as JSON")
    si.set_defaults(run=cmd_simulate)


def cmd_simulate(args: argparse.Namespace) -> int:
    import numpy as np
    import requests

    from hybrid.evaluation.suite import load_tasks
    from hybrid.experiments.clickmodels import session_events

    if args.searches < 1 or args.users < 1:
        raise HybridError("--searches and --users must be at least 1")
    queries = [(q.text, qs.qrels.get(q.qid, {})) for qs in
               load_tasks(args.data, args.task or ["fashion_text"])
               for q in qs.queries if q.modalities == ("text",)]
    queries = queries[:args.queries] if args.queries else queries
    if not queries:
        raise HybridError(f"no text queries in {args.data} for {args.task}")
    rng = np.random.default_rng(args.seed)
    http = requests.Session()
    url = args.url.rstrip("/")
    summary: dict[str, Any] = {"searches": 0, "events": 0, "clicks": 0, "rejected": 0,
                               "experiments": {}}
    for _ in range(args.searches):
        text, qrels = queries[int(rng.integers(len(queries)))]
        user = f"sim-{args.seed}-{int(rng.integers(args.users))}"
        body = {"q": text, "size": args.size, "user_id": user}
        if args.experiment:
            body["experiment"] = args.experiment
        res = _call(http, "post", f"{url}/search", body)
        shown = [h["id"] for h in res["hits"]]
        events = session_events(res["query_id"], shown, qrels, rng, args.click_model,
                                user_id=user, eta=args.eta)
        if events:
            stored = _call(http, "post", f"{url}/events", events)
            summary["rejected"] += stored["rejected"]
        summary["searches"] += 1
        summary["events"] += len(events)
        summary["clicks"] += sum(1 for e in events if e["action_name"] == "click")
        key = f"{res.get('experiment')}/{res.get('variant') or '-'}"
        summary["experiments"][key] = summary["experiments"].get(key, 0) + 1
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"{summary['searches']} searches, {summary['events']} events "
              f"({summary['clicks']} clicks, {summary['rejected']} rejected)")
        for key, n in sorted(summary["experiments"].items()):
            print(f"  experiment/variant {key}: {n} searches")
    return 0


def _call(http: Any, method: str, url: str, body: Any) -> dict[str, Any]:
    import requests

    try:
        r = http.request(method, url, json=body, timeout=120)
    except requests.RequestException as e:
        raise HybridError(f"cannot reach {url}: {e}") from e
    if r.status_code not in (200, 207):
        raise HybridError(f"{url} answered {r.status_code}: {r.text[:300]}")
    out: dict[str, Any] = r.json()
    return out
