// The review page: plain JavaScript against the service's JSON API, no build step.
//
// Labelling is two steps: keys or clicks change the choice shown (nothing is saved), Enter sends
// it and moves on. A change of labels is a proposal until a second person confirms it (the
// "На проверку" tab); Ctrl+Z takes one's own last submission back. Opening an item claims it
// for a few minutes, so two people never work the same message.
"use strict";

const LABELS = JSON.parse(document.getElementById("labels").textContent);
const HEAD_NAMES = { category: "Категория", is_hard: "Сложный кейс", urgency: "Срочность", reporter: "Кто сообщил" };
const VALUE_NAMES = {
  is_hard: { true: "да", false: "нет" },
  urgency: { critical: "критичная", high: "высокая", normal: "обычная", low: "низкая" },
  reporter: { client: "клиент", executor: "исполнитель" },
};
const CHANNEL_NAMES = { chat: "чат", email: "e-mail", call_note: "заметка о звонке", admin_review: "отзыв в админке" };
const REASONS = {
  rules_over_model: "правило безопасности сработало, модель не считала критичным",
  model_critical_without_rule: "модель сказала «критично» без правила",
  needs_review: "модель не уверена",
  small_margin: "две категории почти равны",
  spot_check: "выборочная проверка уверенного ответа",
};
const ACTION_NAMES = {
  phone_senior_manager_now: "Немедленно позвонить старшему менеджеру",
  hand_over_to_senior_manager: "Передать старшему менеджеру",
  call_back_executor: "Перезвонить исполнителю",
  first_line_reply: "Ответ первой линии",
  acknowledge: "Подтвердить получение",
  human_review: "Проверка человеком",
};
const VERDICT_NAMES = { correct: "исправление", confirm: "всё верно", undo: "отмена" };
const STATUS_NAMES = { proposed: "ждёт второго человека", confirmed: "подтверждено", rejected: "отклонено" };
const CATEGORY_KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "-", "="];
const HEADS = ["category", "is_hard", "urgency", "reporter"];
const PAGE = 50;
const CLAIM_RENEW_MS = 60_000;

// The API key lives here only: never in sessionStorage or localStorage, where any script of this
// origin could read it later. A reload asks for it again.
const state = {
  key: "", name: "", role: "", tab: "queue",
  items: [], selected: -1, offset: 0, total: 0,
  choice: null,  // the labels chosen for the selected item, not sent yet
  claimed: null,  // the item this person holds a claim on
  sent: [],  // this session's submissions, newest last: what Ctrl+Z takes back
  log: { offset: 0, total: 0 },
};
const $ = (id) => document.getElementById(id);

function valueName(head, value) {
  if (head === "category") return LABELS.category_names[value] || value;
  return (VALUE_NAMES[head] || {})[String(value)] || String(value);
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString("ru-RU", { dateStyle: "short", timeStyle: "short" }) : "";
}

function pct(p) {
  return `${Math.round(100 * p)}%`;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function bar(p, chosen) {
  const fill = el("span", { class: "fill" });
  fill.style.width = `${Math.round(100 * p)}%`;  // through the CSSOM: the CSP refuses style="…"
  return el("span", { class: `pbar${chosen ? " chosen" : ""}`, title: pct(p) }, fill);
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
    error.body = body;
    throw error;
  }
  return body;
}

// What went wrong, in Russian; the service's own words stay in the tooltip.
function problem(error, conflict = "это сообщение уже изменил кто-то другой") {
  const said = {
    401: "ключ больше не подходит: войдите снова",
    403: "у вас нет права на это действие",
    404: "не найдено: возможно, сообщение удалено",
    409: conflict,
    422: "метки противоречат руководству или поле заполнено не так",
  }[error.status];
  return said || `ошибка сервиса (${error.message})`;
}

function post(path, body) {
  return api(path, { method: "POST", body: JSON.stringify(body) });
}

// -- the guide's consistency, so a choice is always a valid set of labels ----------------------
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
  $("who").textContent = `${state.name} · ${state.role === "admin" ? "администратор" : "отдел качества"}`;
  $("models-tab").hidden = state.role !== "admin";
  showTab("queue");
  setInterval(renewClaim, CLAIM_RENEW_MS);
}

