// Progressive enhancement of the trial form: timing, viewing conditions, keyboard shortcuts,
// drag and drop, and answers saved over fetch with retries (the same idempotency key each time).
(function () {
  "use strict";
  const form = document.getElementById("trial-form");
  if (!form) return;
  const shown = performance.now();
  const status = form.querySelector(".status");
  const clustering = form.dataset.kind === "clustering";
  const rows = Array.from(form.querySelectorAll(".row"));
  let sending = false;

  function viewing() {
    const images = Array.from(document.querySelectorAll("img.stimulus")).map((img) => {
      const box = img.getBoundingClientRect();
      return { sha256: img.dataset.sha256, natural: [img.naturalWidth, img.naturalHeight], drawn: [Math.round(box.width), Math.round(box.height)] };
    });
    return { viewport: [window.innerWidth, window.innerHeight], devicePixelRatio: window.devicePixelRatio, images: images };
  }

  async function send(answer) {
    if (sending) return;
    sending = true;
    const body = {
      trial: Number(form.dataset.trial),
      answer: answer,
      idempotency_key: form.elements.idempotency_key.value,
      response_ms: Math.round(performance.now() - shown),
      viewing: viewing(),
    };
    for (let attempt = 0; ; attempt++) {
      status.textContent = attempt ? "Connection problem, retrying…" : "Saving…";
      try {
        const res = await fetch(form.action, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
        if (res.ok || res.status === 409) { window.location.reload(); return; }
        if (res.status < 500) { status.textContent = "This answer could not be saved."; sending = false; return; }
      } catch (e) { /* network error: retry below */ }
      await new Promise((r) => setTimeout(r, Math.min(8000, 500 * 2 ** attempt)));
    }
  }

  function clusteringAnswer() {
    const answer = rows.map((row) => {
      const checked = row.querySelector("input:checked");
      return checked ? Number(checked.value) : null;
    });
    return answer.includes(null) ? null : answer;
  }

  function markCurrent() {
    const current = rows.find((row) => !row.querySelector("input:checked"));
    rows.forEach((row) => row.classList.toggle("current", row === current));
    return current;
  }

  function choose(row, column) {
    const input = row.querySelector(`input[value="${column}"]`);
    input.checked = true;
    markCurrent();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (clustering) {
      const answer = clusteringAnswer();
      if (answer === null) { status.textContent = "Match every row to a column first."; return; }
      send(answer);
      return;
    }
    const button = event.submitter || document.activeElement;
    if (button && button.name === "answer") send(Number(button.value));
  });

  document.addEventListener("keydown", (event) => {
    if (clustering) {
      const column = { "1": 0, "2": 1, "3": 2 }[event.key];
      const current = column === undefined ? null : markCurrent();
      if (current) { event.preventDefault(); choose(current, column); }
      return;
    }
    const keys = {
      odd: { "1": 0, "2": 1, "3": 2 },
      rating: Object.fromEntries("0123456789".split("").map((d) => [d, Number(d)])),
    }[form.dataset.kind] || { "1": 0, ArrowLeft: 0, "2": 1, ArrowRight: 1 };
    const key = keys[event.key];
    if (key === undefined) return;
    event.preventDefault();
    send(key);
  });

  if (clustering) {
    form.addEventListener("change", markCurrent);
    markCurrent();
    rows.forEach((row) => {
      row.querySelector("img").addEventListener("dragstart", (event) => event.dataTransfer.setData("text/plain", row.dataset.row));
    });
    form.querySelectorAll(".column").forEach((column) => {
      column.addEventListener("dragover", (event) => { event.preventDefault(); column.classList.add("drop"); });
      column.addEventListener("dragleave", () => column.classList.remove("drop"));
      column.addEventListener("drop", (event) => {
        event.preventDefault();
        column.classList.remove("drop");
        const row = rows[Number(event.dataTransfer.getData("text/plain"))];
        if (row) choose(row, Number(column.dataset.column));
      });
    });
  }
})();
