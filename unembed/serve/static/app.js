// unembed's pages: send the form, read the job's events (one JSON object per line) as they come, draw them.
// Text from the server (captions, file names, errors) is only ever set as textContent, never parsed as HTML.
"use strict";

const $ = (id) => document.getElementById(id);

function element(tag, text, attributes = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

function score(value) {
  return typeof value === "number" ? value.toFixed(3) : "–";
}

function ordinal(n) {
  const tail = n % 100 >= 11 && n % 100 <= 13 ? "th" : ({ 1: "st", 2: "nd", 3: "rd" }[n % 10] || "th");
  return `${n}${tail}`;
}

async function fillChoices() {
  const options = await (await fetch("/api/options")).json();
  const fill = (id, values, first) => {
    const select = $(id);
    if (!select) return;
    select.replaceChildren();
    if (first) select.append(element("option", first, { value: "" }));
    for (const value of values) select.append(element("option", value, { value }));
  };
  fill("space", options.spaces);
  fill("bank", options.banks, "the space's own captions");
  fill("generator", options.generators, "the space's default");
  if ($("steps")) $("steps").max = options.max_steps;
}

// One job at a time per page: its stream, and the button that cancels it.
let running = null;

async function runJob(url, body, on) {
  if (running) running.abort();
  const controller = new AbortController();
  running = controller;
  const submit = document.querySelector("#job-form button[type=submit]");
  $("error").textContent = "";
  $("status").textContent = "Sending…";
  $("cancel").disabled = false;
  submit.disabled = true;
  try {
    const response = await fetch(url, { method: "POST", body, signal: controller.signal });
    if (!response.ok) {
      const answer = await response.json().catch(() => ({}));
      throw new Error(answer.message || `the server answered ${response.status}`);
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let pending = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      pending += decoder.decode(value, { stream: true });
      let end;
      while ((end = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, end).trim();
        pending = pending.slice(end + 1);
        if (line) handle(JSON.parse(line), on);
      }
    }
  } catch (error) {
    if (error.name === "AbortError") {
      $("status").textContent = "Cancelled.";
    } else {
      controller.abort(); // a page that cannot show the job's events stops it
      $("status").textContent = "";
      $("error").textContent = `Error: ${error.message}`;
    }
  } finally {
    if (running === controller) running = null;
    $("cancel").disabled = true;
    submit.disabled = false;
  }
}

function handle(event, on) {
  switch (event.type) {
    case "queued":
      $("status").textContent = `Waiting: ${ordinal(event.position)} in line (${event.running} running).`;
      break;
    case "started":
      $("status").textContent = "Running…";
      break;
    case "error":
      $("status").textContent = "";
      $("error").textContent = `Error: ${event.message}`;
      break;
    case "cancelled":
      $("status").textContent = "Cancelled.";
      break;
    default:
      if (on[event.type]) on[event.type](event);
      if (event.type === "result") $("status").textContent = `Done in ${event.seconds.toFixed(1)} s.`;
  }
}

function stepRow(event) {
  const row = element("tr");
  row.append(element("td", event.step), element("td", score(event.best_score)), element("td", event.best_text));
  row.append(element("td", event.scored), element("td", event.kept));
  const cell = element("td");
  if (event.candidates.length) {
    const details = element("details");
    details.append(element("summary", `${event.candidates.length} best`));
    const list = element("ol");
    for (const candidate of event.candidates) {
      list.append(element("li", `${score(candidate.score)}  ${candidate.text}${candidate.kept ? "  (kept)" : ""}`));
    }
    details.append(list);
    cell.append(details);
  }
  row.append(cell);
  $("step-table").tBodies[0].append(row);
}

// The search's climb, drawn as it happens: the best score after each step (a line) over the scores of each step's
// shown candidates (dots). SVG built here, so the server spends nothing on plotting.
const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attributes, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function drawTrajectory(chart, steps) {
  const width = 560, height = 260, left = 56, right = 16, top = 16, bottom = 40;
  const scores = steps.flatMap((step) => [step.best_score, ...step.candidates.map((c) => c.score)]);
  let low = Math.min(...scores), high = Math.max(...scores);
  if (high - low < 0.01) { low -= 0.005; high += 0.005; }
  const last = Math.max(1, steps[steps.length - 1].step);
  const x = (step) => left + (step / last) * (width - left - right);
  const y = (value) => top + (1 - (value - low) / (high - low)) * (height - top - bottom);
  chart.replaceChildren();
  chart.setAttribute("viewBox", `0 0 ${width} ${height}`);
  chart.append(svg("line", { x1: left, y1: height - bottom, x2: width - right, y2: height - bottom, class: "axis" }));
  chart.append(svg("line", { x1: left, y1: top, x2: left, y2: height - bottom, class: "axis" }));
  for (const value of [low, (low + high) / 2, high]) {
    chart.append(svg("text", { x: left - 6, y: y(value) + 4, "text-anchor": "end" }, value.toFixed(3)));
  }
  for (const step of steps) {
    chart.append(svg("text", { x: x(step.step), y: height - bottom + 16, "text-anchor": "middle" }, String(step.step)));
    for (const candidate of step.candidates) {
      chart.append(svg("circle", { cx: x(step.step), cy: y(candidate.score), r: 2.5, class: "candidate" }));
    }
  }
  chart.append(svg("polyline", { points: steps.map((step) => `${x(step.step)},${y(step.best_score)}`).join(" "), class: "best" }));
  chart.append(svg("text", { x: (left + width - right) / 2, y: height - 6, "text-anchor": "middle" }, "step (0 = caption bank)"));
}

function cancelButton() {
  $("cancel").addEventListener("click", () => running && running.abort());
}

function invertPage() {
  $("job-form").addEventListener("submit", (submitted) => {
    submitted.preventDefault();
    $("step-table").tBodies[0].replaceChildren();
    $("answer").hidden = true;
    $("download").hidden = true;
    const steps = [];
    runJob("/api/invert", new FormData($("job-form")), {
      input: (event) => { $("status").textContent = `Running: ${event.modality} in ${event.space}, bank ${event.bank}, generator ${event.generator}…`; },
      step: (event) => {
        stepRow(event);
        steps.push(event);
        drawTrajectory($("plot"), steps);
        if (event.step === 0) {
          $("bank-text").textContent = event.best_text;
          $("bank-score").textContent = score(event.best_score);
        }
        $("answer-text").textContent = event.best_text;
        $("answer-score").textContent = score(event.best_score);
        $("answer").hidden = false;
      },
      result: (event) => {
        $("answer-text").textContent = event.text;
        $("answer-score").textContent = score(event.score);
        $("bank-text").textContent = event.bank_text;
        $("bank-score").textContent = score(event.bank_score);
        const link = $("download");
        if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
        link.href = URL.createObjectURL(new Blob([event.json], { type: "application/json" }));
        link.hidden = false;
      },
    });
  });
}

let termCount = 0;

function addTerm(sign = "1") {
  const fieldset = $("term-template").content.firstElementChild.cloneNode(true);
  const id = termCount++;
  for (const input of fieldset.querySelectorAll("[data-name]")) input.id = `term-${id}-${input.dataset.name}`;
  for (const label of fieldset.querySelectorAll("label[data-for]")) label.htmlFor = `term-${id}-${label.dataset.for}`;
  fieldset.querySelector("[data-name=sign]").value = sign;
  fieldset.querySelector(".remove").addEventListener("click", () => { fieldset.remove(); numberTerms(); });
  $("terms").append(fieldset);
  numberTerms();
}

function numberTerms() {
  [...$("terms").children].forEach((fieldset, index) => {
    fieldset.querySelector("legend").textContent = `Term ${index + 1}`;
    fieldset.querySelector(".remove").textContent = `Remove term ${index + 1}`;
  });
}

function arithPage() {
  addTerm();
  addTerm();
  $("add-term").addEventListener("click", () => addTerm());
  $("job-form").addEventListener("submit", (submitted) => {
    submitted.preventDefault();
    const body = new FormData();
    for (const name of ["space", "generator", "seed"]) body.append(name, $(name).value);
    [...$("terms").children].forEach((fieldset, index) => {
      const value = (name) => fieldset.querySelector(`[data-name=${name}]`);
      const weight = value("weight").value.trim() || "1";
      body.append(`term-${index}-weight`, value("sign").value === "-1" ? `-${weight}` : weight);
      body.append(`term-${index}-text`, value("text").value);
      if (value("file").files.length) body.append(`term-${index}-file`, value("file").files[0]);
    });
    $("modes").replaceChildren();
    runJob("/api/arith", body, {
      mode: (event) => {
        const section = element("section", undefined, { "aria-label": `${event.mode} mode` });
        section.append(element("h2", event.mode === "embedding" ? "Embedding mode" : "Text mode"));
        if (event.error) {
          section.append(element("p", `This mode failed: ${event.error}`, { class: "failed" }));
        } else {
          section.append(element("p", event.expression));
          section.append(element("p", `${score(event.score)}  ${event.text}`, { class: "answer" }));
          if (event.parts.length) {
            const list = element("ul");
            for (const part of event.parts) list.append(element("li", `${part.weight < 0 ? "−" : "+"} ${part.text}`));
            section.append(list);
          }
          section.append(element("img", undefined, { src: event.picture, alt: `Drawn: ${event.prompt}`, class: "drawing" }));
          if (event.rendered_cosine !== null) section.append(element("p", `The drawing's cosine with the combination: ${score(event.rendered_cosine)}`));
        }
        $("modes").append(section);
      },
    });
  });
}

function explainPage() {
  $("job-form").addEventListener("submit", (submitted) => {
    submitted.preventDefault();
    $("step-table").tBodies[0].replaceChildren();
    $("answer").hidden = true;
    runJob("/api/explain", new FormData($("job-form")), {
      input: (event) => { $("status").textContent = `Running: ${event.objective} in ${event.space}, bank ${event.bank}, generator ${event.generator}…`; },
      step: stepRow,
      result: (event) => {
        $("answer-text").textContent = `${score(event.score)}  ${event.text}`;
        $("lift").textContent = `${event.lift >= 0 ? "+" : ""}${score(event.lift)}`;
        const body = $("explanation").tBodies[0];
        body.replaceChildren();
        const rows = Math.max(event.texts.length, event.bank_texts.length);
        for (let i = 0; i < rows; i++) {
          const mine = event.texts[i] || {}, bank = event.bank_texts[i] || {};
          const row = element("tr");
          row.append(element("td", i + 1), element("td", mine.text || ""), element("td", score(mine.score)));
          row.append(element("td", bank.text || ""), element("td", score(bank.score)));
          body.append(row);
        }
        $("answer").hidden = false;
      },
    });
  });
}

document.addEventListener("DOMContentLoaded", async () => {
  cancelButton();
  ({ invert: invertPage, arith: arithPage, explain: explainPage })[document.body.dataset.page]();
  try {
    await fillChoices();
  } catch (error) {
    $("error").textContent = `Error: the server's choices could not be read (${error.message}).`;
  }
});
