// An answer form: prefill, check with the server's rules and messages, submit.
//
// The rules and every message come from the server (the same ones it applies), so the page
// and the server never disagree about what is accepted. The server checks again anyway.

import { callApi, FAILED, setStatus, showNotice, signedInToken } from "./core.js";

const TEXT_KINDS = new Set(["text", "textarea", "email", "tel"]);
const FORMATTED = new Set(["email", "tel", "number", "date"]);

const form = document.getElementById("form");
const submit = form.querySelector('button[type="submit"]');
const done = document.getElementById("done");
const apiPath = document.body.dataset.api;
const config = JSON.parse(document.getElementById("form-rules").textContent);
const patterns = new Map();

const fields = config.fields.map((rules, index) => {
  const box = document.getElementById(`field-${index}`);
  return {
    rules,
    box,
    inputs: Array.from(box.querySelectorAll("input, select, textarea")),
    error: box.querySelector(".error"),
    shown: false,
  };
});

let token = null;
let sending = false;

/** A pattern matched against the whole answer, as Python's re.fullmatch does; null when
 * JavaScript cannot read it (the server still checks). */
function whole(pattern) {
  if (!patterns.has(pattern)) {
    let compiled = null;
    try {
      compiled = new RegExp(`^(?:${pattern})$`, "u");
    } catch {
      compiled = null;
    }
    patterns.set(pattern, compiled);
  }
  return patterns.get(pattern);
}

function matches(pattern, text) {
  const regex = whole(pattern);
  return regex === null || regex.test(text);
}

