// The model-spec form: the layer list follows the chosen architecture (its graph node names,
// from the admin's layers/ endpoint), so layers are picked by name rather than typed blind.
// The admin loads form scripts in the page head: wait for the form.
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  const source = document.getElementById("id_source");
  const architecture = document.getElementById("id_architecture");
  const layer = document.getElementById("id_layer");
  const list = document.getElementById("layer-names");
  if (!source || !architecture || !layer || !list) return;
  const url = window.location.pathname.replace(/add\/$/, "layers/");

  async function refresh() {
    list.replaceChildren();
    if (!architecture.value) return;
    const query = new URLSearchParams({ source: source.value, architecture: architecture.value });
    try {
      const reply = await fetch(url + "?" + query.toString(), { credentials: "same-origin" });
      const data = await reply.json();
      for (const name of data.layers) {
        const option = document.createElement("option");
        option.value = name;
        list.appendChild(option);
      }
      layer.placeholder = data.default ? "empty: " + data.default + " (penultimate)" : "";
    } catch (e) { /* the list is a help only: the form still checks the layer on save */ }
  }

  source.addEventListener("change", refresh);
  architecture.addEventListener("change", refresh);
  refresh();
});
