// The shop link page: the customer number and signature come from the shop's link (the
// query string), the friend from LINE (the ID token). Nothing is linked until the friend
// presses 連携する; the server checks both before it links.

import { callApi, FAILED, setStatus, showNotice, signedInToken } from "./core.js";

const BAD_LINK =
  "連携用のリンクが正しくありません。ショップのマイページからもう一度開いてください。";

const confirm = document.getElementById("confirm");
const button = document.getElementById("link");
const done = document.getElementById("done");

function linkParams() {
  const params = new URLSearchParams(window.location.search);
  const customer = params.get("customer");
  const sig = params.get("sig");
  if (!customer || !sig || !/^[0-9]+$/.test(customer) || !/^[0-9a-fA-F]{10,64}$/.test(sig)) {
    return null;
  }
  return { customer, sig };
}

async function link(token, params) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  setStatus("連携しています…");
  const { status, data } = await callApi(document.body.dataset.api, {
    method: "POST",
    token,
    body: params,
  });
  button.disabled = false;
  button.removeAttribute("aria-busy");
  if (status !== 200) {
    confirm.hidden = true;
    showNotice(data.message || FAILED);
    return;
  }
  setStatus("");
  confirm.hidden = true;
  document.getElementById("done-message").textContent = data.message;
  done.hidden = false;
  done.focus();
}

async function start() {
  const params = linkParams();
  if (!params) {
    showNotice(BAD_LINK);
    return;
  }
  const token = await signedInToken();
  if (!token) {
    return;
  }
  setStatus("");
  confirm.hidden = false;
  button.addEventListener("click", () => link(token, params));
}

// In LINE, a button that closes the LIFF window once linked.
document.getElementById("close")?.addEventListener("click", () => window.liff?.closeWindow());

start();