async function logout() {
  await releaseClaim();
  state.key = "";
  location.reload();
}

// -- tabs -------------------------------------------------------------------------------------
// Panels of other files (models.js, health.js) register their loader here: PANELS[tab] = fn.
const PANELS = {};

async function showTab(tab) {
  releaseClaim();  // not awaited: a quick second click must not be overtaken by this one
  state.tab = tab;
  for (const button of document.querySelectorAll("nav [data-tab]")) {
    button.setAttribute("aria-selected", String(button.dataset.tab === tab));
  }
  for (const panel of document.querySelectorAll("[data-panel]")) {
    panel.hidden = !panel.dataset.panel.split(" ").includes(tab);
  }
  $("error").textContent = "";
  state.offset = 0;
  showItems([], 0);
  if (tab === "queue" || tab === "audit" || tab === "proposals") loadList();
  if (tab === "log") { state.log.offset = 0; loadLog(); loadAgreement(); }
  if (tab === "find") $("find-q").focus();
  if (PANELS[tab]) PANELS[tab]();
  countProposals();
}

async function countProposals() {
  try {
    const body = await api("/v1/proposals?limit=1");
    $("proposals-count").textContent = body.total ? `(${body.total})` : "";
  } catch (_) { /* the tab still opens and says what went wrong */ }
}

// -- lists ------------------------------------------------------------------------------------
function listPath() {
  const params = new URLSearchParams({ limit: String(PAGE), offset: String(state.offset) });
  if (state.tab === "queue" || state.tab === "audit") {
    for (const name of ["category", "urgency", "channel"]) {
      const value = $(`filter-${name}`).value;
      if (value) params.set(name, value);
    }
  }
  if (state.tab === "find") params.set("q", $("find-q").value.trim());
  const base = { queue: "/v1/review-queue", audit: "/v1/audit", proposals: "/v1/proposals", find: "/v1/search" };
  return `${base[state.tab]}?${params}`;
}

const KIND = { queue: "prediction", audit: "annotated", find: "prediction", proposals: "proposal" };

async function loadList() {
  const tab = state.tab;
  if (tab === "find" && !$("find-q").value.trim()) return;
  try {
    const body = await api(listPath());
    if (state.tab !== tab) return;
    showItems(body.items.map((item) => ({ ...item, kind: KIND[tab] })), body.total);
  } catch (error) {
    $("error").textContent = `Не удалось загрузить список: ${problem(error)}`;
  }
}

function turnPage(step) {
  const offset = state.offset + step * PAGE;
  if (offset < 0 || offset >= state.total) return;
  releaseClaim().then(() => { state.offset = offset; loadList(); });
}

function showItems(items, total) {
  state.items = items;
  state.total = total;
  state.selected = -1;
  $("list").replaceChildren(...items.map(row));
  if (!items.length && state.tab !== "find") {
    $("list").append(el("p", { class: "muted" }, state.tab === "proposals" ? "Нечего проверять." : "Здесь пусто: всё разобрано."));
  }
  $("count").textContent = total
    ? `Показано ${state.offset + 1}–${state.offset + items.length} из ${total}`
    : (state.tab === "find" && $("find-q").value.trim() ? "Ничего не найдено" : "");
  $("page-prev").disabled = state.offset === 0;
  $("page-next").disabled = state.offset + items.length >= total;
  renderDetail();
  if (items.length) selectFree(0, 1);
}

function takenByOther(item) {
  return item.claimed_by && item.claimed_by !== state.name && new Date(item.claimed_until) > new Date();
}

function open(item) {
  return !item.sent && !takenByOther(item);
}

// Select the first item from `index` on (in direction `step`) that is free and not sent.
async function selectFree(index, step) {
  for (let i = index; i >= 0 && i < state.items.length; i += step) {
    if (state.items[i].kind === "proposal" || open(state.items[i])) return select(i);
  }
  if (state.items.length) {
    select(Math.max(0, Math.min(index, state.items.length - 1)));
  }
}

