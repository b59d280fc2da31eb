// algo-tracer verification page, the "Reproductions" block: badge and list, from the view the
// page already fetched (report.reproduced_by, docs/reproductions.md). No request of its own.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function short(address) {
    return address ? `${address.slice(0, 6)}…${address.slice(-4)}` : "?";
  }

  function stageLine(row) {
    const extra = row.differences && row.differences.length ? `: ${row.differences.join("; ")}` : "";
    return `${row.label}: ${row.status}${extra}`;
  }

  function metricLine(m) {
    const verdict = m.within ? "within" : "outside";
    return `${m.stage}.${m.name}: ${m.original} → ${m.reproduction} ` +
      `(tolerance ${m.tolerance}: ${verdict})`;
  }

  function render(view) {
    const found = view.report && view.report.reproduced_by;
    const badge = $("repro-badge");
    const list = $("reproductions");
    list.replaceChildren();
    if (!found) {
      badge.textContent = "reproductions not looked up";
      badge.className = "badge neutral";
      return;
    }
    badge.textContent = found.badge;
    badge.className = `badge ${found.independent_accounts > 0 ? "ok" : "neutral"}`;
    for (const r of found.reproductions) {
      const item = el("li", undefined, `reproduction ${r.status}`);
      item.dataset.status = r.status;
      const who = r.self_reproduction ? "the owner (self-reproduction: weaker evidence)"
        : short(r.recorder);
      const head = el("div", `${r.status.toUpperCase()}: ${r.experiment_id || "?"} by ${who}` +
        `, sealed in round ${r.sealed_round || "–"}, claim in round ${r.claim_round}` +
        (r.status === "verified" ? (r.matched ? ": matched" : ": did not match") : ""));
      head.className = "reproduction-head";
      item.append(head);
      if (r.experiment_id && r.app_id) {
        // The reproduction's own page: its whole timeline, verified the same way.
        const link = el("a", "its timeline", "reproduction-link");
        link.href = `/?${new URLSearchParams({ app: r.app_id, id: r.experiment_id })}`;
        item.append(link);
      }
      if (r.summary) item.append(el("div", r.summary, "reproduction-summary"));
      const rows = el("ul", undefined, "reproduction-timeline");
      if (r.comparison) {
        for (const row of r.comparison.rows) rows.append(el("li", stageLine(row)));
        for (const m of r.comparison.metrics) rows.append(el("li", metricLine(m)));
      }
      for (const p of r.problems || []) rows.append(el("li", `problem: ${p}`, "problem"));
      item.append(rows);
      list.append(item);
    }
    if (!found.reproductions.length) list.append(el("li", "none found on chain"));
  }

  document.addEventListener("algotracer:experiment", (event) => render(event.detail));
})();
