// The control panel: one entry per form in FORMS. Each form checks what the admin API checks, read
// from the same schemas (GET /_mock/ui/api/forms), and shows the API's answer, or its refusal, verbatim.
// A new admin endpoint (scenario rules, say) is one more entry: {id, title, build(context)}.

import { call, get } from "./api.js";
import { h, replace } from "./dom.js";

/** Sends a request and writes the answer's body, or the refusal's, into ``out`` exactly as it came. */
async function send(out, method, path, body) {
  out.hidden = false;
  try {
    const answer = await call(method, path, { body });
    out.className = "answer";
    replace(out, JSON.stringify(answer.json, null, 2));
    return answer;
  } catch (error) {
    out.className = "answer error";
    replace(out, error.text ?? String(error));
    return null;
  }
}

export const answerBox = () => h("pre", { class: "answer", role: "status", hidden: true });

/**
 * Force a state: the choices are the moves lifecycle.json allows from the task's state, when it is known.
 * ``out`` is where the answer goes; the timeline keeps its own, since it rebuilds the form as the state moves.
 */
export function forceStateForm(context, task = null, out = answerBox()) {
  const { states, transitions, fail_reasons: reasons } = context.forms;
  const allowed = task ? [task.status, ...transitions[task.status]] : states;
  const id = h("input", { name: "task_id", required: true, placeholder: "task id", value: task?.task_id ?? "", spellcheck: "false" });
  const status = h("select", { name: "status", required: true }, allowed.map((s) => h("option", { value: s }, s)));
  const reason = h("select", { name: "fail_reason" }, reasons.map((r) => h("option", { value: r }, r)));
  const reasonLabel = h("label", { hidden: true }, "fail_reason ", reason);
  status.addEventListener("change", () => { reasonLabel.hidden = status.value !== "FAILURE"; });
  const form = h("form", { class: "force-state", on: { submit: async (event) => {
    event.preventDefault();
    if (!form.reportValidity()) return;
    const body = { status: status.value };
    if (status.value === "FAILURE") body.fail_reason = reason.value;
    await send(out, "POST", `/_mock/tasks/${encodeURIComponent(id.value.trim())}/state`, body);
    context.refresh();
  } } },
  task ? null : h("label", {}, "task ", id),
  h("label", {}, "status ", status), reasonLabel,
  h("button", { type: "submit" }, task ? "Force" : "Force state"), out.isConnected ? null : out);
  if (task && transitions[task.status].length === 0) status.disabled = true;
  return form;
}

/** One input per property of the faults schema, with its bounds, so the browser refuses what the API would. */
function faultInput(name, rule, current) {
  if (rule.type === "boolean") return h("input", { type: "checkbox", name, checked: Boolean(current) });
  if (rule.type === "number" || rule.type === "integer") {
    return h("input", {
      type: "number", name, min: rule.minimum, max: rule.maximum, step: rule.type === "integer" ? 1 : "any",
      value: current ?? "", placeholder: "absent",
    });
  }
  // Anything else (latency: a number or a distribution table) is typed as JSON.
  return h("input", { type: "text", name, value: current === undefined ? "" : JSON.stringify(current), placeholder: "JSON, or empty", spellcheck: "false" });
}

function faultsForm(context) {
  const { properties } = context.forms.faults;
  const out = answerBox();
  const fields = h("div", { class: "fields" });
  const form = h("form", { id: "faults-form", on: { submit: async (event) => {
    event.preventDefault();
    if (!form.reportValidity()) return;
    const body = {};
    for (const [name, rule] of Object.entries(properties)) {
      const input = form.elements[name];
      if (rule.type === "boolean") body[name] = input.checked;
      else if (input.value.trim() === "") continue;
      else if (rule.type === "number" || rule.type === "integer") body[name] = Number(input.value);
      else {
        try { body[name] = JSON.parse(input.value); } catch { replace(out, `${name}: not JSON`).hidden = false; out.className = "answer error"; return; }
      }
    }
    await send(out, "PUT", "/_mock/faults", body);
  } } }, fields, h("button", { type: "submit" }, "Set faults"), out);

  get("/_mock/faults").then(({ json }) => {
    replace(fields, Object.entries(properties).map(([name, rule]) =>
      h("label", { title: rule.description ?? "" }, h("span", {}, name), faultInput(name, rule, json[name]))));
  }, (error) => { replace(out, error.text ?? String(error)).hidden = false; });
  return form;
}

function resetForm(context) {
  const out = answerBox();
  const form = h("form", { id: "reset-form", on: { submit: async (event) => {
    event.preventDefault();
    if (!window.confirm("Forget every task, the journal and the faults set at run time?")) return;
    await send(out, "POST", "/_mock/reset");
    context.refresh();
  } } }, h("p", {}, "Forgets every task (their ids stop working), the journal and run-time faults."),
  h("button", { type: "submit", class: "danger" }, "Reset the mock"), out);
  return form;
}

export const FORMS = [
  { id: "force", title: "Force a task's state", build: (context) => forceStateForm(context) },
  { id: "faults", title: "Faults", build: faultsForm },
  { id: "reset", title: "Reset", build: resetForm },
];

export function renderControl(root, context, scopeNote) {
  replace(root, h("p", { class: "note" }, scopeNote),
    FORMS.map((form) => h("section", { class: "control", id: `control-${form.id}` }, h("h2", {}, form.title), form.build(context))));
}
