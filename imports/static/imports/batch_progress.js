// Follows a queued import on its batch page (templates/admin/imports/batch.html) and reloads it when the import ends.
(function () {
  const box = document.getElementById("import-progress");
  const text = document.getElementById("import-progress-text");
  const bar = document.getElementById("import-progress-bar");
  function poll() {
    fetch(box.dataset.statusUrl, {credentials: "same-origin"}).then((response) => response.json()).then((status) => {
      if (status.is_finished) { window.location.reload(); return; }
      box.querySelector("h2").textContent = status.status_display;
      if (status.processed_rows) {
        const total = status.total_rows || status.estimated_rows;
        text.textContent = status.processed_rows.toLocaleString() + " rows read" + (total ? " of about " + total.toLocaleString() : "");
        if (total) { bar.max = total; bar.value = Math.min(status.processed_rows, total); }
      }
      window.setTimeout(poll, 1000);
    }).catch(() => window.setTimeout(poll, 3000));
  }
  window.setTimeout(poll, 1000);
})();
