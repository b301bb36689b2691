// The experiments dashboard: the list from GET /experiments, and per experiment its
// report (GET /experiments/{name}/report): per-variant metrics with confidence
// intervals, the significance tests, the sample-ratio check, interleaving wins, and
// CTR and traffic over time. A server without the experiments API (404) shows
// "No experiments"; fields a report lacks are left out. Variants are coloured by their
// place in the experiment.

import {ApiError, call} from "./api.js";
import {PALETTE, clear, fmt, h, svg, text} from "./dom.js";

const METRICS = [["ctr", "CTR"], ["clicks_at_10", "clicks@10"], ["mrr", "MRR"],
                 ["abandonment", "abandonment"], ["conversion", "conversion"]];

export function experimentsView(root, {showError}) {
  const list = h("div", {id: "exp-list"});
  const board = h("div", {id: "exp-report"});
  const reload = h("button", {type: "button", id: "exp-reload"}, "Reload");
  root.append(h("div", {class: "exp-head"}, h("h2", {}, "Experiments"), reload), list, board);
  reload.addEventListener("click", load);
  load();

  async function load() {
    clear(list, h("p", {class: "muted"}, "Loading…"));
    let data;
    try {
      data = await call("GET", "/experiments", undefined, {keyed: true});
    } catch (e) {
      if (e instanceof ApiError && (e.status === 404 || e.status === 405)) {
        clear(list, empty("This server has no experiments API yet."));
        return;
      }
      clear(list);
      showError(e);
      return;
    }
    const exps = (data && data.experiments) || [];
    if (!exps.length) {
      clear(list, empty("None is defined on this server."));
      return;
    }
    clear(list, h("table", {class: "exp-table"},
      h("thead", {}, h("tr", {}, ["experiment", "kind", "status", "variants"].map((c) =>
        h("th", {scope: "col"}, c)))),
      h("tbody", {}, exps.map((x) => h("tr", {dataset: {name: text(x.name)}},
        h("td", {}, h("button", {type: "button", class: "link exp-open",
                                 onclick: () => open(text(x.name))}, text(x.name))),
        h("td", {}, text(x.kind)), h("td", {}, text(x.status)),
        h("td", {}, (x.variants || []).map((v) => h("span", {class: "chip"},
          `${text(v.name)}: ${text(v.profile)}`
          + (x.kind === "interleaving" ? "" : share(v, x.variants))))))))));
  }

  function share(v, all) {
    // splits are relative weights: show each variant's share of the traffic
    const total = all.reduce((t, w) => t + (typeof w.split === "number" ? w.split : 0), 0);
    return typeof v.split === "number" && total > 0 ? ` (${fmt(100 * v.split / total, 0)}%)`
      : "";
  }

  function empty(why) {
    return h("div", {class: "empty", id: "no-experiments"}, h("h3", {}, "No experiments"),
      h("p", {class: "muted"}, why));
  }

  async function open(name) {
    clear(board, h("p", {class: "muted"}, "Loading report…"));
    try {
      const r = await call("GET", `/experiments/${encodeURIComponent(name)}/report`, undefined,
                          {keyed: true});
      showError(null);
      clear(board, report(r));
    } catch (e) {
      clear(board);
      showError(e);
    }
    board.dataset.runs = String(Number(board.dataset.runs || 0) + 1);
  }
}

