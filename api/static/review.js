// The review page: plain JavaScript against the service's JSON API, no build step.
"use strict";

const LABELS = JSON.parse(document.getElementById("labels").textContent);
const HEAD_NAMES = { category: "Категория", is_hard: "Сложный кейс", urgency: "Срочность", reporter: "Кто сообщил" };
const VALUE_NAMES = {
  is_hard: { true: "да", false: "нет" },
  urgency: { critical: "критичная", high: "высокая", normal: "обычная", low: "низкая" },
  reporter: { client: "клиент", executor: "исполнитель" },
};
const REASONS = {
  rules_over_model: "правило безопасности сработало, модель не считала критичным",
  model_critical_without_rule: "модель сказала «критично» без правила",
  needs_review: "модель не уверена",
  small_margin: "две категории почти равны",
  spot_check: "выборочная проверка уверенного ответа",
};
const CATEGORY_KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "-", "="];
const HEADS = ["category", "is_hard", "urgency", "reporter"];

// The API key lives here only: never in sessionStorage or localStorage, where any script of this
// origin could read it later. A reload asks for it again.
const state = { key: "", name: "", role: "", tab: "queue", items: [], selected: 0 };
const $ = (id) => document.getElementById(id);

function valueName(head, value) {
  if (head === "category") return LABELS.category_names[value] || value;
  return (VALUE_NAMES[head] || {})[String(value)] || String(value);
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value !== undefined && value !== null) node.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

