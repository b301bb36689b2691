// The inspector's shell: the view chosen by the URL's hash, the API key form, and the
// banner that shows API errors (problem title, status and detail).

import {apiKey, setApiKey} from "./api.js";
import {clear, h} from "./dom.js";
import {searchView} from "./search.js";
import {compareView} from "./compare.js";
import {experimentsView} from "./experiments.js";

const VIEWS = {search: searchView, compare: compareView, experiments: experimentsView};
const mounted = {};

export function showError(err) {
  const box = document.getElementById("error");
  if (!err) {
    box.hidden = true;
    clear(box);
    return;
  }
  const p = err.problem || {title: "Error", detail: String(err.message || err)};
  clear(box,
    h("strong", {class: "problem-title"}, p.title || "Error"),
    p.status || err.status ? h("span", {class: "problem-status"}, ` ${p.status || err.status}`) : null,
    h("div", {class: "problem-detail"}, p.detail || ""),
    h("button", {type: "button", class: "close", "aria-label": "dismiss",
                 onclick: () => showError(null)}, "×"));
  box.hidden = false;
}

function route() {
  const name = (location.hash.replace(/^#\/?/, "").split("?")[0]) || "search";
  const view = VIEWS[name] ? name : "search";
  for (const a of document.querySelectorAll("#nav a")) {
    a.classList.toggle("active", a.dataset.view === view);
  }
  showError(null);
  const main = document.getElementById("view");
  for (const el of main.children) el.hidden = true;
  if (!mounted[view]) {
    mounted[view] = h("section", {id: `view-${view}`, class: "view"});
    main.querySelector("p.muted")?.remove();
    main.append(mounted[view]);
    VIEWS[view](mounted[view], {showError});
  }
  mounted[view].hidden = false;
}

function keyForm() {
  const input = document.getElementById("api-key");
  const state = document.getElementById("key-state");
  const show = () => { state.textContent = apiKey() ? "key set for this tab" : "no key"; };
  document.getElementById("key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    setApiKey(input.value.trim());
    input.value = "";
    show();
  });
  document.getElementById("key-forget").addEventListener("click", () => {
    setApiKey("");
    show();
  });
  show();
}

keyForm();
window.addEventListener("hashchange", route);
route();