function normalize(kind, value) {
  let text = FORMATTED.has(kind) ? value.normalize("NFKC") : value;
  if (kind === "textarea") {
    text = text.replace(/\r\n/g, "\n");
  }
  text = text.trim();
  if (kind === "number") {
    text = text.replace(/,/g, "");
  } else if (kind === "date") {
    text = text.replace(/\//g, "-");
  }
  return text;
}

function read(field) {
  const { kind } = field.rules;
  if (kind === "checkbox") {
    return field.inputs.filter((input) => input.checked).map((input) => input.value);
  }
  if (kind === "radio") {
    const picked = field.inputs.find((input) => input.checked);
    return picked ? picked.value : "";
  }
  return field.inputs[0].value;
}

function write(field, value) {
  const { kind } = field.rules;
  if (kind === "checkbox" || kind === "radio") {
    const wanted = new Set(Array.isArray(value) ? value : [value]);
    for (const input of field.inputs) {
      input.checked = wanted.has(input.value);
    }
  } else {
    field.inputs[0].value = String(value);
  }
}

function checkText(rules, text) {
  const { messages } = rules;
  const { formats } = config;
  const length = Array.from(text).length;
  if (rules.kind === "email" && (length > 254 || !matches(formats.email, text))) {
    return messages.format;
  }
  if (rules.kind === "tel") {
    const digits = text.replace(new RegExp(formats.telSeparators, "gu"), "");
    if (!matches(formats.tel, digits)) {
      return messages.format;
    }
  }
  if (rules.minLength !== null && length < rules.minLength) {
    return messages.minLength;
  }
  if (rules.maxLength !== null && length > rules.maxLength) {
    return messages.maxLength;
  }
  if (rules.pattern !== null && !matches(rules.pattern, text)) {
    return messages.pattern;
  }
  return null;
}

function checkDate(rules, text) {
  if (!/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(text)) {
    return rules.messages.format;
  }
  const [year, month, day] = text.split("-").map(Number);
  const date = new Date(Date.UTC(year, month - 1, day));
  if (
    date.getUTCFullYear() !== year ||
    date.getUTCMonth() !== month - 1 ||
    date.getUTCDate() !== day
  ) {
    return rules.messages.format;
  }
  if (rules.minDate !== null && text < rules.minDate) {
    return rules.messages.min;
  }
  if (rules.maxDate !== null && text > rules.maxDate) {
    return rules.messages.max;
  }
  return null;
}

/** The message for a field's answer, or null when it is acceptable. */
function check(field) {
  const { rules } = field;
  const { messages } = rules;
  const raw = read(field);
  if (rules.kind === "checkbox") {
    if (raw.some((value) => !rules.options.includes(value))) {
      return messages.option;
    }
    if (raw.length === 0) {
      return rules.required ? messages.required : null;
    }
    if (rules.min !== null && raw.length < rules.min) {
      return messages.min;
    }
    if (rules.max !== null && raw.length > rules.max) {
      return messages.max;
    }
    return null;
  }
  const text = normalize(rules.kind, raw);
  if (!text) {
    return rules.required ? messages.required : null;
  }
  if (TEXT_KINDS.has(rules.kind)) {
    return checkText(rules, text);
  }
  if (rules.kind === "number") {
    if (!matches(config.formats.number, text)) {
      return messages.format;
    }
    const number = Number(text);
    if (rules.min !== null && number < rules.min) {
      return messages.min;
    }
    if (rules.max !== null && number > rules.max) {
      return messages.max;
    }
    return null;
  }
  if (rules.kind === "date") {
    return checkDate(rules, text);
  }
  return rules.options.includes(text) ? null : messages.option;
}

/** Show (or clear) a field's message: aria-invalid, and the message in its description. */
function show(field, message) {
  field.shown = Boolean(message);
  field.error.textContent = message || "";
  field.error.hidden = !message;
  for (const input of field.inputs) {
    const ids = (input.dataset.describedby || "").split(" ").filter(Boolean);
    if (message) {
      input.setAttribute("aria-invalid", "true");
      ids.push(field.error.id);
    } else {
      input.removeAttribute("aria-invalid");
    }
    if (ids.length) {
      input.setAttribute("aria-describedby", ids.join(" "));
    } else {
      input.removeAttribute("aria-describedby");
    }
  }
}

function showAll(problems) {
  for (const field of fields) {
    show(field, problems.get(field) || null);
  }
  const first = fields.find((field) => problems.has(field));
  if (first) {
    setStatus(`入力内容を確認してください(${problems.size}件)`);
    first.inputs[0].focus();
  }
}

function answers() {
  return Object.fromEntries(fields.map((field) => [field.rules.name, read(field)]));
}

function close(message) {
  form.hidden = true;
  showNotice(message);
}

async function send() {
  sending = true;
  submit.disabled = true;
  submit.setAttribute("aria-busy", "true");
  setStatus("送信しています…");
  const { status, data } = await callApi(apiPath, {
    method: "POST",
    token,
    body: { answers: answers() },
  });
  sending = false;
  submit.disabled = false;
  submit.removeAttribute("aria-busy");
  if (status === 200) {
    form.hidden = true;
    setStatus("");
    done.hidden = false;
    done.focus();
  } else if (status === 422 && data.errors) {
    const problems = new Map();
    for (const field of fields) {
      if (data.errors[field.rules.name]) {
        problems.set(field, data.errors[field.rules.name]);
      }
    }
    showAll(problems);
  } else if ([401, 403, 404, 409].includes(status)) {
    close(data.message || FAILED);
  } else {
    showNotice(data.message || FAILED);
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (sending) {
    return;
  }
  const problems = new Map();
  for (const field of fields) {
    const message = check(field);
    if (message) {
      problems.set(field, message);
    }
  }
  showAll(problems);
  if (problems.size === 0) {
    send();
  }
});

// Once a message is shown, it follows the answer as the friend corrects it.
for (const field of fields) {
  const recheck = () => {
    if (field.shown) {
      show(field, check(field));
    }
  };
  for (const input of field.inputs) {
    input.addEventListener("input", recheck);
    input.addEventListener("change", recheck);
  }
}

async function start() {
  token = await signedInToken();
  if (!token) {
    return;
  }
  const { status, data } = await callApi(apiPath, { token });
  if (status !== 200) {
    showNotice(data.message || FAILED);
    return;
  }
  if (data.closed) {
    showNotice(data.message, { info: true });
    return;
  }
  for (const field of fields) {
    const value = data.values[field.rules.name];
    if (value !== undefined && value !== null) {
      write(field, value);
    }
  }
  form.hidden = false;
  setStatus(
    data.submitted && data.form.resubmit === "latest"
      ? "前回のご回答が入っています。送信すると新しい内容に置き換わります。"
      : "",
  );
}

// In LINE, a button that closes the LIFF window once the form is sent.
document.getElementById("close")?.addEventListener("click", () => window.liff?.closeWindow());

start();
