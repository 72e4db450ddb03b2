// slad console: progressive enhancement only; every page works without it.
(function () {
  "use strict";

  function formatLeft(seconds) {
    // The same reading as daemon.owed.format_left.
    var sign = seconds < 0 ? "-" : "";
    var total = Math.floor(Math.abs(seconds));
    var days = Math.floor(total / 86400), rest = total % 86400;
    var hours = Math.floor(rest / 3600); rest %= 3600;
    var minutes = Math.floor(rest / 60), secs = rest % 60;
    function two(n) { return (n < 10 ? "0" : "") + n; }
    if (days) return sign + days + "d " + two(hours) + "h";
    if (hours) return sign + hours + "h " + two(minutes) + "m";
    if (minutes) return sign + minutes + "m " + two(secs) + "s";
    return sign + secs + "s";
  }

  function levelAt(row, now) {
    var slo = row.dataset.slo ? Date.parse(row.dataset.slo) : null;
    var warn = row.dataset.warn ? Date.parse(row.dataset.warn) : null;
    if (slo !== null && now > slo) return "breach";
    if (warn !== null && now >= warn) return "warn";
    return "ok";
  }

  function startBoard(table) {
    var offset = 0; // server clock minus this browser's clock, in ms
    var labels = {
      ok: table.dataset.labelOk,
      warn: table.dataset.labelWarn,
      breach: table.dataset.labelBreach
    };
    function sync() {
      offset = Date.parse(table.querySelector("tbody").dataset.now) - Date.now();
    }
    function tick() {
      var now = Date.now() + offset;
      table.querySelectorAll("tr.row[data-due]").forEach(function (row) {
        var left = (Date.parse(row.dataset.due) - now) / 1000;
        row.querySelector("[data-left]").textContent = formatLeft(left);
        row.dataset.secondsLeft = String(Math.trunc(left));
        var level = levelAt(row, now);
        if (level !== row.dataset.level) {
          row.classList.remove("level-" + row.dataset.level);
          row.classList.add("level-" + level);
          row.dataset.level = level;
          var badge = row.querySelector("[data-level-label]");
          if (badge && labels[level]) badge.textContent = labels[level];
        }
      });
    }
    function refresh() {
      fetch(table.dataset.rowsUrl, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (response) {
          if (response.status === 401) {
            window.location.href = "/console/sign-in?next=" + encodeURIComponent("/console/board");
            return null;
          }
          return response.ok ? response.text() : null;
        })
        .then(function (html) {
          if (!html) return;
          var holder = document.createElement("template");
          holder.innerHTML = html.trim();
          var fresh = holder.content.querySelector("tbody");
          if (!fresh) return;
          table.querySelector("tbody").replaceWith(fresh);
          sync();
          tick();
          var updated = document.querySelector("[data-updated]");
          if (updated) updated.textContent = fresh.dataset.nowShown;
        })
        .catch(function () { /* the next poll tries again */ });
    }
    sync();
    tick();
    window.setInterval(tick, 1000);
    window.setInterval(refresh, Math.max(2, Number(table.dataset.pollSeconds) || 10) * 1000);
  }

  function startActionForm(form) {
    // A time further back than the tolerance needs a reason, as the server requires.
    var at = form.querySelector("[data-at]");
    var reason = form.querySelector("[data-reason]");
    var offsetMinutes = Number(form.dataset.zoneOffsetMinutes || "0");
    var tolerance = Number(form.dataset.toleranceSeconds || "60") * 1000;
    function check() {
      if (!at.value) { reason.required = false; return; }
      var parts = at.value.split(/[-T:]/).map(Number);
      var utc = Date.UTC(parts[0], parts[1] - 1, parts[2], parts[3] || 0, parts[4] || 0, parts[5] || 0)
        - offsetMinutes * 60000;
      reason.required = utc < Date.now() - tolerance;
    }
    at.addEventListener("input", check);
    check();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var board = document.querySelector("[data-board]");
    if (board) startBoard(board);
    document.querySelectorAll("[data-action-form]").forEach(startActionForm);
    document.querySelectorAll("[data-language]").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
  });
})();
