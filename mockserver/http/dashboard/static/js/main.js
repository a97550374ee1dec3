// Start-up and the refresh loop: log in, switch views, poll what is on screen about once a second.

import { adminKey, get, onRefused } from "./api.js";
import { renderControl } from "./control.js";
import { replace } from "./dom.js";
import { createJournal } from "./journal.js";
import { createOverview } from "./overview.js";
import { createTaskTable } from "./tasks.js";
import { createTimeline } from "./timeline.js";

const TICK_MS = 1000;
const $ = (id) => document.getElementById(id);
const VIEWS = ["overview", "tasks", "journal", "control"];

/** What the page shows of the whole, said plainly: one worker's view is never passed off as all. */
export function workerNote(worker) {
  if (!worker) return "";
  const who = `Worker pid ${worker.pid}`;
  if (worker.workers <= 1) return `${who}, the only worker: this is everything.`;
  if (worker.shared_store) {
    return `${who}, one of ${worker.workers}. Tasks: every worker's (shared store). `
      + "Journal, faults and request charts: this worker's only.";
  }
  return `${who}, one of ${worker.workers}, without a shared store: tasks, journal, faults and charts `
    + "are this worker's only. Start the mock with --store sqlite:PATH to see every worker's tasks.";
}

function start() {
  let view = "tasks";
  let etag = null;
  let timer = null;
  const detail = $("task-detail");
  const context = { forms: null, refresh: () => tick() };
  const timeline = createTimeline(detail, context);
  const openTask = (taskId) => { show("tasks"); timeline.show(taskId); };
  const table = createTaskTable($("tasks-list"), { onOpen: openTask });
  const journal = createJournal($("view-journal"), { onOpen: openTask });
  const overview = createOverview($("view-overview"));
  let control = null;

  function show(name) {
    view = name;
    for (const other of VIEWS) $(`view-${other}`).hidden = other !== name;
    for (const button of $("tabs").querySelectorAll("button")) button.setAttribute("aria-current", String(button.dataset.view === name));
    tick();
  }

  async function tick() {
    clearTimeout(timer);
    try {
      const answer = await get("/_mock/ui/api/tasks", { etag });
      if (answer.status === 304) {
        table.update(null, answer.time);
      } else {
        etag = answer.etag;
        table.update(answer.json.tasks, answer.time);
        const note = $("worker");
        replace(note, workerNote(answer.json.worker)).hidden = false;
        note.dataset.pid = answer.json.worker.pid;
      }
      if (view === "tasks") await timeline.refresh();
      if (view === "journal") await journal.refresh();
      if (view === "overview") await overview.refresh();
      if (view === "control") await control?.refresh();
    } catch (error) {
      if (error.status === 401) return;  // logged out by onRefused
      console.warn("refresh failed", error.status ?? "");
    }
    if (adminKey.get()) timer = setTimeout(tick, TICK_MS);
  }

  return {
    async enter() {
      $("login").hidden = true;
      $("tabs").hidden = false;
      $("logout").hidden = false;
      context.forms = (await get("/_mock/ui/api/forms")).json;
      control = renderControl($("view-control"), context,
        "Each change reaches the worker that answers it; with several workers, faults and resets are that worker's.");
      show(view);
    },
    leave() {
      clearTimeout(timer);
      etag = null;
    },
    show,
  };
}

function main() {
  const app = start();
  const error = $("login-error");

  function loggedOut(message) {
    adminKey.clear();
    app.leave();
    for (const name of VIEWS) $(`view-${name}`).hidden = true;
    $("tabs").hidden = true;
    $("logout").hidden = true;
    $("worker").hidden = true;
    $("login").hidden = false;
    if (message) replace(error, message).hidden = false;
  }

  onRefused((text) => loggedOut(text));
  $("logout").addEventListener("click", () => loggedOut(""));
  for (const button of $("tabs").querySelectorAll("button")) button.addEventListener("click", () => app.show(button.dataset.view));
  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = $("login-key").value;
    try {
      await get("/_mock/health", { key });
    } catch (refusal) {
      replace(error, refusal.text ?? String(refusal)).hidden = false;
      return;
    }
    error.hidden = true;
    $("login-key").value = "";
    adminKey.set(key);
    app.enter().catch((failure) => replace(error, failure.text ?? String(failure)).hidden = false);
  });
  if (adminKey.get()) app.enter().catch(() => {});  // a stale key: onRefused has logged out
}

main();
