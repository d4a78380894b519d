// The merge-field picker: inserts {{ contact.<field> | default("…") }} where the marketer was typing — the
// subject, preheader, body or text part, or the text block being edited in the visual editor.
(() => {
  "use strict";

  const picker = document.getElementById("merge-picker");
  const form = document.getElementById("campaign-editor");
  if (!picker || !form) return;
  const select = document.getElementById("merge-field");
  const fallback = document.getElementById("merge-fallback");
  const help = document.getElementById("merge-help");
  const fields = ["subject", "preheader", "body", "text_body"].map((name) => form.querySelector(`[name=${name}]`))
    .filter(Boolean);
  let target = form.querySelector("[name=body]");
  fields.forEach((el) => el.addEventListener("focus", () => { target = el; }));
  picker.hidden = false;

  const setFallback = () => { fallback.value = select.selectedOptions[0].dataset.fallback || ""; };
  select.addEventListener("change", setFallback);
  setFallback();

  function tag() {
    const value = fallback.value.trim();
    if (!value) return `{{ ${select.value} }}`;
    return `{{ ${select.value} | default("${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}") }}`;
  }

  // In the visual editor: into the text block being edited, else at the end of the selected text block.
  function insertVisual(text) {
    const editor = window.mailerVisualEditor;
    const selected = editor && editor.getSelected();
    if (!selected || !selected.is("text")) {
      help.textContent = "Click a text block in the editor first (double-click to place the cursor), then Insert.";
      return false;
    }
    const view = selected.getView();
    const doc = editor.Canvas.getDocument();
    if (editor.getEditing()) {
      view.el.focus();
      doc.execCommand("insertText", false, text);
      // Leaving the text writes it into the design; the update then refreshes the form and the preview.
      Promise.resolve(view.disableEditing()).then(() => editor.trigger("update"));
    } else {
      selected.components().add({type: "textnode", content: ` ${text}`});
      editor.trigger("update");
    }
    return true;
  }

  document.getElementById("merge-insert").addEventListener("click", () => {
    const text = tag();
    const visual = (form.querySelector("input[name=body_format]:checked") || {}).value === "visual";
    if (visual && target.name === "body") {
      if (!insertVisual(text)) return;
    } else {
      const start = target.selectionStart ?? target.value.length;
      const end = target.selectionEnd ?? start;
      target.setRangeText(text, start, end, "end");
      target.focus();
      target.dispatchEvent(new Event("input", {bubbles: true}));
    }
    help.textContent = `Inserted ${text}.`;
  });
})();

