// The search view: text, image and audio queries; filters from facets, a price range
// and a JSON filter; the result grid with contribution bars, explanations and
// judgment buttons; paging.

import {ApiError, judge, judgments, profileSignals, search} from "./api.js";
import {clear, fmt, h, text} from "./dom.js";
import {contributionBar, explainTable, keywordWeights, legend, mediaInput, profileOptions,
        thumb} from "./widgets.js";

const FACETS_KEY = "hybrid.facetFields";
const DEFAULT_FACETS = "brand, category, attributes.colour, attributes.gender, attributes.usage";
const GRADES = [[0, "not relevant"], [1, "partly relevant"], [2, "relevant"]];

export function searchView(root, {showError}) {
  const st = {page: 1, chips: [], resp: null, grades: {}, judgedQuery: "", image: null,
              audio: null, busy: false};

  const q = h("input", {type: "search", id: "q", name: "q", placeholder: "Search products…",
                        autocomplete: "off", maxlength: 1000});
  const profile = h("select", {id: "profile", name: "profile"});
  const size = h("select", {id: "size", name: "size"},
    [10, 20, 50, 100].map((n) => h("option", {value: n, selected: n === 20}, `${n} per page`)));
  const image = mediaInput("image", (f) => { st.image = f; });
  const audio = mediaInput("audio", (f) => { st.audio = f; });
  const go = h("button", {type: "submit", id: "go", class: "primary"}, "Search");
  const form = h("form", {id: "search-form", class: "searchbar"},
    h("div", {class: "row"}, q, profile, size, go),
    h("div", {class: "row media-row"}, image.el, audio.el));

  const priceFrom = h("input", {type: "number", id: "price-from", placeholder: "min",
                                step: "any", min: 0});
  const priceTo = h("input", {type: "number", id: "price-to", placeholder: "max",
                              step: "any", min: 0});
  const filterJson = h("textarea", {id: "filter-json", rows: 4, spellcheck: false,
    placeholder: '{"term": {"attributes.colour": "Black"}}'});
  const facetFields = h("input", {type: "text", id: "facet-fields",
    value: localStorage.getItem(FACETS_KEY) || DEFAULT_FACETS});
  const chips = h("div", {id: "chips", class: "chips"});
  const facetsBox = h("div", {id: "facets"});
  const side = h("aside", {class: "side"},
    h("h2", {}, "Filters"), chips,
    h("div", {class: "price"}, h("label", {}, "Price ", priceFrom, " – ", priceTo)),
    h("details", {class: "advanced"}, h("summary", {}, "Filter as JSON"), filterJson,
      h("p", {class: "muted"}, "ANDed with the filters above; see the README's filter "
        + "language.")),
    h("details", {class: "advanced"}, h("summary", {}, "Facet fields"), facetFields),
    h("h2", {}, "Facets"), facetsBox);

  const summary = h("div", {id: "summary", class: "summary", "aria-live": "polite"});
  const grid = h("div", {id: "results", class: "grid"});
  const pager = h("nav", {id: "pager", class: "pager", "aria-label": "pages"});
  const judgeNote = h("p", {id: "judge-note", class: "muted"});
  root.append(form, h("div", {class: "layout"}, side,
                      h("div", {class: "main"}, summary, judgeNote, grid, pager)));

  profileOptions(profile, {withKeyword: true});

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    st.page = 1;
    run();
  });
  for (const el of [profile, size]) el.addEventListener("change", () => { st.page = 1; run(); });
  for (const el of [priceFrom, priceTo]) el.addEventListener("change", () => {
    st.page = 1;
    run();
  });
  facetFields.addEventListener("change", () => {
    localStorage.setItem(FACETS_KEY, facetFields.value);
    run();
  });

  function facetRequest() {
    const out = {};
    for (const f of facetFields.value.split(",").map((s) => s.trim()).filter(Boolean)) {
      out[f] = {terms: {field: f, size: 10}};
    }
    out.price = {range: {field: "price", ranges: [{to: 25}, {from: 25, to: 50},
                                                   {from: 50, to: 100}, {from: 100}]}};
    return out;
  }

  function filterRequest() {
    const parts = st.chips.map((c) => c.filter);
    const range = {};
    if (priceFrom.value !== "") range.gte = Number(priceFrom.value);
    if (priceTo.value !== "") range.lte = Number(priceTo.value);
    if (Object.keys(range).length) parts.push({range: {price: range}});
    const raw = filterJson.value.trim();
    if (raw) {
      try {
        parts.push(JSON.parse(raw));
      } catch (e) {
        throw new ApiError({title: "The JSON filter is not JSON", detail: e.message}, 0);
      }
    }
    return parts.length === 0 ? undefined : parts.length === 1 ? parts[0] : {and: parts};
  }

  async function run() {
    if (st.busy) return;
    st.busy = true;
    go.disabled = true;
    root.classList.add("busy");
    try {
      const req = {q: q.value.trim(), page: st.page, size: Number(size.value), explain: true,
                   facets: facetRequest()};
      const filter = filterRequest();
      if (filter) req.filter = filter;
      if (profile.value === "__bm25__") {
        req.profile = "default";  // BM25 alone: the default profile, other signals at 0
        req.weights = keywordWeights(await profileSignals("default"));
      } else if (profile.value) {
        req.profile = profile.value;
      }
      const resp = await search(req, {image: st.image, audio: st.audio});
      st.resp = resp;
      await loadGrades(req.q);
      showError(null);
      render();
    } catch (e) {
      grid.classList.add("stale");  // what is shown is not this request's answer
      showError(e);
    } finally {
      st.busy = false;
      go.disabled = false;
      root.classList.remove("busy");
      root.dataset.runs = String(Number(root.dataset.runs || 0) + 1);  // tests wait on it
    }
  }

  async function loadGrades(query) {
    st.judgedQuery = query;
    st.grades = {};
    if (!query) return;
    try {
      st.grades = (await judgments(query)).judgments || {};
    } catch (e) {
      st.grades = {};
    }
  }

  function render() {
    const r = st.resp;
    const pages = Math.max(1, Math.ceil(r.total / r.size));
    const took = r.took_ms && r.took_ms.total !== undefined ? ` · ${fmt(r.took_ms.total, 0)} ms`
      : "";
    const skipped = Object.entries(r.skipped || {});
    clear(summary,
      h("span", {class: "count"}, `${r.total} result${r.total === 1 ? "" : "s"}`),
      ` · page ${r.page} of ${pages} · profile `,
      h("code", {class: "profile-used"}, `${r.profile.name}@${r.profile.version}`), took,
      typeof r.transcript === "string" ? h("div", {class: "transcript"}, "heard: ",
        r.transcript ? h("q", {}, r.transcript) : h("em", {}, "nothing (no speech found)"))
        : null,
      legend(r.signals),
      skipped.length ? h("details", {class: "skipped"},
        h("summary", {}, `${skipped.length} signal(s) skipped`),
        h("ul", {}, skipped.map(([k, v]) => h("li", {}, h("code", {}, k), `: ${v}`)))) : null);
    judgeNote.textContent = st.judgedQuery
      ? `Judge each hit for “${st.judgedQuery}”: 0 not relevant, 1 partly, 2 relevant.`
      : "Judging needs a text query.";
    judgeNote.hidden = !r.hits.length;
    grid.classList.remove("stale");
    const top = Math.max(0, ...r.hits.map((x) => x.score));
    clear(grid, r.hits.length ? r.hits.map((hit, i) => card(hit, r, (r.page - 1) * r.size + i + 1, top))
      : h("div", {class: "empty", id: "no-results"},
          h("h3", {}, "No results"),
          h("p", {}, "Nothing matches this query and these filters. Remove a filter or try "
            + "other words.")));
    renderFacets(r.facets || {});
    renderChips();
    renderPager(r.page, pages);
  }

  function card(hit, r, rank, top) {
    const f = hit.fields || {};
    const attrs = Object.entries(f.attributes || {});
    return h("article", {class: "hit", dataset: {id: hit.id}},
      thumb(hit),
      h("div", {class: "hit-body"},
        h("h3", {class: "title"}, text(f.title) || hit.id),
        h("div", {class: "meta"},
          f.brand ? h("span", {class: "brand"}, text(f.brand)) : null,
          f.category ? h("span", {class: "category"}, text(f.category)) : null),
        f.price !== undefined && f.price !== null
          ? h("div", {class: "price"}, `${fmt(f.price, 2)} ${text(f.currency || "")}`) : null,
        attrs.length ? h("dl", {class: "attrs"}, attrs.map(([k, v]) =>
          [h("dt", {}, k), h("dd", {}, text(v))])) : null,
        h("div", {class: "ids muted"}, `#${rank} · `, h("code", {}, hit.id)),
        h("div", {class: "score"}, "score ", h("b", {}, fmt(hit.score, 4))),
        contributionBar(hit, r.signals, top),
        h("details", {class: "explain-panel"}, h("summary", {}, "Explain"),
          explainTable(hit, r.signals, r.profile, rank)),
        judgeButtons(hit.id)));
  }

  function judgeButtons(doc) {
    const box = h("div", {class: "judge", role: "group", "aria-label": "judgment"});
    const paint = () => {
      for (const b of box.querySelectorAll("button")) {
        const on = st.grades[doc] === Number(b.dataset.grade);
        b.classList.toggle("on", on);
        b.setAttribute("aria-pressed", on ? "true" : "false");
      }
    };
    for (const [g, label] of GRADES) {
      box.append(h("button", {type: "button", class: `grade g${g}`, dataset: {grade: g},
                              title: label, disabled: !st.judgedQuery,
                              onclick: async () => {
                                try {
                                  const res = await judge(st.judgedQuery, doc, g);
                                  st.grades = res.judgments;
                                  showError(null);
                                  paint();
                                } catch (e) {
                                  showError(e);
                                }
                              }}, String(g)));
    }
    paint();
    return box;
  }

  function renderFacets(facets) {
    const groups = [];
    for (const [name, buckets] of Object.entries(facets)) {
      const shown = buckets.filter((b) => b.count > 0);
      if (!shown.length) continue;
      groups.push(h("div", {class: "facet", dataset: {facet: name}},
        h("h3", {}, name),
        h("ul", {}, shown.map((b) => h("li", {},
          h("button", {type: "button", class: "bucket", onclick: () => addChip(name, b)},
            h("span", {class: "key"}, name === "price" ? priceLabel(b) : text(b.key)),
            h("span", {class: "n"}, String(b.count))))))));
    }
    clear(facetsBox, groups.length ? groups : h("p", {class: "muted"}, "No facet values."));
  }

  function priceLabel(b) {
    if (b.from !== undefined && b.to !== undefined) return `${b.from} – ${b.to}`;
    if (b.from !== undefined) return `${b.from} and more`;
    return `under ${b.to}`;
  }

  function addChip(name, b) {
    let filter;
    let label;
    if (name === "price") {
      const range = {};
      if (b.from !== undefined) range.gte = b.from;
      if (b.to !== undefined) range.lt = b.to;
      filter = {range: {price: range}};
      label = `price ${priceLabel(b)}`;
    } else {
      filter = {term: {[name]: b.key}};
      label = `${name}: ${text(b.key)}`;
    }
    if (!st.chips.some((c) => c.label === label)) st.chips.push({label, filter});
    st.page = 1;
    run();
  }

  function renderChips() {
    clear(chips, st.chips.map((c, i) => h("span", {class: "chip"}, c.label,
      h("button", {type: "button", "aria-label": `remove ${c.label}`, onclick: () => {
        st.chips.splice(i, 1);
        st.page = 1;
        run();
      }}, "×"))));
  }

  function renderPager(page, pages) {
    const go = (p) => () => { st.page = p; run(); window.scrollTo(0, 0); };
    const nums = [];
    const from = Math.max(1, page - 3);
    const to = Math.min(pages, page + 3);
    for (let p = from; p <= to; p++) {
      nums.push(h("button", {type: "button", class: p === page ? "page on" : "page",
                             "aria-current": p === page ? "page" : false, onclick: go(p)},
                  String(p)));
    }
    clear(pager,
      h("button", {type: "button", id: "prev", disabled: page <= 1, onclick: go(page - 1)},
        "‹ Prev"),
      nums,
      h("button", {type: "button", id: "next", disabled: page >= pages, onclick: go(page + 1)},
        "Next ›"));
  }
}