function report(r) {
  const variants = r.variants || [];
  // a colour per variant by its place in the experiment: names may hash alike
  const colours = new Map(variants.map((v, i) => [text(v.variant), PALETTE[i % PALETTE.length]]));
  const colour = (name) => colours.get(name) || PALETTE[PALETTE.length - 1];
  const parts = [h("h2", {}, `${text(r.experiment)} `, h("span", {class: "muted"},
    `(${[r.kind, r.status].filter(Boolean).map(text).join(", ")})`))];
  if (r.srm) {
    // A/B: distinct users per variant against the split; interleaving: first picks
    const what = r.kind === "interleaving" ? "first picks" : "users";
    const observed = Array.isArray(r.srm.observed)
      ? `; ${what}: ${variants.map((v, i) => `${text(v.variant)} ${fmt(r.srm.observed[i])}`)
        .join(" · ")}` : "";
    parts.push(h("p", {class: r.srm.ok === false ? "warn srm" : "ok srm"},
      r.srm.ok === false ? "Sample ratio mismatch: traffic does not split as configured "
        : "Traffic splits as configured ",
      `(SRM test p = ${fmt(r.srm.p_value, 4)}${observed})`));
  }
  parts.push(h("table", {class: "exp-variants"},
    h("thead", {}, h("tr", {}, ["variant", "profile", "queries", "impressions", "clicks",
      ...METRICS.map((m) => m[1]), "latency p50 / p99 (ms)", "flags"].map((c) =>
      h("th", {scope: "col"}, c)))),
    h("tbody", {}, variants.map((v) => h("tr", {},
      h("th", {scope: "row", class: "variant"}, h("i", {class: "swatch",
                                      style: {background: colour(text(v.variant))}}),
        text(v.variant)),
      h("td", {}, text(v.profile)), h("td", {}, fmt(v.queries)),
      h("td", {}, fmt(v.impressions)), h("td", {}, fmt(v.clicks)),
      METRICS.map(([m]) => h("td", {}, interval(v[m]))),
      h("td", {}, v.latency_ms ? `${fmt(v.latency_ms.p50, 1)} / ${fmt(v.latency_ms.p99, 1)}`
        : "–"),
      h("td", {}, (v.flags || []).map((f) => h("span", {class: "flag"}, text(f)))))))));
  const charts = METRICS.filter(([m]) => variants.some((v) => v[m]
    && typeof v[m].value === "number"))
    .map(([m, name]) => ciChart(name, variants.map((v) => [text(v.variant), v[m]]), colour));
  parts.push(h("div", {class: "ci-charts"}, charts));
  if ((r.tests || []).length) {
    parts.push(h("h3", {}, "Tests"), h("table", {class: "exp-tests"},
      h("thead", {}, h("tr", {}, ["metric", "a", "b", "p-value", "significant"].map((c) =>
        h("th", {scope: "col"}, c)))),
      h("tbody", {}, r.tests.map((t) => h("tr", {class: t.significant ? "sig" : ""},
        h("td", {}, text(t.metric)), h("td", {}, text(t.a)), h("td", {}, text(t.b)),
        h("td", {}, fmt(t.p_value, 4)), h("td", {}, t.significant ? "yes" : "no"))))));
  }
  if (r.interleaving) {
    const wins = Object.entries(r.interleaving.wins || {});
    parts.push(h("h3", {}, "Interleaving"), h("p", {class: "interleaving"},
      wins.map(([k, n]) => `${text(k)}: ${fmt(n)} wins · `).join(""),
      `ties: ${fmt(r.interleaving.ties)} · `,
      r.interleaving.no_clicks !== undefined
        ? `no clicks: ${fmt(r.interleaving.no_clicks)} · ` : "",
      `p = ${fmt(r.interleaving.p_value, 4)}`));
  }
  if ((r.timeline || []).length) parts.push(timeline(r.timeline, colour));
  return h("div", {class: "exp-board"}, parts);
}

function interval(m) {
  if (!m || typeof m.value !== "number") return "–";
  if (!Array.isArray(m.ci)) return fmt(m.value);
  return [h("span", {class: "value"}, fmt(m.value)), " ",
          h("span", {class: "ci"}, `[${fmt(m.ci[0])}, ${fmt(m.ci[1])}]`)];
}

