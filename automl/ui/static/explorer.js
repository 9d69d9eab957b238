// The data explorer: a model's training data or reviewed invokes, filtered and paged by the
// server (/api/explorer/rows), and the most confused class pairs side by side. Everything from
// the server is shown with textContent.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const LIMIT = 50;
  const SORTS = {
    training: [["issue", "label quality (likely errors first)"], ["confidence", "confidence (least first)"], ["order", "data order"]],
    reviewed: [["arrival", "newest first"], ["confidence", "confidence (least first)"]],
  };
  const FILTERS = ["label", "predicted", "min_conf", "max_conf", "min_issue", "max_issue", "reason"];
  const state = {model: null, set: "training", offset: 0, total: 0, loaded: 0};
  window.automlExplorer = state;  // the page tests wait on state.loaded

  function say(text, bad) {
    $("status").textContent = text;
    $("status").className = bad ? "bad" : "";
  }

  async function getJSON(url) {
    const response = await fetch(url, {credentials: "same-origin"});
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || response.statusText);
    return body;
  }

  function options(select, values, first) {
    const kept = select.value;
    select.replaceChildren();
    if (first !== undefined) select.append(new Option(first, ""));
    for (const value of values) {
      const [key, text] = Array.isArray(value) ? value : [value, value];
      select.append(new Option(text, key));
    }
    if ([...select.options].some((o) => o.value === kept)) select.value = kept;
  }

  function cell(content) {
    const td = document.createElement("td");
    if (content instanceof Node) td.append(content);
    else td.textContent = content == null ? "" : String(content);
    return td;
  }

  function input(row) {
    if (row.kind === "image" && row.src) {
      const image = new Image();
      image.className = "thumb";
      image.loading = "lazy";
      image.alt = row.name || "input";
      image.src = row.src;
      return image;
    }
    const text = document.createElement("pre");
    text.className = "snippet";
    text.textContent = row.text == null ? "(input not kept)" : row.text;
    return text;
  }

  function percent(value) {
    return value == null ? "-" : `${Math.round(value * 100)}%`;
  }

  function extra(row) {
    if (row.set === "training") {
      return row.issue == null ? "-" : `${row.issue.toFixed(3)}${row.flagged ? " (flagged)" : ""}`;
    }
    return [row.sampler, row.reason].filter(Boolean).join(": ") || "-";
  }

  function where(row) {
    if (row.set === "training") return `${row.name || row.source} · fold ${row.fold}`;
    return [row.status, row.ts, row.route, row.version == null ? null : `v${row.version}`].filter(Boolean).join(" · ");
  }

  function renderRows(data) {
    const body = $("rows").tBodies[0];
    body.replaceChildren();
    for (const row of data.rows) {
      const tr = document.createElement("tr");
      tr.dataset.id = row.id;
      if (row.flagged) tr.className = "flagged";
      tr.append(cell(input(row)), cell(row.label == null ? "-" : row.label), cell(row.predicted),
        cell(percent(row.confidence)), cell(extra(row)), cell(where(row)));
      body.append(tr);
    }
    state.total = data.total;
    $("rows").hidden = data.rows.length === 0;
    $("empty").hidden = data.rows.length !== 0;
    $("empty").textContent = data.empty || "No rows match these filters.";
    const last = data.offset + data.rows.length;
    $("shown").textContent = data.total ? `${data.offset + 1}-${last} of ${data.total}` : "0 rows";
    $("prev").disabled = data.offset === 0;
    $("next").disabled = last >= data.total;
  }

  function example(row) {
    const li = document.createElement("li");
    const what = document.createElement("span");
    what.className = "why";
    what.textContent = ` ${percent(row.confidence)} ${row.predicted} · ${row.name || row.source}`;
    li.append(input(row), what);
    return li;
  }

  function renderPairs(pairs) {
    const box = $("pairs");
    box.replaceChildren();
    $("no-pairs").hidden = pairs.length !== 0;
    for (const pair of pairs) {
      const div = document.createElement("div");
      div.className = "pair";
      for (const side of pair.sides) {
        const section = document.createElement("section");
        section.className = "side";
        const title = document.createElement("h3");
        title.textContent = `${side.label} taken for ${side.predicted}: ${side.count}`;
        const list = document.createElement("ul");
        side.examples.forEach((row) => list.append(example(row)));
        section.append(title, list);
        div.append(section);
      }
      box.append(div);
    }
  }

  function query() {
    const params = new URLSearchParams({model: state.model, set: state.set, sort: $("sort").value,
      limit: String(LIMIT), offset: String(state.offset)});
    for (const name of FILTERS) {
      const field = $(name);
      if (field.value && !field.closest("label").hidden) params.set(name, field.value);
    }
    return params;
  }

  async function loadRows() {
    if (!state.model) return;
    try {
      renderRows(await getJSON(`/api/explorer/rows?${query()}`));
      say("");
    } catch (err) {
      say(err.message, true);
    }
    state.loaded += 1;
  }

  function showSet() {
    options($("sort"), SORTS[state.set]);
    for (const label of document.querySelectorAll("[data-for]")) label.hidden = label.dataset.for !== state.set;
    $("extra-head").textContent = state.set === "training" ? "label quality" : "sampled by";
  }

  async function selectModel(model) {
    state.model = model;
    state.offset = 0;
    try {
      const summary = await getJSON(`/api/explorer/summary?model=${encodeURIComponent(model)}`);
      options($("label"), summary.classes, "any");
      options($("predicted"), summary.classes, "any");
      options($("reason"), summary.samplers, "any");
      $("run").textContent = summary.run_id
        ? `last run ${summary.run_id}: ${summary.training} examples · ${summary.reviewed} sampled invokes`
        : `${summary.reviewed} sampled invokes`;
      $("notes").replaceChildren(...summary.notes.map((note) => {
        const li = document.createElement("li");
        li.textContent = note;
        return li;
      }));
      renderPairs(summary.confused);
      $("confused").hidden = !summary.run_id;
    } catch (err) {
      say(err.message, true);
    }
    await loadRows();
  }

  $("model").addEventListener("change", () => selectModel($("model").value));
  $("set").addEventListener("change", () => {
    state.set = $("set").value;
    state.offset = 0;
    showSet();
    loadRows();
  });
  $("sort").addEventListener("change", () => { state.offset = 0; loadRows(); });
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    state.offset = 0;
    loadRows();
  });
  $("filters").addEventListener("reset", () => setTimeout(() => { state.offset = 0; loadRows(); }));
  $("prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - LIMIT); loadRows(); });
  $("next").addEventListener("click", () => { state.offset += LIMIT; loadRows(); });

  (async () => {
    showSet();
    try {
      const {models} = await getJSON("/api/explorer/models");
      options($("model"), models);
      if (!models.length) {
        say("No models in this workspace yet: run a recipe (automl run recipe=NAME) or start a project on the Review page.");
        $("confused").hidden = true;
        state.loaded += 1;
        return;
      }
      const wanted = new URLSearchParams(location.search).get("model");
      if (wanted && models.includes(wanted)) $("model").value = wanted;
      await selectModel($("model").value);
    } catch (err) {
      say(err.message, true);
    }
  })();
})();
