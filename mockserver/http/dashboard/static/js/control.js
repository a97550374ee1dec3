// The control panel: one entry per form in FORMS. Each form is laid out from the schemas the admin API
// checks (GET /_mock/ui/api/forms), and shows the API's answer, or its refusal, verbatim.
// A new admin endpoint is one more entry: {id, title, build(context)}, build giving a node, or
// {node, refresh} for a form that lists what is in play.

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

/** What a rule plays for and narrows to, as the admin API lists it. */
function ruleCells(rule, alternatives) {
  const plays = alternatives.filter((name) => name in rule).map((name) => `${name} ${rule[name]}`);
  const narrowed = ["scope", "model", "key"].filter((name) => name in rule).map((name) => `${name} ${rule[name]}`);
  return [plays.join(", "), narrowed.join(", ") || "every submit"];
}

/**
 * Scenario rules (POST /_mock/rules): an input per property of mock-rule.json, the schema's oneOf as a
 * choice between its alternatives, and the rules in play under it. Nothing is checked here: the admin
 * API's refusal, shown verbatim, says what is wrong.
 */
function rulesForm(context) {
  const { properties, one_of: alternatives } = context.forms.rule;
  const out = answerBox();
  const listing = h("tbody");
  let shown = null;
  const clear = h("button", { type: "button", class: "danger", hidden: true, on: { click: async () => {
    await send(out, "DELETE", "/_mock/rules");
    await refresh();
  } } }, "Remove every rule");
  const kind = h("select", { name: "kind" }, alternatives.map((name) => h("option", { value: name, title: properties[name].description }, name)));
  const amount = h("input", { type: "number", name: "amount", step: "any", placeholder: "count, share", inputmode: "decimal" });
  const inputs = Object.entries(properties).filter(([name]) => !alternatives.includes(name)).map(([name, rule]) => {
    const input = rule.enum
      ? h("select", { name }, h("option", { value: "" }, `any ${name}`), rule.enum.map((value) => h("option", { value }, value)))
      : h("input", { type: "text", name, placeholder: name === "scenario" ? "stuck, fail-quota" : `any ${name}`, spellcheck: "false" });
    return h("label", { title: rule.description ?? "" }, h("span", {}, name), input);
  });
  const form = h("form", { id: "rules-form", on: { submit: async (event) => {
    event.preventDefault();
    const body = {};
    for (const [name, rule] of Object.entries(properties)) {
      const input = form.elements[name];
      if (input && input.value.trim() !== "") body[name] = rule.type === "integer" || rule.type === "number" ? Number(input.value) : input.value;
    }
    if (amount.value.trim() !== "") body[kind.value] = Number(amount.value);
    if (await send(out, "POST", "/_mock/rules", body)) await refresh();
  } } },
  h("div", { class: "fields" }, inputs.slice(0, 1),
    h("label", { title: alternatives.map((name) => `${name}: ${properties[name].description}`).join("\n") }, h("span", {}, "plays for"), h("span", { class: "pair" }, kind, amount)),
    inputs.slice(1)),
  h("button", { type: "submit" }, "Add rule"), out);

  async function refresh() {
    let rules;
    try {
      rules = (await get("/_mock/rules")).json.rules;
    } catch (error) {
      replace(out, error.text ?? String(error)).hidden = false;
      return;
    }
    const said = JSON.stringify(rules);
    if (said === shown) return;  // unchanged: a button being clicked stays where it is
    shown = said;
    clear.hidden = rules.length === 0;
    replace(listing, rules.length ? rules.map((rule) => h("tr", { dataset: { rule: rule.id } },
      h("td", {}, rule.id), h("td", { class: "scenario" }, rule.scenario), ruleCells(rule, alternatives).map((cell) => h("td", {}, cell)),
      h("td", {}, rule.played),
      h("td", {}, h("button", { type: "button", class: "remove", on: { click: async () => {
        await send(out, "DELETE", `/_mock/rules/${rule.id}`);
        await refresh();
      } } }, "Remove")))) : h("tr", {}, h("td", { colspan: 6, class: "note" }, "No rules: every submit plays its header's scenario, or the default.")));
  }

  refresh();
  const table = h("table", { id: "rules-table" },
    h("thead", {}, h("tr", {}, ["#", "Scenario", "Plays for", "Narrowed to", "Played", ""].map((t) => h("th", { scope: "col" }, t)))),
    listing);
  return { node: [h("p", { class: "note" }, "Which submits play a scenario without sending X-Mock-Scenario. "
    + "Rules are tried in the order added; the first that matches and fires decides."), form, table, clear], refresh };
}

// Everything POST /_mock/reset clears (Service.reset), said in full before it is done.
const RESETS = "every task (their ids stop working), the journal, the scenario rules, the callbacks still due, "
  + "and the faults set at run time (back to the config's)";

function resetForm(context) {
  const out = answerBox();
  const form = h("form", { id: "reset-form", on: { submit: async (event) => {
    event.preventDefault();
    if (!window.confirm(`Forget ${RESETS}?`)) return;
    await send(out, "POST", "/_mock/reset");
    context.refresh();
  } } }, h("p", {}, `Forgets ${RESETS}. Fault and rule draws start again from the seed.`),
  h("button", { type: "submit", class: "danger" }, "Reset the mock"), out);
  return form;
}

export const FORMS = [
  { id: "force", title: "Force a task's state", build: (context) => forceStateForm(context) },
  { id: "rules", title: "Scenario rules", build: rulesForm },
  { id: "faults", title: "Faults", build: faultsForm },
  { id: "reset", title: "Reset", build: resetForm },
];

/** Lays out every form; returns what refreshes those that show the mock's state (the rules in play). */
export function renderControl(root, context, scopeNote) {
  const built = FORMS.map((form) => ({ form, made: form.build(context) }));
  replace(root, h("p", { class: "note" }, scopeNote),
    built.map(({ form, made }) => h("section", { class: "control", id: `control-${form.id}` },
      h("h2", {}, form.title), made.node ?? made)));
  return { refresh: () => Promise.all(built.map(({ made }) => made.refresh?.())) };
}