function row(item, index) {
  const node = el("div", {
    class: "row", role: "option", "data-message-id": item.message_id, "data-testid": "row",
    onclick: () => select(index),
  });
  node.item = item;
  paintRow(node);
  return node;
}

function paintRow(node) {
  const item = node.item;
  const labels = item === current() && state.choice ? state.choice : item.labels;
  const meta = item.kind === "proposal"
    ? [`№${item.feedback_id}`, item.annotator, when(item.created_at)]
    : [item.message_id, CHANNEL_NAMES[item.channel] || "канал не указан", when(item.received_at || item.created_at),
       item.reason ? REASONS[item.reason] || item.reason : null];
  const taken = item.kind !== "proposal" && takenByOther(item);
  node.classList.toggle("taken", Boolean(taken));
  node.classList.toggle("sent", Boolean(item.sent));
  node.replaceChildren(
    el("div", { class: "row-main" },
      el("div", { class: "meta" }, meta.filter(Boolean).join(" · ")),
      el("div", { class: "snippet" }, item.subject ? el("b", {}, `${item.subject}: `) : null, item.text)),
    item.kind === "proposal" ? proposalChanges(item) : rowLabels(item, labels),
    el("div", { class: "row-state", "data-testid": "row-state" },
      taken ? `занято: ${item.claimed_by}` : item.sent ? sentText(item.sent) : ""));
}

function rowLabels(item, labels) {
  const probabilities = ((item.decision || {}).probabilities || {}).category || {};
  const top = Object.entries(probabilities).sort((a, b) => b[1] - a[1]).slice(0, 3);
  if (!top.some(([name]) => name === labels.category)) top.push([labels.category, probabilities[labels.category] || 0]);
  return el("div", { class: "row-labels" },
    top.map(([name, p]) => el("div", { class: `cat${name === labels.category ? " chosen" : ""}`, "data-category": name },
      el("span", { class: "name" }, valueName("category", name)), bar(p, name === labels.category), el("span", { class: "p" }, pct(p)))),
    el("div", { class: "chips" },
      el("span", { class: `chip urgency-${labels.urgency}` }, valueName("urgency", labels.urgency)),
      el("span", { class: "chip" }, valueName("reporter", labels.reporter)),
      labels.is_hard ? el("span", { class: "chip hard" }, "сложный") : null));
}

function proposalChanges(item) {
  return el("div", { class: "row-labels" }, HEADS.filter((h) => item.labels[h] !== item.previous[h]).map((h) =>
    el("div", { class: "change" }, `${HEAD_NAMES[h]}: `, el("s", {}, valueName(h, item.previous[h])), " → ",
      el("b", {}, valueName(h, item.labels[h])))));
}

function sentText(sent) {
  if (sent.verdict === "correct") return `предложено (№${sent.feedback_id}), ждёт второго человека`;
  return `подтверждено (№${sent.feedback_id})`;
}

function rows() {
  return [...document.querySelectorAll("#list .row")];
}

function current() {
  return state.items[state.selected];
}

async function select(index) {
  if (!state.items.length) return;
  index = Math.max(0, Math.min(index, state.items.length - 1));
  const item = state.items[index];
  state.selected = index;
  state.choice = item.kind === "proposal" ? null : { ...(item.sent && item.sent.labels ? item.sent.labels : item.labels) };
  rows().forEach((node, i) => {
    node.classList.toggle("selected", i === index);
    node.setAttribute("aria-selected", String(i === index));
    paintRow(node);
  });
  rows()[index].scrollIntoView({ block: "nearest" });
  renderDetail();
  if (item.kind !== "proposal" && !item.sent) await claim(item, index);
}

