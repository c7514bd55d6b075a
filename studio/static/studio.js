// The studio's own small script: editor completions on @ # $, live lint, and the test screen's chat.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";

  function postJson(url, body) {
    return fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      credentials: "same-origin",
      body: JSON.stringify(body),
    }).then((r) => (r.ok ? r.json() : Promise.reject(new Error("HTTP " + r.status))));
  }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // --- caret position in a textarea: a hidden mirror with the same text up to the caret ----------
  function caretXY(area) {
    const style = getComputedStyle(area);
    const mirror = el("div");
    ["font", "padding", "border", "width", "lineHeight", "letterSpacing", "tabSize", "boxSizing"].forEach(
      (p) => (mirror.style[p] = style[p])
    );
    Object.assign(mirror.style, { position: "absolute", visibility: "hidden", whiteSpace: "pre-wrap", wordWrap: "break-word", top: "0", left: "0" });
    mirror.textContent = area.value.slice(0, area.selectionStart);
    const mark = el("span", {}, "\u200b");
    mirror.appendChild(mark);
    area.parentNode.appendChild(mirror);
    const xy = { x: mark.offsetLeft - area.scrollLeft, y: mark.offsetTop - area.scrollTop + parseFloat(style.lineHeight || "18") };
    mirror.remove();
    return xy;
  }

  // --- the editor ---------------------------------------------------------------------------------
  function setUpEditor(form) {
    const area = form.querySelector("#editor");
    const menus = JSON.parse(document.getElementById("menus").textContent);
    const list = el("ul", { class: "completions", role: "listbox", id: "completions" });
    list.hidden = true;
    area.parentNode.appendChild(list);
    let items = [];
    let active = 0;
    let token = null;

    function currentToken() {
      const before = area.value.slice(0, area.selectionStart);
      const found = /(^|[^\w@#$])([@#$])\{?([\w.\- ]*)$/.exec(before);
      if (!found || (found[2] !== "#" && / /.test(found[3]))) return null;
      if (found[2] === "#" && found[3].split(" ").length > 4) return null;
      return { sigil: found[2], typed: found[3], start: area.selectionStart - found[3].length };
    }

    function close() {
      list.hidden = true;
      items = [];
      token = null;
    }

    function render() {
      list.replaceChildren();
      items.forEach((item, i) => {
        const li = el("li", { role: "option", "data-insert": item.insert, class: i === active ? "active" : "" });
        li.appendChild(el("span", {}, token.sigil + item.label));
        li.appendChild(el("span", { class: "sub" }, item.hint || ""));
        li.addEventListener("mousedown", (e) => {
          e.preventDefault();
          pick(i);
        });
        list.appendChild(li);
      });
    }

    function open() {
      token = currentToken();
      if (!token) return close();
      const typed = token.typed.toLowerCase();
      items = (menus[token.sigil] || [])
        .filter((m) => m.label.toLowerCase().includes(typed))
        .sort((a, b) => a.label.toLowerCase().indexOf(typed) - b.label.toLowerCase().indexOf(typed))
        .slice(0, 12);
      if (!items.length) return close();
      active = 0;
      render();
      const xy = caretXY(area);
      list.style.left = Math.max(0, xy.x) + "px";
      list.style.top = xy.y + "px";
      list.hidden = false;
    }

    function pick(i) {
      const item = items[i];
      if (!item || !token) return;
      const end = area.selectionStart;
      area.value = area.value.slice(0, token.start) + item.insert + area.value.slice(end);
      const caret = token.start + item.insert.length;
      area.setSelectionRange(caret, caret);
      close();
      area.focus();
      scheduleLint();
    }

    area.addEventListener("keydown", (e) => {
      if (list.hidden) return;
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        active = (active + (e.key === "ArrowDown" ? 1 : items.length - 1)) % items.length;
        render();
      } else if (e.key === "Enter" || e.key === "Tab") {
        e.preventDefault();
        pick(active);
      } else if (e.key === "Escape") {
        close();
      }
    });
    area.addEventListener("input", () => {
      open();
      scheduleLint();
    });
    area.addEventListener("blur", () => setTimeout(close, 150));

    // live lint: the server's linter on the text as typed, shortly after the typing pauses
    const lintBox = document.getElementById("lint");
    const status = document.getElementById("lint-status");
    const diffBox = document.getElementById("diff");
    let timer = null;
    let sent = 0;

    function scheduleLint() {
      clearTimeout(timer);
      timer = setTimeout(lint, 350);
    }

    function goToLine(line) {
      const lines = area.value.split("\n");
      const offset = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
      area.focus();
      area.setSelectionRange(offset, offset + (lines[line - 1] || "").length);
    }

    function lint() {
      const mine = ++sent;
      status.textContent = "checking…";
      postJson(form.dataset.lintUrl, { policy: form.dataset.policy, text: area.value })
        .then((result) => {
          if (mine !== sent) return;
          lintBox.replaceChildren();
          if (!result.problems.length) lintBox.appendChild(el("p", { class: "good" }, "No problems."));
          result.problems.forEach((p) => {
            const row = el("p", { class: "lint " + p.severity, "data-line": p.line }, `line ${p.line}: ${p.severity}: ${p.message}`);
            row.addEventListener("click", () => goToLine(p.line));
            lintBox.appendChild(row);
          });
          const errors = result.problems.filter((p) => p.severity === "error").length;
          status.textContent = errors ? `${errors} error(s)` : "clean";
          diffBox.replaceChildren();
          if (!result.diff.length) diffBox.textContent = "No changes.";
          result.diff.forEach((row) => {
            diffBox.appendChild(el("span", { class: row.kind }, row.text));
            diffBox.appendChild(document.createTextNode("\n"));
          });
          menus["$"] = result.menus["$"];
        })
        .catch(() => {
          if (mine === sent) status.textContent = "lint unavailable";
        });
    }

    lintBox.querySelectorAll(".lint").forEach((row) => row.addEventListener("click", () => goToLine(+row.dataset.line)));
  }

  const form = document.getElementById("edit-form");
  if (form) setUpEditor(form);
})();
