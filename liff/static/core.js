// What every stepbot LIFF page needs: the friend's ID token and calls to the page's API.
//
// In LINE the token comes from the LIFF SDK (liff.getIDToken()). In the sandbox the chat
// simulator opens the page with "#sandbox_id_token=..." in the URL; the fragment never
// reaches a server, and is removed from the address once read. The server verifies the token
// and takes the friend from it alone: this script never sends a user id.

const TOKEN_KEY = "stepbot.liff.sandboxIdToken";

export const NO_TOKEN = "LINEの認証情報がありません。LINEアプリからもう一度開いてください。";
export const OFFLINE = "通信できませんでした。電波の良いところでもう一度お試しください。";
export const FAILED = "うまくいきませんでした。しばらくしてからもう一度お試しください。";

export class PageError extends Error {}

function sandboxToken() {
  const params = new URLSearchParams(window.location.hash.slice(1));
  const fromUrl = params.get("sandbox_id_token");
  if (fromUrl) {
    try {
      window.sessionStorage.setItem(TOKEN_KEY, fromUrl);
    } catch {
      // storage off: the token still works for this visit
    }
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
    return fromUrl;
  }
  try {
    return window.sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

async function lineToken(liffId) {
  const sdk = window.liff;
  if (!sdk || !liffId) {
    throw new PageError("LINEの読み込みに失敗しました。LINEアプリからもう一度開いてください。");
  }
  try {
    await sdk.init({ liffId });
  } catch {
    throw new PageError("LINEの読み込みに失敗しました。LINEアプリからもう一度開いてください。");
  }
  if (!sdk.isLoggedIn()) {
    sdk.login({ redirectUri: window.location.href });
    return new Promise(() => {}); // the page is going to LINE's login
  }
  return sdk.getIDToken();
}

/** The ID token of whoever opened the page (null when there is none). */
export async function idToken() {
  const { mode, liffId } = document.body.dataset;
  if (mode === "sandbox") {
    return sandboxToken();
  }
  return lineToken(liffId);
}

/** Call the page's API; answers {status, data}, status 0 when the network failed. */
export async function callApi(path, { method = "GET", token = null, body } = {}) {
  const headers = { Accept: "application/json" };
  if (token) {
    headers.Authorization = `Bearer ${token}`;
  }
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch {
    return { status: 0, data: { message: OFFLINE } };
  }
  let data = {};
  try {
    data = await response.json();
  } catch {
    data = {};
  }
  return { status: response.status, data };
}

export function setStatus(text) {
  const status = document.getElementById("status");
  if (status) {
    status.textContent = text;
  }
}

/** Show a problem (role="alert": read out at once) and stop showing "loading". */
export function showNotice(text, { info = false } = {}) {
  const notice = document.getElementById("notice");
  setStatus("");
  if (!notice) {
    return;
  }
  notice.textContent = text;
  notice.classList.toggle("info", info);
  notice.hidden = !text;
}

// The friend's ID token, or null after telling them why there is none (the page stops).
export async function signedInToken() {
  let token;
  try {
    token = await idToken();
  } catch (error) {
    showNotice(error.message || NO_TOKEN);
    return null;
  }
  if (!token) {
    showNotice(NO_TOKEN);
    return null;
  }
  return token;
}
