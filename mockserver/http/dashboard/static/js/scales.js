// What the charts need to fit their text: widths measured in the page's own font, axis ticks at round
// values, and labels placed so that none covers another. Charts are drawn at their box's pixel width,
// so a measured width is the width shown.

export const TICK_PX = 11;  // the size of svg .tick in style.css
const GAP = 6;  // the least room between two labels
const pen = document.createElement("canvas").getContext("2d");

/** How wide ``text`` prints in the page's font at ``size`` pixels. */
export function textWidth(text, size = TICK_PX) {
  pen.font = `${size}px ${getComputedStyle(document.body).fontFamily}`;
  return pen.measureText(String(text)).width;
}

/** A linear map from ``domain`` onto ``range``. */
export function scale([d0, d1], [r0, r1]) {
  const span = d1 - d0 || 1;
  return (value) => r0 + ((value - d0) / span) * (r1 - r0);
}

/** A number as a tick shows it: no float noise (92.80000001), no needless decimals. */
export function tickText(value) {
  return String(+value.toPrecision(6));
}

/** Ticks from 0 to a round value at or above ``top``: steps of 1, 2 or 5 times a power of ten. */
export function valueTicks(top, count = 4, integer = false) {
  const raw = (top > 0 ? top : 1) / count;  // an empty chart still gets an axis, 0 to 1
  const power = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 5, 10].map((m) => m * power).find((candidate) => candidate >= raw * (1 - 1e-9));
  if (integer) step = Math.max(1, Math.round(step));
  const steps = Math.max(1, Math.ceil(top / step - 1e-9));
  return Array.from({ length: steps + 1 }, (_, n) => +(n * step).toPrecision(12));
}

// Round steps of time, in seconds, from a millisecond to a month.
const SPANS = [1, 2, 5, 10, 20, 50, 100, 200, 500].map((ms) => ms / 1000)
  .concat([1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200])
  .concat([1, 2, 7, 14, 30].map((days) => days * 86400));

/**
 * Ticks over [t0, t1] at multiples of the smallest round step whose labels (``text`` of each tick)
 * fit side by side in ``width`` pixels.
 */
export function timeTicks(t0, t1, width, text) {
  for (const step of SPANS) {
    if ((t1 - t0) / step > width / 12) continue;  // more ticks than any labels could fit
    const ticks = [];
    for (let n = Math.ceil(t0 / step - 1e-9); n * step <= t1 + step * 1e-9; n += 1) ticks.push(+(n * step).toPrecision(15));
    const widest = Math.max(0, ...ticks.map((t) => textWidth(text(t, step))));
    if (ticks.length * (widest + 2 * GAP) <= width) return { ticks, step };
  }
  return { ticks: [t0], step: t1 - t0 };
}

/**
 * A duration as "250 ms", "1.5 s", "40 s", "1 min 40 s", "2 h 30 min" or "3 d": to the nearest
 * ``step`` (an axis's step), or to three figures when no step is given.
 */
export function duration(seconds, step = 10 ** (Math.floor(Math.log10(seconds || 1)) - 2)) {
  if (seconds === 0) return "0";
  if (step < 1 && seconds < 60) {
    const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
    const round = (value, places) => String(+value.toFixed(Math.max(0, places)));
    return seconds < 1 ? `${round(seconds * 1000, decimals - 3)} ms` : `${round(seconds, decimals)} s`;
  }
  const parts = [[86400, "d"], [3600, "h"], [60, "min"], [1, "s"]];
  const said = [];
  let left = Math.round(seconds);
  for (const [size, unit] of parts) {
    if (left >= size) {
      said.push(`${Math.floor(left / size)} ${unit}`);
      left %= size;
    }
  }
  return said.slice(0, 2).join(" ");
}

/**
 * Places labels ``{x, text, anchor}`` along one line, in the order given: each keeps its x if it
 * clears the labels already placed, else is dropped. ``[min, max]`` is the room there is; a label
 * that would cross an edge is shifted inside. Returns the kept labels with their left and right.
 */
export function spread(labels, [min, max]) {
  const kept = [];
  for (const label of labels) {
    const width = textWidth(label.text);
    const anchor = label.anchor ?? "middle";
    let left = anchor === "start" ? label.x : anchor === "end" ? label.x - width : label.x - width / 2;
    left = Math.min(Math.max(left, min), max - width);
    const right = left + width;
    if (kept.every((other) => right + GAP <= other.left || left >= other.right + GAP)) kept.push({ ...label, left, right });
  }
  return kept;
}

/**
 * Stacks labels ``{x, text}`` in as few rows as keep them apart: each goes in the first row where it
 * clears the others, starting at its x, or ending there when starting would cross ``max``.
 */
export function stack(labels, max) {
  const rows = [];
  return labels.map((label) => {
    const width = textWidth(label.text);
    const left = label.x + 3 + width <= max ? label.x + 3 : label.x - 3 - width;
    const right = left + width;
    let row = rows.findIndex((row) => row.every((other) => right + GAP <= other.left || left >= other.right + GAP));
    if (row < 0) row = rows.push([]) - 1;
    rows[row].push({ left, right });
    return { ...label, left, row };
  });
}
