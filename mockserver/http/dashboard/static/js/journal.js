// The journal: what clients sent and got back, newest first, filtered by status, path or task.

import { get } from "./api.js";
import { h, replace, clockTime, statusClass } from "./dom.js";

const SHOWN = 200;

/** "503", "5xx", "4xx", "0" (dropped), or empty for any. */
function statusMatches(filter, status) {
  const wanted = filter.trim().toLowerCase();
  if (!wanted) return true;
  if (/^[1-5]xx$/.test(wanted)) return Math.floor(status / 100) === Number(wanted[0]);
  return String(status) === wanted;
}

export function createJournal(root, { onOpen }) {
  const filters = { status: "", path: "", task: "" };
  const input = (name, placeholder) => h("input", {
    id: `journal-${name}`, type: "search", placeholder,
    on: { input: (e) => { filters[name] = e.target.value; draw(); } },
  });
  const count = h("p", { class: "count" });
  const body = h("tbody");
  replace(root,
    h("div", { class: "filters" }, input("status", "status: 503, 5xx"), input("path", "path contains"), input("task", "task id contains")),
    count,
    h("table", { id: "journal-table" },
      h("thead", {}, h("tr", {}, ["Time", "Method", "Path", "Status", "ms", "Fault", "Body", "Task"].map((t) => h("th", { scope: "col" }, t)))),
      body));
  let entries = [];

  function draw() {
    const shown = entries.filter((e) => statusMatches(filters.status, e.status)
      && e.path.includes(filters.path) && (!filters.task || (e.task_id ?? "").includes(filters.task)));
    replace(count, `${Math.min(shown.length, SHOWN)} of ${entries.length} requests shown (this worker's journal)`);
    replace(body, shown.slice(0, SHOWN).map((e) => h("tr", { class: statusClass(e.status) },
      h("td", {}, clockTime(e.at)),
      h("td", {}, e.method),
      h("td", { class: "path" }, e.path),
      h("td", { class: "status" }, e.status === 0 ? "dropped" : e.status),
      h("td", {}, e.ms),
      h("td", {}, e.fault ?? ""),
      h("td", { class: "body" }, e.body ? h("pre", {}, e.body + (e.truncated ? " …(cut at 2 KiB)" : "")) : ""),
      h("td", {}, e.task_id
        ? h("button", { type: "button", class: "open", on: { click: () => onOpen(e.task_id) } }, "timeline")
        : ""),
    )));
  }

  return {
    async refresh() {
      entries = (await get("/_mock/journal?limit=1000")).json.entries.reverse();
      draw();
    },
  };
}
