// The models tab (admins): export corrections, train, promote behind the gate, roll back, reload.
// Loaded after review.js, whose helpers ($, el, api, PANELS, HEAD_NAMES, valueName) it uses; it
// registers its panel and keeps its own names inside this function, since the page's scripts
// share one global scope. Whatever changes the data or the champion asks first, in a dialog
// that says what will happen; Escape or "Отмена" leaves everything as it was.
(() => {
  "use strict";

  // What the versions endpoint told us last: the page's facts for the dialogs.
  const models = { versions: [], serving: null, history: [], tolerance: null, names: {} };
  // The figures of the versions table, named in Russian by the API (`metric_names_ru`).
  const VERSION_FIGURES = ["category_macro_f1", "is_hard_f1", "urgency_macro_f1", "reporter_macro_f1", "critical_recall"];
  const JOB_STATUS = {
    running: "идёт",
    succeeded: "завершено",
    failed: "не удалось",
    lost: "процесс обучения пропал, не сообщив результата",
  };
  const GATE_VERDICT = { passed: "пройдена", refused: "отказ" };
  const GATE_RULE = {
    within_tolerance: (tolerance) => `не хуже чемпиона больше чем на ${figure(tolerance)}`,
    every_critical: () => "1,000: ловить каждое критичное",
  };
  const POLL_MS = 2000;

  const figure = (x) => (x === undefined || x === null
    ? "—"
    : x.toLocaleString("ru-RU", { minimumFractionDigits: 3, maximumFractionDigits: 3 }));
  const when = (iso) => new Date(iso).toLocaleString("ru-RU");
  const champion = () => models.versions.find((v) => v.champion);

  // -- the dialog -------------------------------------------------------------------------------
  // Resolves true only on "Подтвердить"; Escape closes a modal dialog with no return value.
  function confirmAction(title, facts) {
    const dialog = $("models-confirm");
    $("models-confirm-title").textContent = title;
    $("models-confirm-facts").replaceChildren(...facts.map((fact) => el("li", {}, fact)));
    dialog.returnValue = "";
    dialog.showModal();
    $("models-confirm-cancel").focus();
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => {
        const confirmed = dialog.returnValue === "confirm";
        if (!confirmed) show(el("p", { class: "muted" }, "Отменено: ничего не изменилось."));
        resolve(confirmed);
      }, { once: true });
    });
  }

  // -- what to say -------------------------------------------------------------------------------
  const FAILURES = {
    0: "нет связи с сервисом",
    401: "ключ больше не подходит — войдите заново",
    403: "это может только администратор",
    503: "сервис ещё не готов: модель не загружена",
  };

  // The service's own words stay available to whoever needs them, under the Russian line.
  function failure(what, error, known = {}) {
    const status = error.status || 0;
    const said = known[status] || FAILURES[status] || `ошибка сервиса (код ${status})`;
    return [
      el("p", { class: "error", "data-testid": "admin-error" }, `${what}: ${said}.`),
      status ? el("details", {}, el("summary", {}, "Ответ сервиса"), el("pre", {}, error.message)) : null,
    ];
  }

  function show(...nodes) {
    $("admin-output").replaceChildren(...nodes.flat().filter((node) => node !== null && node !== undefined));
  }

  function busy(text) {
    show(el("p", { class: "muted" }, text));
  }

  // One action at a time: the tab's buttons wait while the service works.
  async function act(what, path, known) {
    const waiting = [...document.querySelectorAll("#models button:not(:disabled)")];
    for (const button of waiting) button.disabled = true;
    try {
      return await api(path, { method: "POST" });
    } catch (error) {
      show(failure(what, error, known));
      return null;
    } finally {
      for (const button of waiting) button.disabled = false;
    }
  }

  // -- versions ------------------------------------------------------------------------------------
  async function loadVersions() {
    try {
      const body = await api("/v1/admin/versions");
      Object.assign(models, {
        versions: body.versions,
        serving: body.serving,
        history: body.champion_history,
        tolerance: body.promote_tolerance,
        names: body.metric_names_ru,
      });
    } catch (error) {
      $("error").textContent =
        `Не удалось загрузить версии: ${FAILURES[error.status || 0] || `ошибка сервиса (код ${error.status})`}.`;
      return;
    }
    $("version-head").replaceChildren(
      el("th", {}, "Версия"), el("th", {}, "Статус"),
      ...VERSION_FIGURES.map((key) => el("th", {}, models.names[key])),
      el("th", {}, "Исправлений в обучении"), el("th", {}, "Проверка"), el("th", {}, "Создана"), el("th", {}, ""));
    $("version-rows").replaceChildren(...models.versions.map((v) => el("tr", { "data-version": v.version },
      el("td", {}, `v${v.version}`),
      el("td", {}, [v.champion ? "чемпион" : "", v.version === models.serving ? "в работе" : ""].filter(Boolean).join(" · ")),
      ...VERSION_FIGURES.map((key) => el("td", { class: "number" }, figure(v.test[key]))),
      el("td", { class: "number" }, String(v.corrections_in_training)),
      el("td", {}, GATE_VERDICT[v.gate] || "—"),
      el("td", {}, when(v.created_at)),
      el("td", {}, v.champion ? "" : el("button", {
        type: "button", "data-testid": `promote-${v.version}`, onclick: () => promote(v.version),
      }, "Сделать чемпионом")))));
    const [previous, current] = models.history.slice(-2);
    $("rollback").disabled = models.history.length < 2;
    $("rollback").title = models.history.length < 2
      ? "Откатывать некуда: других чемпионов ещё не было"
      : `Вернуть чемпионом v${previous} вместо v${current}`;
  }

  // -- export --------------------------------------------------------------------------------------
  async function exportCorrections() {
    busy("Считаю, что будет выгружено…");
    const plan = await act("Выгрузка исправлений", "/v1/admin/export-corrections?dry_run=true");
    if (!plan) return;
    if (!plan.written.length) {
      show(el("p", {}, "Выгружать нечего: новых подтверждённых исправлений нет."), lines(plan.summary_ru));
      return;
    }
    show();
    const facts = [...plan.summary_ru.split("\n"),
      "Записи только добавляются в файл разметки; они попадут в следующее обучение."];
    if (!(await confirmAction("Выгрузить исправления в разметку?", facts))) return;
    busy("Выгружаю исправления…");
    const done = await act("Выгрузка исправлений", "/v1/admin/export-corrections");
    if (done) show(lines(done.summary_ru), changes(done.changes), skipped(done.left_out));
  }

  function lines(text) {
    return el("ul", { class: "summary", "data-testid": "export-summary" }, text.split("\n").map((line) => el("li", {}, line)));
  }

  function changes(list) {
    if (!list.length) return null;
    return el("ul", { class: "changes" }, list.map((c) => el("li", {},
      `${c.id} исправляет ${c.corrects}: `,
      Object.entries(c.labels).map(([head, { from, to }]) =>
        `${HEAD_NAMES[head]}: ${from === null || from === undefined ? "—" : valueName(head, from)} → ${valueName(head, to)}`).join("; "))));
  }

  function skipped(list) {
    if (!list.length) return null;
    return el("details", {}, el("summary", {}, "Почему пропущены (слова проверки данных)"),
      el("ul", {}, list.map((why) => el("li", {}, why))));
  }

  // -- training ------------------------------------------------------------------------------------
  async function train() {
    const next = Math.max(0, ...models.versions.map((v) => Number(v.version))) + 1;
    const facts = [
      `Будет обучена новая версия v${next} на текущей разметке; это займёт несколько минут в отдельном процессе.`,
      `Сервис всё это время отвечает версией v${models.serving}. Новая версия сама чемпионом не станет: после обучения её нужно продвинуть через проверку.`,
    ];
    try {
      const plan = await api("/v1/admin/export-corrections?dry_run=true", { method: "POST" });
      if (plan.written.length) {
        facts.push(`Подтверждённых исправлений ещё не в разметке: ${plan.written.length}. Они в это обучение не попадут — сначала выгрузите их.`);
      }
    } catch (_) {
      // The dialog says less; the training does not depend on it.
    }
    if (!(await confirmAction("Обучить новую версию?", facts))) return;
    busy("Запускаю обучение…");
    const job = await act("Обучение", "/v1/admin/train", { 409: "обучение уже идёт — дождитесь, пока оно закончится" });
    if (!job) return;
    $("train").disabled = true;
    showJob(job);
    pollJob(job.job_id);
  }

  async function pollJob(jobId) {
    let job;
    try {
      job = await api(`/v1/admin/jobs/${jobId}`);
    } catch (error) {
      const view = $("admin-output").querySelector(`[data-job="${jobId}"] .job-status`);
      if (view) view.textContent = `Не удаётся узнать, как идёт обучение (${FAILURES[error.status || 0] || `код ${error.status}`}); пробую снова…`;
      setTimeout(() => pollJob(jobId), POLL_MS * 2);
      return;
    }
    showJob(job);
    if (job.status === "running") {
      setTimeout(() => pollJob(jobId), POLL_MS);
      return;
    }
    $("train").disabled = false;
    loadVersions();
  }

  // One view per job, updated in place, so an opened log stays open between polls.
  function showJob(job) {
    let view = $("admin-output").querySelector(`[data-job="${job.job_id}"]`);
    if (!view) {
      view = el("div", { "data-job": job.job_id },
        el("p", { class: "job-status", "data-testid": "job-status" }),
        el("ol", { class: "steps", "data-testid": "train-steps" }),
        el("details", { class: "log" }, el("summary", {}, "Подробный журнал"), el("pre", { "data-testid": "train-log" })));
      show(view);
    }
    view.querySelector(".job-status").textContent =
      `Обучение, начато ${when(job.started_at)}: ${JOB_STATUS[job.status] || job.status}`;
    view.querySelector(".steps").replaceChildren(...(job.steps || []).map((step) => el("li", { class: step.step, "data-step": step.step },
      el("time", { datetime: step.at }, new Date(step.at).toLocaleTimeString("ru-RU")), " ", step.text_ru)));
    view.querySelector("pre").textContent = job.output || "пока пусто";
  }

  // -- promotion behind the gate -----------------------------------------------------------------
  async function promote(version) {
    const current = champion();
    const facts = current
      ? [`v${version} заменит текущего чемпиона v${current.version}.`,
        `Сначала проверка сравнит v${version} с v${current.version} на замороженной тестовой выборке. Если v${version} пропустит хоть одно критичное сообщение или её macro-F1 по любой голове окажется ниже, чем у v${current.version}, больше чем на ${figure(models.tolerance)}, она чемпионом не станет и ничего не изменится.`]
      : [`v${version} станет чемпионом, если на замороженной тестовой выборке поймает каждое критичное сообщение.`];
    facts.push(`Если проверка пройдена, сервис сразу начнёт отвечать версией v${version}.`);
    if (!(await confirmAction(`Сделать v${version} чемпионом?`, facts))) return;
    busy(`Проверяю v${version} на тестовой выборке…`);
    const gate = await act(`Проверка v${version}`, `/v1/admin/promote/${version}`, {
      404: `версии v${version} нет в реестре`,
      409: `v${version} нельзя продвинуть: её файл модели не прошёл проверку`,
    });
    if (gate) show(gateView(gate));
    loadVersions();
  }

  function gateView(gate) {
    const verdict = gate.passed
      ? `Проверка пройдена: v${gate.candidate} теперь чемпион, сервис отвечает версией v${gate.serving}.`
      : `Проверка не пройдена: v${gate.candidate} не стала чемпионом${gate.champion ? `, чемпион остаётся v${gate.champion}` : ""}.`;
    const failing = new Set(gate.refusals.map((r) => r.metric).filter(Boolean));
    const left = gate.champion ? `Чемпион v${gate.champion}` : "Чемпиона нет";
    return [
      el("p", { class: `verdict ${gate.passed ? "passed" : "refused"}`, "data-testid": "gate-verdict" }, verdict),
      gate.refusals.length
        ? el("ul", { class: "reasons", "data-testid": "gate-reasons" },
          gate.refusals.map((r) => el("li", { "data-code": r.code }, r.text_ru)))
        : null,
      el("p", { class: "muted" },
        `Замороженная тестовая выборка, сообщений: ${gate.n_test}; допуск по macro-F1: ${figure(gate.tolerance)}.`),
      el("table", { class: "gate", "data-testid": "gate-table" },
        el("thead", {}, el("tr", {},
          el("th", {}, "Показатель"), el("th", {}, left), el("th", {}, `Кандидат v${gate.candidate}`),
          el("th", {}, "Изменение"), el("th", {}, "Условие проверки"))),
        el("tbody", {}, gate.metrics.map((m) => el("tr", { "data-metric": m.key, class: failing.has(m.key) ? "failing" : "" },
          el("th", { scope: "row" }, m.name_ru),
          el("td", { class: "number" }, figure(m.champion)),
          el("td", { class: "number" }, figure(m.candidate)),
          change(m),
          el("td", {}, m.rule ? GATE_RULE[m.rule](gate.tolerance) : ""))))),
    ];
  }

  // The change with its sign spelled out, green where the candidate is better, red where worse.
  function change(m) {
    if (m.champion === null || m.champion === undefined) return el("td", { class: "number change" }, "—");
    const delta = Math.round((m.candidate - m.champion) * 1000) / 1000;
    const better = m.lower_is_better ? delta < 0 : delta > 0;
    const tone = delta === 0 ? "same" : better ? "better" : "worse";
    const sign = delta > 0 ? "+" : delta < 0 ? "−" : "";
    return el("td", { class: `number change ${tone}`, "data-testid": "change" }, sign + figure(Math.abs(delta)));
  }

  // -- rollback and reload -------------------------------------------------------------------------
  async function rollback() {
    const [previous, current] = models.history.slice(-2);
    const facts = [
      `Чемпионом снова станет v${previous} — она была чемпионом до v${current}.`,
      `v${current} останется в списке версий; её можно будет продвинуть снова.`,
      `Проверки на тестовой выборке при откате нет. Сервис сразу начнёт отвечать версией v${previous}.`,
    ];
    if (!(await confirmAction(`Откатить чемпиона с v${current} на v${previous}?`, facts))) return;
    busy("Откатываю чемпиона…");
    const body = await act("Откат", "/v1/admin/rollback", { 409: "откатить нельзя: прежнего чемпиона нет или его файл модели не прошёл проверку" });
    if (body) show(el("p", {}, `Чемпион возвращён: v${body.from} → v${body.to}; сервис отвечает версией v${body.serving}.`));
    loadVersions();
  }

  async function reload() {
    busy("Перезагружаю модель сервиса…");
    const body = await act("Перезагрузка", "/v1/admin/reload", { 409: "чемпион в реестре не прошёл проверку; сервис отвечает прежней версией" });
    if (body) {
      show(el("p", {}, body.previous_version === body.version
        ? `Сервис перечитал чемпиона и отвечает версией v${body.version}, как и раньше.`
        : `Сервис перешёл с v${body.previous_version} на v${body.version}.`));
    }
    loadVersions();
  }

  PANELS.models = loadVersions;

  document.addEventListener("DOMContentLoaded", () => {
    $("export").addEventListener("click", exportCorrections);
    $("train").addEventListener("click", train);
    $("rollback").addEventListener("click", rollback);
    $("reload").addEventListener("click", reload);
    $("models-confirm-ok").addEventListener("click", () => $("models-confirm").close("confirm"));
    $("models-confirm-cancel").addEventListener("click", () => $("models-confirm").close("cancel"));
  });
})();
