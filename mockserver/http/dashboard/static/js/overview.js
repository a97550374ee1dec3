// The overview: tasks by state over time, requests per second, latency percentiles, faults injected.
// Each chart is drawn after its frame is on the page, at the width the frame has there.

import { get } from "./api.js";
import { barChart, figure, legendOf, lineChart } from "./charts.js";
import { h, replace } from "./dom.js";

export function createOverview(root) {
  return {
    async refresh() {
      const data = (await get("/_mock/ui/api/overview")).json;
      const states = Object.entries(data.states).map(([name, values]) => ({ name, values }));
      const latency = Object.entries(data.latency_ms).map(([name, values]) => ({ name, values }));
      const faults = Object.entries(data.faults);
      const charts = [
        ["Tasks by state", states.map((line) => line.name),
          (width, title) => lineChart(width, title, data.times, states, { integer: true })],
        ["Requests per second", null,
          (width, title) => lineChart(width, title, data.times, [{ name: "req/s", values: data.rps }])],
        ["Latency (ms)", latency.map((line) => line.name), (width, title) => lineChart(width, title, data.times, latency)],
        ["Faults injected (in the journal)", null, (width, title) => barChart(width, title, faults)],
      ].map(([title, names, draw]) => ({ title, draw, ...figure(title, names && legendOf(names)) }));
      replace(root,
        h("p", { class: "note" }, "The last minute of the mock's clock. Tasks: the newest 500 listed; "
          + "requests, latency and faults: this worker's journal."),
        h("div", { class: "charts" }, charts.map((chart) => chart.node)));
      for (const chart of charts) replace(chart.plot, chart.draw(chart.plot.clientWidth, chart.title));
    },
  };
}
