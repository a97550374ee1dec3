// Small SVG charts drawn by hand: lines over time, bars by name, and one task's timeline.
// Labels are text nodes (dom.js), so a name from the mock is never markup.

import { h, s, clockTime, statusClass } from "./dom.js";

const W = 460;
const H = 150;
const PAD = { left: 42, right: 8, top: 8, bottom: 22 };
const LEVELS = [9, 19, 29, 9];  // label rows of the submitted, queued, started and finished marks

function scale(domain, range) {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  const span = d1 - d0 || 1;
  return (value) => r0 + ((value - d0) / span) * (r1 - r0);
}

function figure(title, svg, legend) {
  return h("figure", { class: "chart" }, h("figcaption", {}, title), svg, legend);
}

/** Lines over shared times; a null value breaks its line. ``series`` is [{name, values}]. */
export function lineChart(title, times, series, unit = "") {
  const values = series.flatMap((line) => line.values).filter((v) => v !== null);
  const top = Math.max(1, ...values);
  const x = scale([times[0], times[times.length - 1]], [PAD.left, W - PAD.right]);
  const y = scale([0, top], [H - PAD.bottom, PAD.top]);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title });
  svg.append(
    s("line", { x1: PAD.left, y1: y(0), x2: W - PAD.right, y2: y(0), class: "axis" }),
    s("line", { x1: PAD.left, y1: y(top), x2: PAD.left, y2: y(0), class: "axis" }),
    s("text", { x: PAD.left - 4, y: y(top) + 4, class: "tick end" }, `${+top.toFixed(2)}${unit}`),
    s("text", { x: PAD.left - 4, y: y(0), class: "tick end" }, "0"),
    s("text", { x: PAD.left, y: H - 6, class: "tick" }, clockTime(times[0]).slice(0, 8)),
    s("text", { x: W - PAD.right, y: H - 6, class: "tick end" }, clockTime(times[times.length - 1]).slice(0, 8)),
  );
  series.forEach((line, n) => {
    let path = "";
    let pen = "M";
    line.values.forEach((value, i) => {
      if (value === null) {
        pen = "M";
        return;
      }
      path += `${pen}${x(times[i]).toFixed(1)},${y(value).toFixed(1)} `;
      pen = "L";
      if (line.values[i - 1] == null && line.values[i + 1] == null) {  // a lone point draws no line
        svg.append(s("circle", { cx: x(times[i]), cy: y(value), r: 2.5, class: `dot c${n}` }));
      }
    });
    if (path) svg.append(s("path", { d: path, class: `line c${n}` }, s("title", {}, line.name)));
  });
  const legend = h("ul", { class: "legend" }, series.map((line, n) => h("li", { class: `c${n}` }, line.name)));
  return figure(title, svg, legend);
}

/** Bars by name: [[name, value], ...]. */
export function barChart(title, items) {
  if (!items.length) return figure(title, h("p", { class: "empty" }, "none yet"));
  const top = Math.max(1, ...items.map(([, value]) => value));
  const row = 22;
  const svg = s("svg", { viewBox: `0 0 ${W} ${items.length * row + 4}`, role: "img", "aria-label": title });
  const width = scale([0, top], [0, W - 150]);
  items.forEach(([name, value], n) => {
    svg.append(
      s("text", { x: 90, y: n * row + 15, class: "tick end" }, name),
      s("rect", { x: 96, y: n * row + 4, width: Math.max(1, width(value)), height: row - 8, class: `bar c${n}` }),
      s("text", { x: 100 + width(value), y: n * row + 15, class: "tick" }, String(value)),
    );
  });
  return figure(title, svg);
}

/**
 * One task's life: queued from submit to start, running from start to finish, a mark at each
 * moment, and below it each request the client made for it, coloured and labelled by status.
 */
export function timelineChart(times, requests, now) {
  const { submitted, started, finished } = times;
  const end = Math.max(now, ...requests.map((r) => r.at), finished ?? 0);
  const last = Math.min(end, finished ?? end);
  const x = scale([submitted, Math.max(end, submitted + 1)], [PAD.left, W * 1.4 - 48]);
  const svg = s("svg", { viewBox: `0 0 ${W * 1.4} 112`, role: "img", "aria-label": "task timeline", id: "timeline-chart" });
  const runFrom = started === null ? null : Math.min(started, last);
  svg.append(s("rect", { x: x(submitted), y: 36, width: Math.max(1, x(runFrom ?? last) - x(submitted)), height: 16, class: "queued" }));
  if (runFrom !== null && runFrom <= end) {
    svg.append(s("rect", { x: x(runFrom), y: 36, width: Math.max(1, x(last) - x(runFrom)), height: 16, class: "running" }));
  }
  const marks = [["submitted", submitted], ["queued", submitted], ["started", started], ["finished", finished]];
  marks.forEach(([name, at], n) => {
    if (at === null || at > end) return;
    svg.append(
      s("line", { x1: x(at), y1: LEVELS[n] + 2, x2: x(at), y2: 56, class: "mark" }),
      s("text", { x: x(at) + 2, y: LEVELS[n], class: `tick mark-label${x(at) > W * 1.4 - 60 ? " end" : ""}` }, name),
    );
  });
  svg.append(s("text", { x: 2, y: 48, class: "tick" }, "task"), s("text", { x: 2, y: 88, class: "tick" }, "polls"));
  requests.forEach((request) => {
    const cls = statusClass(request.status);
    const label = request.status === 0 ? "drop" : String(request.status);
    svg.append(
      s("circle", { cx: x(request.at), cy: 84, r: 5, class: `poll ${cls}` },
        s("title", {}, `${request.method} ${label} at ${clockTime(request.at)}`)),
      s("text", { x: x(request.at), y: 104, class: `tick poll-label ${cls}` }, label),
    );
  });
  return svg;
}
