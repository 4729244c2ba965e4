/* ldn-derm: what htmx does not do by itself. No inline script (the CSP allows 'self' only).
   - A file larger than the server accepts is refused here, before it is sent, with the same
     message the server would give (the server still checks: 413).
   - A request that never reaches the server shows a message instead of doing nothing. */
(function () {
  "use strict";
  function show(message) {
    var box = document.getElementById("client-problem");
    if (!box) { window.alert(message); return; }
    box.querySelector("[data-detail]").textContent = message;
    box.hidden = false;
    window.scrollTo(0, 0);
    box.querySelector("h2").focus();
  }
  function mb(bytes) { return (bytes / 1048576).toFixed(1); }
  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    var box = document.getElementById("client-problem");
    if (box) { box.hidden = true; }
    var limit = parseInt(form.getAttribute("data-max-bytes") || "0", 10);
    if (!limit) { return; }
    var inputs = form.querySelectorAll('input[type="file"]');
    for (var i = 0; i < inputs.length; i++) {
      var files = inputs[i].files || [];
      for (var j = 0; j < files.length; j++) {
        if (files[j].size > limit) {
          evt.preventDefault();
          evt.stopImmediatePropagation();
          show("'" + files[j].name + "' is " + mb(files[j].size) + " MB; this server accepts at most " +
               mb(limit) + " MB per upload. Export only this patient's record, or ask the administrator " +
               "to raise max_body_bytes.");
          return;
        }
      }
    }
  }, true);
  /* print everything: folded sections (comparison, references, monitoring) open for printing
     and fold again afterwards */
  var opened = [];
  window.addEventListener("beforeprint", function () {
    opened = Array.prototype.filter.call(document.querySelectorAll("details:not([open])"),
      function (d) { return !d.closest(".no-print"); });
    opened.forEach(function (d) { d.open = true; });
  });
  window.addEventListener("afterprint", function () {
    opened.forEach(function (d) { d.open = false; });
    opened = [];
  });
  /* a citation whose reference sits in a folded section opens that section first */
  document.addEventListener("click", function (evt) {
    var link = evt.target.closest && evt.target.closest('a[href^="#"]');
    if (!link) { return; }
    var target = document.getElementById(decodeURIComponent(link.getAttribute("href").slice(1)));
    for (var d = target && target.closest("details"); d; d = d.parentElement.closest("details")) {
      d.open = true;
    }
  });
  document.addEventListener("htmx:sendError", function () {
    show("The server could not be reached. Check the connection and try again.");
  });
})();
