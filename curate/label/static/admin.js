// The admin page: progress per labeller and agreement so far, refreshed every five seconds.
"use strict";
function cell(text) { return element("td", "", text === null || text === undefined ? "–" : String(text)); }

async function refresh() {
  const data = await api("GET", "/api/admin/progress");
  const total = data.total;
  setProgress(total.answered, total.answers_wanted);
  document.getElementById("total").textContent =
    total.answered + " of " + total.answers_wanted + " answers (" + total.items + " items x overlap " + total.overlap + "), " + total.skipped + " skips";
  const people = document.querySelector("#people tbody");
  people.replaceChildren(...data.labellers.map(p => {
    const row = element("tr");
    row.append(cell(p.name + (p.admin ? " (admin)" : "")), cell(p.answered), cell(p.skipped), cell(p.median_seconds === null ? null : p.median_seconds.toFixed(1)));
    return row;
  }));
  const agreement = data.agreement;
  document.getElementById("alpha").textContent = agreement.alpha === null
    ? "Krippendorff's alpha: not enough items with two or more answers yet."
    : "Krippendorff's alpha (" + agreement.level + "): " + agreement.alpha.toFixed(3) + " over " + agreement.units + " units";
  const pairs = document.querySelector("#pairs tbody");
  pairs.replaceChildren(...agreement.pairs.map(p => {
    const row = element("tr");
    row.append(cell(p.a + " / " + p.b), cell(p.units), cell(p.kappa === null ? null : p.kappa.toFixed(3)));
    return row;
  }));
}

window.addEventListener("DOMContentLoaded", async () => {
  await startSession();
  refresh();
  setInterval(refresh, 5000);
});
