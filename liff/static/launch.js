// The LIFF endpoint (/liff). LINE opens it with ?liff.state=/forms/... naming the page
// wanted; the LIFF SDK's init() goes on there. Should it not (or in the sandbox), this does,
// to a path of this app only.

import { showNotice } from "./core.js";

function target() {
  const state = new URLSearchParams(window.location.search).get("liff.state");
  if (!state || !state.startsWith("/") || state.startsWith("//") || state.includes("\\")) {
    return null;
  }
  return `${window.location.pathname.replace(/\/$/, "")}${state}${window.location.hash}`;
}

async function start() {
  const { mode, liffId } = document.body.dataset;
  if (mode !== "sandbox" && window.liff && liffId) {
    try {
      await window.liff.init({ liffId });
    } catch {
      showNotice("LINEの読み込みに失敗しました。LINEアプリからもう一度開いてください。");
      return;
    }
  }
  const next = target();
  if (next) {
    window.location.replace(next);
    return;
  }
  showNotice("ページが見つかりません。LINEのメッセージやメニューから開いてください。");
}

start();