// -- claims -----------------------------------------------------------------------------------
async function claim(item, index) {
  if (state.claimed && state.claimed !== item) await releaseClaim();
  try {
    const body = await post("/v1/claims", { message_id: item.message_id, target: item.kind, annotator: state.name });
    Object.assign(item, { claimed_by: body.claimed_by, claimed_until: body.claimed_until });
    state.claimed = item;
  } catch (error) {
    if (error.status !== 409 || !error.body) {
      $("error").textContent = `Не удалось занять сообщение: ${problem(error)}`;
      return;
    }
    Object.assign(item, { claimed_by: error.body.claimed_by, claimed_until: error.body.expires_at });
    const node = rows()[index];
    if (!node || node.item !== item) return;  // the list was loaded again meanwhile
    paintRow(node);
    if (current() === item) {
      status(`Это сообщение сейчас разбирает ${item.claimed_by}: беру следующее.`);
      await selectFree(index + 1, 1);
    }
  }
}

async function releaseClaim() {
  const item = state.claimed;
  state.claimed = null;
  if (!item || !state.key) return;
  try {
    await api(`/v1/claims/${item.kind}/${encodeURIComponent(item.message_id)}?annotator=${encodeURIComponent(state.name)}`,
      { method: "DELETE" });
  } catch (_) { /* the lease runs out by itself */ }
}

async function renewClaim() {
  const item = state.claimed;
  if (item && item === current() && !item.sent) {
    try { await post("/v1/claims", { message_id: item.message_id, target: item.kind, annotator: state.name }); } catch (_) { /* shown on the next action */ }
  }
}

// -- the selected item ------------------------------------------------------------------------
function status(text, bad = false) {
  const node = document.querySelector("#detail [data-testid=status]");
  if (!node) return;
  node.textContent = text;
  node.classList.toggle("error", bad);
}

function renderDetail() {
  const item = current();
  const detail = $("detail");
  detail.removeAttribute("data-message-id");
  if (!item) {
    detail.replaceChildren(el("p", { class: "muted" }, state.items.length ? "" : "Выберите сообщение в списке."));
    return;
  }
  detail.setAttribute("data-message-id", item.message_id);
  detail.replaceChildren(...(item.kind === "proposal" ? proposalDetail(item) : labelDetail(item)));
  if (item.kind === "prediction") loadHistory(item);
}

function labelDetail(item) {
  const d = item.decision || {};
  const parts = [
    el("div", { class: "meta" }, [
      item.message_id, CHANNEL_NAMES[item.channel] || "канал не указан",
      item.received_at ? `получено ${when(item.received_at)}` : null,
      item.created_at ? `разобрано ${when(item.created_at)}` : null,
      item.model_version ? `модель v${item.model_version}` : null,
      item.reason ? REASONS[item.reason] || item.reason : null,
    ].filter(Boolean).join(" · ")),
  ];
  if (item.subject || item.sender) {
    parts.push(el("div", { class: "email", "data-testid": "email" },
      item.sender ? el("div", {}, "От: ", item.sender) : null,
      item.subject ? el("div", {}, "Тема: ", el("b", {}, item.subject)) : null));
  }
  parts.push(el("p", { class: "text", "data-testid": "text" }, item.text));
  if (item.kind === "annotated") {
    parts.push(el("div", { class: "suggestion" },
      `В разметке: ${HEAD_NAMES[item.head]} — ${valueName(item.head, item.given)} (${pct(item.given_probability)}). `,
      `Модель вне обучения предлагает: ${valueName(item.head, item.suggested)} (${pct(item.confidence)}). `,
      el("button", { type: "button", "data-testid": "accept", onclick: accept }, "Принять предложение (a)")));
  }
  if (d.safety && d.safety.fired) {
    const title = LABELS.rule_titles[d.safety.rule] || "правило безопасности";
    parts.push(el("div", { class: "safety", "data-testid": "safety" },
      `Сработало правило «${title}» на словах «${(d.safety.matched || []).join(" ")}». ${d.safety.action || ""}`));
  }
  if (item.actions && item.actions.length) {
    parts.push(el("ul", { class: "actions", "data-testid": "actions" },
      item.actions.map((a) => el("li", {}, ACTION_NAMES[a.type] || a.type,
        a.to && a.to.name ? ` — ${a.to.name}` : "", a.deadline === "now" ? " (сейчас)" : a.deadline === "today" ? " (сегодня)" : ""))));
  }
  parts.push(el("div", { class: "heads" }, HEADS.map((head) => headRow(item, head, d))));
  const words = (d.explanation && d.explanation.category) || [];
  parts.push(el("div", { class: "words" }, "Слова, которые повлияли на категорию: ",
    words.length ? words.map((w) => `${w.lemma} (${w.weight.toFixed(2)})`).join(", ") : "—"));
  const comment = el("input", {
    id: "comment", placeholder: "комментарий (необязательно)", maxlength: "2000", "data-testid": "comment",
    onkeydown: (event) => { if (event.key === "Enter") { event.preventDefault(); submit(); } },
  });
  parts.push(el("div", { class: "bar" },
    el("button", { type: "button", class: "primary", "data-testid": "submit", onclick: () => submit() }, "Отправить (Enter)"),
    el("button", { type: "button", "data-testid": "confirm", onclick: () => submit(true) },
      item.kind === "annotated" ? "Разметка верна (c)" : "Всё верно (c)"),
    el("button", { type: "button", "data-testid": "undo", onclick: undoLast }, "Отменить последнее (Ctrl+Z)"),
    comment));
  parts.push(el("div", { class: "status", role: "status", "data-testid": "status" }, item.sent ? sentText(item.sent) : ""));
  parts.push(el("div", { class: "history", id: "history", "data-testid": "history" }));
  return parts;
}

