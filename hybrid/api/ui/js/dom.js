// Building the page from data: every value becomes a text node or an attribute set
// through the DOM, never markup, so product text shows literally and cannot run.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== null && v !== undefined && v !== false) el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") {
      el.addEventListener(k.slice(2), v);
    } else if (k === "class") {
      el.className = v;
    } else if (k === "style" && typeof v === "object") {
      Object.assign(el.style, v);
    } else if (k === "dataset") {
      Object.assign(el.dataset, v);
    } else if (k in el && typeof v !== "string") {
      el[k] = v;  // properties: checked, disabled, value, ...
    } else {
      el.setAttribute(k, v === true ? "" : String(v));
    }
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function fmt(x, digits = 3) {
  if (x === null || x === undefined) return "–";
  if (typeof x !== "number") return String(x);
  if (Number.isInteger(x)) return String(x);
  return x.toFixed(digits);
}

export function text(v) {
  // a stored field as one line of text (lists joined, objects as JSON)
  if (v === null || v === undefined) return "";
  if (Array.isArray(v)) return v.map(text).join(" › ");
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

// one colour per signal name, the same on every page and every load
export const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948",
                        "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];
const KNOWN = {"bm25": 0, "text:text_vector": 1, "text:image_text_vector": 2,
               "image:image_vector": 3, "image:image_text_vector": 4, "audio:audio_vector": 5};
export function colour(name) {
  if (name in KNOWN) return PALETTE[KNOWN[name]];
  let hash = 0;
  for (const c of name) hash = (hash * 31 + c.codePointAt(0)) >>> 0;
  return PALETTE[hash % PALETTE.length];
}
