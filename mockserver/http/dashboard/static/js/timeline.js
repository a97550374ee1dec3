// One task: its timeline with the client's polls marked, the JSON a poll gets now, its outputs
// with a preview, and the form that forces its state.

import { get } from "./api.js";
import { timelineChart } from "./charts.js";
import { answerBox, forceStateForm } from "./control.js";
import { h, replace, safeUrl, clockTime, statusClass } from "./dom.js";
import { modeOf, scenarioOf } from "./tasks.js";

const PLAYERS = { images: "img", videos: "video", audio: "audio" };

function outputsOf(view) {
  const data = view?.data ?? {};
  if (Array.isArray(data.outputs)) return data.outputs;
  return data.output ? [data.output] : [];
}

function preview(scope, url) {
  const safe = safeUrl(url);
  if (safe === null) return h("li", {}, url);
  const tag = PLAYERS[scope] ?? "a";
  const player = tag === "img"
    ? h("img", { src: safe, alt: "output preview" })
    : h(tag, { src: safe, controls: true, preload: "metadata" });
  return h("li", {}, h("a", { href: safe, target: "_blank", rel: "noopener noreferrer" }, safe), player);
}

export function createTimeline(root, context) {
  let open = null;
  let parts = null;
  let shown = { outputs: "", status: "" };

  function skeleton(taskId) {
    parts = {
      facts: h("p", { class: "facts" }),
      chart: h("div", { class: "timeline" }),
      times: h("p", { class: "facts" }),
      polls: h("ul", { class: "polls" }),
      json: h("pre", { id: "detail-json" }),
      force: h("div"),
      forced: answerBox(),
      outputs: h("ul", { id: "detail-outputs" }),
      error: h("pre", { class: "error", hidden: true }),
    };
    replace(root,
      h("div", { class: "detail-head" },
        h("h2", {}, "Task ", h("code", { id: "detail-id" }, taskId)),
        h("button", { type: "button", on: { click: () => close() } }, "Close")),
      parts.error, parts.facts, parts.chart, parts.times, parts.polls,
      h("h3", {}, "As a poll sees it now"), parts.json,
      h("h3", {}, "Force its state"), parts.force, parts.forced,
      h("h3", {}, "Outputs"), parts.outputs);
  }

  async function refresh() {
    if (open === null) return;
    const taskId = open;
    let answer;
    try {
      answer = (await get(`/_mock/ui/api/tasks/${encodeURIComponent(taskId)}`)).json;
    } catch (error) {
      if (open === taskId) replace(parts.error, error.text ?? String(error)).hidden = false;
      return;
    }
    if (open !== taskId) return;
    const { task, view, requests, time } = answer;
    // Polls only: the submit is the "submitted" mark, and output downloads (this page's previews too) are not polls.
    const polls = requests.filter((r) => r.method === "GET" && r.path.startsWith("/v2/"));
    parts.error.hidden = true;
    replace(parts.facts,
      `${task.status} · ${task.scope} · ${task.model} · mode ${modeOf(task)} · scenario ${scenarioOf(task)} · key ${task.key}`);
    replace(parts.chart, timelineChart(parts.chart.clientWidth, task.times, polls, time));
    // A moment still to come is the plan, and said so.
    const when = (past, coming, at) => (at !== null && at > time ? `${coming} ${clockTime(at)} (planned)` : `${past} ${clockTime(at)}`);
    replace(parts.times, `submitted ${clockTime(task.times.submitted)} · ${when("started", "starts", task.times.started)}`
      + ` · ${when("finished", "finishes", task.times.finished)} · ${polls.length} polls in this worker's journal`);
    replace(parts.polls, polls.slice(-20).map((p) => h("li", { class: statusClass(p.status) },
      `${clockTime(p.at)} ${p.status === 0 ? "dropped" : p.status}${p.fault ? ` (fault ${p.fault})` : ""}`)));
    replace(parts.json, view === null ? "null: polls answer 404 now" : JSON.stringify(view, null, 2));
    // The form and the players are rebuilt only when they must be, so neither a choice being made
    // nor a playing preview is undone every second.
    if (shown.status !== task.status) replace(parts.force, forceStateForm(context, task, parts.forced));
    const outputs = outputsOf(view);
    const key = JSON.stringify(outputs);
    if (shown.outputs !== key) {
      replace(parts.outputs, outputs.length ? outputs.map((u) => preview(task.scope, u)) : h("li", {}, "no outputs yet"));
    }
    shown = { outputs: key, status: task.status };
  }

  function close() {
    open = null;
    root.hidden = true;
    root.replaceChildren();
  }

  return {
    refresh,
    async show(taskId) {
      open = taskId;
      shown = { outputs: "", status: "" };
      skeleton(taskId);
      root.hidden = false;
      await refresh();
    },
  };
}
