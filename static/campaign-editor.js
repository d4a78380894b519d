// Campaign and layout editors: live preview as you type, desktop/mobile/text switch, live progress of a sending
// campaign, and confirmation prompts. Every page works without this file (Preview buttons, a Refresh link).
(() => {
  "use strict";

  const BADGE_COLOURS = {draft: "secondary", scheduled: "info", sending: "primary", paused: "warning",
                         sent: "success", cancelled: "dark"};

  // Forms that destroy something ask first.
  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
  });

  function debounce(fn, ms) {
    let timer = null;
    const later = () => {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
    later.cancel = () => clearTimeout(timer);
    return later;
  }

  function timeNow() {
    return new Date().toLocaleTimeString(document.documentElement.lang || [], {hour: "2-digit", minute: "2-digit", second: "2-digit"});
  }

  // The page gives its words in its own language (data-text-* on the element); these English ones are the fallback.
  // {time} and {contact} in them are filled in here.
  function words(holder, key, fallback, values) {
    const text = (holder && holder.dataset[key]) || fallback;
    return text.replace(/\{(\w+)\}/g, (all, name) => (values && name in values ? values[name] : all));
  }

  // ---- Preview pane (shared by the campaign and the layout editor) ----------------------------------------------

  function previewPane(root) {
    const pane = document.getElementById("live-preview");
    if (!pane) return null;
    const part = (name) => pane.querySelector(`[data-preview="${name}"]`);
    const iframe = part("iframe");
    const frame = part("frame");
    const text = part("text");

    pane.querySelectorAll("[data-preview-mode]").forEach((button) => {
      button.addEventListener("click", () => {
        const mode = button.dataset.previewMode;
        pane.querySelectorAll("[data-preview-mode]").forEach((b) => {
          const on = b === button;
          b.classList.toggle("active", on);
          b.setAttribute("aria-pressed", on ? "true" : "false");
        });
        frame.classList.toggle("is-mobile", mode === "mobile");
        frame.hidden = mode === "text";
        if (text) text.hidden = mode !== "text";
      });
    });

    return {
      root: pane,
      part,
      show(html) {
        let scroll = 0;
        try {
          scroll = iframe.contentWindow.scrollY || 0;  // same origin only for srcdoc documents
        } catch (e) {
          scroll = 0;
        }
        iframe.addEventListener("load", () => {
          try {
            iframe.contentWindow.scrollTo(0, scroll);
          } catch (e) { /* the first document was sandboxed; nothing to restore */ }
        }, {once: true});
        iframe.srcdoc = html;
        iframe.removeAttribute("src");
      },
      status(message) {
        part("status").textContent = message;
      },
      error(message) {
        const box = part("error");
        box.textContent = message || "";
        box.hidden = !message;
      },
    };
  }

  // What the form holds, as one string: to tell whether it changed while a preview was on its way.
  function snapshot(data) {
    return JSON.stringify([...data.entries()].map(([key, value]) => [key, typeof value === "string" ? value : value.name]));
  }

  // Post the form (its CSRF token included) and let `apply` use the JSON answer; only the newest answer counts.
  // If the form no longer holds what was sent (an edit the page saw no event for, e.g. typed while the page's
  // scripts were still loading), the preview asks again, so it always ends up showing what is in the form.
  function livePreview(form, apply, pane) {
    let controller = null;
    let later = null;
    const refresh = async () => {
      if (controller) controller.abort();
      controller = new AbortController();
      pane.status(words(pane.root, "textUpdating", "Updating…"));
      const body = new FormData(form);
      const sent = snapshot(body);
      try {
        const response = await fetch(form.dataset.previewUrl, {
          method: "POST", body, signal: controller.signal,
          headers: {Accept: "application/json"}, credentials: "same-origin",
        });
        const data = await response.json();
        if (!response.ok && data.error) {
          pane.error(data.error);
          pane.status(words(pane.root, "textNotUpdated", "The preview could not be updated."));
          return;
        }
        apply(data);
        if (snapshot(new FormData(form)) !== sent) later();
      } catch (err) {
        if (err.name === "AbortError") return;
        pane.status(words(pane.root, "textConnection", "The preview could not be updated (connection problem). It retries when you type."));
      }
    };
    later = debounce(refresh, 450);
    form.addEventListener("input", later);
    form.addEventListener("change", later);
    refresh();
  }

  // ---- Safe editing: autosave of a saved draft, a warning before leaving with unsaved changes, shortcuts ----------

  function safeEditing(form) {
    const state = document.querySelector("[data-save-state]");
    let autosaveUrl = form.dataset.autosaveUrl;  // a draft that exists
    const startUrl = form.dataset.startUrl;  // a new campaign: its first autosave creates the draft
    let dirty = false;
    let submitting = false;
    const say = (message) => { if (state) state.textContent = message; };
    let saving = null;
    const autosave = async () => {
      if (saving) await saving;  // one request at a time: a new campaign's draft is created once
      const url = autosaveUrl || startUrl;
      if (!url || !dirty || submitting) return;  // the form's own save is on its way
      const body = new FormData(form);
      dirty = false;  // what is typed while this request runs marks the form dirty again
      say(words(state, "textSaving", "Saving…"));
      let done = null;
      saving = new Promise((resolve) => { done = resolve; });
      try {
        const response = await fetch(url, {
          method: "POST", body, headers: {Accept: "application/json"}, credentials: "same-origin",
        });
        const data = await response.json();
        if (data.ok && !autosaveUrl && data.autosave_url) {
          // The draft exists now: later saves update it, and the address bar shows its editor.
          autosaveUrl = data.autosave_url;
          form.action = data.edit_url;
          form.dataset.previewUrl = data.preview_url;
          window.history.replaceState(null, "", data.edit_url);
        }
        if (data.ok) {
          const time = new Date().toLocaleTimeString(document.documentElement.lang || [], {hour: "2-digit", minute: "2-digit"});
          say(words(state, "textSaved", "Saved at {time}.", {time}));
        } else {
          dirty = true;
          say(data.error || words(state, "textNotSaved", "Not saved."));
        }
      } catch (err) {
        dirty = true;
        say(words(state, "textSaveConnection", "Not saved (connection problem). It tries again when you type; Save draft saves for sure."));
      } finally {
        saving = null;
        done();
      }
    };
    const later = debounce(autosave, 2000);
    const changed = (event) => {
      if (event.target && event.target.id === "preview-contact") return;  // choosing whom to preview as
      if (event.target && event.target.closest && event.target.closest("[data-no-save]")) return;  // the picker
      dirty = true;
      say(autosaveUrl || startUrl ? words(state, "textUnsavedSoon", "Unsaved changes… (saving shortly)")
                                 : words(state, "textUnsaved", "Unsaved changes: Save draft keeps them."));
      if (autosaveUrl || startUrl) later();
    };
    form.addEventListener("input", changed);
    form.addEventListener("change", changed);
    // Typing inside a visual block: unsaved, but not in the form yet (the block writes it when left, then
    // the usual input event saves it), so only the state and the leave warning change.
    form.addEventListener("mailer:unsaved", () => {
      dirty = true;
      say(words(state, "textUnsaved", "Unsaved changes: Save draft keeps them."));
    });
    form.addEventListener("submit", (event) => {
      later.cancel();  // the form's own save replaces the pending autosave
      if (saving) {
        // An autosave is on its way: wait for it, then save. A new campaign's first autosave is creating the
        // draft, so the form saves into that draft (form.action now points at it) and the campaign is never
        // created twice; an autosave of an existing draft, sent before the last edits, can't land after this
        // save and put the older content back.
        event.preventDefault();
        const submitter = event.submitter;
        saving.then(() => form.requestSubmit(submitter && submitter.form === form ? submitter : undefined));
        return;
      }
      submitting = true;
    });
    window.addEventListener("beforeunload", (event) => {
      if (!dirty || submitting) return;
      event.preventDefault();
      event.returnValue = "";  // the browser asks "Leave site? Changes you made may not be saved."
    });
    document.addEventListener("keydown", (event) => {
      if (!(event.ctrlKey || event.metaKey)) return;
      const key = event.key.toLowerCase();
      if (key === "s" && !event.shiftKey) {
        event.preventDefault();
        if (autosaveUrl || startUrl) {
          dirty = true;
          autosave();
        } else {
          form.requestSubmit(form.querySelector('button[name="then"][value="show"]'));
        }
      } else if (key === "enter" || (key === "p" && event.shiftKey)) {
        event.preventDefault();
        form.requestSubmit(form.querySelector('button[name="then"][value="preview"]'));
      }
    });
  }

  const campaignForm = document.getElementById("campaign-editor");
  if (campaignForm) {
    safeEditing(campaignForm);
    const pane = previewPane(campaignForm);
    const contactInput = document.getElementById("preview-contact");
    if (contactInput) {
      contactInput.addEventListener("input", () => campaignForm.dispatchEvent(new Event("input")));
      // Enter in "Preview as" previews as that contact; it never submits (saves) the whole draft.
      contactInput.addEventListener("keydown", (event) => {
        if (event.key !== "Enter") return;
        event.preventDefault();
        campaignForm.dispatchEvent(new Event("input"));
      });
    }
    livePreview(campaignForm, (data) => {
      if (!data.ok) {
        pane.error(data.error);
        pane.status(words(pane.root, "textNotUpdatedAt", "Not updated at {time}.", {time: timeNow()}));
        return;
      }
      pane.error(data.contact_missing ? words(pane.root, "textNoContact", "No contact matches that address or id; showing a sample contact.") : "");
      pane.part("subject").textContent = data.subject || "—";
      pane.part("preheader").textContent = data.preheader || "—";
      pane.part("sender").textContent = data.sender || "—";
      pane.part("text").textContent = data.text;
      pane.show(data.html);
      pane.status(words(pane.root, "textUpdatedAs", "Updated {time} · as {contact}.", {time: timeNow(), contact: data.contact}));
    }, pane);
  }

  const layoutForm = document.getElementById("layout-editor");
  if (layoutForm) {
    const pane = previewPane(layoutForm);
    const problemBox = document.querySelector('[data-layout="problems"]');
    const problemList = document.querySelector('[data-layout="problem-list"]');
    livePreview(layoutForm, (data) => {
      problemList.replaceChildren(...data.problems.map((p) => {
        const li = document.createElement("li");
        li.textContent = p;
        return li;
      }));
      problemBox.hidden = data.problems.length === 0;
      pane.error(data.error);
      if (data.ok) pane.show(data.html);
      pane.status(data.problems.length ? words(pane.root, "textNotReady", "Checked {time}: not ready to save yet.", {time: timeNow()})
                                       : words(pane.root, "textReady", "Updated {time}: ready to save.", {time: timeNow()}));
    }, pane);
  }

  // ---- Live progress of a campaign -----------------------------------------------------------------------------

  function formatDuration(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    const s = Math.round(seconds);
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
    return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  }

  // The per-state table: counts and grouped reasons, rebuilt with text nodes only (reasons quote remote servers).
  function reasonItem(text, count, muted) {
    const item = document.createElement("li");
    if (muted) item.className = "text-body-secondary";
    const badge = document.createElement("span");
    badge.className = "badge text-bg-light";
    badge.textContent = `×${count}`;
    item.append(`${text} `, badge);
    return item;
  }

  // A bar per state beside the table (the table stays the accessible, complete view); colours follow the
  // badges, and every bar is labelled on its axis, so colour is never the only cue.
  const STATE_COLOURS = {queued: "#6c757d", sending: "#0d6efd", sent: "#198754", skipped: "#adb5bd",
                         failed: "#dc3545", bounced: "#fd7e14", uncertain: "#6f42c1"};
  let stateChart = null;

  function drawStateChart(table) {
    const canvas = document.querySelector("canvas[data-state-chart]");
    if (!canvas || typeof Chart === "undefined") return null;
    const rows = [...table.querySelectorAll("tr[data-state]")];
    return new Chart(canvas, {
      type: "bar",
      data: {
        labels: JSON.parse(canvas.dataset.states),
        datasets: [{label: "Deliveries", data: rows.map((row) => Number(row.querySelector("[data-state-count]").textContent)),
                    backgroundColor: rows.map((row) => STATE_COLOURS[row.dataset.state] || "#6c757d")}],
      },
      options: {indexAxis: "y", maintainAspectRatio: false, animation: false, plugins: {legend: {display: false}},
                scales: {x: {beginAtZero: true, ticks: {precision: 0}}}},
    });
  }

  function updateStates(states) {
    const table = document.querySelector("[data-delivery-states]");
    if (!table) return;
    Object.entries(states).forEach(([status, state]) => {
      const row = table.querySelector(`tr[data-state="${status}"]`);
      if (!row) return;
      row.querySelector("[data-state-count]").textContent = String(state.count);
      const items = state.reasons.map((r) => reasonItem(r.reason, r.count, false));
      if (state.other_reasons) items.push(reasonItem("other reasons", state.other_reasons, true));
      row.querySelector("[data-state-reasons]").replaceChildren(...items);
      const link = row.querySelector("[data-uncertain-link]");
      if (link) link.hidden = !state.count;
      if (status === "uncertain") row.classList.toggle("table-danger", state.count > 0);
    });
    if (stateChart) {
      stateChart.data.datasets[0].data = [...table.querySelectorAll("tr[data-state]")].map(
        (row) => Number(row.querySelector("[data-state-count]").textContent));
      stateChart.update();
    }
  }

  const statesTable = document.querySelector("[data-delivery-states]");
  if (statesTable) stateChart = drawStateChart(statesTable);

  const progress = document.getElementById("progress");
  if (progress && progress.dataset.final !== "true") {
    const field = (name) => document.querySelector(`[data-progress="${name}"]`);
    const setText = (name, value) => {
      const el = field(name);
      if (el) el.textContent = String(value);
    };
    const live = field("live");
    if (live) live.hidden = false;
    let failures = 0;
    let waiting = progress.dataset.status === "scheduled";  // a scheduled start is checked less often

    const apply = (data) => {
      const done = data.total - data.remaining;
      const pct = data.total ? (100 * done) / data.total : (data.final ? 100 : 0);
      ["sent", "remaining", "failed", "skipped", "bounced", "uncertain", "done", "total"].forEach((key) => {
        setText(key, key === "done" ? done : data[key]);
      });
      setText("percent", Math.round(pct));
      setText("rate", data.rate_per_s ? data.rate_per_s.toFixed(1) : "—");
      setText("eta", formatDuration(data.eta_s));
      const bar = field("bar");
      const fill = field("bar-fill");
      bar.setAttribute("aria-valuenow", String(Math.round(pct)));
      fill.style.width = `${pct.toFixed(1)}%`;
      fill.classList.toggle("progress-bar-striped", data.status === "sending");
      fill.classList.toggle("progress-bar-animated", data.status === "sending");
      fill.classList.toggle("bg-success", data.status === "sent");
      fill.classList.toggle("bg-warning", data.status === "paused");
      const uncertainNote = field("uncertain-note");
      if (uncertainNote) uncertainNote.hidden = !data.uncertain;

      document.querySelectorAll("[data-status-badge]").forEach((badge) => {
        badge.textContent = data.status_label || data.status;
        badge.className = `badge text-bg-${BADGE_COLOURS[data.status] || "light"}`;
      });
      const reasonBox = field("reason-box");
      if (reasonBox) {
        reasonBox.hidden = !data.status_reason || data.status === "sent";
        setText("reason", data.status_reason);
      }
      Object.entries(data.actions).forEach(([action, allowed]) => {
        const form = document.querySelector(`form[data-action="${action}"]`);
        if (form) form.hidden = !allowed;
      });
      updateStates(data.states || {});
      const waitBox = document.querySelector("[data-relay-wait]");
      if (waitBox) {
        waitBox.hidden = !data.waiting_reason;
        setText("waiting-reason", data.waiting_reason || "");
      }
      const scheduled = field("scheduled");
      if (scheduled && data.status !== "scheduled") scheduled.hidden = true;
      if (data.final && live) live.hidden = true;
    };

    const poll = async () => {
      try {
        const response = await fetch(progress.dataset.progressUrl, {
          headers: {Accept: "application/json"}, credentials: "same-origin", cache: "no-store",
        });
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        const data = await response.json();
        failures = 0;
        apply(data);
        if (data.final) return;
        waiting = data.status === "scheduled";
      } catch (err) {
        console.warn(err); failures += 1;  // a restart or a blip: back off a little, keep trying
      }
      setTimeout(poll, waiting ? 10000 : Math.min(1500 * (failures + 1), 10000));
    };
    setTimeout(poll, 1000);
  }
})();
