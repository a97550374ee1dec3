// Small SVG charts drawn by hand, each at the pixel width of the box it goes in: lines over time, bars
// by name, and one task's timeline. Every label is measured and placed so that none covers another or
// leaves its chart (scales.js). Labels are text nodes (dom.js), so a name from the mock is never markup.

import { h, s, clockTime, statusClass } from "./dom.js";
import { TICK_PX, duration, scale, spread, stack, textWidth, tickText, timeTicks, valueTicks } from "./scales.js";

const LINE_H = 170;
const ROW = TICK_PX + 5;  // a row of labels
const MIN_SPAN = 0.001;  // a timeline spans a millisecond at least, the finest time a task id holds

function svgOf(width, height, label, id) {
  return s("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label, id });
}

function text(x, y, value, cls = "tick", anchor = "start") {
  return s("text", { x, y, class: cls, "text-anchor": anchor }, value);
}

/** A chart's frame: its title, a box the chart is drawn into at its width, and a legend under it. */
export function figure(title, legend = null) {
  const plot = h("div", { class: "plot" });
  return { node: h("figure", { class: "chart" }, h("figcaption", {}, title), plot, legend), plot };
}

export function legendOf(names) {
  return h("ul", { class: "legend" }, names.map((name, n) => h("li", { class: `c${n}` }, name)));
}

/**
 * Lines over shared times, ``series`` [{name, values}], a null value breaking its line. The value
 * axis runs to a round value above the highest, with its ticks' labels measured for the margin;
 * ``integer`` keeps its steps whole (counts of tasks).
 */
export function lineChart(width, title, times, series, { integer = false } = {}) {
  const values = series.flatMap((line) => line.values).filter((v) => v !== null);
  const ticks = valueTicks(Math.max(0, ...values), 4, integer);
  const top = ticks[ticks.length - 1];
  const left = Math.ceil(Math.max(...ticks.map((t) => textWidth(tickText(t))))) + 10;
  const right = width - 10;
  const bottom = LINE_H - ROW - 6;
  const x = scale([times[0], times[times.length - 1]], [left, right]);
  const y = scale([0, top], [bottom, TICK_PX]);
  const svg = svgOf(width, LINE_H, title);
  for (const tick of ticks) {
    svg.append(
      s("line", { x1: left, y1: y(tick), x2: right, y2: y(tick), class: tick === 0 ? "axis" : "grid" }),
      text(left - 5, y(tick) + TICK_PX * 0.35, tickText(tick), "tick", "end"),
    );
  }
  const clock = (t) => clockTime(t).slice(0, 8);
  const { ticks: moments } = timeTicks(times[0], times[times.length - 1], right - left, clock);
  for (const label of spread(moments.map((t) => ({ x: x(t), text: clock(t) })), [0, width])) {
    svg.append(
      s("line", { x1: label.x, y1: bottom, x2: label.x, y2: bottom + 4, class: "axis" }),
      text(label.left, LINE_H - 4, label.text),
    );
  }
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
  return svg;
}

/** Bars by name, ``items`` [[name, value], ...], the names' and the values' room measured. */
export function barChart(width, title, items) {
  if (!items.length) return h("p", { class: "empty" }, "none yet");
  const top = Math.max(1, ...items.map(([, value]) => value));
  const row = 24;
  const left = Math.ceil(Math.max(...items.map(([name]) => textWidth(name)))) + 10;
  const room = Math.ceil(Math.max(...items.map(([, value]) => textWidth(String(value))))) + 10;
  const length = scale([0, top], [0, Math.max(1, width - left - room)]);
  const svg = svgOf(width, items.length * row + 4, title);
  items.forEach(([name, value], n) => {
    const base = n * row + 16;
    svg.append(
      text(left - 6, base, name, "tick", "end"),
      s("rect", { x: left, y: n * row + 5, width: Math.max(1, length(value)), height: row - 8, class: `bar c${n}` }),
      text(left + length(value) + 4, base, String(value)),
    );
  });
  return svg;
}

/** Where a task's own life ends on its chart: its finish once past, else now; polls after it extend it. */
function endOf(times, polls, now) {
  const { submitted, finished } = times;
  const last = finished !== null && finished <= now ? finished : now;
  return Math.max(last, submitted, ...polls.map((p) => p.at));
}

/**
 * One task's life on an axis of time since its submission: queued from submit to start, running from
 * start to finish (or to now), a mark at each moment, and under the axis one lane per status code the
 * polls were answered with, each poll a dot. Marks' labels stack in rows rather than overlap; a lane
 * is named once, with its count, so a thousand polls read as plainly as four.
 */
export function timelineChart(width, times, polls, now) {
  const { submitted, started, finished } = times;
  const end = endOf(times, polls, now);
  const lanes = new Map();
  for (const poll of polls) {
    const code = poll.status === 0 ? "drop" : String(poll.status);
    if (!lanes.has(code)) lanes.set(code, { code, cls: statusClass(poll.status), polls: [] });
    lanes.get(code).polls.push(poll);
  }
  const named = [...lanes.values()].sort((a, b) => a.code.localeCompare(b.code))
    .map((lane) => ({ ...lane, label: `${lane.code} ×${lane.polls.length}` }));
  const gutter = Math.ceil(Math.max(...["task", "no polls", ...named.map((lane) => lane.label)].map((t) => textWidth(t)))) + 12;
  const right = width - 12;
  const x = scale([submitted, Math.max(end, submitted + MIN_SPAN)], [gutter, right]);

  // Marks: moments that print at one x share one label.
  const moments = [["submitted", submitted], ["queued", submitted], ["started", started], ["finished", finished]]
    .filter(([, at]) => at !== null && at <= end);
  if (finished === null || finished > now) moments.push(["now", now]);
  const marks = [];
  for (const [name, at] of moments) {
    const same = marks.find((mark) => Math.abs(x(mark.at) - x(at)) < 1);
    if (same) same.text += ` · ${name}`;
    else marks.push({ at, x: x(at), text: name });
  }
  const placed = stack(marks, width);
  const rows = Math.max(1, ...placed.map((mark) => mark.row + 1));
  const barTop = rows * ROW + 4;
  const barHeight = 20;
  const axisY = barTop + barHeight + 4;
  const laneTop = axisY + ROW + 10;
  const height = laneTop + Math.max(1, named.length) * ROW + 4;
  const svg = svgOf(width, height, "task timeline", "timeline-chart");

  const running = started !== null && started < end ? started : null;
  const spans = [["queued", submitted, running ?? end, "queued"]];
  if (running !== null) spans.push(["running", running, Math.min(finished ?? end, end), "running"]);
  for (const [name, from, to, cls] of spans) {
    const w = Math.max(1, x(to) - x(from));
    svg.append(s("rect", { x: x(from), y: barTop, width: w, height: barHeight, class: cls }));
    const said = `${name} ${duration(to - from)}`;
    if (textWidth(said) + 8 <= w) svg.append(text(x(from) + 4, barTop + barHeight / 2 + TICK_PX * 0.35, said, `tick bar-label ${cls}`));
  }
  svg.append(text(4, barTop + barHeight / 2 + TICK_PX * 0.35, "task"));
  for (const mark of placed) {
    const labelY = (mark.row + 1) * ROW;
    svg.append(
      s("line", { x1: mark.x, y1: labelY - TICK_PX, x2: mark.x, y2: barTop + barHeight, class: "mark" }),
      text(mark.left, labelY, mark.text, "tick mark-label"),
    );
  }

  svg.append(s("line", { x1: gutter, y1: axisY, x2: right, y2: axisY, class: "axis" }));
  const { ticks, step } = timeTicks(0, Math.max(end - submitted, MIN_SPAN), right - gutter, duration);
  for (const label of spread(ticks.map((t) => ({ x: x(submitted + t), text: duration(t, step) })), [gutter - 8, width])) {
    svg.append(
      s("line", { x1: label.x, y1: axisY, x2: label.x, y2: axisY + 4, class: "axis" }),
      text(label.left, axisY + ROW, label.text),
    );
  }

  if (!named.length) svg.append(text(4, laneTop + TICK_PX, "no polls"));
  named.forEach((lane, n) => {
    const cy = laneTop + n * ROW + ROW / 2;
    svg.append(
      text(4, cy + TICK_PX * 0.35, lane.label, `tick poll-label ${lane.cls}`),
      s("line", { x1: gutter, y1: cy, x2: right, y2: cy, class: "grid" }),
      ...lane.polls.map((poll) => s("circle", { cx: x(poll.at), cy, r: 4, class: `poll ${lane.cls}` },
        s("title", {}, `${poll.method} ${lane.code} at ${clockTime(poll.at)} (${duration(poll.at - submitted)} after submit)`))),
    );
  });
  return svg;
}