function headRow(item, head, decision) {
  const probabilities = (decision.probabilities || {})[head] || {};
  const values = LABELS.heads[head];
  return el("div", { class: "head", "data-head": head }, el("span", { class: "name" }, HEAD_NAMES[head]),
    values.map((value, i) => {
      const typed = head === "is_hard" ? value === "true" : value;
      const p = probabilities[value];
      const chosen = String(state.choice[head]) === value;
      const shown = String(item.labels[head]) === value;
      return el("button", {
        type: "button", class: `label${chosen ? " chosen" : ""}${shown ? " shown" : ""}`, "data-value": value,
        "data-testid": `label-${head}-${value}`, "aria-pressed": String(chosen),
        title: `${shown ? (item.kind === "annotated" ? "в разметке" : "ответ модели") : ""}${p === undefined ? "" : ` · вероятность ${pct(p)}`}`,
        onclick: () => choose(head, typed),
      },
      head === "category" ? el("kbd", {}, CATEGORY_KEYS[i]) : null,
      valueName(head, typed),
      p === undefined ? null : [bar(p, chosen), el("span", { class: "p" }, pct(p))]);
    }));
}

function choose(head, value) {
  const item = current();
  if (!item || item.kind === "proposal") return;
  state.choice = consistent({ ...state.choice, [head]: value }, head);
  for (const button of document.querySelectorAll("#detail .head .label")) {
    const chosen = button.dataset.value === String(state.choice[button.closest(".head").dataset.head]);
    button.classList.toggle("chosen", chosen);
    button.setAttribute("aria-pressed", String(chosen));
  }
  paintRow(rows()[state.selected]);
  const changes = HEADS.filter((h) => state.choice[h] !== item.labels[h]);
  status(changes.length ? `Выбрано: ${changes.map((h) => `${HEAD_NAMES[h]} → ${valueName(h, state.choice[h])}`).join(", ")}. Enter — отправить.` : "");
}

async function submit(asShown = false) {
  const item = current();
  if (!item || item.kind === "proposal") return;
  if (item.sent) { status("Уже отправлено. Ctrl+Z отменяет вашу последнюю отправку."); return; }
  const comment = ($("comment") || {}).value || null;
  const body = { message_id: item.message_id, target: item.kind, annotator: state.name, comment,
    ...(asShown ? { verdict: "confirm" } : { labels: state.choice }) };
  status("Сохраняю…");
  try {
    const saved = await post("/v1/feedback", body);
    item.sent = saved;
    state.sent.push(item);
    if (state.claimed === item) state.claimed = null;  // the service let the claim go
    paintRow(rows()[state.selected]);
    countProposals();
    const index = state.selected;
    await selectFree(index + 1, 1);
    if (state.selected === index) status(sentText(saved));
  } catch (error) {
    status(`Не сохранено: ${problem(error, `это сообщение сейчас разбирает другой человек`)}`, true);
  }
}

