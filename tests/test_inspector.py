"""The inspector page in a real headless Chromium (Debian's, driven by Playwright) against
a real `hybrid serve` on a copy of the small test index: search by text, image and
audio, explain, page, compare two rankings, judge and read the judgment back through
the API, escape product text, show API errors, and show experiments' reports (an A/B
test and an interleaving experiment run through the real API).

Screenshots go to $HYBRID_TEST_ARTIFACTS (default var/test-artifacts/)."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from hybrid.testing.servers import ApiServer

requests = pytest.importorskip("requests")
sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

CHROMIUM = os.environ.get("HYBRID_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
KEY = "inspector-key"
AUTH = {"X-API-Key": KEY}
REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("HYBRID_TEST_ARTIFACTS", REPO / "var" / "test-artifacts"))
EVIL_TITLE = ('<script>window.__pwned = "title"</script> Evil '
              '<img src=x onerror="window.__pwned=1"> zebrashirt')
EVIL_BRAND = "<img src=x onerror=window.__pwned=2>"


@pytest.fixture(scope="module")
def server(small_index: tuple[Path, Path, dict[str, str]],
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    folder, index, env = small_index
    own = tmp_path_factory.mktemp("inspector")
    # judgments and products written here stay here; the experiments and events that
    # other modules' servers left in the shared index do not come along
    shutil.copytree(index, own / "index",
                    ignore=shutil.ignore_patterns("experiments", "events.sqlite*"))
    srv = ApiServer(own / "index", own / "serve.log", api_key=KEY, workers=2,
                    env={**env, "HYBRID_VECTORS": '"off"'})
    srv.start()
    evil = {"id": "evil1", "title": EVIL_TITLE, "brand": EVIL_BRAND,
            "category": ["<b>Bold</b>", "Shirts"], "attributes": {"colour": "<svg onload=x>"},
            "description": "a zebrashirt"}
    r = requests.post(f"{srv.url}/products", json=[evil], headers=AUTH, timeout=30)
    assert r.status_code == 200, r.text
    lexical = {"signals": [{"kind": "lexical", "name": "bm25"}]}
    r = requests.put(f"{srv.url}/profiles/keyword", json=lexical, headers=AUTH, timeout=10)
    assert r.status_code == 201, r.text
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (make test installs Debian's chromium)")
    with sync_api.sync_playwright() as p:
        yield p


@contextmanager
def chromium(playwright: Any, *extra: str) -> Iterator[Any]:
    """Chromium with a fresh profile (user-data-dir), deleted afterwards."""
    with tempfile.TemporaryDirectory() as profile:
        ctx = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=[*ARGS, *extra], headless=True,
            viewport={"width": 1280, "height": 900},
            bypass_csp=True)  # Playwright evaluates strings; and escaping must hold without it
        try:
            yield ctx
        finally:
            ctx.close()


@pytest.fixture(scope="module")
def context(playwright: Any) -> Iterator[Any]:
    with chromium(playwright) as ctx:
        yield ctx


def shot(pg: Any, name: str, full: bool = False) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full)


@pytest.fixture
def page(context: Any, server: ApiServer, request: pytest.FixtureRequest) -> Iterator[Any]:
    yield from open_page(context, server, request.node.name)


def open_page(context: Any, server: ApiServer, name: str) -> Iterator[Any]:
    pg = context.new_page()
    pg.set_default_timeout(90_000)
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))
    pg.goto(server.url + "/")
    pg.wait_for_selector("#profile option", state="attached")
    yield pg
    shot(pg, name)
    pg.close()
    assert not errors, errors


def search(pg: Any, text: str = "", profile: str | None = None, size: int | None = None
           ) -> None:
    runs = pg.eval_on_selector("#view-search", "el => Number(el.dataset.runs || 0)")
    if profile is not None:
        pg.select_option("#profile", profile)
        wait_runs(pg, "#view-search", runs + 1)
        runs += 1
    if size is not None:
        pg.select_option("#size", str(size))
        wait_runs(pg, "#view-search", runs + 1)
        runs += 1
    pg.fill("#q", text)
    pg.click("#go")
    wait_runs(pg, "#view-search", runs + 1)


def wait_runs(pg: Any, root: str, n: int) -> None:
    pg.wait_for_function(f"document.querySelector('{root}').dataset.runs >= {n}")


def card_ids(pg: Any) -> list[str]:
    return pg.eval_on_selector_all("#results .hit", "els => els.map(e => e.dataset.id)")


def api_search(server: ApiServer, **body: Any) -> dict[str, Any]:
    r = requests.post(f"{server.url}/search", json=body, timeout=120)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_text_search_shows_hits_bars_and_explanations(page: Any, server: ApiServer) -> None:
    search(page, "black shirt")
    expected = api_search(server, q="black shirt", size=20, explain=True)
    assert card_ids(page) == [h["id"] for h in expected["hits"]]
    first = page.locator("#results .hit").first
    hit = expected["hits"][0]
    assert first.locator(".title").inner_text() == hit["fields"]["title"]
    assert first.locator("img.thumb").get_attribute("src") == hit["image_url"]
    page.wait_for_function("() => { const i = document.querySelector('#results img.thumb');"
                           " return i && i.complete && i.naturalWidth > 0; }")  # served by the API
    segments = first.locator(".bar .seg")
    contributing = [n for n, e in hit["explain"].items() if e["contribution"] > 0]
    drawn = segments.evaluate_all("s => s.map(x => x.dataset.signal)")
    assert sorted(drawn) == sorted(contributing)
    first.locator(".explain-panel summary").click()
    table = first.locator("table.explain")
    assert table.is_visible()
    rows = table.locator("tbody tr")
    assert rows.count() == len(expected["signals"])
    bm25 = hit["explain"]["bm25"]
    row = rows.filter(has_text="bm25").first.locator("td")
    assert float(row.nth(1).inner_text()) == pytest.approx(bm25["raw"], abs=1e-4)
    assert row.nth(2).inner_text() == str(bm25["rank"])
    assert float(row.nth(3).inner_text()) == pytest.approx(bm25["normalized"], abs=1e-4)
    assert "profile default version 1" in first.locator(".explain-body").inner_text()
    assert f"{expected['total']} results" in page.inner_text("#summary")
    # a profile whose query is a product is not offered for the search box
    assert page.locator('#profile option[value="default"]').is_enabled()
    similar = page.locator('#profile option[value="similar"]')
    assert similar.is_disabled() and "products like a given one" in similar.inner_text()
    assert page.locator('#profile option[value="similar@1"]').count() == 0


def test_facet_click_filters_and_paging(page: Any, server: ApiServer) -> None:
    search(page, "shirt", size=10)
    colour = page.locator('.facet[data-facet="attributes.colour"] .bucket').first
    key = colour.locator(".key").inner_text()
    count = int(colour.locator(".n").inner_text())
    runs = page.eval_on_selector("#view-search", "el => Number(el.dataset.runs)")
    colour.click()
    wait_runs(page, "#view-search", runs + 1)
    assert f"attributes.colour: {key}" in page.inner_text("#chips")
    flt = {"term": {"attributes.colour": key}}
    expected = api_search(server, q="shirt", size=10, filter=flt)
    assert card_ids(page) == [h["id"] for h in expected["hits"]] and count > 0
    assert f"{expected['total']} result" in page.inner_text("#summary")
    if expected["total"] > 10:
        page.click("#next")
        wait_runs(page, "#view-search", runs + 2)
        second = api_search(server, q="shirt", size=10, page=2, filter=flt)
        assert card_ids(page) == [h["id"] for h in second["hits"]]
        assert "page 2 of" in page.inner_text("#summary")


def test_image_upload_finds_the_product(page: Any, shared_data: Path) -> None:
    page.set_input_files("#view-search .image-file",
                         str(shared_data / "catalog" / "images" / "fashion" / "15970.jpg"))
    search(page, "")
    assert card_ids(page)[0] == "f15970"
    assert "image:image_vector" in page.inner_text("#summary .legend")


def test_audio_upload_shows_the_transcript(page: Any, shared_data: Path) -> None:
    clip = json.loads((shared_data / "dev" / "spoken" / "queries.jsonl").read_text()
                      .splitlines()[0])
    page.set_input_files("#view-search .audio-file", str(shared_data / "dev" / clip["audio"]))
    search(page, "")
    heard = re.findall(r"[a-z]+", page.inner_text("#summary .transcript").lower())
    assert set(clip["transcript"].lower().split()) & set(heard)
    assert card_ids(page)


def test_record_audio_from_the_microphone(playwright: Any, server: ApiServer) -> None:
    """MediaRecorder on Chromium's fake microphone (a beep): the recording is sent as the
    query's audio part and the server decodes it."""
    fake = ("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream")
    with chromium(playwright, *fake) as ctx:
        pages = open_page(ctx, server, "test_record_audio_from_the_microphone")
        page = next(pages)
        page.click("#view-search button.record")
        page.wait_for_selector("#view-search button.record.on")
        page.wait_for_timeout(2000)
        page.click("#view-search button.record")
        page.wait_for_function("document.querySelector('#view-search .audio .attached')"
                               ".textContent.startsWith('recording.')")
        with page.expect_response("**/search") as answer:
            page.click("#go")
        assert answer.value.status == 200, answer.value.text()
        body = answer.value.json()
        assert body["transcript"] is not None  # the audio arrived, was decoded and transcribed
        wait_runs(page, "#view-search", 1)
        assert not page.is_visible("#error")
        next(pages, None)


