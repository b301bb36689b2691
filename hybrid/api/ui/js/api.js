// Talking to the hybrid API: JSON in and out, problem details (RFC 9457) turned into
// ApiError, the API key kept in sessionStorage (this tab only, gone when it closes).

const KEY = "hybrid.apiKey";

export class ApiError extends Error {
  constructor(problem, status) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.problem = problem;
    this.status = status;
  }
}

export function apiKey() {
  return sessionStorage.getItem(KEY) || "";
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
}

export async function call(method, path, body, {keyed = false} = {}) {
  const headers = {Accept: "application/json, application/problem+json"};
  const init = {method, headers};
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (keyed && apiKey()) headers["X-API-Key"] = apiKey();
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (e) {
    throw new ApiError({title: "The API cannot be reached", detail: String(e)}, 0);
  }
  const type = resp.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await resp.json().catch(() => null) : null;
  if (!resp.ok) {
    throw new ApiError(data && typeof data === "object" ? data
      : {title: resp.statusText || "Error", status: resp.status,
         detail: `${method} ${path} answered ${resp.status}`}, resp.status);
  }
  return data;
}

export function search(request, {image = null, audio = null} = {}) {
  if (!image && !audio) return call("POST", "/search", request);
  const form = new FormData();
  form.append("query", JSON.stringify(request));
  if (image) form.append("image", image, image.name || "image");
  if (audio) form.append("audio", audio, audio.name || "audio");
  return call("POST", "/search", form);
}

let profilesCache = null;
export async function profiles() {
  if (!profilesCache) {
    profilesCache = call("GET", "/profiles").then((d) => d.profiles || [])
      .catch((e) => { profilesCache = null; throw e; });
  }
  return profilesCache;
}

const signalsCache = new Map();
export function profileSignals(ref) {
  const [name, version] = ref.split("@");
  const path = `/profiles/${encodeURIComponent(name)}` + (version ? `?version=${version}` : "");
  if (!signalsCache.has(path)) {
    signalsCache.set(path, call("GET", path).then((p) => p.signals || [])
      .catch((e) => { signalsCache.delete(path); throw e; }));
  }
  return signalsCache.get(path);
}

export function judgments(query) {
  return call("GET", `/judgments?query=${encodeURIComponent(query)}`);
}

export function judge(query, doc, grade) {
  return call("PUT", "/judgments", {query, doc, grade}, {keyed: true});
}