// A horizontal dot-and-whisker chart: each variant's value and confidence interval.
function ciChart(name, rows, colour) {
  const W = 520;
  const row = 26;
  const pad = 110;
  const vals = rows.flatMap(([, m]) => m ? [m.value, ...(m.ci || [])] : [])
    .filter((x) => typeof x === "number");
  const lo = Math.min(0, ...vals);
  const hi = Math.max(...vals, lo + 1e-9);
  const x = (v) => pad + ((v - lo) / (hi - lo)) * (W - pad - 20);
  const H = rows.length * row + 28;
  const g = svg("svg", {viewBox: `0 0 ${W} ${H}`, class: "ci-chart", role: "img",
                        "aria-label": `${name} by variant with confidence intervals`});
  rows.forEach(([variant, m], i) => {
    const y = 18 + i * row;
    g.append(svg("text", {x: 4, y: y + 4, class: "lbl"}, variant));
    if (!m || typeof m.value !== "number") return;
    if (Array.isArray(m.ci)) {
      g.append(svg("line", {x1: x(m.ci[0]), x2: x(m.ci[1]), y1: y, y2: y,
                            stroke: colour(variant), "stroke-width": 3}));
    }
    g.append(svg("circle", {cx: x(m.value), cy: y, r: 5, fill: colour(variant)}));
    g.append(svg("text", {x: Math.min(x(m.value), W - 24), y: y - 7, class: "val",
                          "text-anchor": "middle"}, fmt(m.value)));
  });
  g.append(svg("text", {x: pad, y: H - 4, class: "axis"}, fmt(lo)));
  g.append(svg("text", {x: W - 60, y: H - 4, class: "axis"}, fmt(hi)));
  return h("figure", {class: "chart"}, h("figcaption", {}, name), g);
}

// CTR per variant over time, as lines.
function timeline(points, colour) {
  const dates = [...new Set(points.map((p) => text(p.date)))].sort();
  const byVariant = new Map();
  for (const p of points) {
    const v = text(p.variant);
    if (!byVariant.has(v)) byVariant.set(v, []);
    byVariant.get(v).push(p);
  }
  const W = 640;
  const H = 220;
  const pad = 40;
  const ctrs = points.map((p) => p.ctr).filter((c) => typeof c === "number");
  const hi = Math.max(...ctrs, 1e-9);
  const x = (d) => pad + (dates.length > 1 ? dates.indexOf(d) / (dates.length - 1) : 0.5)
    * (W - 2 * pad);
  const y = (c) => H - pad - (c / hi) * (H - 2 * pad);
  const g = svg("svg", {viewBox: `0 0 ${W} ${H}`, class: "timeline", role: "img",
                        "aria-label": "CTR per variant over time"});
  g.append(svg("line", {x1: pad, x2: W - pad, y1: H - pad, y2: H - pad, class: "axis-line"}));
  g.append(svg("text", {x: 2, y: pad, class: "axis"}, fmt(hi)));
  g.append(svg("text", {x: dates.length > 1 ? pad : W / 2 - 35, y: H - 8, class: "axis"},
               dates[0] || ""));
  if (dates.length > 1) {
    g.append(svg("text", {x: W - pad - 70, y: H - 8, class: "axis"}, dates[dates.length - 1]));
  }
  for (const [variant, ps] of byVariant) {
    const pts = ps.filter((p) => typeof p.ctr === "number")
      .sort((a, b) => text(a.date).localeCompare(text(b.date)))
      .map((p) => `${x(text(p.date))},${y(p.ctr)}`).join(" ");
    g.append(svg("polyline", {points: pts, fill: "none", stroke: colour(variant),
                              "stroke-width": 2}));
    for (const p of ps) {  // a dot per day: one day of traffic is no line at all
      if (typeof p.ctr !== "number") continue;
      g.append(svg("circle", {cx: x(text(p.date)), cy: y(p.ctr), r: 4, fill: colour(variant)},
        svg("title", {}, `${variant} ${text(p.date)}: CTR ${fmt(p.ctr)}, ${fmt(p.queries)} queries`)));
    }
  }
  const key = h("div", {class: "legend"}, [...byVariant.keys()].map((v) => h("span",
    {class: "key"}, h("i", {class: "swatch", style: {background: colour(v)}}), v)));
  const traffic = h("table", {class: "exp-timeline"},
    h("thead", {}, h("tr", {}, h("th", {}, "date"), [...byVariant.keys()].map((v) =>
      h("th", {scope: "col"}, `${v} queries / CTR`)))),
    h("tbody", {}, dates.map((d) => h("tr", {}, h("th", {scope: "row"}, d),
      [...byVariant.values()].map((ps) => {
        const p = ps.find((z) => text(z.date) === d);
        return h("td", {}, p ? `${fmt(p.queries)} / ${fmt(p.ctr)}` : "–");
      })))));
  return h("figure", {class: "chart"}, h("figcaption", {}, "CTR over time"), g, key,
    h("details", {}, h("summary", {}, "Per day"), traffic));
}