def test_compare_two_profiles(page: Any, server: ApiServer) -> None:
    page.click('a[data-view="compare"]')
    page.wait_for_selector("#cmp-left option[value=keyword]", state="attached")
    page.fill("#cmp-q", "black shirt")
    page.select_option("#cmp-left", "default")
    page.select_option("#cmp-right", "keyword")
    page.click("#cmp-go")
    wait_runs(page, "#view-compare", 1)
    a = [h["id"] for h in api_search(server, q="black shirt", size=10, profile="default")["hits"]]
    b = [h["id"] for h in api_search(server, q="black shirt", size=10, profile="keyword")["hits"]]
    left = page.eval_on_selector_all("#cmp-col-left li", "els => els.map(e => e.dataset.id)")
    right = page.eval_on_selector_all("#cmp-col-right li", "els => els.map(e => e.dataset.id)")
    assert (left, right) == (a, b)
    shared = len(set(a) & set(b))
    assert f"overlap@10: {shared / 10:.2f}" in page.inner_text("#overlap")
    assert page.inner_text("#only-right-count") == str(len(set(b) - set(a)))
    assert page.locator("#cmp-col-right li.only-one").count() == len(set(b) - set(a))
    for i, doc in enumerate(b):  # every marker on the right says how the rank moved
        marker = page.locator(f'#cmp-col-right li[data-id="{doc}"] .move').inner_text()
        if doc not in a:
            assert marker == "new"
        elif a.index(doc) == i:
            assert marker == "="
        else:
            was = a.index(doc)
            assert marker == (f"▲{was - i}" if was > i else f"▼{i - was}")