async function undoLast() {
  const item = state.sent.pop();
  if (!item) { status("Отменять нечего: в этом сеансе вы ещё ничего не отправили."); return; }
  try {
    await post(`/v1/feedback/${item.sent.feedback_id}/undo`, { annotator: state.name });
  } catch (error) {
    status(`Не отменено: ${problem(error, "вашу правку уже проверил второй человек или после неё была другая; предложите новую")}`, true);
    return;
  }
  const number = item.sent.feedback_id;
  item.sent = null;
  const index = state.items.indexOf(item);
  if (index < 0) { status(`Правка №${number} отменена.`); return; }
  paintRow(rows()[index]);
  await select(index);
  status(`Правка №${number} отменена: сообщение снова ждёт решения.`);
}

function accept() {
  const item = current();
  if (!item || item.kind !== "annotated") return;
  choose(item.head, item.head === "is_hard" ? item.suggested === "true" : item.suggested);
  submit();
}

async function loadHistory(item) {
  try {
    const [predictions, journal] = await Promise.all([
      api(`/v1/predictions/${encodeURIComponent(item.message_id)}`),
      api(`/v1/feedback?message_id=${encodeURIComponent(item.message_id)}&limit=50`),
    ]);
    const node = $("history");
    if (!node || current() !== item) return;
    const describe = (labels) => HEADS.map((h) => valueName(h, labels[h])).join(" · ");
    const entries = [
      ...predictions.history.map((p) => ({ at: p.created_at, text: `модель v${p.model_version}: ${describe(p)}` })),
      ...journal.items.map((f) => ({ at: f.created_at, text: journalLine(f) })),
    ].sort((a, b) => a.at.localeCompare(b.at));
    node.replaceChildren(el("h3", {}, "История сообщения"),
      el("ol", {}, entries.map((e) => el("li", {}, `${when(e.at)} — ${e.text}`))));
  } catch (_) { /* the history is a help, not a must */ }
}

function journalLine(f) {
  const what = f.verdict === "correct"
    ? `${f.annotator} исправил(а): ${HEADS.filter((h) => f.labels[h] !== f.previous[h]).map((h) => `${HEAD_NAMES[h]} → ${valueName(h, f.labels[h])}`).join(", ")}`
    : f.verdict === "undo" ? `${f.annotator} отменил(а) правку №${f.undoes}` : `${f.annotator}: всё верно`;
  const review = f.undone_by ? " — отменено автором" : f.reviewer ? ` — ${STATUS_NAMES[f.status]} (${f.reviewer})`
    : f.verdict === "correct" ? ` — ${STATUS_NAMES[f.status]}` : "";
  return `№${f.feedback_id} ${what}${review}`;
}

// -- proposals: the second person -------------------------------------------------------------
function proposalDetail(item) {
  const own = item.annotator === state.name;
  const comment = el("input", { id: "review-comment", placeholder: "комментарий (необязательно)", maxlength: "2000", "data-testid": "review-comment" });
  return [
    el("div", { class: "meta" }, `Правка №${item.feedback_id} · ${item.annotator} · ${when(item.created_at)} · ${item.message_id}`),
    el("p", { class: "text", "data-testid": "text" }, item.text),
    item.comment ? el("p", { class: "muted" }, `Комментарий автора: ${item.comment}`) : null,
    el("table", { class: "compare" },
      el("thead", {}, el("tr", {}, el("th", {}, ""), el("th", {}, "Было"), el("th", {}, "Предложено"))),
      el("tbody", {}, HEADS.map((h) => el("tr", { class: item.labels[h] !== item.previous[h] ? "changed" : "" },
        el("th", {}, HEAD_NAMES[h]), el("td", {}, valueName(h, item.previous[h])), el("td", {}, valueName(h, item.labels[h])))))),
    own ? el("p", { class: "muted" }, "Это ваше исправление: подтвердить или отклонить его может только другой человек.") : null,
    el("div", { class: "bar" },
      el("button", { type: "button", class: "primary", "data-testid": "review-confirm", disabled: own, onclick: () => reviewProposal("confirm") }, "Подтвердить (y)"),
      el("button", { type: "button", "data-testid": "review-reject", disabled: own, onclick: () => reviewProposal("reject") }, "Отклонить (n)"),
      comment),
    el("div", { class: "status", role: "status", "data-testid": "status" }),
  ].filter(Boolean);
}

