// The admin's Settings menu is a <details> disclosure that works without this file; here it also closes on Escape
// (focus back on its summary) and when a click or focus lands outside it, as a menu is expected to.
(function () {
  var menus = document.querySelectorAll("details[data-nav-menu]");
  if (!menus.length) return;
  function closeOutside(target) {
    menus.forEach(function (menu) { if (menu.open && !menu.contains(target)) menu.open = false; });
  }
  document.addEventListener("click", function (event) { closeOutside(event.target); });
  document.addEventListener("focusin", function (event) { closeOutside(event.target); });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    menus.forEach(function (menu) {
      if (!menu.open) return;
      menu.open = false;
      menu.querySelector("summary").focus();
    });
  });
})();

// Times: the server writes them in UTC (<time datetime="…Z" title="… UTC">); show them in the viewer's own time
// zone, keeping the UTC time in the title for hover.
(function () {
  var options = {
    minute: { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", timeZoneName: "short" },
    second: { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short" },
  };
  var formats = {};
  // The page's language (<html lang>), written the browser's way when the browser speaks it too (en-GB, de-CH).
  var lang = document.documentElement.lang || undefined;
  var locale = lang && (navigator.language || "").split("-")[0] !== lang ? lang : undefined;
  document.querySelectorAll("time[data-local]").forEach(function (time) {
    var precision = time.getAttribute("data-local");
    if (!options[precision]) return;  // a date alone is the same date everywhere
    var moment = new Date(time.getAttribute("datetime"));
    if (isNaN(moment.getTime())) return;
    formats[precision] = formats[precision] || new Intl.DateTimeFormat(locale, options[precision]);
    time.textContent = formats[precision].format(moment);
  });
})();

// Wide tables scroll sideways inside their own region on a narrow screen, not the whole page; a region that
// scrolls can be reached with the keyboard (tabindex=0) and is named after its table's caption or heading.
(function () {
  function nameOf(table) {
    var caption = table.querySelector("caption");
    if (caption) return caption.textContent.trim();
    if (table.getAttribute("aria-label")) return table.getAttribute("aria-label");
    for (var node = table.closest(".table-responsive") || table; node && node !== document.body; node = node.parentElement) {
      for (var before = node.previousElementSibling; before; before = before.previousElementSibling) {
        if (/^H[1-6]$/.test(before.tagName)) return before.textContent.trim();
      }
    }
    return "Table";
  }
  document.querySelectorAll("main table").forEach(function (table) {
    if (table.closest(".table-responsive")) return;
    var wrap = document.createElement("div");
    wrap.className = "table-responsive";
    table.parentNode.insertBefore(wrap, table);
    wrap.appendChild(table);
  });
  function mark() {
    document.querySelectorAll("main .table-responsive").forEach(function (wrap) {
      if (wrap.hasAttribute("tabindex") || wrap.scrollWidth <= wrap.clientWidth) return;
      var table = wrap.querySelector("table");
      wrap.tabIndex = 0;
      wrap.setAttribute("role", "region");
      if (!wrap.getAttribute("aria-label") && table) wrap.setAttribute("aria-label", nameOf(table));
    });
  }
  mark();
  window.addEventListener("resize", mark);
})();
