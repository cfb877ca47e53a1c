// The LIFF page of an inflow route (/liff/go/NAME?v=CODE). It sends the ID token with the
// visit code; the server decides who this is from the token alone and answers where to go:
// the route's target, the friend-add page, or nowhere (a friend on a friend-add route: back
// to the chat).

import { callApi, FAILED, setStatus, showNotice, signedInToken } from "./core.js";

/** Only https pages or this server's own paths: never javascript: or another scheme. */
function safeNext(next) {
  if (typeof next !== "string" || !next) {
    return null;
  }
  if (next.startsWith("/") && !next.startsWith("//") && !next.includes("\\")) {
    return next;
  }
  try {
    return new URL(next).protocol === "https:" ? next : null;
  } catch {
    return null;
  }
}

function inLineApp() {
  const sdk = window.liff;
  return document.body.dataset.mode !== "sandbox" && sdk && sdk.isInClient && sdk.isInClient();
}

function showDone(text) {
  setStatus("");
  const done = document.getElementById("done");
  done.textContent = text;
  done.hidden = false;
  done.focus();
}

async function start() {
  const token = await signedInToken();
  if (!token) {
    return;
  }
  setStatus("確認しています…");
  const visit = new URLSearchParams(window.location.search).get("v");
  const { status, data } = await callApi(document.body.dataset.api, {
    method: "POST",
    token,
    body: { visit },
  });
  if (status !== 200) {
    showNotice(data.message || FAILED);
    return;
  }
  const next = safeNext(data.next);
  if (next) {
    setStatus(data.message || "");
    window.location.replace(next);
    return;
  }
  if (data.close && inLineApp()) {
    showDone(data.message);
    window.setTimeout(() => window.liff.closeWindow(), 1200);
    return;
  }
  showDone(data.close ? data.outsideMessage || data.message : data.message);
}

start();