async function reviewProposal(verdict) {
  const item = current();
  if (!item || item.kind !== "proposal" || item.sent) return;
  if (item.annotator === state.name) { status("Своё исправление проверяет другой человек.", true); return; }
  try {
    const body = await post(`/v1/feedback/${item.feedback_id}/review`,
      { annotator: state.name, verdict, comment: $("review-comment").value || null });
    item.sent = body;
    const node = rows()[state.selected];
    node.classList.add("sent");
    node.querySelector(".row-state").textContent = verdict === "confirm" ? "подтверждено" : "отклонено";
    countProposals();
    const index = state.selected;
    const next = state.items.findIndex((other, i) => i > index && !other.sent && other.annotator !== state.name);
    if (next >= 0) await select(next);
    else status(verdict === "confirm" ? "Подтверждено." : "Отклонено: метки остались прежними.");
  } catch (error) {
    status(`Не сохранено: ${problem(error, "эту правку уже проверили или заменили более поздней")}`, true);
  }
}

// -- search -----------------------------------------------------------------------------------
function find(event) {
  event.preventDefault();
  state.offset = 0;
  releaseClaim().then(loadList);
}

function openMessage(messageId) {
  $("find-q").value = messageId;
  showTab("find").then(loadList);
}

// -- journal and agreement --------------------------------------------------------------------
async function loadLog() {
  const params = new URLSearchParams({ limit: String(PAGE), offset: String(state.log.offset) });
  const filters = { person: "log-person", message_id: "log-message", since: "log-since", until: "log-until" };
  for (const [name, id] of Object.entries(filters)) {
    if ($(id).value.trim()) params.set(name, $(id).value.trim());
  }
  try {
    const body = await api(`/v1/feedback?${params}`);
    state.log.total = body.total;
    const describe = (labels) => labels ? HEADS.map((h) => valueName(h, labels[h])).join(" · ") : "—";
    $("log-count").textContent = body.total
      ? `Записи ${state.log.offset + 1}–${state.log.offset + body.items.length} из ${body.total}` : "Записей нет";
    $("log-prev").disabled = state.log.offset === 0;
    $("log-next").disabled = state.log.offset + body.items.length >= body.total;
    $("log-rows").replaceChildren(...body.items.map((f) => el("tr", { "data-testid": "log-row", "data-feedback-id": f.feedback_id },
      el("td", {}, `№${f.feedback_id}`),
      el("td", {}, when(f.created_at)),
      el("td", {}, f.annotator),
      el("td", {}, el("a", { href: "#", "data-testid": "log-link", onclick: (e) => { e.preventDefault(); openMessage(f.message_id); } }, f.message_id)),
      el("td", { class: "snippet" }, f.text || ""),
      el("td", {}, f.verdict === "undo" ? `отмена №${f.undoes}` : VERDICT_NAMES[f.verdict]),
      el("td", { "data-testid": "log-status" }, f.undone_by ? `отменено автором (№${f.undone_by})`
        : f.verdict === "correct" ? `${STATUS_NAMES[f.status]}${f.reviewer ? ` (${f.reviewer}, ${when(f.reviewed_at)})` : ""}` : ""),
      el("td", {}, describe(f.previous)),
      el("td", {}, describe(f.labels)),
      el("td", {}, [f.comment, f.review_comment ? `второй: ${f.review_comment}` : null].filter(Boolean).join("; ")))));
  } catch (error) {
    $("error").textContent = `Не удалось загрузить журнал: ${problem(error)}`;
  }
}

