// The pay page: asks the server for this friend's checkout link and goes there. The link
// carries the friend's signed reference, so Stripe's payment event names them.
//
// In the sandbox the page stays: it shows the link and can complete a test payment through
// the sandbox's Stripe helper, which sends a signed checkout event with the same reference.

import { callApi, FAILED, setStatus, showNotice, signedInToken } from "./core.js";

async function testPayment(section, reference) {
  const button = document.getElementById("test-pay");
  button.disabled = true;
  setStatus("テスト決済を送信しています…");
  const { status, data } = await callApi(section.dataset.events, {
    method: "POST",
    body: { ref: reference, type: "checkout.session.completed" },
  });
  if (status !== 200 || data.status !== 200) {
    button.disabled = false;
    showNotice((data.body && data.body.error) || data.message || FAILED);
    return;
  }
  setStatus("");
  showNotice("テスト決済が完了しました。LINEのトーク画面に戻ってください。", { info: true });
}

function showSandbox(section, url, reference) {
  const link = document.getElementById("checkout-link");
  link.href = url; // the server only hands out the scenario's https checkout links
  section.hidden = false;
  document
    .getElementById("test-pay")
    .addEventListener("click", () => testPayment(section, reference));
  setStatus("");
}

async function start() {
  const token = await signedInToken();
  if (!token) {
    return;
  }
  const { status, data } = await callApi(document.body.dataset.api, { token });
  if (status !== 200 || typeof data.url !== "string") {
    showNotice(data.message || FAILED);
    return;
  }
  const sandbox = document.getElementById("sandbox");
  if (document.body.dataset.mode === "sandbox" && sandbox) {
    showSandbox(sandbox, data.url, data.reference);
    return;
  }
  setStatus("お支払いページへ移動しています…");
  window.location.replace(data.url);
}

start();
