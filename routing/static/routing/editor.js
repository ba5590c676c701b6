/* The routing draft's form view: rules as cards of fields, built from the JSON view and written
   back into it on every change, so the forms and the JSON view save the same thing (one
   textarea, one save, one server check). No build step, no framework. */
(function () {
  "use strict";
  const source = document.getElementById("id_content");
  const root = document.getElementById("rule-forms");
  const choicesTag = document.getElementById("routing-choices");
  if (!source || !root || !choicesTag) return;
  const choices = JSON.parse(choicesTag.textContent);
  // The server's errors from the last save, by path (rules[1].when.all[0].value): each is
  // shown on the rule and row it belongs to.
  const errorsTag = document.getElementById("routing-errors");
  const errors = errorsTag ? JSON.parse(errorsTag.textContent) : [];
  function errorsAt(path, exact) {
    const found = errors.filter((e) => (exact ? e.path === path || e.path.startsWith(path + ".value") || e.path.startsWith(path + ".op") || e.path.startsWith(path + ".field") : e.path === path));
    return found.length
      ? el("span", { class: "errorlist lo-error" }, found.map((e) => e.message).join(" "))
      : "";
  }
  const LISTS = new Set(["in", "domain_in"]);
  const NUMBERS = new Set(["gt", "gte", "lt", "lte"]);
  const BOOLEANS = new Set(["exists", "within_business_hours"]);

  let content;
  try {
    content = JSON.parse(source.value);
  } catch (e) {
    root.textContent = "The JSON view does not parse; fix it there first.";
    return;
  }
  if (!Array.isArray(content.rules)) content.rules = [];

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    });
    children.flat().forEach((c) => node.append(c));
    return node;
  }
  function select(options, value, onchange, label) {
    const s = el("select", { "aria-label": label, onchange: (e) => onchange(e.target.value) });
    options.forEach(([v, text]) => {
      const o = el("option", { value: v }, text);
      if (v === value) o.selected = true;
      s.append(o);
    });
    return s;
  }
  function input(value, onchange, attrs) {
    const i = el("input", Object.assign({ type: "text" }, attrs || {}));
    i.value = value === undefined || value === null ? "" : value;
    i.addEventListener("change", (e) => onchange(e.target.value));
    return i;
  }
  function button(text, onclick, cls) {
    return el("button", { type: "button", class: "button " + (cls || ""), onclick }, text);
  }
  function write() {
    source.value = JSON.stringify(content, null, 2);
  }
  function changed() {
    write();
    render();
  }
  function move(list, i, by) {
    const j = i + by;
    if (j < 0 || j >= list.length) return;
    [list[i], list[j]] = [list[j], list[i]];
    changed();
  }

  // --- values -------------------------------------------------------------------------------
  function shownValue(leaf) {
    if (LISTS.has(leaf.op)) return (leaf.value || []).join(", ");
    if (BOOLEANS.has(leaf.op)) return leaf.value ? "true" : "false";
    return leaf.value === undefined ? "" : String(leaf.value);
  }
  function readValue(op, text, field) {
    if (LISTS.has(op)) return text.split(",").map((t) => t.trim()).filter(Boolean);
    if (BOOLEANS.has(op)) return text === "true";
    const numeric = NUMBERS.has(op) || field === "score" || field === "hour";
    if (numeric && text.trim() !== "" && !isNaN(Number(text))) return Number(text);
    return text;
  }

  // --- conditions -----------------------------------------------------------------------------
  // A node is {all:[…]}, {any:[…]}, {not: node} or a leaf; `set` replaces it in its parent.
  function nodeEditor(node, set, remove, depth, path) {
    if (node && node.not) {
      return el("div", { class: "lo-not" },
        el("span", { class: "lo-not-label" }, "not"),
        nodeEditor(node.not, (n) => { node.not = n; }, remove, depth, path + ".not"),
        button("drop the not", () => { set(node.not); changed(); }, "lo-small"));
    }
    if (node && (node.all || node.any)) return groupEditor(node, set, remove, depth, path);
    return leafEditor(node || {}, set, remove, path);
  }
  function groupEditor(node, set, remove, depth, path) {
    const kind = node.all ? "all" : "any";
    const list = node[kind];
    const box = el("fieldset", { class: "lo-group", "data-depth": depth },
      el("legend", {},
        select([["all", "all of"], ["any", "any of"]], kind, (v) => {
          node[v] = list; delete node[v === "all" ? "any" : "all"]; changed();
        }, "group kind")));
    list.forEach((child, i) => {
      box.append(el("div", { class: "lo-row" },
        nodeEditor(child, (n) => { list[i] = n; }, () => { list.splice(i, 1); changed(); }, depth + 1, `${path}.${kind}[${i}]`),
        button("↑", () => move(list, i, -1), "lo-small"),
        button("↓", () => move(list, i, 1), "lo-small")));
    });
    box.append(el("div", { class: "lo-add" },
      button("+ condition", () => { list.push({ field: "country", op: "eq", value: "" }); changed(); }, "lo-small add-condition"),
      depth < 7 ? button("+ group", () => { list.push({ any: [{ field: "country", op: "eq", value: "" }] }); changed(); }, "lo-small add-group") : "",
      button("not", () => { set({ not: node }); changed(); }, "lo-small"),
      remove ? button("remove group", remove, "lo-small lo-danger") : ""));
    return box;
  }
  function leafEditor(leaf, set, remove, path) {
    const fields = choices.fields.map((f) => [f, f.replace("_", " ")]);
    const isAttribute = (leaf.field || "").startsWith("attributes.");
    const row = el("span", { class: "lo-leaf" });
    if (leaf.op !== "within_business_hours") {
      row.append(select([...fields, ["attributes.", "attribute…"]], isAttribute ? "attributes." : leaf.field,
        (v) => { leaf.field = v === "attributes." ? "attributes.key" : v; changed(); }, "field"));
      if (isAttribute) row.append(input(leaf.field.slice(11), (v) => { leaf.field = "attributes." + v; changed(); }, { size: 10, "aria-label": "attribute" }));
    }
    row.append(select(choices.operators.map((o) => [o, o]), leaf.op, (v) => {
      leaf.op = v;
      if (v === "within_business_hours") delete leaf.field;
      else if (!leaf.field) leaf.field = "country";
      leaf.value = readValue(v, shownValue(leaf), leaf.field);
      changed();
    }, "operator"));
    if (BOOLEANS.has(leaf.op)) {
      row.append(select([["true", "yes"], ["false", "no"]], shownValue(leaf), (v) => { leaf.value = v === "true"; changed(); }, "value"));
    } else {
      const list = choices.values[leaf.field];
      const attrs = { size: 24, "aria-label": "value", placeholder: LISTS.has(leaf.op) ? "a, b, c" : "value" };
      if (list) attrs.list = "values-" + leaf.field;
      row.append(input(shownValue(leaf), (v) => { leaf.value = readValue(leaf.op, v, leaf.field); changed(); }, attrs));
    }
    row.append(button("not", () => { set({ not: leaf }); changed(); }, "lo-small"));
    if (remove) row.append(button("×", remove, "lo-small lo-danger"));
    row.append(errorsAt(path, true));
    return row;
  }

  // --- actions ------------------------------------------------------------------------------
  function actionsEditor(then) {
    const opt = (list) => [["", "—"], ...list.map((v) => [v, v])];
    const setKey = (key, v) => { if (v === "" || v === undefined) delete then[key]; else then[key] = v; changed(); };
    const listKey = (key, v) => setKey(key, v.split(",").map((t) => t.trim()).filter(Boolean).length ? v.split(",").map((t) => t.trim()).filter(Boolean) : "");
    return el("div", { class: "lo-actions" },
      el("label", {}, "team ", select(opt(choices.teams), then.team || "", (v) => setKey("team", v), "team")),
      el("label", {}, " pick ", select(opt(choices.picks), then.pick || "", (v) => setKey("pick", v), "pick")),
      el("label", {}, " when closed ", select(opt(choices.when_closed), then.when_closed || "", (v) => setKey("when_closed", v), "when closed")),
      el("label", {}, " or person ", select(opt(choices.people), then.owner || "", (v) => setKey("owner", v), "owner")),
      el("label", {}, " status ", select(opt(choices.statuses), then.status || "", (v) => setKey("status", v), "status")),
      el("label", {}, " tags ", input((then.tags || []).join(", "), (v) => listKey("tags", v), { size: 12, "aria-label": "tags" })),
      el("label", {}, " notify ", input((then.notify || []).join(", "), (v) => listKey("notify", v), { size: 12, "aria-label": "notify" })),
      el("label", {}, " exception ", input(then.exception || "", (v) => setKey("exception", v), { size: 20, "aria-label": "exception" })));
  }

  // Errors about the rule itself or its actions (the rows show their own).
  function ruleErrors(i) {
    const mine = errors.filter((e) => e.path.startsWith(`rules[${i}]`) && !e.path.startsWith(`rules[${i}].when`));
    return mine.length ? el("ul", { class: "errorlist" }, mine.map((e) => el("li", {}, `${e.path}: ${e.message}`))) : "";
  }

  function ruleCard(rule, i) {
    rule.then = rule.then || {};
    const card = el("div", { class: "lo-rule", "data-rule": rule.id },
      el("div", { class: "lo-rule-head" },
        el("strong", {}, `Rule ${i + 1} `),
        input(rule.id, (v) => { rule.id = v; changed(); }, { size: 14, "aria-label": "rule id" }),
        input(rule.name || "", (v) => { if (v) rule.name = v; else delete rule.name; changed(); }, { size: 30, placeholder: "name (optional)", "aria-label": "rule name" }),
        button("↑", () => move(content.rules, i, -1), "lo-small"),
        button("↓", () => move(content.rules, i, 1), "lo-small"),
        button("remove rule", () => { content.rules.splice(i, 1); changed(); }, "lo-small lo-danger")),
      el("div", { class: "lo-when" }, rule.when && Object.keys(rule.when).length ? "If " : "",
        rule.when && Object.keys(rule.when).length
          ? nodeEditor(rule.when, (n) => { rule.when = n; }, () => { delete rule.when; changed(); }, 0, `rules[${i}].when`)
          : el("span", {}, "Always ", button("+ condition", () => { rule.when = { all: [{ field: "country", op: "eq", value: "" }] }; changed(); }, "lo-small add-condition"))),
      el("div", {}, "→ ", actionsEditor(rule.then)),
      ruleErrors(i));
    return card;
  }

  // Fixture leads beside the rules: a name, the lead as field=value pairs, the moment, and the
  // rule and team it must get.
  function fixturesEditor() {
    content.fixtures = content.fixtures || [];
    const list = content.fixtures;
    const ids = [["", "no rule"], ...content.rules.map((r) => [r.id, r.id])];
    const teams = [["", "—"], ...choices.teams.map((t) => [t, t])];
    const pairs = (lead) => Object.entries(lead || {}).filter(([k]) => k !== "attributes").map(([k, v]) => `${k}=${v}`).join(", ");
    const parse = (text) => {
      const lead = {};
      text.split(",").map((p) => p.trim()).filter(Boolean).forEach((p) => {
        const [k, ...rest] = p.split("=");
        const v = rest.join("=").trim();
        lead[k.trim()] = k.trim() === "score" && v !== "" && !isNaN(Number(v)) ? Number(v) : v;
      });
      return lead;
    };
    const rows = list.map((f, i) => {
      f.expect = f.expect || {};
      return el("div", { class: "lo-fixture" },
        input(f.name || "", (v) => { f.name = v; changed(); }, { size: 16, placeholder: "name", "aria-label": "fixture name" }),
        input(pairs(f.lead), (v) => { f.lead = parse(v); changed(); }, { size: 34, placeholder: "country=DE, score=70", "aria-label": "fixture lead" }),
        input(f.at || "", (v) => { if (v) f.at = v; else delete f.at; changed(); }, { size: 20, placeholder: "at (2026-12-07T10:00:00+01:00)", "aria-label": "fixture at" }),
        " expects ",
        select(ids, f.expect.rule === undefined ? "" : f.expect.rule || "", (v) => { f.expect.rule = v || null; changed(); }, "expected rule"),
        select(teams, f.expect.team || "", (v) => { if (v) f.expect.team = v; else delete f.expect.team; changed(); }, "expected team"),
        button("×", () => { list.splice(i, 1); if (!list.length) delete content.fixtures; changed(); }, "lo-small lo-danger"),
        errorsAt(`fixtures[${i}]`, true));
    });
    const box = el("fieldset", { class: "lo-fixtures" }, el("legend", {}, "Fixture leads"), ...rows,
      button("+ fixture", () => { content.fixtures = list; list.push({ name: `fixture ${list.length + 1}`, lead: { country: "" }, expect: { rule: content.rules.length ? content.rules[0].id : null } }); changed(); }, "lo-small add-fixture"));
    if (!list.length) delete content.fixtures;
    return box;
  }

  function render() {
    root.replaceChildren(
      ...content.rules.map(ruleCard),
      fixturesEditor(),
      button("+ rule", () => {
        let n = content.rules.length + 1;
        while (content.rules.some((r) => r.id === "rule-" + n)) n += 1;
        content.rules.push({ id: "rule-" + n, then: { team: choices.teams[0] || "" } });
        changed();
      }, "add-rule"));
  }
  // The JSON view stays the other way in: editing it and leaving it rebuilds the forms.
  source.addEventListener("change", () => {
    try {
      content = JSON.parse(source.value);
      if (!Array.isArray(content.rules)) content.rules = [];
      render();
    } catch (e) { /* the server names the problem on save */ }
  });
  render();
})();