async function loadAgreement() {
  try {
    const body = await api("/v1/agreement");
    const cell = (figure) => figure.kappa === null
      ? (figure.agreement === null ? "—" : `— (${pct(figure.agreement)})`)
      : `${figure.kappa.toFixed(2)} (${pct(figure.agreement)})`;
    const line = (who, figures) => el("tr", { "data-person": who },
      el("th", {}, who), el("td", {}, String(figures.pairs)),
      HEADS.map((h) => el("td", { "data-head": h }, cell(figures.heads[h]))));
    $("agreement-rows").replaceChildren(line("Все", body.overall),
      ...Object.entries(body.people).map(([who, figures]) => line(who, figures)));
  } catch (error) {
    $("error").textContent = `Не удалось загрузить согласие: ${problem(error)}`;
  }
}

// -- keyboard ---------------------------------------------------------------------------------
function onKey(event) {
  const inField = event.target.closest("input, select, textarea");
  if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z" && !inField && LIST_TABS.includes(state.tab)) {
    event.preventDefault();
    undoLast();
    return;
  }
  if (inField || event.ctrlKey || event.metaKey || event.altKey || !LIST_TABS.includes(state.tab)) return;
  if (document.querySelector("dialog[open]")) return;
  const item = current();
  const key = event.key;
  if (key === "j" || key === "ArrowDown") select(state.selected + 1);
  else if (key === "k" || key === "ArrowUp") select(state.selected - 1);
  else if (!item) return;
  else if (item.kind === "proposal") {
    if (key === "y") reviewProposal("confirm");
    else if (key === "n") reviewProposal("reject");
    else return;
  } else if (CATEGORY_KEYS.includes(key)) choose("category", LABELS.categories[CATEGORY_KEYS.indexOf(key)]);
  else if (key === "h") choose("is_hard", !state.choice.is_hard);
  else if (key === "u") {
    const order = LABELS.urgencies;
    choose("urgency", order[(order.indexOf(state.choice.urgency) + 1) % order.length]);
  } else if (key === "r") choose("reporter", state.choice.reporter === "client" ? "executor" : "client");
  else if (key === "Enter") submit();
  else if (key === "c") submit(true);
  else if (key === "a" && item.kind === "annotated") accept();
  else return;
  event.preventDefault();
}

const LIST_TABS = ["queue", "audit", "find", "proposals"];

// -- start ------------------------------------------------------------------------------------
function fillFilters() {
  const fill = (id, values, name) => $(id).append(...values.map((v) => el("option", { value: v }, name(v))));
  fill("filter-category", LABELS.categories, (v) => LABELS.category_names[v]);
  fill("filter-urgency", LABELS.urgencies, (v) => valueName("urgency", v));
  fill("filter-channel", LABELS.channels, (v) => CHANNEL_NAMES[v] || v);
}

document.addEventListener("DOMContentLoaded", () => {
  fillFilters();
  document.addEventListener("keydown", onKey);
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  $("find-form").addEventListener("submit", find);
  $("refresh").addEventListener("click", () => { state.offset = 0; releaseClaim().then(loadList); });
  $("page-prev").addEventListener("click", () => turnPage(-1));
  $("page-next").addEventListener("click", () => turnPage(1));
  $("log-filters").addEventListener("submit", (event) => { event.preventDefault(); state.log.offset = 0; loadLog(); });
  $("log-prev").addEventListener("click", () => { state.log.offset = Math.max(0, state.log.offset - PAGE); loadLog(); });
  $("log-next").addEventListener("click", () => { state.log.offset += PAGE; loadLog(); });
  for (const id of ["filter-category", "filter-urgency", "filter-channel"]) {
    $(id).addEventListener("change", () => { state.offset = 0; releaseClaim().then(loadList); });
  }
  for (const button of document.querySelectorAll("nav [data-tab]")) {
    button.addEventListener("click", () => showTab(button.dataset.tab));
  }
  // A closed tab gives its claim back at once rather than when the lease runs out.
  window.addEventListener("pagehide", () => {
    const item = state.claimed;
    if (!item || !state.key) return;
    fetch(`/v1/claims/${item.kind}/${encodeURIComponent(item.message_id)}?annotator=${encodeURIComponent(state.name)}`,
      { method: "DELETE", headers: { "X-API-Key": state.key }, keepalive: true });
  });
});