def test_compare_a_profile_with_keyword_search(page: Any, server: ApiServer) -> None:
    page.goto(server.url + "/#/compare")
    page.wait_for_selector("#cmp-left option[value=default]", state="attached")
    page.fill("#cmp-q", "black shirt")
    assert page.input_value("#cmp-right") == "__bm25__"  # the old keyword search, by default
    page.click("#cmp-go")
    wait_runs(page, "#view-compare", 1)
    signals = requests.get(f"{server.url}/profiles/default", timeout=10).json()["signals"]
    weights = {s["name"]: 1 if s["kind"] == "lexical" else 0 for s in signals}
    b = [h["id"] for h in api_search(server, q="black shirt", size=10, weights=weights)["hits"]]
    right = page.eval_on_selector_all("#cmp-col-right li", "els => els.map(e => e.dataset.id)")
    assert right == b
    assert "BM25 only" in page.inner_text("#cmp-col-right h2")


def test_judge_a_hit_and_read_it_back(page: Any, server: ApiServer) -> None:
    search(page, "navy blue shirt")
    first = page.locator("#results .hit").first
    doc = first.get_attribute("data-id")
    first.locator("button.grade.g2").click()  # no key yet: the API's 401 is shown
    page.wait_for_selector("#error:not([hidden])")
    assert "Unauthorized" in page.inner_text("#error .problem-title")
    assert "API key" in page.inner_text("#error .problem-detail")
    page.fill("#api-key", KEY)
    page.click("#key-form button[type=submit]")
    assert page.evaluate("sessionStorage.getItem('hybrid.apiKey')") == KEY
    first.locator("button.grade.g2").click()
    page.wait_for_selector(f'#results .hit[data-id="{doc}"] button.g2[aria-pressed=true]')
    second = page.locator("#results .hit").nth(1)
    other = second.get_attribute("data-id")
    second.locator("button.grade.g0").click()
    page.wait_for_selector(f'#results .hit[data-id="{other}"] button.g0[aria-pressed=true]')
    got = requests.get(f"{server.url}/judgments", params={"query": "Navy Blue  shirt"},
                       timeout=10).json()
    assert got["judgments"] == {doc: 2, other: 0}
    search(page, "navy blue shirt")  # a new search shows the recorded grades
    assert page.get_attribute(f'#results .hit[data-id="{doc}"] button.g2', "aria-pressed") == "true"
    qrels = (server.index / "judgments" / "inspector" / "qrels.tsv").read_text()
    assert f"{got['qid']} 0 {doc} 2" in qrels  # what hybrid eval --qrels reads