async function api(path, options = {}) {
  const headers = { "X-API-Key": state.key, ...(options.body ? { "Content-Type": "application/json" } : {}) };
  const response = await fetch(path, { ...options, headers });
  let body = null;
  try { body = await response.json(); } catch (_) { body = null; }
  if (!response.ok) {
    const detail = body && body.detail;
    const text = Array.isArray(detail)
      ? detail.map((d) => (d.field ? `${d.field}: ${d.problem}` : d.problem || JSON.stringify(d))).join("; ")
      : detail || response.statusText;
    const error = new Error(`${response.status}: ${text}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

// -- the guide's consistency, so one click gives a valid set of labels ----------------------
function consistent(labels, head) {
  const next = { ...labels };
  const hardUrgency = (u) => u === "critical" || u === "high";
  if (head === "category") {
    if (next.category === "other") next.is_hard = false;
    else if (LABELS.always_hard.includes(next.category)) next.is_hard = true;
  }
  if (head === "urgency") next.is_hard = hardUrgency(next.urgency);
  if (next.is_hard && !hardUrgency(next.urgency)) next.urgency = "high";
  if (!next.is_hard && hardUrgency(next.urgency)) next.urgency = "normal";
  return next;
}

// -- login ------------------------------------------------------------------------------------
async function login(event) {
  event.preventDefault();
  state.key = $("login-key").value.trim();
  state.name = $("login-name").value.trim();
  $("login-error").textContent = "";
  try {
    const who = await api("/v1/whoami");
    if (who.role !== "quality" && who.role !== "admin") {
      throw new Error(`у ключа роль «${who.role}», а нужна quality или admin`);
    }
    state.role = who.role;
  } catch (error) {
    $("login-error").textContent = error.status === 401 ? "Ключ не подходит." : `Не удалось войти: ${error.message}`;
    return;
  }
  $("login-key").value = "";  // not left in the page either
  start();
}

function start() {
  $("login").hidden = true;
  $("app").hidden = false;
  $("logout").hidden = false;
  $("who").textContent = `${state.name} · ${state.role}`;
  $("models-tab").hidden = state.role !== "admin";
  showTab("queue");
}

function logout() {
  state.key = "";
  location.reload();
}

// -- tabs and lists ---------------------------------------------------------------------------
function showTab(tab) {
  state.tab = tab;
  for (const button of document.querySelectorAll("nav [data-tab]")) {
    button.setAttribute("aria-selected", String(button.dataset.tab === tab));
  }
  $("filters").hidden = !(tab === "queue" || tab === "audit");
  $("find-form").hidden = tab !== "find";
  $("list").hidden = !(tab === "queue" || tab === "audit" || tab === "find");
  $("log").hidden = tab !== "log";
  $("models").hidden = tab !== "models";
  $("error").textContent = "";
  $("list").replaceChildren();
  state.items = [];
  if (tab === "queue" || tab === "audit") loadList();
  if (tab === "log") loadLog();
  if (tab === "models") loadVersions();
  if (tab === "find") $("find-id").focus();
}

function filterQuery() {
  const params = new URLSearchParams({ limit: "50" });
  for (const name of ["category", "urgency", "channel"]) {
    const value = $(`filter-${name}`).value;
    if (value) params.set(name, value);
  }
  return params.toString();
}

async function loadList() {
  const path = state.tab === "queue" ? "/v1/review-queue" : "/v1/audit";
  try {
    const body = await api(`${path}?${filterQuery()}`);
    showItems(body.items.map((item) => ({ ...item, kind: state.tab === "queue" ? "prediction" : "annotated" })));
    $("count").textContent = `${body.items.length} в списке`;
  } catch (error) {
    $("error").textContent = `Не удалось загрузить список: ${error.message}`;
  }
}

async function findMessage(event) {
  event.preventDefault();
  const id = $("find-id").value.trim();
  $("error").textContent = "";
  try {
    const body = await api(`/v1/predictions/${encodeURIComponent(id)}`);
    const row = body.latest;
    const d = row.decision;
    showItems([{
      kind: "prediction", message_id: row.message_id, channel: row.channel, text: row.text,
      created_at: row.created_at, model_version: row.model_version, decision: d,
      labels: { category: d.category, is_hard: d.is_hard, urgency: d.urgency, reporter: d.reporter },
    }]);
  } catch (error) {
    $("list").replaceChildren();
    $("error").textContent = error.status === 404 ? `Сообщение «${id}» не найдено.` : error.message;
  }
}

function showItems(items) {
  state.items = items;
  state.selected = 0;
  $("list").replaceChildren(...items.map(card));
  if (!items.length) $("list").append(el("p", { class: "muted" }, "Здесь пусто: всё разобрано."));
  select(0);
}

function select(index) {
  const cards = [...document.querySelectorAll("#list .card")];
  if (!cards.length) return;
  state.selected = Math.max(0, Math.min(index, cards.length - 1));
  cards.forEach((c, i) => c.classList.toggle("selected", i === state.selected));
  cards[state.selected].scrollIntoView({ block: "nearest" });
}

// -- one message ------------------------------------------------------------------------------
function card(item, index) {
  const d = item.decision;
  const node = el("article", { class: "card", "data-message-id": item.message_id, "data-testid": "card" });
  node.addEventListener("click", () => select(index));
  node.item = item;
  node.labels = { ...item.labels };
  const when = item.created_at ? new Date(item.created_at).toLocaleString("ru-RU") : "";
  node.append(el("div", { class: "meta" },
    `${item.message_id} · ${item.channel || "канал не указан"} · ${when}`,
    item.model_version ? ` · модель v${item.model_version}` : "",
    item.reason ? ` · ${REASONS[item.reason] || item.reason}` : "",
    item.source && item.source !== "annotated" ? ` · ${item.source}` : ""));
  node.append(el("p", { class: "text", "data-testid": "text" }, item.text));
  if (item.kind === "annotated") {
    node.append(el("div", { class: "suggestion" },
      `В разметке: ${HEAD_NAMES[item.head]} — ${valueName(item.head, item.given)} (${pct(item.given_probability)}). `,
      `Модель вне обучения предлагает: ${valueName(item.head, item.suggested)} (${pct(item.confidence)}). `,
      el("button", { type: "button", "data-testid": "accept", onclick: () => accept(node) }, "Принять предложение (a)"),
      " "));
  }
  if (d.safety && d.safety.fired) {
    node.append(el("div", { class: "safety", "data-testid": "safety" },
      `Сработало правило безопасности «${d.safety.rule}» на словах «${(d.safety.matched || []).join(" ")}»: ${d.safety.action}`));
  }
  for (const head of HEADS) node.append(headRow(node, head, d));
  const words = (d.explanation && d.explanation.category) || [];
  node.append(el("div", { class: "words" },
    "Слова, которые повлияли на категорию: ",
    words.length ? words.map((w) => `${w.lemma} (${w.weight.toFixed(2)})`).join(", ") : "—"));
  const comment = el("input", { placeholder: "комментарий (необязательно)", maxlength: "2000", "data-testid": "comment" });
  node.comment = comment;
  node.append(el("div", { class: "bar" },
    el("button", { type: "button", "data-testid": "confirm", onclick: () => confirmItem(node) },
      item.kind === "annotated" ? "Разметка верна (c)" : "Всё верно (c)"),
    comment));
  node.status = el("div", { class: "status", role: "status", "data-testid": "status" });
  node.append(node.status);
  return node;
}

function pct(p) {
  return `${Math.round(100 * p)}%`;
}

function headRow(node, head, decision) {
  const probabilities = (decision.probabilities || {})[head] || {};
  const values = LABELS.heads[head];
  const row = el("div", { class: "head", "data-head": head }, el("span", { class: "name" }, HEAD_NAMES[head]));
  values.forEach((value, i) => {
    const typed = head === "is_hard" ? value === "true" : value;
    const p = probabilities[value];
    const button = el("button", {
      type: "button", class: "label", "data-value": value, "data-testid": `label-${head}-${value}`,
      title: p === undefined ? "" : `вероятность по модели ${pct(p)}`,
      onclick: (event) => { event.stopPropagation(); relabel(node, head, typed); },
    },
    head === "category" ? el("kbd", {}, CATEGORY_KEYS[i]) : null,
    valueName(head, typed),
    p === undefined ? null : el("span", { class: "p" }, pct(p)));
    row.append(button);
  });
  return row;
}

function paint(node) {
  for (const head of HEADS) {
    for (const button of node.querySelectorAll(`.head[data-head="${head}"] .label`)) {
      button.classList.toggle("current", button.dataset.value === String(node.labels[head]));
    }
  }
}

async function send(node, payload, done) {
  node.status.classList.remove("error");
  node.status.textContent = "Сохраняю…";
  try {
    const body = await api("/v1/feedback", {
      method: "POST",
      body: JSON.stringify({
        message_id: node.item.message_id, target: node.item.kind, annotator: state.name,
        comment: node.comment.value || null, ...payload,
      }),
    });
    if (body.labels) node.labels = { ...body.labels };
    paint(node);
    node.classList.add("handled");
    node.status.textContent = done(body);
  } catch (error) {
    node.status.classList.add("error");
    node.status.textContent = `Не сохранено: ${error.message}`;
  }
}

function relabel(node, head, value) {
  const labels = consistent({ ...node.labels, [head]: value }, head);
  const changes = HEADS.filter((h) => labels[h] !== node.item.labels[h])
    .map((h) => `${HEAD_NAMES[h]} → ${valueName(h, labels[h])}`);
  return send(node, { labels }, (body) => body.verdict === "confirm"
    ? `Подтверждено (${body.annotator}), правка №${body.feedback_id}`
    : `Исправлено (${body.annotator}): ${changes.join(", ")}; правка №${body.feedback_id}`);
}

function confirmItem(node) {
  return send(node, { verdict: "confirm" }, (body) => `Подтверждено (${body.annotator}), правка №${body.feedback_id}`);
}

function accept(node) {
  const item = node.item;
  const value = item.head === "is_hard" ? item.suggested === "true" : item.suggested;
  return relabel(node, item.head, value);
}

// -- journal and models -----------------------------------------------------------------------
async function loadLog() {
  try {
    const body = await api("/v1/feedback?limit=200");
    const describe = (labels) => labels ? HEADS.map((h) => valueName(h, labels[h])).join(" · ") : "—";
    $("log-rows").replaceChildren(...body.items.map((f) => el("tr", { "data-testid": "log-row" },
      el("td", {}, new Date(f.created_at).toLocaleString("ru-RU")),
      el("td", {}, f.annotator),
      el("td", {}, f.message_id),
      el("td", {}, f.verdict === "correct" ? "исправление" : "подтверждение"),
      el("td", {}, describe(f.previous)),
      el("td", {}, describe(f.labels)),
      el("td", {}, f.comment || ""))));
  } catch (error) {
    $("error").textContent = `Не удалось загрузить журнал: ${error.message}`;
  }
}

async function loadVersions() {
  try {
    const body = await api("/v1/admin/versions");
    const f = (x) => (x === undefined ? "—" : x.toFixed(3));
    $("version-rows").replaceChildren(...body.versions.map((v) => el("tr", { "data-version": v.version },
      el("td", {}, `v${v.version}`),
      el("td", {}, v.champion ? "чемпион" : "", v.version === body.serving ? " · в работе" : ""),
      el("td", {}, f(v.test.category_macro_f1)),
      el("td", {}, f(v.test.is_hard_f1)),
      el("td", {}, f(v.test.urgency_macro_f1)),
      el("td", {}, f(v.test.reporter_macro_f1)),
      el("td", {}, f(v.test.critical_recall)),
      el("td", {}, String(v.corrections_in_training)),
      el("td", {}, v.gate === "passed" ? "пройдена" : v.gate === "refused" ? "отказ" : "—"),
      el("td", {}, new Date(v.created_at).toLocaleString("ru-RU")),
      el("td", {}, v.champion ? "" : el("button", {
        type: "button", "data-testid": `promote-${v.version}`, onclick: () => promote(v.version),
      }, "Сделать чемпионом")))));
  } catch (error) {
    $("error").textContent = `Не удалось загрузить версии: ${error.message}`;
  }
}

async function adminAction(label, path) {
  const out = $("admin-output");
  out.textContent = `${label}…`;
  try {
    return await api(path, { method: "POST" });
  } catch (error) {
    out.textContent = `${label}: ошибка ${error.message}`;
    return null;
  }
}

async function exportCorrections() {
  const body = await adminAction("Выгрузка исправлений", "/v1/admin/export-corrections");
  if (body) $("admin-output").textContent = body.summary;
}

async function train() {
  const body = await adminAction("Обучение", "/v1/admin/train");
  if (!body) return;
  const poll = async () => {
    const job = await api(`/v1/admin/jobs/${body.job_id}`);
    $("admin-output").textContent = `Обучение ${job.job_id}: ${job.status}\n${job.output}`;
    if (job.status === "running") setTimeout(poll, 2000);
    else loadVersions();
  };
  poll();
}

async function promote(version) {
  const body = await adminAction(`Проверка v${version}`, `/v1/admin/promote/${version}`);
  if (!body) return;
  $("admin-output").textContent =
    (body.promoted ? `v${version} теперь чемпион, сервис отвечает версией v${body.serving}.\n\n`
      : `v${version} НЕ продвинута: ${body.reasons.join("; ")}\n\n`) + body.table;
  loadVersions();
}

async function rollback() {
  const body = await adminAction("Откат", "/v1/admin/rollback");
  if (body) $("admin-output").textContent = `Чемпион возвращён: v${body.from} → v${body.to}; сервис отвечает v${body.serving}.`;
  loadVersions();
}

async function reload() {
  const body = await adminAction("Перезагрузка", "/v1/admin/reload");
  if (body) $("admin-output").textContent = `Сервис перешёл с v${body.previous_version} на v${body.version}.`;
  loadVersions();
}

// -- keyboard ---------------------------------------------------------------------------------
function onKey(event) {
  if (event.target.closest("input, select, textarea") || event.ctrlKey || event.metaKey || event.altKey) return;
  const cards = [...document.querySelectorAll("#list .card")];
  const node = cards[state.selected];
  const key = event.key;
  if (key === "j" || key === "ArrowDown") select(state.selected + 1);
  else if (key === "k" || key === "ArrowUp") select(state.selected - 1);
  else if (!node) return;
  else if (CATEGORY_KEYS.includes(key)) relabel(node, "category", LABELS.categories[CATEGORY_KEYS.indexOf(key)]);
  else if (key === "h") relabel(node, "is_hard", !node.labels.is_hard);
  else if (key === "u") {
    const order = LABELS.urgencies;
    relabel(node, "urgency", order[(order.indexOf(node.labels.urgency) + 1) % order.length]);
  } else if (key === "r") relabel(node, "reporter", node.labels.reporter === "client" ? "executor" : "client");
  else if (key === "c") confirmItem(node);
  else if (key === "a" && node.item.kind === "annotated") accept(node);
  else return;
  event.preventDefault();
}

// -- start ------------------------------------------------------------------------------------
function fillFilters() {
  const fill = (id, values, name) => $(id).append(...values.map((v) => el("option", { value: v }, name(v))));
  fill("filter-category", LABELS.categories, (v) => LABELS.category_names[v]);
  fill("filter-urgency", LABELS.urgencies, (v) => valueName("urgency", v));
  fill("filter-channel", LABELS.channels, (v) => v);
}

document.addEventListener("DOMContentLoaded", () => {
  fillFilters();
  document.addEventListener("keydown", onKey);
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  $("find-form").addEventListener("submit", findMessage);
  $("refresh").addEventListener("click", loadList);
  for (const id of ["filter-category", "filter-urgency", "filter-channel"]) $(id).addEventListener("change", loadList);
  for (const button of document.querySelectorAll("nav [data-tab]")) {
    button.addEventListener("click", () => showTab(button.dataset.tab));
  }
  $("export").addEventListener("click", exportCorrections);
  $("train").addEventListener("click", train);
  $("rollback").addEventListener("click", rollback);
  $("reload").addEventListener("click", reload);
});
