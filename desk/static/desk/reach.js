// Reaching a client (desk.reach): after a tap on a call or WhatsApp link, prompt to log what happened.
// The links are plain links and work without this script; it only brings the outcome form forward: on a task, its
// outcome buttons and note; on the client page, the "Log" quick action set to a call. No library, no CDN.
(function () {
  "use strict";
  var pending = null;

  function prompt(scope) {
    var box = scope.querySelector("[data-reach-prompt]");
    if (!box) { return; }
    box.hidden = false;
    box.classList.add("is-prompting");
    var kind = scope.getAttribute("data-reach-log");
    if (kind) {
      var radio = document.querySelector("input[name='touchpoint_type'][value='" + kind + "']");
      if (radio) { radio.checked = true; }
    }
    var focus = box.querySelector("[data-reach-focus]") || box.querySelector("textarea, button");
    box.scrollIntoView({block: "center"});
    if (focus) { focus.focus({preventScroll: true}); }
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-reach]");
    if (!link) { return; }
    var scope = link.closest("[data-reach-scope]");
    if (!scope) { return; }
    // The phone or WhatsApp takes over; the prompt is waiting when the advisor comes back to the page.
    pending = scope;
    window.setTimeout(function () { if (pending) { prompt(pending); pending = null; } }, 300);
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && pending) { prompt(pending); pending = null; }
  });
})();
