// algo-tracer verification page: the plan and study sections (docs/studies.md).
//
// Renders `report.plan` and `report.study` (verification steps 10 and 11, computed by the
// server): the plan and when it was fixed, the trials table (each trial linked to its own
// page), and the objective against trial number as an SVG plot with the selected trial marked.
// Everything shown comes from the report; nothing is computed here.
"use strict";

window.algoTracerStudy = (() => {
  const SVG = "http://www.w3.org/2000/svg";

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function svg(tag, attributes) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
    return node;
  }

  function plot(study) {
    const points = study.trials.filter((t) => t.value !== null);
    const width = 560, height = 180, pad = 32;
    const figure = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img",
      "aria-label": `${study.objective} against trial number`, class: "study-plot" });
    if (!points.length) return figure;
    const numbers = study.trials.map((t) => t.number);
    const values = points.map((t) => t.value);
    const [x0, x1] = [Math.min(...numbers), Math.max(...numbers)];
    const [y0, y1] = [Math.min(...values), Math.max(...values)];
    const x = (n) => pad + (x1 > x0 ? (n - x0) / (x1 - x0) : 0.5) * (width - 2 * pad);
    const y = (v) => height - pad - (y1 > y0 ? (v - y0) / (y1 - y0) : 0.5) * (height - 2 * pad);
    figure.append(svg("line", { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad,
      class: "axis" }));
    figure.append(svg("line", { x1: pad, y1: pad, x2: pad, y2: height - pad, class: "axis" }));
    const label = (text, attributes) => {
      const node = svg("text", attributes);
      node.textContent = text;
      figure.append(node);
    };
    label(`trial number (${x0}–${x1})`, { x: width / 2, y: height - 6, class: "axis-label" });
    label(`${study.objective} ${y0.toPrecision(4)}–${y1.toPrecision(4)}`,
      { x: pad, y: 14, class: "axis-label" });
    for (const t of study.trials) {
      const selected = t.experiment === study.selected;
      const cy = t.value === null ? height - pad : y(t.value);
      const dot = svg("circle", { cx: x(t.number), cy, r: selected ? 6 : 3.5,
        class: `trial-${t.state}${selected ? " selected" : ""}` });
      const title = svg("title", {});
      title.textContent = `trial ${t.number}: ${t.state}` +
        (t.value === null ? "" : `, ${study.objective} = ${t.value}`);
      dot.append(title);
      figure.append(dot);
    }
    return figure;
  }

  function render(report, appId, card) {
    card.replaceChildren();
    const plan = report.plan, study = report.study;
    card.hidden = !plan && !study;
    if (card.hidden) return;
    if (plan) {
      card.append(el("h2", "Plan"));
      card.append(el("p", plan.line || planLine(plan), plan.state === "mismatch" ? "bad" : ""));
      if (plan.plan) card.append(el("pre", JSON.stringify(plan.plan, null, 2), "mono plan"));
    }
    if (!study) return;
    const failed = study.trials.filter((t) => t.state === "failed").length;
    const pruned = study.trials.filter((t) => t.state === "pruned").length;
    card.append(el("h2", `Study: best of ${study.trials.length} (${failed} failed, ${pruned} pruned)`));
    card.append(el("p", `${study.objective}, ${study.direction}` +
      (study.planned ? `; ${study.planned} trials planned` : "") +
      (study.sealed ? "" : "; open: trials may still be added")));
    card.append(plot(study));
    const table = el("table", undefined, "study-trials");
    const head = el("tr");
    for (const h of ["#", "state", study.objective, "recorded in round", "trial experiment", "check"]) {
      head.append(el("th", h));
    }
    const thead = el("thead");
    thead.append(head);
    table.append(thead);
    const body = el("tbody");
    for (const t of study.trials) {
      const row = el("tr", undefined, t.experiment === study.selected ? "selected" : "");
      row.append(el("td", t.number));
      row.append(el("td", t.state));
      row.append(el("td", t.value === null ? "–" : t.value));
      row.append(el("td", t.round ?? "–"));
      const link = el("a", t.experiment.slice(0, 12) + "…", "mono");
      link.href = `/?${new URLSearchParams({ app: appId, id: t.experiment })}`;
      link.title = t.experiment;
      const cell = el("td");
      cell.append(link);
      row.append(cell);
      row.append(el("td", t.ok ? "ok" : t.message, t.ok ? "" : "bad"));
      body.append(row);
    }
    table.append(body);
    card.append(table);
    for (const trial of study.outside) {
      card.append(el("p", `${trial} names this study but is not recorded in it`, "bad"));
    }
  }

  function planLine(plan) {
    const states = { public: "public", committed: "private, never revealed",
      revealed: `private, revealed in round ${plan.revealed_round}`,
      mismatch: "a reveal does NOT open its commitment" };
    return `plan fixed at round ${plan.round}` + (plan.first_after_round ?
      `, before the first ${plan.first_after} at round ${plan.first_after_round}` : "") +
      ` (${states[plan.state]})`;
  }

  return { render };
})();
