// Compare two rankings of one query side by side: two profiles (or versions), or a
// profile and the old keyword search (BM25 alone). Each hit on the right is marked
// with how far it moved from its rank on the left; hits only one side has stand out;
// overlap@k is the share of the top k both sides have.

import {profileSignals, search} from "./api.js";
import {clear, fmt, h, text} from "./dom.js";
import {keywordWeights, mediaInput, profileOptions, thumb} from "./widgets.js";

export function compareView(root, {showError}) {
  const q = h("input", {type: "search", id: "cmp-q", placeholder: "Query to compare…",
                        autocomplete: "off", maxlength: 1000});
  const left = h("select", {id: "cmp-left", "aria-label": "left ranking"});
  const right = h("select", {id: "cmp-right", "aria-label": "right ranking"});
  const k = h("select", {id: "cmp-k"},
    [10, 20, 50].map((n) => h("option", {value: n, selected: n === 10}, `top ${n}`)));
  let image = null;
  const media = mediaInput("image", (f) => { image = f; });
  const go = h("button", {type: "submit", id: "cmp-go", class: "primary"}, "Compare");
  const form = h("form", {id: "compare-form", class: "searchbar"},
    h("div", {class: "row"}, q, left, h("span", {class: "vs"}, "vs"), right, k, go),
    h("div", {class: "row media-row"}, media.el));
  const summary = h("div", {id: "cmp-summary", class: "summary", "aria-live": "polite"});
  const cols = h("div", {id: "cmp-cols", class: "compare"});
  root.append(form, summary, cols);
  profileOptions(left, {withKeyword: true});
  profileOptions(right, {withKeyword: true, selected: "__bm25__"});

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    go.disabled = true;
    try {
      const size = Number(k.value);
      const [a, b] = await Promise.all([left.value, right.value].map(async (ref) => {
        const req = {q: q.value.trim(), size, explain: false};
        if (ref === "__bm25__") {
          req.profile = "default";  // BM25 alone: the default profile, other signals at 0
          req.weights = keywordWeights(await profileSignals("default"));
        } else if (ref) {
          req.profile = ref;
        }
        return search(req, {image});
      }));
      showError(null);
      render(a, b, size, [label(left), label(right)]);
    } catch (err) {
      showError(err);
    } finally {
      go.disabled = false;
      root.dataset.runs = String(Number(root.dataset.runs || 0) + 1);  // tests wait on it
    }
  });

  function label(select) {
    return select.options[select.selectedIndex]?.textContent || "";
  }

  function render(a, b, size, names) {
    const rankA = new Map(a.hits.map((x, i) => [x.id, i + 1]));
    const rankB = new Map(b.hits.map((x, i) => [x.id, i + 1]));
    const both = a.hits.filter((x) => rankB.has(x.id)).length;
    const denom = Math.min(size, Math.max(a.hits.length, b.hits.length)) || size;
    const onlyA = a.hits.length - both;
    const onlyB = b.hits.length - both;
    clear(summary,
      h("span", {id: "overlap"}, `overlap@${size}: `,
        h("b", {}, (a.hits.length || b.hits.length ? both / denom : 0).toFixed(2)),
        ` (${both} of ${denom} shared)`),
      ` · only left: `, h("b", {id: "only-left-count"}, String(onlyA)),
      ` · only right: `, h("b", {id: "only-right-count"}, String(onlyB)));
    clear(cols,
      column("left", names[0], a, rankB, false),
      column("right", names[1], b, rankA, true));
  }

  function column(side, name, resp, other, markMoves) {
    const rows = resp.hits.map((hit, i) => {
      const rank = i + 1;
      const there = other.get(hit.id);
      let marker;
      if (there === undefined) {
        marker = h("span", {class: "move only"}, markMoves ? "new" : "only here");
      } else if (!markMoves) {
        marker = h("span", {class: "move muted"}, `→ ${there}`);
      } else if (there === rank) {
        marker = h("span", {class: "move same", title: "same rank"}, "=");
      } else if (there > rank) {
        marker = h("span", {class: "move up", title: `was ${there}`}, `▲${there - rank}`);
      } else {
        marker = h("span", {class: "move down", title: `was ${there}`}, `▼${rank - there}`);
      }
      const f = hit.fields || {};
      return h("li", {class: there === undefined ? "row only-one" : "row",
                      dataset: {id: hit.id}},
        h("span", {class: "rank"}, String(rank)), marker, thumb(hit, true),
        h("span", {class: "what"}, h("span", {class: "title"}, text(f.title) || hit.id),
          h("span", {class: "muted"}, ` ${text(f.brand || "")} `, h("code", {}, hit.id))),
        h("span", {class: "score"}, fmt(hit.score, 3)));
    });
    return h("section", {class: `col ${side}`, id: `cmp-col-${side}`},
      h("h2", {}, name, h("span", {class: "muted"},
        ` · ${resp.profile.name}@${resp.profile.version} · ${resp.total} results`)),
      rows.length ? h("ol", {class: "ranking"}, rows)
        : h("p", {class: "empty"}, "No results."));
  }
}