// The campaign editor's body formats: the visual block editor (GrapesJS with its newsletter preset), Markdown
// and HTML. The Body textarea stays the form's source of truth: while "Visual" is chosen, every change in the
// block editor writes the exported HTML there (and the design into the hidden body_project field), so saving,
// autosave, the live preview and a page without JavaScript all read the same field. Switching formats converts
// the content and asks first when the switch could lose something.
(() => {
  "use strict";

  // The campaign editor's fields by default; a layout (or an A/B variant) names its own on the editor's box.
  const box = document.getElementById("visual-editor");
  const form = box && document.getElementById(box.dataset.form || "campaign-editor");
  if (!form || !box || typeof window.grapesjs === "undefined") return;
  const body = form.querySelector(`textarea[name=${box.dataset.sourceField || "body"}]`);
  const project = form.querySelector(`input[name=${box.dataset.projectField || "body_project"}]`);
  const source = document.getElementById(box.dataset.sourceBox || "body-source");
  const status = box.querySelector('[data-visual="status"]');
  const csrf = form.querySelector("input[name=csrf_token]").value;
  const radios = [...form.querySelectorAll(`input[name=${box.dataset.formatField || "body_format"}]`)];
  const locks = box.hasAttribute("data-locks");  // blocks marked data-mailer-lock can't be removed or moved
  const chosen = () => (radios.find((r) => r.checked) || {}).value;
  let mode = chosen();
  let editor = null;
  let syncing = false;
  let lastExported = null;  // what the editor last wrote into the Body box, and the design that made it
  let lastProject = "";
  let before = null;  // the content as it was before switching to Visual, and the export that replaced it

  const say = (message) => { status.textContent = message || ""; };
  const post = async (url, fields) => {
    const data = new FormData();
    Object.entries(fields).forEach(([key, value]) => data.append(key, value));
    const response = await fetch(url, {method: "POST", body: data, credentials: "same-origin",
                                       headers: {Accept: "application/json", "X-CSRFToken": csrf}});
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return response.json();
  };

  function exported() {
    const css = editor.getCss({avoidProtected: true}) || "";
    const html = editor.getHtml().replace(/^\s*<body[^>]*>/i, "").replace(/<\/body>\s*$/i, "");
    return (css.trim() ? `<style>\n${css}\n</style>\n` : "") + html;
  }

  // Write the design into the form and tell the rest of the page (preview, autosave, leave warning).
  function sync() {
    if (!editor || syncing) return;
    const html = exported();
    const data = editor.getProjectData();
    data.assets = [];  // the media library lists them; no need to store them with every design
    data.mailer = {exported: html};
    lastExported = html;
    lastProject = JSON.stringify(data);
    body.value = html;
    project.value = lastProject;
    form.dispatchEvent(new Event("input", {bubbles: true}));
  }

  function loadInto(html, design) {
    syncing = true;
    try {
      if (design) {
        editor.loadProjectData(JSON.parse(design));
      } else {
        editor.setStyle("");
        editor.setComponents(html || "");  // <style> blocks in the HTML become the editor's rules
      }
      lock();
    } finally {
      syncing = false;
    }
  }

  // A layout's content slot and footer (data-mailer-lock) hold what every email needs: they and everything in
  // them can be restyled and their text changed, but not removed, copied or dragged away. The server checks
  // the saved layout for the footer parts whatever happens here.
  function lock() {
    if (!locks) return;
    const fixed = {removable: false, copyable: false, draggable: false};
    const gone = ["tlb-delete", "tlb-clone", "tlb-move"];  // the block toolbar's remove, copy and move buttons
    const walk = (component, inside) => {
      const kind = inside || component.getAttributes()["data-mailer-lock"];
      if (kind) {
        const bar = component.get("toolbar");
        if (Array.isArray(bar)) component.set("toolbar", bar.filter((item) => !gone.includes(item.command)));
        const slot = kind === "content";
        if (!inside) component.set(slot ? {...fixed, droppable: false, editable: false} : fixed);
        else component.set(slot ? {...fixed, selectable: false, editable: false} : fixed);
      }
      component.components().forEach((child) => walk(child, kind));
    };
    walk(editor.getWrapper(), "");
  }

  function start() {
    if (editor) return;
    const presetModule = window["grapesjs-preset-newsletter"];
    const preset = presetModule && presetModule.default ? presetModule.default : presetModule;
    editor = window.grapesjs.init({
      container: "#visual-canvas",
      height: "44rem",
      fromElement: false,
      storageManager: false,
      telemetry: false,  // GrapesJS reports usage to its vendor by default; the CSP would block it anyway
      cssIcons: "",  // no icon font from a CDN: the preset draws its icons as inline SVG
      // The server inlines the CSS once per campaign (premailer), as for HTML bodies.
      plugins: preset ? [(ed) => preset(ed, {inlineCss: false, showBlocksOnLoad: true})] : [],
      colorPicker: brandPalette(),
      assetManager: {
        upload: box.dataset.uploadUrl,
        uploadName: "image",
        multiUpload: false,
        autoAdd: true,
        headers: {"X-CSRFToken": csrf},
        params: {csrf_token: csrf},
        assets: [],
      },
    });
    editor.on("asset:upload:error", (err) => {
      let message = "The image was not uploaded.";
      try { message = JSON.parse(err.message || err).error || message; } catch (e) { /* not our JSON */ }
      say(message);
    });
    editor.on("asset:upload:response", () => say("Image uploaded to the media library."));
    // An image chosen from the library brings its alt text along (mail programs show it when images are off).
    editor.on("component:update:src", (component) => {
      const asset = editor.AssetManager.get(component.get("src"));
      const attributes = component.getAttributes();
      if (asset && !attributes.alt) component.addAttributes({alt: asset.get("alt") || asset.get("name") || ""});
    });
    fetch(box.dataset.assetsUrl, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then((response) => response.json())
      .then((data) => editor.AssetManager.add(data.data || []))
      .catch(() => say("The media library could not be loaded; upload images from the image picker."));
    loadInto(body.value, project.value);
    // A layout opened from its HTML (a new one, or one edited as HTML) takes the design at once, so saving it
    // keeps the design even when nothing is changed.
    if (locks && !project.value && body.value.trim()) sync();
    keyboardBlocks();
    editor.on("load", () => {
      frameKeys();
      brandFont();
      const frame = box.querySelector("iframe.gjs-frame");
      if (frame) frame.title = locks ? "The layout you are editing" : "The email you are editing";
      labelToolbar();
    });
    if (locks) editor.on("component:add", () => { if (!syncing) lock(); });
    let timer = null;
    editor.on("update", () => {
      if (syncing) return;
      clearTimeout(timer);
      timer = setTimeout(sync, 300);
    });
    window.mailerVisualEditor = editor;  // for tests and the merge-field picker
  }

  // Text typed into a block stays in the block until the block is left (GrapesJS writes it into the design
  // then). So the page hears of it at once (leaving warns of unsaved changes), and Ctrl/⌘+S, Ctrl/⌘+Enter and
  // Ctrl/⌘+Shift+P pressed inside the block first write the text into the design and the form, then do what
  // they do anywhere else on the page (keys pressed in the canvas never reach the page by themselves).
  function frameKeys() {
    const doc = editor.Canvas.getDocument();
    if (!doc) return;
    doc.addEventListener("input", () => form.dispatchEvent(new CustomEvent("mailer:unsaved")));
    doc.addEventListener("keydown", async (event) => {
      if (!(event.ctrlKey || event.metaKey)) return;
      const key = event.key.toLowerCase();
      if (!((key === "s" && !event.shiftKey) || key === "enter" || (key === "p" && event.shiftKey))) return;
      event.preventDefault();
      event.stopPropagation();
      const editing = editor.getEditing();
      if (editing) await editing.getView().disableEditing();
      sync();
      const {ctrlKey, metaKey, shiftKey} = event;
      document.dispatchEvent(new KeyboardEvent("keydown", {key: event.key, ctrlKey, metaKey, shiftKey, bubbles: true}));
    }, true);
  }

  // Every colour picker (Style panel, backgrounds, borders) offers the brand's colours (Settings → Organisation
  // and brand) as its first row of swatches, then the colours of the starting design's text and backgrounds.
  function brandPalette() {
    const brand = (box.dataset.brandColours || "").split(/\s+/).filter(Boolean);
    if (!brand.length) return {};
    const neutrals = ["#222831", "#4b5563", "#f6f7f9", "#eef1f5", "#ffffff", "#000000"];
    return {showPalette: true, palette: [brand, neutrals.filter((colour) => !brand.includes(colour))]};
  }

  // The brand's font (Settings → Organisation and brand) comes first in the Style panel's font choices.
  function brandFont() {
    const font = box.dataset.brandFont;
    const property = font && editor.StyleManager.getProperty("typography", "font-family");
    if (!property) return;
    const options = property.getOptions().filter((option) => (option.id || option.value) !== font);
    property.set("options", [{id: font, label: box.dataset.brandFontLabel || font}, ...options]);
  }

  // Blocks are dragged with a mouse; with the keyboard (or a click) Enter adds one after the selected block,
  // or at the end of the email, and selects it (an image block opens the image picker).
  function keyboardBlocks() {
    const label = (block) => {
      const div = document.createElement("div");
      div.innerHTML = block.get("label") || "";
      return div.textContent.trim();
    };
    const mark = () => {
      box.querySelectorAll(".gjs-block").forEach((el) => {
        if (el.hasAttribute("tabindex")) return;
        el.setAttribute("tabindex", "0");
        el.setAttribute("role", "button");
        el.setAttribute("aria-label", `Add block: ${el.title || el.textContent.trim()}`);
      });
    };
    new MutationObserver(() => { mark(); labelFields(); }).observe(box, {childList: true, subtree: true});
    mark();
    box.addEventListener("keydown", (event) => {
      const button = event.target.closest && event.target.closest(".gjs-pn-btn");  // a toolbar button
      if (button && (event.key === "Enter" || event.key === " ")) {
        event.preventDefault();
        button.click();
        return;
      }
      const el = event.target.closest && event.target.closest(".gjs-block");
      if (!el || (event.key !== "Enter" && event.key !== " ")) return;
      event.preventDefault();
      const name = el.title || el.textContent.trim();
      const block = editor.Blocks.getAll().find((b) => label(b) === name || b.getId() === name);
      if (!block) return;
      const selected = editor.getSelected();
      const parent = selected && selected.parent() ? selected.parent() : editor.getWrapper();
      const at = selected && selected.parent() ? {at: selected.index() + 1} : {};
      const added = parent.append(block.get("content"), at);
      if (!added.length) return;
      editor.select(added[0]);
      if (block.get("activate")) added[0].trigger("active");
      say(`Added “${name}”.`);
    });
  }

  // The toolbar's icons are bare spans: name them and make them buttons a keyboard and a screen reader can use.
  const TOOLBAR_NAMES = {
    "sw-visibility": "Show outlines", preview: "Preview in the editor", fullscreen: "Full screen",
    "export-template": "View code", undo: "Undo", redo: "Redo", "canvas-clear": "Clear the email",
    "gjs-open-import-template": "Import HTML", "gjs-toggle-images": "Show or hide images",
    "open-sm": "Style", "open-tm": "Settings", "open-layers": "Layers", "open-blocks": "Blocks",
    "set-device-desktop": "Desktop width", "set-device-tablet": "Tablet width", "set-device-mobile": "Phone width",
  };
  // Fields of the panels whose label GrapesJS does not tie to them (WCAG 1.3.1, 4.1.2).
  const FIELD_NAMES = {"gjs-clm-states": "State of the selected element", "gjs-clm-new": "New class name"};

  const textOf = (markup) => {
    const div = document.createElement("div");
    div.innerHTML = markup || "";
    return div.textContent.trim();
  };

  function labelToolbar() {
    editor.Panels.getPanels().forEach((panel) => {
      const buttons = panel.get("buttons");
      // The preset leaves an empty placeholder button (no command, no icon): nothing to name, so it goes; with
      // locked blocks, so does "Clear the email" (it would take them away).
      buttons.remove(buttons.filter((button) => (!button.id && !button.get("command"))
        || (locks && button.id === "canvas-clear")));
      buttons.forEach((button) => {
        const name = TOOLBAR_NAMES[button.id] || textOf(button.get("label")) || button.id;
        const pressed = () => button.set("attributes", {...(button.get("attributes") || {}), title: name,
          "aria-label": name, role: "button", tabindex: "0",
          ...(button.get("togglable") !== false ? {"aria-pressed": String(!!button.get("active"))} : {})});
        pressed();
        button.on("change:active", pressed);
      });
    });
    const views = box.querySelector(".gjs-pn-views-container");
    if (views) {  // it scrolls: a keyboard user must be able to reach and scroll it
      views.setAttribute("tabindex", "0");
      views.setAttribute("role", "region");
      views.setAttribute("aria-label", "Editor panel");
    }
  }

  // Name each panel field after the label GrapesJS shows beside it (style properties, settings, classes).
  function labelFields() {
    box.querySelectorAll(".gjs-pn-views-container input, .gjs-pn-views-container select, .gjs-pn-views-container textarea, .gjs-mdl-container input, .gjs-mdl-container select, .gjs-mdl-container textarea").forEach((field) => {
      if (field.type === "hidden" || field.getAttribute("aria-label") || (field.labels && field.labels.length)) return;
      const holder = field.closest(".gjs-sm-property, .gjs-trt-trait, .gjs-clm-tags");
      const label = holder && holder.querySelector(".gjs-sm-label, .gjs-trt-trait__label, .gjs-label");
      let name = FIELD_NAMES[field.id] || (label ? label.textContent.trim() : "") || field.placeholder || field.name;
      if (name && field.closest(".gjs-field-units") && field.tagName === "SELECT") name += " unit";
      if (name) field.setAttribute("aria-label", name);
    });
    // A stacked property's "+" (e.g. Typography → Text shadow) is an icon: it is named after its property.
    box.querySelectorAll(".gjs-pn-views-container button[data-add-layer]:not([aria-label])").forEach((button) => {
      const label = button.closest(".gjs-sm-property")?.querySelector(".gjs-sm-label");
      if (label) button.setAttribute("aria-label", `Add: ${label.textContent.trim()}`);
    });
  }

  function show(visual) {
    box.hidden = !visual;
    source.hidden = visual;
    document.body.classList.toggle("visual-mode", visual);
    if (visual) {
      start();
      editor.refresh();
    }
  }

  async function markdownAsHtml(text) {
    const data = await post(form.dataset.bodyHtmlUrl, {body: text, csrf_token: csrf});
    return data.html;
  }

  const LOSSY_HTML = /\{%|<!--|<script|<html|<head/i;

  radios.forEach((radio) => radio.addEventListener("change", async () => {
    const next = chosen();
    const previous = mode;
    if (next === previous) return;
    const back = () => {
      radios.forEach((r) => { r.checked = r.value === previous; });
    };
    try {
      if (next === "visual") {
        let html = body.value;
        let design = "";
        if (previous === "markdown" && html.trim()) {
          html = await markdownAsHtml(html);
        } else if (html === lastExported) {
          design = lastProject;  // back from HTML without a change: the design as it was
        } else if (LOSSY_HTML.test(html) && !window.confirm(
          "The visual editor keeps text, images, links, tables and styles, but not template blocks ({% … %}), "
          + "comments, scripts or the <head> of this HTML. If you switch back before changing anything, the HTML "
          + "comes back as it was. Switch to Visual anyway?")) {
          back();
          return;
        }
        const original = body.value;
        mode = next;
        show(true);
        if (body.value.trim()) {
          loadInto(html, design);
          sync();
        }
        before = design ? null : {format: previous, content: original, exported: lastExported};
        say(previous === "markdown" ? "The Markdown was converted into blocks." : "");
      } else if (previous === "visual" && before && before.format === next && body.value === before.exported) {
        // Nothing was changed in the blocks: the content comes back exactly as it was, template tags included.
        mode = next;
        show(false);
        project.value = "";
        body.value = before.content;
        before = null;
        form.dispatchEvent(new Event("input", {bubbles: true}));
        say("");
      } else if (previous === "visual") {
        if (next === "markdown" && !window.confirm(
          "Markdown shows the visual design as its HTML code, and the design's blocks are not kept when you "
          + "save. Switch to Markdown anyway?")) {
          back();
          return;
        }
        mode = next;
        show(false);
        project.value = "";
      } else if (previous === "markdown" && next === "html") {
        mode = next;
        if (body.value.trim()) body.value = await markdownAsHtml(body.value);
        form.dispatchEvent(new Event("input", {bubbles: true}));
      } else {
        mode = next;  // HTML to Markdown: HTML is valid inside Markdown; nothing to convert
      }
    } catch (err) {
      back();
      mode = previous;
      window.alert("The format could not be switched (connection problem). Nothing was changed.");
    }
  }));

  if (mode === "visual") show(true);
})();
