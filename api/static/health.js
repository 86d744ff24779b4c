// The model-health tab (quality staff): per-day figures and drift, from GET /v1/health, drawn
// with Chart.js (vendor/, served by us). Loaded after review.js, whose helpers ($, el, api,
// LABELS, PANELS) it uses, and after the chart library; it registers its panel. Its names stay
// inside this function: the page's scripts share one global scope.
"use strict";

(() => {
  const URGENCY_NAMES = { critical: "критичная", high: "высокая", normal: "обычная", low: "низкая" };
  const URGENCY_COLORS = { critical: "#b00020", high: "#e67e22", normal: "#3d7cc9", low: "#9aa7b4" };
  // One colour per category in the guide's order, most severe (reds) first.
  const CATEGORY_COLORS = [
    "#6d0f1f", "#b00020", "#8e44ad", "#5e35b1", "#e67e22", "#c99a00",
    "#00897b", "#2e7d32", "#3d7cc9", "#0277bd", "#7f8c8d", "#bdc3c7",
  ];
  const READINGS = { stable: "стабильно", moderate: "умеренный сдвиг", significant: "заметный сдвиг" };

  const dayFormat = new Intl.DateTimeFormat("ru-RU", { day: "numeric", month: "short", timeZone: "UTC" });
  const fullDayFormat = new Intl.DateTimeFormat("ru-RU", { day: "numeric", month: "long", year: "numeric", timeZone: "UTC" });
  const percent = new Intl.NumberFormat("ru-RU", { style: "percent", maximumFractionDigits: 1 });
  const psiFormat = new Intl.NumberFormat("ru-RU", { minimumFractionDigits: 3, maximumFractionDigits: 3 });
  let healthRequest = 0;  // answers of an earlier request that arrive late are dropped

  function utcDay(day) {
    return new Date(`${day}T00:00:00Z`);
  }

  function reading(value, thresholds) {
    if (value < thresholds.moderate) return "stable";
    return value <= thresholds.significant ? "moderate" : "significant";
  }

  function drawChart(id, type, days, datasets, options = {}) {
    const canvas = $(id);
    const previous = Chart.getChart(canvas);
    if (previous) previous.destroy();
    const count = { beginAtZero: true, ticks: { precision: 0 } };
    return new Chart(canvas, {
      type,
      data: { labels: days.map((d) => dayFormat.format(utcDay(d.day))), datasets },
      options: {
        locale: "ru-RU",
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: { y: count },
        ...options,
        plugins: {
          tooltip: { callbacks: { title: (items) => fullDayFormat.format(utcDay(days[items[0].dataIndex].day)) } },
          ...(options.plugins || {}),
        },
      },
    });
  }

  function stacked(extra = {}) {
    return { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } }, ...extra };
  }

  function drawCharts(days) {
    drawChart("chart-messages", "bar", days, [
      { label: "Сообщений", data: days.map((d) => d.messages), backgroundColor: "#3d7cc9" },
    ], { plugins: { legend: { display: false } } });

    drawChart("chart-rates", "line", days, [
      { label: "На проверку (needs_review)", data: days.map((d) => d.needs_review_rate), borderColor: "#c99a00", backgroundColor: "#c99a00" },
      { label: "Исправлено", data: days.map((d) => d.corrections_rate), borderColor: "#b00020", backgroundColor: "#b00020" },
    ], {
      scales: { y: { beginAtZero: true, suggestedMax: 0.5, ticks: { callback: (v) => percent.format(v) } } },
      plugins: { tooltip: { callbacks: { label: (item) => `${item.dataset.label}: ${percent.format(item.parsed.y)}` } } },
    });

    drawChart("chart-categories", "bar", days, LABELS.categories.map((code, i) => ({
      label: LABELS.category_names[code] || code,
      data: days.map((d) => d.categories[code] || 0),
      backgroundColor: CATEGORY_COLORS[i % CATEGORY_COLORS.length],
    })), stacked({ aspectRatio: 2.4, plugins: { legend: { position: "bottom" } } }));

    drawChart("chart-urgencies", "bar", days, LABELS.urgencies.map((code) => ({
      label: URGENCY_NAMES[code] || code,
      data: days.map((d) => d.urgencies[code] || 0),
      backgroundColor: URGENCY_COLORS[code] || "#9aa7b4",
    })), stacked());

    drawChart("chart-critical", "bar", days, [
      { label: "Критичных", data: days.map((d) => d.critical), backgroundColor: "#b00020" },
      { label: "Сработали правила безопасности", data: days.map((d) => d.safety_overrides), backgroundColor: "#e67e22" },
    ]);
  }

  function driftFigure(kind, title, value, thresholds) {
    const key = value === null ? "none" : reading(value, thresholds);
    return el("div", { class: `psi ${key}`, "data-testid": `drift-${kind}`, "data-psi": value === null ? "" : String(value), "data-reading": key },
      el("div", {}, title),
      value === null
        ? el("span", { class: "value" }, "не посчитан")
        : [el("span", { class: "value" }, psiFormat.format(value)), el("span", {}, READINGS[key])]);
  }

  function showDrift(drift) {
    const computed = new Date(drift.computed_at).toLocaleString("ru-RU");
    $("health-drift").replaceChildren(
      driftFigure("category", `Сдвиг категорий (PSI) за ${drift.window_days} дн.`, drift.category_psi, drift.thresholds),
      driftFigure("lemma", "Сдвиг слов (PSI лемм)", drift.lemma_psi, drift.thresholds),
      el("p", { class: "note", "data-testid": "drift-note" },
        drift.note,
        ` Рассчитано ${computed}${drift.model_version ? `, модель v${drift.model_version}` : ""}. `,
        `Меньше ${drift.thresholds.moderate.toLocaleString("ru-RU")} — стабильно, `,
        `до ${drift.thresholds.significant.toLocaleString("ru-RU")} — умеренный сдвиг, больше — заметный.`));
  }

  async function loadHealth() {
    const request = ++healthRequest;
    const days = $("health-days").value;
    $("health").dataset.state = "loading";
    $("health-status").textContent = "Загружаю…";
    try {
      const body = await api(`/v1/health?days=${encodeURIComponent(days)}`);
      if (request !== healthRequest) return;
      drawCharts(body.days);
      showDrift(body.drift);
      const total = body.days.reduce((sum, d) => sum + d.messages, 0);
      const first = body.days[0].day;
      const last = body.days[body.days.length - 1].day;
      $("health-status").textContent =
        `${fullDayFormat.format(utcDay(first))} — ${fullDayFormat.format(utcDay(last))}: сообщений ${total.toLocaleString("ru-RU")}.`;
      $("health").dataset.days = String(body.days.length);
      $("health").dataset.state = "drawn";
    } catch (error) {
      if (request !== healthRequest) return;
      $("health").dataset.state = "error";
      $("health-status").textContent = "";
      $("error").textContent = `Не удалось загрузить здоровье модели: ${error.message}`;
    }
  }

  PANELS.health = loadHealth;

  document.addEventListener("DOMContentLoaded", () => {
    $("health-days").addEventListener("change", loadHealth);
    $("health-refresh").addEventListener("click", loadHealth);
  });
})();
