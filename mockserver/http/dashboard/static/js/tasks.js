// The live task table: filter and sort by state, scope, model and key; a click opens the timeline.

import { h, replace, age } from "./dom.js";

const COLUMNS = [
  ["status", "State"],
  ["progress", "Progress"],
  ["scope", "Scope"],
  ["model", "Model"],
  ["mode", "Mode"],
  ["scenario", "Scenario"],
  ["key", "Key"],
  ["age", "Age"],
  ["task_id", "Task"],
];
const SORTABLE = new Set(["status", "scope", "model", "key", "age", "progress"]);
const STATES = ["NOT_START", "SUBMITTED", "QUEUED", "IN_PROGRESS", "SUCCESS", "FAILURE"];

/** The mode, where the admin API's record has one (an action or platform), else a dash. */
export function modeOf(task) {
  return task.mode ?? task.action ?? task.platform ?? "—";
}

export function scenarioOf(task) {
  return task.outcome && task.outcome !== "success" ? `${task.behaviour} → ${task.outcome}` : task.behaviour;
}

function value(task, column, now) {
  switch (column) {
    case "age": return now - task.submitted_at;
    case "status": return STATES.indexOf(task.status);
    case "progress": return task.progress ?? -1;
    default: return String(task[column] ?? "");
  }
}

export function createTaskTable(root, { onOpen }) {
  const filters = { status: "", scope: "", model: "", key: "" };
  const sort = { column: "age", descending: false };
  let last = { tasks: [], time: 0 };

  const select = (name, options) =>
    h("select", { id: `filter-${name}`, on: { change: (e) => { filters[name] = e.target.value; draw(); } } },
      h("option", { value: "" }, `any ${name}`), options.map((o) => h("option", { value: o }, o)));
  const keySelect = select("key", []);
  const bar = h("div", { class: "filters" },
    select("status", STATES), select("scope", ["images", "videos", "audio"]),
    h("input", { id: "filter-model", type: "search", placeholder: "model", on: { input: (e) => { filters.model = e.target.value; draw(); } } }),
    keySelect);
  const count = h("p", { class: "count" });
  const body = h("tbody");
  const head = h("tr", {}, COLUMNS.map(([column, title]) =>
    h("th", { scope: "col" }, SORTABLE.has(column)
      ? h("button", { type: "button", class: "sort", dataset: { column }, on: { click: () => sortBy(column) } }, title)
      : title)));
  replace(root, bar, count, h("table", { id: "tasks-table" }, h("thead", {}, head), body));

  function sortBy(column) {
    sort.descending = sort.column === column ? !sort.descending : false;
    sort.column = column;
    draw();
  }

  function keep(task) {
    return (!filters.status || task.status === filters.status)
      && (!filters.scope || task.scope === filters.scope)
      && (!filters.model || task.model.includes(filters.model))
      && (!filters.key || task.key === filters.key);
  }

  function draw() {
    const { tasks, time } = last;
    const keys = [...new Set(tasks.map((t) => t.key))].sort();
    if (keys.join("\n") !== [...keySelect.options].slice(1).map((o) => o.value).join("\n")) {
      replace(keySelect, h("option", { value: "" }, "any key"), keys.map((k) => h("option", { value: k }, k)));
      keySelect.value = filters.key;
    }
    const shown = tasks.filter(keep);
    const sign = sort.descending ? -1 : 1;
    shown.sort((a, b) => {
      const [p, q] = [value(a, sort.column, time), value(b, sort.column, time)];
      return sign * (p < q ? -1 : p > q ? 1 : 0);
    });
    replace(count, `${shown.length} of ${tasks.length} tasks shown`);
    replace(body, shown.map((task) => h("tr", { dataset: { taskId: task.task_id }, class: `state-${task.status}` },
      h("td", { class: "status" }, task.status),
      h("td", { class: "progress" },
        task.progress === null ? "hidden" : [h("progress", { max: 100, value: task.progress }), ` ${task.progress}%`]),
      h("td", { class: "scope" }, task.scope),
      h("td", { class: "model" }, task.model),
      h("td", { class: "mode" }, modeOf(task)),
      h("td", { class: "scenario" }, scenarioOf(task)),
      h("td", { class: "key" }, task.key),
      h("td", { class: "age" }, age(time - task.submitted_at)),
      h("td", { class: "task" },
        h("button", { type: "button", class: "open", on: { click: () => onOpen(task.task_id) } }, `${task.task_id.slice(0, 8)}…`)),
    )));
  }

  return {
    /** A fresh snapshot, or only a new time (a 304: nothing else changed). */
    update(tasks, time) {
      last = { tasks: tasks ?? last.tasks, time: time ?? last.time };
      draw();
    },
  };
}
