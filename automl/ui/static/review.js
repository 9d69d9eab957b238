// The review / annotate page: one item at a time, one key per label, every answer saved at once.
// The next items are fetched (and their images decoded) ahead, so a key shows the next item at
// once; writes go out in order behind it. Everything from the server is shown with textContent.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const BATCH = 50;      // items asked for beyond those the page holds or has answered unsaved
  const REFILL = 30;     // ask for more when fewer are held
  const AHEAD = 20;      // images fetched and decoded ahead
  const state = {
    model: null, sort: "uncertainty", labels: [], task: null, project: false, canWrite: false,
    items: [],            // the local queue: items[0] is on screen
    done: new Set(),      // answered here: a refill never brings them back
    history: [],          // {item, action, label} for Z
    images: new Map(),    // item id -> a prefetched, decoded <img>
    chain: Promise.resolve(),  // the writes, one after another
    counts: {pending: 0, reviewed: 0, skipped: 0},
    loading: false, exhausted: false, timings: [], training: null, unsaved: 0,
  };
  window.automlReview = state;  // bench/bench_review_keys.py reads state.timings

  function say(text, bad) {
    const line = $("status");
    line.textContent = text;
    line.className = bad ? "bad" : "";
  }

  async function getJSON(url) {
    const response = await fetch(url, {credentials: "same-origin"});
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || response.statusText);
    return body;
  }

  // ``body`` may be a function, called when the write's turn comes (a batch still filling); it
  // may then return null: nothing left to send. keepalive: a write the page started goes on after
  // the tab is closed or reloaded.
  function post(path, body) {
    const send = () => {
      const payload = typeof body === "function" ? body() : body;
      if (payload == null) return Promise.resolve({});
      return fetch(path, {
        method: "POST", credentials: "same-origin", keepalive: true,
        headers: {"Content-Type": "application/json"},
        body: JSON.stringify(payload),
      }).then(async (response) => {
        const data = await response.json().catch(() => ({}));
        if (!response.ok) throw new Error(data.error || String(response.status));
        return data;
      });
    };
    const sent = state.chain.then(send);
    state.chain = sent.catch(() => {});
    return sent;
  }

  // Answers given while earlier ones are on their way go together, in one write: ``batch`` holds
  // those not sent yet. Each answer's promise settles with its batch's write; an answer taken
  // back (Z) before its batch left settles as saved and is not sent.
  let batch = null;
  function saveAnswer(item, label) {
    if (!batch) {
      const mine = {answers: []};
      batch = mine;
      mine.sent = post("/api/answer", () => {
        if (batch === mine) batch = null;
        return mine.answers.length ? {model: state.model, answers: mine.answers} : null;
      });
    }
    const entry = {item_id: item.id, label};
    batch.answers.push(entry);
    state.unsaved += 1;
    const sent = batch.sent.catch((error) => {
      if (!entry.dropped) throw error;
    });
    sent.catch(() => {}).then(() => {
      if (!entry.dropped) state.unsaved -= 1;
    });
    return sent;
  }

  // Z on an answer still waiting in the page: take it out of its batch (true); false when it has
  // left already (the server must undo it).
  function unsend(item) {
    const index = batch ? batch.answers.findIndex((a) => a.item_id === item.id) : -1;
    if (index < 0) return false;
    const [entry] = batch.answers.splice(index, 1);
    entry.dropped = true;
    state.unsaved -= 1;
    return true;
  }

  // Leaving with answers not yet on the server: send the waiting batch now (keepalive outlives
  // the page), and ask first, since a write still on its way may yet be refused.
  window.addEventListener("beforeunload", (event) => {
    if (state.unsaved > 0) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
  window.addEventListener("pagehide", () => {
    if (!batch || !batch.answers.length) return;
    const answers = batch.answers.splice(0);
    batch = null;
    fetch("/api/answer", {
      method: "POST", credentials: "same-origin", keepalive: true,
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({model: state.model, answers}),
    }).catch(() => {});
  });

  function showCounts() {
    const c = state.counts;
    $("counts").textContent = state.model ? `${c.pending} to review · ${c.reviewed} labelled · ${c.skipped} discarded` : "";
  }

  function imageFor(item) {
    let image = state.images.get(item.id);
    if (!image) {
      image = new Image();
      image.src = item.src;
      state.images.set(item.id, image);
    }
    image.alt = item.name || "item to label";
    image.id = "image";
    return image;
  }

  function prefetch() {
    for (const item of state.items.slice(0, AHEAD)) {
      if (item.kind === "image" && !state.images.has(item.id)) {
        const image = imageFor(item);
        image.decode().catch(() => {});
      }
    }
  }

  function renderLabels() {
    const box = $("labels");
    box.replaceChildren();
    state.labels.forEach((label, i) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "label";
      button.dataset.label = label;
      if (i < 9) {
        const key = document.createElement("kbd");
        key.textContent = String(i + 1);
        button.append(key, " ");
      }
      button.append(document.createTextNode(label));
      button.addEventListener("click", (event) => {
        button.blur();
        act("label", label, event.timeStamp);
      });
      box.append(button);
    });
  }

  function render() {
    const item = state.items[0];
    $("card").hidden = !item;
    $("empty").hidden = Boolean(item) || !state.model || state.loading;
    showCounts();
    if (!item) return;
    $("card").dataset.item = item.id;
    $("sampler").textContent = item.sampler || "";
    $("reason").textContent = item.reason ? `— ${item.reason}` : "";
    $("item-name").textContent = item.name || "";
    if (item.kind === "image") {
      $("input").replaceChildren(imageFor(item));
    } else {
      const text = document.createElement("pre");
      text.id = "text";
      text.textContent = item.text;
      $("input").replaceChildren(text);
    }
    $("predicted").textContent = item.predicted == null ? "no model yet" : item.predicted;
    $("confidence").textContent = item.confidence == null ? "" : `${Math.round(item.confidence * 100)}% sure`;
    for (const button of $("labels").children) {
      button.classList.toggle("suggested", button.dataset.label === item.predicted);
    }
  }

  function shown(t0) {
    render();
    if (t0 == null) return;
    // After the frame that shows the item is painted, its image loaded (if it was not yet).
    const record = () => state.timings.push(performance.now() - t0);
    requestAnimationFrame(() => setTimeout(() => {
      const image = $("input").querySelector("img");
      if (image && !image.complete) image.addEventListener("load", record, {once: true});
      else record();
    }, 0));
  }

  function failed(item, error) {
    say(`not saved: ${error.message}`, true);
    state.done.delete(item.id);
    state.history = state.history.filter((h) => h.item !== item);
    state.items = [item, ...state.items.filter((i) => i !== item)];
    render();
  }

  function act(action, label, t0) {
    const item = state.items[0];
    if (!item) return;
    if (action !== "skip" && !state.canWrite) {
      say("Read-only: sign in with the key to save answers.", true);
      return;
    }
    state.items.shift();
    if (action === "skip") {
      state.items.push(item);  // it comes back at the end
    } else {
      state.done.add(item.id);
      state.counts.pending -= 1;
      state.counts[action === "label" ? "reviewed" : "skipped"] += 1;
      saveAnswer(item, action === "label" ? label : null).catch((error) => failed(item, error));
    }
    state.history.push({item, action, label});
    shown(t0);
    if (state.items.length < REFILL) refill();
    prefetch();
  }

  function undo(t0) {
    const last = state.history.pop();
    if (!last) {
      say("Nothing to undo.");
      return;
    }
    const {item} = last;
    state.items = [item, ...state.items.filter((i) => i !== item)];
    if (last.action !== "skip") {
      state.done.delete(item.id);
      state.counts.pending += 1;
      state.counts[last.action === "label" ? "reviewed" : "skipped"] -= 1;
      if (!unsend(item)) {
        post("/api/undo", {model: state.model, item_id: item.id}).catch((error) => say(`undo not saved: ${error.message}`, true));
      }
    }
    say(`Undone: ${last.action === "label" ? `label ${last.label}` : last.action}.`);
    shown(t0);
  }

  async function refill() {
    if (state.loading || state.exhausted || !state.model) return;
    state.loading = true;
    const model = state.model;
    try {
      // Answers still on their way come back as pending: ask for that many more, and drop them.
      const limit = Math.min(200, state.items.length + state.unsaved + BATCH);
      const url = `/api/queue?model=${encodeURIComponent(model)}&sort=${encodeURIComponent(state.sort)}&limit=${limit}`;
      const data = await getJSON(url);
      if (model !== state.model) return;
      const known = new Set(state.items.map((i) => i.id));
      for (const item of data.items) {
        if (!state.done.has(item.id) && !known.has(item.id)) state.items.push(item);
      }
      state.exhausted = data.items.length < limit;
      state.counts = data.counts;
      state.task = data.task;
      state.project = data.project;
      if (JSON.stringify(data.labels) !== JSON.stringify(state.labels)) {
        state.labels = data.labels;
        renderLabels();
      }
      $("train").hidden = !data.project;
      if (data.training && data.training.state === "running" && !state.training) watchTraining();
    } catch (error) {
      say(`cannot read the queue: ${error.message}`, true);
    } finally {
      state.loading = false;
    }
    prefetch();
    render();
  }

  function reload() {
    state.items = [];
    state.done = new Set();
    state.history = [];
    state.images = new Map();
    state.exhausted = false;
    return refill();
  }

  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, select, textarea, summary") || event.ctrlKey || event.metaKey || event.altKey) return;
    const t0 = event.timeStamp;
    const key = event.key;
    if (/^[1-9]$/.test(key)) {
      const label = state.labels[Number(key) - 1];
      if (label !== undefined) {
        event.preventDefault();
        act("label", label, t0);
      }
    } else if (key === "Enter") {
      event.preventDefault();
      const item = state.items[0];
      if (item && item.predicted != null && state.labels.includes(item.predicted)) act("label", item.predicted, t0);
      else if (item) say("No model label to accept: press a label's key.", true);
    } else if (key === "s" || key === "S") {
      act("skip", null, t0);
    } else if (key === "Backspace") {
      event.preventDefault();
      act("discard", null, t0);
    } else if (key === "z" || key === "Z") {
      undo(t0);
    }
  });

  $("add-label").addEventListener("submit", async (event) => {
    event.preventDefault();
    const field = $("new-label");
    const label = field.value.trim();
    if (!label || !state.model) return;
    try {
      const data = await post("/api/labels", {model: state.model, label});
      state.labels = data.labels;
      renderLabels();
      render();
      field.value = "";
      field.blur();
      say(`Label added: ${label}.`);
    } catch (error) {
      say(`label not added: ${error.message}`, true);
    }
  });

  async function watchTraining() {
    const model = state.model;
    state.training = model;
    $("train-button").disabled = true;
    try {
      for (;;) {
        const status = await getJSON(`/api/train?model=${encodeURIComponent(model)}`);
        $("train-state").textContent = `${status.state} (${status.elapsed_s ?? 0} s)`;
        $("train-log").textContent = (status.log || []).join("\n");
        if (status.state === "done" && !status.scored) {
          say("Trained; scoring the examples left to label...");
        } else if (status.state !== "running") {
          if (status.result) {
            const r = status.result;
            say(`Model ${model}:${r.version} trained (${r.metric} ${Number(r.score).toFixed(3)}); the queue now comes uncertain first, diverse.`);
            if (state.model === model) reload();
          } else if (status.state === "failed") {
            say(`training failed (exit ${status.exit_code}): see the log below`, true);
          }
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    } catch (error) {
      say(`cannot follow the training: ${error.message}`, true);
    } finally {
      state.training = null;
      $("train-button").disabled = false;
    }
  }

  $("train-button").addEventListener("click", async () => {
    try {
      await state.chain;
      await post("/api/train", {model: state.model});
      watchTraining();
    } catch (error) {
      say(`not trained: ${error.message}`, true);
    }
  });

  $("project-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const list = (id) => $(id).value.split(",").map((l) => l.trim()).filter(Boolean);
    const trainers = list("project-trainers");
    try {
      const data = await post("/api/projects", {
        name: $("project-name").value.trim(), source: $("project-source").value.trim(),
        labels: list("project-labels"), trainers: trainers.length ? trainers : null,
      });
      $("new-project").open = false;
      await loadSession(data.name);
      say(`Project ${data.name} started: label the first examples.`);
    } catch (error) {
      say(`project not started: ${error.message}`, true);
    }
  });

  $("login").addEventListener("submit", async (event) => {
    event.preventDefault();
    const response = await fetch("/login", {
      method: "POST", credentials: "same-origin", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({key: $("login-key").value}),
    });
    $("login-key").value = "";
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      say(body.error || "sign-in refused", true);
      return;
    }
    await loadSession(state.model);
  });

  $("queue").addEventListener("change", () => select($("queue").value));
  $("sort").addEventListener("change", () => {
    state.sort = $("sort").value;
    reload();
  });

  function select(model) {
    state.model = model || null;
    const url = new URL(window.location.href);
    if (model) url.searchParams.set("model", model);
    history.replaceState(null, "", url);
    reload();
  }

  async function loadSession(wanted) {
    const session = await getJSON("/api/session");
    state.canWrite = session.can_write;
    $("access").textContent = session.can_write ? "answers are saved as you go" : "read-only";
    $("login").hidden = session.can_write;
    const picker = $("queue");
    picker.replaceChildren();
    for (const name of session.queues) {
      const option = document.createElement("option");
      option.value = name;
      option.textContent = name;
      picker.append(option);
    }
    const model = session.queues.includes(wanted) ? wanted : session.queues[0];
    if (model) picker.value = model;
    $("new-project").open = !model;
    select(model);
  }

  const params = new URLSearchParams(window.location.search);
  state.sort = params.get("sort") || "uncertainty";
  $("sort").value = state.sort;
  loadSession(params.get("model")).catch((error) => say(`cannot start: ${error.message}`, true));
})();