def test_product_text_is_escaped(page: Any, server: ApiServer) -> None:
    search(page, "zebrashirt", profile="keyword")
    card = page.locator('#results .hit[data-id="evil1"]')
    assert card.locator(".title").inner_text() == EVIL_TITLE
    assert card.locator(".brand").inner_text() == EVIL_BRAND
    assert "<b>Bold</b>" in card.locator(".category").inner_text()
    assert "<svg onload=x>" in card.locator(".attrs").inner_text()
    assert EVIL_BRAND in page.inner_text('.facet[data-facet="brand"]')
    assert no_injected_markup(page)
    shot(page, "escaped_product_text")
    page.goto(server.url + "/#/compare")
    page.wait_for_selector("#cmp-left option[value=keyword]", state="attached")
    page.fill("#cmp-q", "zebrashirt")
    page.click("#cmp-go")
    wait_runs(page, "#view-compare", 1)
    assert EVIL_TITLE in page.inner_text("#cmp-col-right")
    assert no_injected_markup(page)


def no_injected_markup(page: Any) -> bool:
    injected = page.locator("#view script, #view img[src=x], #view svg[onload], #view [onerror]")
    return (injected.count() == 0 and page.locator("#view b", has_text="Bold").count() == 0
            and page.evaluate("window.__pwned") is None)


def test_one_hundred_hits_and_paging(page: Any, server: ApiServer) -> None:
    search(page, "", size=100)  # no query: browse (the profile's depth, 100, is the total)
    expected = api_search(server, size=100)
    assert len(expected["hits"]) == 100
    assert card_ids(page) == [h["id"] for h in expected["hits"]]
    page.locator("#pager").scroll_into_view_if_needed()
    assert page.is_visible("#pager") and page.is_visible("#results .hit:nth-child(100) .judge")
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "one_hundred_hits_full", full=True)
    runs = page.eval_on_selector("#view-search", "el => Number(el.dataset.runs)")
    page.select_option("#size", "20")
    wait_runs(page, "#view-search", runs + 1)
    page.click("#pager button.page >> text=3")
    wait_runs(page, "#view-search", runs + 2)
    third = api_search(server, size=20, page=3)
    assert card_ids(page) == [h["id"] for h in third["hits"]]
    assert "page 3 of 5" in page.inner_text("#summary")
    assert page.is_enabled("#prev") and page.is_enabled("#next")


def test_no_hits(page: Any) -> None:
    search(page, "qqxzzyv", profile="keyword")
    assert card_ids(page) == []
    assert page.is_visible("#no-results")
    assert "0 results" in page.inner_text("#summary")
    assert page.is_disabled("#next") and page.is_disabled("#prev")


