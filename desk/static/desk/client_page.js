// The client page: links to the edit form (#profile) open it, as does arriving with #profile in the address.
(function () {
  "use strict";
  function openProfile() {
    var details = document.getElementById("profile");
    if (details) { details.open = true; }
  }
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-open='profile']");
    if (link) { openProfile(); }
  });
  if (window.location.hash === "#profile") { openProfile(); }
})();
