// The overview: tasks by state over time, requests per second, latency percentiles, faults injected.

import { get } from "./api.js";
import { barChart, lineChart } from "./charts.js";
import { h, replace } from "./dom.js";

export function createOverview(root) {
  return {
    async refresh() {
      const data = (await get("/_mock/ui/api/overview")).json;
      const states = Object.entries(data.states).map(([name, values]) => ({ name, values }));
      const latency = Object.entries(data.latency_ms).map(([name, values]) => ({ name, values }));
      replace(root,
        h("p", { class: "note" }, "The last minute of the mock's clock. Tasks: the newest 500 listed; "
          + "requests, latency and faults: this worker's journal."),
        h("div", { class: "charts" },
          lineChart("Tasks by state", data.times, states),
          lineChart("Requests per second", data.times, [{ name: "req/s", values: data.rps }]),
          lineChart("Latency (ms)", data.times, latency, " ms"),
          barChart("Faults injected (in the journal)", Object.entries(data.faults))));
    },
  };
}
