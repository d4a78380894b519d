// Segment builder: operators and value controls follow the chosen field, rows are added and removed in place,
// and the count updates while you edit (debounced). Without this script the form's buttons do the same.
(function () {
  "use strict";
  var form = document.getElementById("segment-builder");
  var source = document.getElementById("segment-catalogue");
  if (!form || !source) return;
  var catalogue = {};
  JSON.parse(source.textContent).forEach(function (o) { catalogue[o.name] = o; });
  var box = document.getElementById("segment-count");
  var timer = null;
  var serial = 0;

  function el(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    return node;
  }

  function valueControl(row, name, option, opName, current) {
    var op = (option ? option.ops : []).filter(function (o) { return o[0] === opName; })[0];
    var kind = op ? op[2] : "text";
    var label = row.querySelector('[data-role="field"]').dataset.valueLabel;
    var control;
    if (option && option.values.length && kind === "text") {
      control = el("select", { "class": "form-select", name: name, "aria-label": label, "data-role": "value" });
      option.values.forEach(function (v) {
        var item = el("option", { value: v[0] });
        item.textContent = v[1];
        if (v[0] === current) item.selected = true;
        control.appendChild(item);
      });
    } else if (kind === "") {
      control = el("input", { type: "hidden", name: name, value: "", "data-role": "value" });
    } else {
      var type = { date: "date", days: "number" }[kind] || "text";
      control = el("input", { "class": "form-control", type: type, name: name, "aria-label": label,
                              "data-role": "value", maxlength: "200" });
      if (kind === "days") { control.min = "1"; control.max = "36500"; }
      if (kind === "number") control.inputMode = "decimal";
      control.value = current || "";
    }
    var cell = row.querySelector('[data-role="value-cell"]');
    cell.innerHTML = "";
    cell.appendChild(control);
  }

  function fieldChanged(row) {
    var field = row.querySelector('[data-role="field"]');
    var opSelect = row.querySelector('[data-role="op"]');
    var option = catalogue[field.value];
    opSelect.innerHTML = "";
    (option ? option.ops : []).forEach(function (o) {
      var item = el("option", { value: o[0] });
      item.textContent = o[1];
      opSelect.appendChild(item);
    });
    if (!opSelect.options.length) opSelect.appendChild(el("option", { value: "" }));
    valueControl(row, field.name.replace(/-field$/, "-value"), option, opSelect.value, "");
  }

  function opChanged(row) {
    var field = row.querySelector('[data-role="field"]');
    var value = row.querySelector('[data-role="value"]');
    valueControl(row, value.name, catalogue[field.value], row.querySelector('[data-role="op"]').value,
                 value.value);
  }

  function recount() {
    window.clearTimeout(timer);
    timer = window.setTimeout(function () {
      var mine = ++serial;
      var body = new FormData(form);
      body.delete("action");
      fetch(form.dataset.countUrl, { method: "POST", body: body, credentials: "same-origin",
                                     headers: { Accept: "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (answer) {
          if (mine !== serial) return;  // a newer count is on its way
          var count = box.querySelector('[data-field="count"]');
          var unseen = box.querySelector('[data-field="unseen"]');
          if (answer.error) { count.textContent = answer.error; unseen.textContent = ""; return; }
          // The words come translated from the server, in the page's language.
          count.textContent = answer.count_text;
          unseen.textContent = answer.unseen_text;
        })
        .catch(function () {});
    }, 400);
  }

  var nextRow = 1000;
  form.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-role]");
    if (!button) return;
    var group = button.closest("[data-group]");
    if (button.dataset.role === "remove") {
      var rows = group.querySelectorAll("[data-row]");
      if (rows.length === 1 && form.querySelectorAll("[data-group]").length === 1) return;  // the server keeps one
      event.preventDefault();
      var row = button.closest("[data-row]");
      var focus = row.nextElementSibling && row.nextElementSibling.querySelector("select") ||
                  group.querySelector('[data-role="add"]');
      row.remove();
      if (!group.querySelector("[data-row]")) group.remove();
      if (focus && document.body.contains(focus)) focus.focus();
      recount();
    } else if (button.dataset.role === "add") {
      event.preventDefault();
      var last = group.querySelectorAll("[data-row]");
      var copy = last[last.length - 1].cloneNode(true);
      var index = nextRow++;
      var g = group.dataset.group;
      copy.querySelectorAll("[name]").forEach(function (input) {
        input.name = input.name.replace(/^g\d+-r\d+-/, "g" + g + "-r" + index + "-");
      });
      copy.querySelector('[data-role="remove"]').value = "remove-" + g + "-" + index;
      copy.querySelector('[data-role="field"]').value = "";
      last[last.length - 1].after(copy);
      fieldChanged(copy);
      copy.querySelector('[data-role="field"]').focus();
    }
  });
  form.addEventListener("change", function (event) {
    var row = event.target.closest("[data-row]");
    if (row && event.target.dataset.role === "field") fieldChanged(row);
    else if (row && event.target.dataset.role === "op") opChanged(row);
    recount();
  });
  form.addEventListener("input", function (event) {
    if (event.target.dataset.role === "value" || event.target.id === "name") recount();
  });

  // A field chosen before this script ran (a slow page, or the browser putting the form back on Back) gets
  // the operators and value control it needs now: the server drew the row for the field it knew.
  var redrawn = false;
  form.querySelectorAll("[data-row]").forEach(function (row) {
    var option = catalogue[row.querySelector('[data-role="field"]').value];
    var wanted = (option ? option.ops : []).map(function (o) { return o[0]; }).join(" ");
    var shown = Array.prototype.map.call(row.querySelector('[data-role="op"]').options,
                                         function (o) { return o.value; }).join(" ");
    if (shown !== wanted) { fieldChanged(row); redrawn = true; }
  });
  if (redrawn) recount();
})();
