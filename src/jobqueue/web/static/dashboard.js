// jobqueue dashboard: live refresh, select-all, confirmations. No inline script (see the CSP).
"use strict";

(function () {
  function refresh(box) {
    var url = box.getAttribute("data-refresh-url");
    var seconds = parseFloat(box.getAttribute("data-refresh-seconds") || "3");
    if (!url || !(seconds > 0)) {
      return;
    }
    var busy = false;
    setInterval(function () {
      if (busy || document.hidden) {
        return;
      }
      busy = true;
      fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("HTTP " + response.status);
          }
          return response.text();
        })
        .then(function (html) {
          // The fragment is the server's own template output, escaped like every page.
          box.innerHTML = html;
          box.removeAttribute("data-stale");
          document.dispatchEvent(new CustomEvent("jobqueue:refreshed"));
        })
        .catch(function () {
          box.setAttribute("data-stale", "true");
        })
        .finally(function () {
          busy = false;
        });
    }, seconds * 1000);
  }

  function selection(form) {
    var all = form.querySelector("[data-select-all]");
    var boxes = function () {
      return form.querySelectorAll("input[type=checkbox][name=id]");
    };
    var update = function () {
      var any = Array.prototype.some.call(boxes(), function (b) { return b.checked; });
      form.querySelectorAll("[data-needs-selection]").forEach(function (b) { b.disabled = !any; });
    };
    if (all) {
      all.addEventListener("change", function () {
        boxes().forEach(function (b) { b.checked = all.checked; });
        update();
      });
    }
    form.addEventListener("change", update);
    update();
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-confirm]");
    if (button && !window.confirm(button.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-refresh-url]").forEach(refresh);
    document.querySelectorAll("form.selection").forEach(selection);
  });
})();
