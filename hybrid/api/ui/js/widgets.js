// Pieces the search and compare views share: profile choosers, media inputs (upload or
// record), the stacked contribution bar and the explain table.

import {profiles} from "./api.js";
import {colour, fmt, h, text} from "./dom.js";

export const BM25_ONLY = "keyword search (BM25 only)";

export async function profileOptions(select, {withDefault = true, withKeyword = false,
                                              selected = ""} = {}) {
  const opts = [];
  if (withDefault) opts.push(h("option", {value: ""}, "server default"));
  if (withKeyword) opts.push(h("option", {value: "__bm25__"}, BM25_ONLY));
  try {
    for (const p of await profiles()) {
      const latest = p.versions[p.versions.length - 1];
      if ((p.inputs || []).includes("product")) {  // e.g. similar: a product is its query
        opts.push(h("option", {value: p.name, disabled: true},
                    `${p.name} (products like a given one: GET /products/<id>/similar)`));
        continue;
      }
      opts.push(h("option", {value: p.name}, `${p.name} (latest, v${latest})`));
      for (const v of [...p.versions].reverse()) {
        opts.push(h("option", {value: `${p.name}@${v}`}, `${p.name}@${v}`));
      }
    }
  } catch (e) {
    opts.push(h("option", {value: "", disabled: true}, "profiles unavailable"));
  }
  select.replaceChildren(...opts);
  if (selected) select.value = selected;
}

// A file input for images or audio, plus (audio) a button that records from the
// microphone with MediaRecorder. `onchange(fileOrNull)`.
export function mediaInput(kind, onchange) {
  const id = `${kind}-file-${Math.random().toString(36).slice(2, 8)}`;
  const file = h("input", {type: "file", id, accept: `${kind}/*`, name: kind,
                           class: `${kind}-file`});
  const label = h("span", {class: "attached muted"});
  const drop = h("button", {type: "button", class: "link", hidden: true}, "remove");
  const preview = h(kind === "image" ? "img" : "audio",
                    {class: "preview", hidden: true, controls: kind === "audio"});
  let current = null;
  const set = (f) => {
    current = f;
    label.textContent = f ? `${f.name || kind} (${Math.max(1, Math.round(f.size / 1024))} KB)`
      : "";
    if (preview.src) URL.revokeObjectURL(preview.src);
    if (f) preview.src = URL.createObjectURL(f);
    else preview.removeAttribute("src");
    preview.hidden = !f;
    drop.hidden = !f;
    if (!f) file.value = "";
    onchange(f);
  };
  file.addEventListener("change", () => set(file.files[0] || null));
  drop.addEventListener("click", () => set(null));
  const parts = [h("label", {for: id, class: "file-label"}, kind === "image" ? "Image" : "Audio"),
                 file];
  if (kind === "audio") parts.push(recordButton(set));
  parts.push(preview, label, drop);
  return {el: h("span", {class: `media ${kind}`}, parts), set, get: () => current};
}

function recordButton(set) {
  const can = !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia
                 && window.MediaRecorder);
  const btn = h("button", {type: "button", class: "record", disabled: !can,
                           title: can ? "record up to 30 s from the microphone"
                             : "this browser cannot record here (needs https or localhost)"},
                "● Record");
  let recorder = null;
  let timer = null;
  btn.addEventListener("click", async () => {
    if (recorder) {
      recorder.stop();
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({audio: true});
    } catch (e) {
      btn.title = `microphone refused: ${e.message}`;
      return;
    }
    const chunks = [];
    recorder = new MediaRecorder(stream);
    recorder.addEventListener("dataavailable", (e) => chunks.push(e.data));
    recorder.addEventListener("stop", () => {
      clearTimeout(timer);
      stream.getTracks().forEach((t) => t.stop());
      const type = recorder.mimeType || "audio/webm";
      recorder = null;
      btn.textContent = "● Record";
      btn.classList.remove("on");
      set(new File(chunks, `recording.${type.includes("ogg") ? "ogg" : "webm"}`, {type}));
    });
    recorder.start();
    btn.textContent = "■ Stop";
    btn.classList.add("on");
    timer = setTimeout(() => recorder && recorder.stop(), 30000);
  });
  return btn;
}

// The weights of a "BM25 only" request: lexical signals 1, every other 0.
export function keywordWeights(signals) {
  return Object.fromEntries(signals.map((s) => [s.name, s.kind === "lexical" ? 1 : 0]));
}

export function legend(signals) {
  return h("div", {class: "legend"}, signals.map((s) => h("span", {class: "key"},
    h("i", {class: "swatch", style: {background: colour(s.name)}}),
    `${s.name} ×${fmt(s.weight, 2)}`)));
}

// Each signal's contribution to the fused score, as segments of one bar; `top` is the
// page's highest score (the full width).
export function contributionBar(hit, signals, top) {
  const bar = h("div", {class: "bar", role: "img"});
  const explain = hit.explain || {};
  const parts = [];
  for (const s of signals) {
    const e = explain[s.name];
    if (!e || !e.contribution) continue;
    const pct = top > 0 ? (100 * e.contribution) / top : 0;
    parts.push(`${s.name} ${fmt(e.contribution)}`);
    bar.append(h("span", {class: "seg", dataset: {signal: s.name},
                          title: `${s.name}: ${fmt(e.contribution)}`,
                          style: {width: `${Math.max(pct, 0.5)}%`, background: colour(s.name)}}));
  }
  bar.setAttribute("aria-label", parts.length ? `contributions: ${parts.join(", ")}`
    : "no contributions");
  return bar;
}

export function explainTable(hit, signals, profile, rank) {
  const rows = signals.map((s) => {
    const e = (hit.explain || {})[s.name];
    if (!e) return h("tr", {}, h("td", {}, s.name), h("td", {colspan: 5}, "not explained"));
    return h("tr", {class: e.missing ? "missing" : ""},
      h("th", {scope: "row"}, h("i", {class: "swatch", style: {background: colour(s.name)}}),
        s.name),
      h("td", {}, fmt(s.weight, 3)),
      h("td", {}, e.missing ? "missing" : fmt(e.raw, 4)),
      h("td", {}, e.missing ? "–" : fmt(e.rank)),
      h("td", {}, fmt(e.normalized, 4)),
      h("td", {}, fmt(e.contribution, 4)));
  });
  return h("div", {class: "explain-body"},
    h("table", {class: "explain"},
      h("thead", {}, h("tr", {}, ["signal", "weight", "raw score", "rank", "normalised",
                                  "contribution"].map((c) => h("th", {scope: "col"}, c)))),
      h("tbody", {}, rows),
      h("tfoot", {}, h("tr", {}, h("th", {scope: "row", colspan: 5}, "fused score"),
                       h("td", {}, fmt(hit.score, 4))))),
    h("p", {class: "muted"}, `rank ${rank} · profile ${profile ? text(profile.name) : "?"}`
      + (profile && profile.version ? ` version ${profile.version}` : "")));
}

export function thumb(hit, small = false) {
  const title = text(hit.fields.title) || hit.id;
  return hit.image_url
    ? h("img", {src: hit.image_url, alt: title, loading: "lazy",
                class: small ? "thumb small" : "thumb"})
    : h("div", {class: small ? "thumb small noimg" : "thumb noimg"}, "no image");
}