def test_api_errors_are_shown(page: Any) -> None:
    page.click(".advanced summary >> text=Filter as JSON")
    page.fill("#filter-json", '{"term": {"nosuchfield": "x"}}')
    search(page, "shirt")
    assert page.is_visible("#error")
    assert page.inner_text("#error .problem-title") == "Bad Request"
    assert page.inner_text("#error .problem-status").strip() == "400"
    assert "cannot filter on 'nosuchfield'" in page.inner_text("#error .problem-detail")
    assert "stale" in page.get_attribute("#results", "class")
    shot(page, "api_error_shown")
    page.fill("#filter-json", "{not json")
    search(page, "shirt")
    assert "not JSON" in page.inner_text("#error .problem-title")
    page.fill("#filter-json", "")
    search(page, "shirt")
    assert not page.is_visible("#error") and card_ids(page)


def test_the_page_forbids_inline_script(server: ApiServer) -> None:
    r = requests.get(f"{server.url}/", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert "https://" not in r.text  # nothing loaded from the internet


REPORT = {
    "experiment": "<i>fusion</i>-test", "kind": "ab",
    "variants": [
        {"variant": "control", "profile": "default", "queries": 1200, "impressions": 11000,
         "clicks": 900, "ctr": {"value": 0.0818, "ci": [0.076, 0.087]},
         "mrr": {"value": 0.41, "ci": [0.39, 0.43]},
         "abandonment": {"value": 0.31, "ci": [0.29, 0.33]},
         "conversion": {"value": 0.02, "ci": [0.015, 0.025]},
         "latency_ms": {"p50": 21.5, "p99": 80.2}, "flags": []},
        {"variant": "learned", "profile": "learned", "queries": 1180, "impressions": 10800,
         "clicks": 1010, "ctr": {"value": 0.0937, "ci": [0.088, 0.099]},
         "mrr": {"value": 0.45, "ci": [0.43, 0.47]},
         "abandonment": {"value": 0.27, "ci": [0.25, 0.29]},
         "conversion": {"value": 0.024, "ci": [0.019, 0.029]},
         "latency_ms": {"p50": 23.0, "p99": 90.1}, "flags": ["<b>slow</b> p99"]}],
    "tests": [{"metric": "ctr", "a": "control", "b": "learned", "p_value": 0.003,
               "significant": True}],
    "srm": {"p_value": 0.62, "ok": True},
    "timeline": [{"date": d, "variant": v, "queries": 100, "ctr": c}
                 for d, v, c in [("2026-11-01", "control", 0.08),
                                 ("2026-11-01", "learned", 0.09),
                                 ("2026-11-02", "control", 0.083),
                                 ("2026-11-02", "learned", 0.095)]],
}


def test_experiment_dashboard_escapes_and_spans_days(page: Any) -> None:
    """What real traffic in a test cannot give: a report over several days (one line per
    variant), guardrail flags, and markup in every string the dashboard shows (served
    to the browser in the API's documented shape)."""
    listing = {"experiments": [{"name": "<i>fusion</i>-test", "kind": "ab", "status": "running",
                                "variants": [{"name": "control", "profile": "default",
                                              "split": 0.5},
                                             {"name": "learned", "profile": "learned",
                                              "split": 0.5}]}]}
    page.route("**/experiments", lambda route: route.fulfill(json=listing))
    page.route("**/experiments/*/report", lambda route: route.fulfill(json=REPORT))
    page.click('a[data-view="experiments"]')
    page.click(".exp-open")
    page.wait_for_selector(".exp-variants")
    board = page.inner_text("#exp-report")
    assert "<i>fusion</i>-test" in board and "<b>slow</b> p99" in board
    learned = table_rows(page, ".exp-variants")[1]
    assert learned["CTR"] == "0.094 [0.088, 0.099]"  # with its confidence interval
    assert learned["clicks@10"] == "–"  # a field the report lacks is left out
    assert "0.0030" in page.inner_text(".exp-tests")
    assert page.locator(".ci-chart").count() == 4
    assert page.locator(".timeline polyline").count() == 2
    assert page.locator(".timeline circle").count() == 4
    strokes = page.eval_on_selector_all(".timeline polyline", "ls => ls.map(l => l.getAttribute("
                                        "'stroke'))")
    assert len(set(strokes)) == 2  # "control" and "learned" hash to one signal colour
    assert page.locator("#view i", has_text="fusion").count() == 0
    assert page.locator("#view b", has_text="slow").count() == 0


QUERIES = ["black shirt", "blue jeans", "navy blue shirt", "watch", "red dress", "shoes"]


def drive(server: ApiServer, experiment: str, users: int) -> None:
    """One search per user through the real API in `experiment`; impressions of the top
    five, a click on one of them for two users in three, and a purchase for one in five,
    posted back as UBI events in one batch."""
    events: list[dict[str, Any]] = []
    for u in range(users):
        res = api_search(server, q=QUERIES[u % len(QUERIES)], size=10, user_id=f"u{u}",
                         experiment=experiment)
        assert res["experiment"] == experiment, res
        base = {"query_id": res["query_id"], "user_id": f"u{u}"}
        for k, hit in enumerate(res["hits"][:5], 1):
            events.append(base | {"action_name": "impression", "object_id": hit["id"],
                                  "position": k})
        if res["hits"] and u % 3:
            k = 1 + (u * 7) % min(5, len(res["hits"]))
            events.append(base | {"action_name": "click", "object_id": res["hits"][k - 1]["id"],
                                  "position": k})
            if u % 5 == 0:
                events.append(base | {"action_name": "purchase",
                                      "object_id": res["hits"][k - 1]["id"]})
    r = requests.post(f"{server.url}/events", json=events, timeout=60)
    assert r.status_code == 200 and r.json()["stored"] == len(events), r.text


def open_report(page: Any, server: ApiServer, name: str) -> dict[str, Any]:
    """Open `name`'s dashboard; the report the API gives for it."""
    runs = page.eval_on_selector("#exp-report", "el => Number(el.dataset.runs || 0)")
    page.locator(".exp-open", has_text=name).click()
    wait_runs(page, "#exp-report", runs + 1)
    assert not page.is_visible("#error")
    r = requests.get(f"{server.url}/experiments/{name}/report", timeout=30)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def table_rows(page: Any, selector: str) -> list[dict[str, str]]:
    """A table's body rows, each as {column header: cell text}."""
    return page.eval_on_selector(selector, """t => {
        const heads = [...t.tHead.rows[0].cells].map(c => c.textContent.trim());
        return [...t.tBodies[0].rows].map(r => Object.fromEntries(
            [...r.cells].map((c, i) => [heads[i], c.textContent.trim()])));
    }""")


def numbers(shown: str) -> list[float]:
    return [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?", shown)]


def same(shown: str, *values: float | None, digits: int = 3) -> bool:
    """`shown` gives `values` (as the page rounds them; None shows as a dash)."""
    if any(v is None for v in values):
        return shown.strip() in ("–", "") and all(v is None for v in values)
    got = numbers(shown)
    return len(got) == len(values) and all(
        g == pytest.approx(v, abs=0.5 * 10 ** -digits + 1e-9)
        for g, v in zip(got, values, strict=True))


def check_dashboard(page: Any, rep: dict[str, Any]) -> None:
    """Every figure of the report, as the dashboard shows it."""
    assert rep["experiment"] in page.inner_text("#exp-report h2")
    assert rep["status"] in page.inner_text("#exp-report h2")
    rows = table_rows(page, ".exp-variants")
    assert [r["variant"] for r in rows] == [v["variant"] for v in rep["variants"]]
    for row, v in zip(rows, rep["variants"], strict=True):
        assert row["profile"] == v["profile"]
        for col in ("queries", "impressions", "clicks"):
            assert row[col] == str(v[col]), (col, row, v)
        for col, m in [("CTR", "ctr"), ("clicks@10", "clicks_at_10"), ("MRR", "mrr"),
                       ("abandonment", "abandonment"), ("conversion", "conversion")]:
            assert same(row[col], v[m]["value"], *(v[m]["ci"] or [])), (col, row[col], v[m])
        lat = v["latency_ms"]
        assert same(row["latency p50 / p99 (ms)"], lat["p50"], lat["p99"], digits=1)
    for chart, m in [("CTR", "ctr"), ("MRR", "mrr")]:  # dot and whisker: value and CI
        fig = page.locator("figure.chart").filter(
            has=page.locator("figcaption", has_text=re.compile(f"^{chart}$")))
        shown = fig.locator("svg .val").all_text_contents()
        assert all(same(t, v[m]["value"]) for t, v in zip(shown, rep["variants"], strict=True))
        assert fig.locator("svg line").count() == len(rep["variants"])
    srm = page.inner_text("#exp-report .srm")
    assert same(srm.split("p = ")[1].split(";")[0], rep["srm"]["p_value"], digits=4), srm
    assert ("mismatch" in srm.lower()) == (not rep["srm"]["ok"])
    for name, n in zip([v["variant"] for v in rep["variants"]], rep["srm"]["observed"],
                       strict=True):
        assert f"{name} {n}" in srm
    tests = table_rows(page, ".exp-tests")
    assert len(tests) == len(rep["tests"])
    for row, t in zip(tests, rep["tests"], strict=True):
        assert (row["metric"], row["a"], row["b"]) == (t["metric"], t["a"], t["b"])
        assert same(row["p-value"], t["p_value"], digits=4), (row, t)
        assert row["significant"] == ("yes" if t["significant"] else "no")
    page.locator(".chart details summary", has_text="Per day").click()
    days = table_rows(page, ".exp-timeline")
    shown = {(d["date"], v["variant"]): d[f"{v['variant']} queries / CTR"]
             for d in days for v in rep["variants"]}
    assert len(days) == len({p["date"] for p in rep["timeline"]})
    for p in rep["timeline"]:
        assert same(shown[(p["date"], p["variant"])], p["queries"], p["ctr"]), p
    assert page.locator(".timeline polyline").count() == len(rep["variants"])
    assert page.locator(".timeline circle").count() == len(rep["timeline"])  # one per day


def test_experiment_dashboards_show_the_reports_figures(page: Any, server: ApiServer) -> None:
    """An A/B test and an interleaving experiment created through the real API, searched
    and clicked through it: each dashboard shows the figures of GET /experiments/{name}/report."""
    assert requests.get(f"{server.url}/experiments", timeout=10).json()["experiments"] == []
    page.click('a[data-view="experiments"]')
    page.wait_for_selector("#no-experiments")
    variants = [{"name": "control", "profile": "default"},
                {"name": "treatment", "profile": "keyword"}]
    for name, kind, users in [("ab-test", "ab", 36), ("il-test", "interleaving", 24)]:
        r = requests.post(f"{server.url}/experiments", headers=AUTH, timeout=30, json={
            "name": name, "kind": kind, "variants": variants,
            "guardrails": {"latency_p99_ms": 0.001}})  # flags every variant
        assert r.status_code == 201, r.text
        try:
            drive(server, name, users)
        finally:
            r = requests.post(f"{server.url}/experiments/{name}/stop", headers=AUTH, timeout=30)
            assert r.status_code == 200, r.text
    page.click("#exp-reload")
    page.wait_for_selector(".exp-table tbody tr >> nth=1")
    listed = table_rows(page, ".exp-table")
    assert [(r["experiment"], r["kind"], r["status"]) for r in listed] == [
        ("ab-test", "ab", "stopped"), ("il-test", "interleaving", "stopped")]
    chips = [page.locator(".exp-table tbody tr").nth(i).locator(".chip").all_inner_texts()
             for i in range(2)]
    assert chips == [["control: default (50%)", "treatment: keyword (50%)"],
                     ["control: default", "treatment: keyword"]]  # no split to interleave

    rep = open_report(page, server, "ab-test")
    assert sum(v["queries"] for v in rep["variants"]) == 36 and rep["timeline"]
    check_dashboard(page, rep)
    assert page.locator(".exp-variants .flag").count() == 2
    shot(page, "experiment_ab_dashboard", full=True)

    rep = open_report(page, server, "il-test")
    assert sum(rep["interleaving"]["wins"].values()) > 0
    check_dashboard(page, rep)
    shown = page.inner_text("#exp-report .interleaving")
    il = rep["interleaving"]
    for team, n in il["wins"].items():
        assert f"{team}: {n} wins" in shown
    assert f"ties: {il['ties']}" in shown and f"no clicks: {il['no_clicks']}" in shown
    assert same(shown.split("p = ")[1], il["p_value"], digits=4), shown
    shot(page, "experiment_interleaving_dashboard", full=True)
