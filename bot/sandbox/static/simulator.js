/*
 * stepbot sandbox: phone-like chat simulator.
 *
 * Talks to the sandbox JSON API (same origin) and renders LINE Messaging API
 * message objects roughly the way the LINE app does. No frameworks, no build
 * step. All bot-supplied strings are inserted as text, never as HTML.
 */
"use strict";

(() => {
  // ---------------------------------------------------------------------------
  // Configuration and state
  // ---------------------------------------------------------------------------

  // The script lives at <prefix>/sandbox/static/simulator.js; the API is
  // <prefix>/sandbox/api/. Resolving relative to the script keeps the page
  // working if the bot is mounted below a path prefix.
  const SCRIPT_URL = (document.currentScript && document.currentScript.src) || location.href;
  const API_BASE = document.currentScript
    ? new URL("../api/", SCRIPT_URL)
    : new URL("/sandbox/api/", location.href);
  // The server's root (LIFF pages live at <root>/liff/...), the same way below a prefix.
  const APP_ROOT = new URL("../../", API_BASE);
  const LIFF_HOST = "liff.line.me";

  const STORAGE_KEY = "stepbot.sandbox.friend";
  const RECONNECT_DELAY_MS = 3000;
  const NOTICE_MS = 6000;

  const state = {
    friends: [],
    currentId: null,
    /** userId -> Map(seq -> entry) */
    entries: new Map(),
    /** userIds with entries that arrived while another friend was shown */
    unread: new Set(),
    /** `${userId}:${seq}` of quick replies that were used */
    dismissedQuickReplies: new Set(),
    /** seqs currently in the chat log, in order */
    renderedSeqs: [],
    renderedSeqSet: new Set(),
    lastRenderedDay: null,
    quickReplyKey: undefined,
    stickToBottom: true,
    loadToken: 0,
    friendsToken: 0,
    /** what GET integrations said: {stripe: {enabled, price}, shopify: {enabled, item}} */
    integrations: null,
    simulating: false,
    actionQueue: Promise.resolve(),
    friendsReloadTimer: 0,
    noticeTimer: 0,
    stream: null,
    streamRetryTimer: 0,
    /** the rich menu the current friend sees (the API's JSON), or null */
    richMenu: null,
    /** id of the menu drawn now; a different one starts open or closed by its `selected` */
    richMenuShownId: null,
    richMenuOpen: false,
    richMenuToken: 0,
    richMenuReloadTimer: 0,
  };

  const $ = (id) => document.getElementById(id);
  const ui = {
    friendSelect: $("friend-select"),
    followButton: $("follow-button"),
    blockButton: $("block-button"),
    friendState: $("friend-state"),
    newFriendForm: $("new-friend-form"),
    newFriendName: $("new-friend-name"),
    newFriendButton: $("new-friend-button"),
    connection: $("connection-status"),
    showJson: $("show-json"),
    notice: $("notice"),
    chat: $("chat-log"),
    quickReplies: $("quick-replies"),
    composer: $("composer"),
    composerHint: $("composer-hint"),
    composerInput: $("composer-input"),
    sendButton: $("send-button"),
    pickerDialog: $("picker-dialog"),
    pickerForm: $("picker-form"),
    pickerTitle: $("picker-title"),
    pickerLabel: $("picker-label"),
    pickerInput: $("picker-input"),
    pickerCancel: $("picker-cancel"),
    richMenu: $("richmenu"),
    richMenuToggle: $("richmenu-toggle"),
    richMenuBarText: $("richmenu-bar-text"),
    richMenuPanel: $("richmenu-panel"),
    liffDialog: $("liff-dialog"),
    liffFrame: $("liff-frame"),
    liffError: $("liff-error"),
    liffClose: $("liff-close"),
    integrationRow: $("integration-row"),
    simulatePayment: $("simulate-payment"),
    simulateOrder: $("simulate-order"),
  };

  // ---------------------------------------------------------------------------
  // Small DOM helpers
  // ---------------------------------------------------------------------------

  /**
   * Create an element. `attrs` keys: class, text, dataset, style (object),
   * on<Event> handlers, and plain attributes. Children may be nodes, strings,
   * or null/undefined (skipped).
   */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    if (attrs) {
      for (const [key, value] of Object.entries(attrs)) {
        if (value === undefined || value === null || value === false) continue;
        if (key === "class") el.className = value;
        else if (key === "text") el.textContent = String(value);
        else if (key === "dataset") Object.assign(el.dataset, value);
        else if (key === "style") Object.assign(el.style, value);
        else if (key.startsWith("on") && typeof value === "function") {
          el.addEventListener(key.slice(2).toLowerCase(), value);
        } else if (value === true) el.setAttribute(key, "");
        else el.setAttribute(key, String(value));
      }
    }
    appendChildren(el, children);
    return el;
  }

  function appendChildren(el, children) {
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : String(child));
    }
  }

  const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
  const asArray = (v) => (Array.isArray(v) ? v : []);
  const asString = (v) => (typeof v === "string" ? v : v === undefined || v === null ? "" : String(v));

  // ---------------------------------------------------------------------------
  // URL safety: bot messages may carry arbitrary URLs.
  // ---------------------------------------------------------------------------

  const LINK_PROTOCOLS = new Set(["http:", "https:", "tel:", "mailto:", "line:"]);

  /** URL usable as a link target (new tab), or null. */
  function safeLinkUrl(raw) {
    if (typeof raw !== "string" || !raw.trim()) return null;
    try {
      const url = new URL(raw.trim(), location.href);
      return LINK_PROTOCOLS.has(url.protocol) ? url.href : null;
    } catch {
      return null;
    }
  }

  /** URL usable as an image/media source, or null. */
  function safeMediaUrl(raw) {
    if (typeof raw !== "string" || !raw.trim()) return null;
    const trimmed = raw.trim();
    if (/^data:(image|video|audio)\//i.test(trimmed)) return trimmed;
    try {
      const url = new URL(trimmed, location.href);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch {
      return null;
    }
  }

  const COLOR_RE = /^#(?:[0-9a-f]{3}|[0-9a-f]{4}|[0-9a-f]{6}|[0-9a-f]{8})$/i;
  const safeColor = (v) => (typeof v === "string" && COLOR_RE.test(v.trim()) ? v.trim() : null);

  // ---------------------------------------------------------------------------
  // API
  // ---------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message) {
      super(message || `HTTP ${status}`);
      this.status = status;
      this.serverMessage = message || null;
    }
  }

  async function api(path, { method = "GET", body } = {}) {
    const init = { method, cache: "no-store", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const res = await fetch(new URL(path, API_BASE), init);
    const raw = await res.text();
    let data = null;
    if (raw) {
      try {
        data = JSON.parse(raw);
      } catch {
        data = null;
      }
    }
    if (!res.ok) {
      const message = isObject(data) && typeof data.message === "string" ? data.message : null;
      throw new ApiError(res.status, message);
    }
    return isObject(data) ? data : {};
  }

  const friendPath = (userId, suffix) => `friends/${encodeURIComponent(userId)}/${suffix}`;

  function describeError(err, what) {
    if (err instanceof ApiError) {
      if (err.serverMessage) return `${what}できませんでした: ${err.serverMessage}`;
      if (err.status === 404) return `${what}できませんでした（見つかりません）。`;
      if (err.status >= 500) return `${what}できませんでした（サーバーエラー ${err.status}）。`;
      return `${what}できませんでした（HTTP ${err.status}）。`;
    }
    return `${what}できませんでした。サーバーに接続できるか確認してください。`;
  }

  // ---------------------------------------------------------------------------
  // Notices
  // ---------------------------------------------------------------------------

  function showNotice(text, kind = "info") {
    clearTimeout(state.noticeTimer);
    ui.notice.textContent = text;
    ui.notice.dataset.kind = kind;
    ui.notice.hidden = false;
    state.noticeTimer = setTimeout(hideNotice, kind === "error" ? NOTICE_MS * 2 : NOTICE_MS);
  }

  function hideNotice() {
    clearTimeout(state.noticeTimer);
    ui.notice.hidden = true;
    ui.notice.textContent = "";
  }

  ui.notice.addEventListener("click", hideNotice);

  // ---------------------------------------------------------------------------
  // Friends
  // ---------------------------------------------------------------------------

  const findFriend = (userId) => state.friends.find((f) => f.userId === userId) || null;
  const currentFriend = () => (state.currentId ? findFriend(state.currentId) : null);

  async function loadFriends() {
    const token = ++state.friendsToken;
    const data = await api("friends");
    // A newer request, or a local change made meanwhile, wins over this answer.
    if (token !== state.friendsToken) return;
    state.friends = asArray(data.friends).filter((f) => isObject(f) && typeof f.userId === "string");
    // Forget friends the server no longer knows (the sandbox keeps them in memory only,
    // so a restarted server starts empty).
    for (const userId of [...state.entries.keys()]) {
      if (!findFriend(userId)) state.entries.delete(userId);
    }
    for (const userId of [...state.unread]) {
      if (!findFriend(userId)) state.unread.delete(userId);
    }
    const vanished = state.currentId && !findFriend(state.currentId);
    if (vanished) state.currentId = null;
    renderFriendSelect();
    renderFriendState();
    if (vanished) {
      rebuildChat();
      showNotice("選んでいた友だちがサーバーにいません（サーバーが再起動した可能性があります）。", "error");
    }
  }

  function scheduleFriendsReload() {
    clearTimeout(state.friendsReloadTimer);
    state.friendsReloadTimer = setTimeout(() => {
      loadFriends().catch(() => {
        /* the next successful call refreshes the list */
      });
    }, 150);
  }

  function friendLabel(friend) {
    let label = asString(friend.displayName) || "（名前なし）";
    if (!friend.following) label += "（未追加）";
    if (state.unread.has(friend.userId)) label = `● ${label}（未読あり）`;
    return label;
  }

  function renderFriendSelect() {
    const sel = ui.friendSelect;
    sel.textContent = "";
    if (!state.friends.length) {
      sel.append(h("option", { value: "", text: "（まだ友だちがいません）" }));
      sel.disabled = true;
      return;
    }
    if (!state.currentId) {
      sel.append(h("option", { value: "", text: "友だちを選んでください" }));
    }
    for (const friend of state.friends) {
      const unread = state.unread.has(friend.userId);
      sel.append(
        h("option", {
          value: friend.userId,
          text: friendLabel(friend),
          dataset: { unread: unread ? "true" : "false", following: friend.following ? "true" : "false" },
        }),
      );
    }
    sel.value = state.currentId || "";
    sel.disabled = false;
    sel.dataset.unreadCount = String(state.unread.size);
  }

  function renderFriendState() {
    const friend = currentFriend();
    const following = Boolean(friend && friend.following);
    ui.followButton.disabled = !friend || following;
    ui.blockButton.disabled = !friend || !following;
    ui.friendState.dataset.following = following ? "true" : "false";
    if (!friend) {
      ui.friendState.textContent = "友だちを選ぶか、新しく作成してください";
    } else if (following) {
      ui.friendState.textContent = `${asString(friend.displayName)} さんとして話しています（友だち追加済み）`;
    } else {
      ui.friendState.textContent = `${asString(friend.displayName)} さんは友だちではありません（未追加またはブロック中）`;
    }
    const enabled = following;
    ui.composerInput.disabled = !enabled;
    ui.sendButton.disabled = !enabled;
    ui.composer.dataset.enabled = enabled ? "true" : "false";
    renderRichMenu();
    renderIntegrationButtons(following);
    ui.composerHint.hidden = enabled;
    ui.composerHint.textContent = friend ? "友だち追加すると話せます" : "友だちを選ぶか作成すると話せます";
    renderQuickReplies();
  }

  async function selectFriend(userId) {
    state.currentId = userId || null;
    state.richMenu = null; // the new friend's menu is loaded below
    try {
      if (userId) localStorage.setItem(STORAGE_KEY, userId);
    } catch {
      /* storage may be unavailable */
    }
    if (userId) state.unread.delete(userId);
    renderFriendSelect();
    renderFriendState();
    rebuildChat();
    loadRichMenu();
    if (userId) await loadTranscript();
  }

  async function createFriend(event) {
    event.preventDefault();
    let name = ui.newFriendName.value.trim();
    if (!name) name = `テストユーザー${state.friends.length + 1}`;
    ui.newFriendButton.disabled = true;
    try {
      const friend = await api("friends", { method: "POST", body: { displayName: name } });
      ui.newFriendName.value = "";
      state.friendsToken++;
      if (typeof friend.userId === "string") {
        if (!findFriend(friend.userId)) state.friends.push(friend);
        await selectFriend(friend.userId);
      }
      scheduleFriendsReload();
      showNotice(`「${name}」を作成しました。「友だち追加」を押すと会話を始められます。`);
    } catch (err) {
      showNotice(describeError(err, "友だちを作成"), "error");
    } finally {
      ui.newFriendButton.disabled = false;
    }
  }

  async function setFollowing(follow) {
    const friend = currentFriend();
    if (!friend) return;
    const button = follow ? ui.followButton : ui.blockButton;
    button.disabled = true;
    try {
      const result = await api(friendPath(friend.userId, follow ? "follow" : "unfollow"), { method: "POST" });
      state.friendsToken++;
      friend.following = follow;
      renderFriendState();
      renderFriendSelect();
      reportWebhook(result);
      await Promise.allSettled([loadFriends(), loadTranscript(), loadRichMenu()]);
    } catch (err) {
      showNotice(describeError(err, follow ? "友だち追加" : "ブロック"), "error");
      renderFriendState();
      scheduleFriendsReload();
    }
  }

  function reportWebhook(result) {
    const status = result && result.webhookStatus;
    if (typeof status === "number" && (status < 200 || status >= 300)) {
      showNotice(`ボットの Webhook がエラーを返しました（HTTP ${status}）。サーバーのログを確認してください。`, "error");
    }
  }

  // ---------------------------------------------------------------------------
  // Transcript storage
  // ---------------------------------------------------------------------------

  function entryMap(userId) {
    let map = state.entries.get(userId);
    if (!map) {
      map = new Map();
      state.entries.set(userId, map);
    }
    return map;
  }

  const validEntry = (e) => isObject(e) && typeof e.seq === "number" && Number.isFinite(e.seq);

  function storeEntry(userId, entry) {
    if (!validEntry(entry)) return false;
    const map = entryMap(userId);
    if (map.has(entry.seq)) return false;
    map.set(entry.seq, entry);
    return true;
  }

  function sortedEntries(userId) {
    const map = state.entries.get(userId);
    if (!map) return [];
    return [...map.values()].sort((a, b) => a.seq - b.seq);
  }

  async function loadTranscript() {
    const userId = state.currentId;
    if (!userId) return;
    const token = ++state.loadToken;
    try {
      const data = await api(friendPath(userId, "transcript"));
      // Entries are keyed by seq, so even an older answer merges safely.
      for (const entry of asArray(data.entries)) storeEntry(userId, entry);
      if (userId === state.currentId) syncChat();
    } catch (err) {
      if (token === state.loadToken && userId === state.currentId) {
        showNotice(describeError(err, "トーク履歴を取得"), "error");
      }
    }
  }

  // ---------------------------------------------------------------------------
  // Live stream
  // ---------------------------------------------------------------------------

  function setConnection(stateName, text) {
    ui.connection.dataset.state = stateName;
    ui.connection.textContent = text;
  }

  function openStream() {
    clearTimeout(state.streamRetryTimer);
    if (!("EventSource" in window)) {
      setConnection("unsupported", "自動更新なし");
      return;
    }
    const source = new EventSource(new URL("stream", API_BASE));
    state.stream = source;
    source.addEventListener("open", () => {
      setConnection("open", "接続済み");
      // Covers both the initial race and gaps while disconnected.
      resync();
    });
    source.addEventListener("entry", (event) => {
      let payload;
      try {
        payload = JSON.parse(event.data);
      } catch {
        return;
      }
      handleStreamEntry(payload);
    });
    source.addEventListener("richmenu", (event) => {
      let payload;
      try {
        payload = JSON.parse(event.data);
      } catch {
        return;
      }
      // userId null: a change that may concern anyone (default menu, bulk link, deletion).
      if (isObject(payload) && (!payload.userId || payload.userId === state.currentId)) {
        scheduleRichMenuReload();
      }
    });
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (e.g. a non-stream response); retry ourselves.
        setConnection("offline", "切断（再接続待ち）");
        source.close();
        if (state.stream === source) state.stream = null;
        state.streamRetryTimer = setTimeout(openStream, RECONNECT_DELAY_MS);
      } else {
        setConnection("reconnecting", "再接続中…");
      }
    });
  }

  function resync() {
    loadFriends()
      .then(() => (state.currentId ? Promise.all([loadTranscript(), loadRichMenu()]) : selectInitialFriend()))
      .catch(() => {
        /* shown by the next user action */
      });
  }

  function handleStreamEntry(payload) {
    if (!isObject(payload) || typeof payload.userId !== "string" || !validEntry(payload.entry)) return;
    const { userId, entry } = payload;
    if (!findFriend(userId) || entry.direction === "system") scheduleFriendsReload();
    if (userId === state.currentId) {
      storeEntry(userId, entry);
      syncChat();
    } else {
      state.unread.add(userId);
      renderFriendSelect();
    }
  }

  // ---------------------------------------------------------------------------
  // Chat log rendering
  // ---------------------------------------------------------------------------

  const dayFormat = new Intl.DateTimeFormat("ja-JP", { month: "long", day: "numeric", weekday: "short" });
  const timeFormat = new Intl.DateTimeFormat("ja-JP", { hour: "2-digit", minute: "2-digit" });

  function parseDate(value) {
    if (typeof value !== "string") return null;
    const d = new Date(value);
    return Number.isNaN(d.getTime()) ? null : d;
  }

  function isNearBottom() {
    const c = ui.chat;
    return c.scrollHeight - c.scrollTop - c.clientHeight < 80;
  }

  function scrollToBottom() {
    ui.chat.scrollTop = ui.chat.scrollHeight;
  }

  ui.chat.addEventListener("scroll", () => {
    state.stickToBottom = isNearBottom();
  });

  // Images that finish loading change the height; keep the view pinned.
  ui.chat.addEventListener(
    "load",
    () => {
      if (state.stickToBottom) scrollToBottom();
    },
    true,
  );

  function rebuildChat() {
    ui.chat.setAttribute("aria-busy", "true");
    ui.chat.textContent = "";
    state.renderedSeqs = [];
    state.renderedSeqSet = new Set();
    state.lastRenderedDay = null;
    state.quickReplyKey = undefined; // force the quick-reply bar to redraw
    if (!state.currentId) {
      ui.chat.append(
        h("p", { class: "chat-empty", text: "友だちを作成して「友だち追加」を押すと、ボットとの会話を試せます。" }),
      );
    }
    syncChat({ forceScroll: true });
    ui.chat.removeAttribute("aria-busy");
  }

  /** Bring the DOM in line with the stored entries of the current friend. */
  function syncChat({ forceScroll = false } = {}) {
    const userId = state.currentId;
    if (!userId) {
      renderQuickReplies();
      return;
    }
    const list = sortedEntries(userId);
    const fresh = list.filter((e) => !state.renderedSeqSet.has(e.seq));
    if (fresh.length) {
      const last = state.renderedSeqs.length ? state.renderedSeqs[state.renderedSeqs.length - 1] : -Infinity;
      if (!fresh.every((e) => e.seq > last)) {
        // Something older arrived late: redraw in order.
        rebuildChat();
        return;
      }
      const pinned = forceScroll || state.stickToBottom || isNearBottom();
      const placeholder = ui.chat.querySelector(".chat-empty");
      if (placeholder) placeholder.remove();
      for (const entry of fresh) {
        appendEntry(entry);
        if (entry.direction === "in") forceScroll = true;
      }
      if (pinned || forceScroll) {
        scrollToBottom();
        state.stickToBottom = true;
      }
    } else if (!state.renderedSeqs.length && !ui.chat.querySelector(".chat-empty")) {
      ui.chat.append(h("p", { class: "chat-empty", text: "まだメッセージはありません。" }));
    }
    renderQuickReplies();
  }

  function appendEntry(entry) {
    const date = parseDate(entry.at);
    if (date) {
      const day = dayFormat.format(date);
      if (day !== state.lastRenderedDay) {
        ui.chat.append(h("div", { class: "day-separator" }, h("span", { text: day })));
        state.lastRenderedDay = day;
      }
    }
    ui.chat.append(renderEntry(entry, date));
    state.renderedSeqs.push(entry.seq);
    state.renderedSeqSet.add(entry.seq);
  }

  function renderEntry(entry, date) {
    const direction = ["in", "out", "system"].includes(entry.direction) ? entry.direction : "system";
    const message = isObject(entry.message) ? entry.message : {};
    const time = date
      ? h("time", { class: "msg-time", datetime: entry.at, text: timeFormat.format(date) })
      : null;
    const raw = h(
      "details",
      { class: "raw-json" },
      h("summary", { text: "JSON" }),
      h("pre", { text: JSON.stringify(entry, null, 2) }),
    );

    if (direction === "system") {
      return h(
        "div",
        {
          class: "msg msg-system",
          "data-testid": "message-bubble",
          dataset: { direction, type: asString(message.type) || "system", seq: String(entry.seq) },
        },
        h("p", { class: "system-note" }, asString(message.text) || "（システム通知）", time ? " " : null, time),
        raw,
      );
    }

    let content;
    try {
      content = renderMessage(message, direction);
    } catch {
      content = bubble("表示できないメッセージです。", "bubble-error");
    }

    const row = h("div", {
      class: `msg msg-${direction}`,
      "data-testid": "message-bubble",
      dataset: { direction, type: asString(message.type) || "unknown", seq: String(entry.seq) },
    });
    if (direction === "out") {
      const sender = isObject(message.sender) ? message.sender : {};
      const iconUrl = safeMediaUrl(sender.iconUrl);
      row.append(
        h(
          "div",
          { class: "avatar", "aria-hidden": "true" },
          iconUrl ? h("img", { src: iconUrl, alt: "", referrerpolicy: "no-referrer" }) : "S",
        ),
      );
      const body = h(
        "div",
        { class: "msg-body" },
        h("span", { class: "sender-name", text: asString(sender.name) || "stepbot" }),
        h("div", { class: "msg-line" }, content, time),
      );
      row.append(body);
    } else {
      row.append(h("div", { class: "msg-body" }, h("div", { class: "msg-line" }, time, content)));
    }
    row.append(raw);
    return row;
  }

  function bubble(content, extraClass) {
    const el = h("div", { class: `bubble${extraClass ? ` ${extraClass}` : ""}` });
    appendChildren(el, [content]);
    return el;
  }

  // ---------------------------------------------------------------------------
  // Message objects
  // ---------------------------------------------------------------------------

  function renderMessage(msg, direction) {
    switch (msg.type) {
      case "text":
        return bubble(renderEmojiText(asString(msg.text), msg.emojis), "bubble-text");
      case "textV2":
        return bubble(renderTextV2(msg), "bubble-text");
      case "postback":
        return renderInboundPostback(msg);
      case "sticker":
        return renderSticker(msg);
      case "image":
        return renderImageMessage(msg);
      case "video":
        return renderVideo(msg.previewImageUrl, msg.originalContentUrl, "media-video");
      case "audio":
        return renderAudio(msg);
      case "location":
        return renderLocation(msg);
      case "imagemap":
        return renderImagemap(msg);
      case "template":
        return withAltText(renderTemplate(msg.template), msg.altText);
      case "flex":
        return withAltText(renderFlexContainer(msg.contents), msg.altText);
      case "file":
        return bubble(`ファイル: ${asString(msg.fileName) || "（名前なし）"}`, "bubble-text");
      default:
        return bubble(
          [
            h("span", { class: "unsupported", text: `未対応のメッセージ形式です（${asString(msg.type) || "不明"}）` }),
            direction === "out" && msg.altText ? h("span", { class: "alt-text", text: asString(msg.altText) }) : null,
          ],
          "bubble-muted",
        );
    }
  }

  function withAltText(el, altText) {
    if (typeof altText === "string" && altText) {
      el.title = `代替テキスト: ${altText}`;
      el.dataset.altText = altText;
    }
    return el;
  }

  const URL_IN_TEXT_RE = /https?:\/\/[^\s<>"'「」]+/g;

  /** Append text with bare http(s) URLs turned into links, like LINE does. */
  function appendLinkified(parent, text) {
    let last = 0;
    for (const match of text.matchAll(URL_IN_TEXT_RE)) {
      const href = safeLinkUrl(match[0]);
      if (!href) continue;
      if (match.index > last) parent.append(text.slice(last, match.index));
      const link = h("a", { href, target: "_blank", rel: "noopener noreferrer", text: match[0] });
      if (liffTarget(href)) {
        link.addEventListener("click", (event) => {
          event.preventDefault();
          openLiff(liffTarget(href));
        });
      }
      parent.append(link);
      last = match.index + match[0].length;
    }
    if (last < text.length) parent.append(text.slice(last));
  }

  function emojiBadge(emoji) {
    const product = isObject(emoji) ? asString(emoji.productId) : "";
    const id = isObject(emoji) ? asString(emoji.emojiId) : "";
    return h("span", {
      class: "line-emoji",
      role: "img",
      "aria-label": "LINE絵文字",
      title: `LINE絵文字 ${product}/${id}`,
      dataset: { productId: product, emojiId: id },
      text: "☺",
    });
  }

  /** Text whose `$` characters at the given indexes are LINE emojis. */
  function renderEmojiText(text, emojis) {
    const frag = document.createDocumentFragment();
    const list = asArray(emojis).filter((e) => isObject(e) && Number.isInteger(e.index));
    if (!list.length) {
      appendLinkified(frag, text);
      return frag;
    }
    // LINE counts in UTF-16 code units; fall back to code points if that does
    // not line up with the `$` placeholders.
    const units = list.every((e) => text[e.index] === "$") ? text.split("") : Array.from(text);
    const byIndex = new Map(list.filter((e) => units[e.index] === "$").map((e) => [e.index, e]));
    let buffer = "";
    units.forEach((ch, i) => {
      if (byIndex.has(i)) {
        if (buffer) appendLinkified(frag, buffer);
        buffer = "";
        frag.append(emojiBadge(byIndex.get(i)));
      } else {
        buffer += ch;
      }
    });
    if (buffer) appendLinkified(frag, buffer);
    return frag;
  }

  /** Text message v2: `{key}` placeholders resolved from `substitution`. */
  function renderTextV2(msg) {
    const frag = document.createDocumentFragment();
    const text = asString(msg.text);
    const subs = isObject(msg.substitution) ? msg.substitution : {};
    const re = /\{\{|\}\}|\{([A-Za-z0-9_]{1,20})\}/g;
    let last = 0;
    let buffer = "";
    for (const match of text.matchAll(re)) {
      buffer += text.slice(last, match.index);
      last = match.index + match[0].length;
      if (match[0] === "{{" || match[0] === "}}") {
        buffer += match[0][0];
        continue;
      }
      const sub = subs[match[1]];
      if (!isObject(sub)) {
        buffer += match[0];
        continue;
      }
      if (buffer) appendLinkified(frag, buffer);
      buffer = "";
      if (sub.type === "emoji") {
        frag.append(emojiBadge(sub));
      } else if (sub.type === "mention") {
        const mentionee = isObject(sub.mentionee) ? sub.mentionee : {};
        let name = "ユーザー";
        if (mentionee.type === "all") name = "All";
        else if (mentionee.userId === state.currentId && currentFriend()) {
          name = asString(currentFriend().displayName);
        }
        frag.append(h("span", { class: "mention", text: `@${name}` }));
      } else {
        frag.append(match[0]);
      }
    }
    buffer += text.slice(last);
    if (buffer) appendLinkified(frag, buffer);
    return frag;
  }

  function renderInboundPostback(msg) {
    const display = asString(msg.displayText);
    if (display) return bubble(display, "bubble-text");
    const params = isObject(msg.params) ? Object.entries(msg.params).map(([k, v]) => `${k}=${v}`) : [];
    const detail = [asString(msg.data), ...params].filter(Boolean).join(" / ");
    return h("p", { class: "postback-note", text: `ポストバックを送信しました${detail ? `（${detail}）` : ""}` });
  }

  function renderSticker(msg) {
    const label = `スタンプ (${asString(msg.packageId)}/${asString(msg.stickerId)})`;
    return h(
      "div",
      { class: "sticker", role: "img", "aria-label": label },
      h("span", { class: "sticker-label", text: label }),
    );
  }

  /** <img> with a readable fallback when the source is missing or broken. */
  function image(rawUrl, alt, className) {
    const src = safeMediaUrl(rawUrl);
    const fallback = () =>
      h("span", { class: `img-fallback ${className || ""}`, role: "img", "aria-label": alt || "画像" }, alt || "画像");
    if (!src) return fallback();
    const img = h("img", { class: className || null, src, alt: alt || "", referrerpolicy: "no-referrer" });
    img.addEventListener("error", () => {
      const replacement = fallback();
      replacement.title = "画像を読み込めませんでした";
      img.replaceWith(replacement);
    });
    return img;
  }

  function renderImageMessage(msg) {
    const img = image(msg.previewImageUrl || msg.originalContentUrl, "画像", "media-image");
    const href = safeLinkUrl(msg.originalContentUrl);
    if (!href) return h("div", { class: "media" }, img);
    return h(
      "a",
      { class: "media", href, target: "_blank", rel: "noopener noreferrer", "aria-label": "画像を新しいタブで開く" },
      img,
    );
  }

  function renderVideo(previewUrl, contentUrl, className) {
    const poster = image(previewUrl, "動画のプレビュー", "video-poster");
    const inner = [poster, h("span", { class: "play-label", "aria-hidden": "true", text: "▶ 動画" })];
    const href = safeLinkUrl(contentUrl);
    if (!href) return h("div", { class: `media ${className}` }, inner);
    return h(
      "a",
      { class: `media ${className}`, href, target: "_blank", rel: "noopener noreferrer", "aria-label": "動画を新しいタブで再生" },
      inner,
    );
  }

  function renderAudio(msg) {
    const seconds = Number.isFinite(msg.duration) ? Math.round(msg.duration / 1000) : null;
    const label =
      seconds === null ? "音声" : `音声 (${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")})`;
    const src = safeMediaUrl(msg.originalContentUrl);
    return bubble(
      [
        h("span", { class: "audio-label", text: `🔊 ${label}` }),
        src ? h("audio", { controls: true, preload: "none", src, "aria-label": label }) : null,
      ],
      "bubble-audio",
    );
  }

  function renderLocation(msg) {
    const lat = Number(msg.latitude);
    const lng = Number(msg.longitude);
    return bubble(
      [
        h("strong", { class: "location-title", text: `📍 ${asString(msg.title) || "位置情報"}` }),
        h("span", { class: "location-address", text: asString(msg.address) }),
        Number.isFinite(lat) && Number.isFinite(lng)
          ? h("span", { class: "location-coords", text: `緯度 ${lat} / 経度 ${lng}` })
          : null,
      ],
      "bubble-location",
    );
  }

  function renderImagemap(msg) {
    const base = isObject(msg.baseSize) ? msg.baseSize : {};
    const width = Number(base.width) > 0 ? Number(base.width) : 1040;
    const height = Number(base.height) > 0 ? Number(base.height) : 1040;
    const alt = asString(msg.altText) || "イメージマップ";
    const baseUrl = asString(msg.baseUrl).replace(/\/+$/, "");
    const frame = h("div", { class: "imagemap", style: { aspectRatio: `${width} / ${height}` } });
    frame.append(image(baseUrl ? `${baseUrl}/1040` : "", alt, "imagemap-image"));
    for (const action of asArray(msg.actions)) {
      if (!isObject(action) || !isObject(action.area)) continue;
      const area = action.area;
      const mapped = imagemapAction(action);
      const label = asString(action.label) || actionLabel(mapped);
      const control = actionControl(mapped, { className: "imagemap-area", label, ariaLabel: label });
      Object.assign(control.style, {
        left: `${(Number(area.x) / width) * 100}%`,
        top: `${(Number(area.y) / height) * 100}%`,
        width: `${(Number(area.width) / width) * 100}%`,
        height: `${(Number(area.height) / height) * 100}%`,
      });
      control.title = label;
      frame.append(control);
    }
    if (isObject(msg.video)) {
      frame.append(h("span", { class: "imagemap-video-note", text: "▶ 動画エリア（シミュレーターでは再生しません）" }));
    }
    return withAltText(h("div", { class: "rich rich-imagemap" }, frame), alt);
  }

  /** Imagemap actions use different field names; map them to normal actions. */
  function imagemapAction(action) {
    switch (action.type) {
      case "uri":
        return { type: "uri", label: action.label, uri: action.linkUri };
      case "message":
        return { type: "message", label: action.label, text: action.text };
      case "clipboard":
        return { type: "clipboard", label: action.label, clipboardText: action.clipboardText };
      default:
        return action;
    }
  }

  // ---------------------------------------------------------------------------
  // Templates
  // ---------------------------------------------------------------------------

  function renderTemplate(template) {
    const t = isObject(template) ? template : {};
    switch (t.type) {
      case "buttons":
        return h("div", { class: "rich rich-template" }, templateCard(t, t));
      case "confirm":
        return h(
          "div",
          { class: "rich rich-template" },
          h(
            "div",
            { class: "tpl-card tpl-confirm" },
            h("p", { class: "tpl-text", text: asString(t.text) }),
            h(
              "div",
              { class: "tpl-actions tpl-actions-row" },
              asArray(t.actions).slice(0, 2).map((a) => actionControl(a, { className: "tpl-action" })),
            ),
          ),
        );
      case "carousel":
        return scroller(
          asArray(t.columns).map((col) => templateCard(isObject(col) ? col : {}, t)),
          "カルーセル",
          "rich-carousel",
        );
      case "image_carousel":
        return scroller(asArray(t.columns).map(imageCarouselColumn), "画像カルーセル", "rich-image-carousel");
      default:
        return bubble(`未対応のテンプレートです（${asString(t.type) || "不明"}）`, "bubble-muted");
    }
  }

  function scroller(items, label, className) {
    return h(
      "div",
      { class: `rich rich-scroller ${className}`, role: "group", "aria-label": label },
      h("div", { class: "h-scroll" }, items),
    );
  }

  /** A buttons-template card or a carousel column. */
  function templateCard(col, template) {
    const card = h("div", { class: "tpl-card" });
    const main = h("div", { class: "tpl-main" });
    if (col.thumbnailImageUrl) {
      const ratio = template.imageAspectRatio === "square" ? "1 / 1" : "1.51 / 1";
      const fit = template.imageSize === "contain" ? "contain" : "cover";
      const thumb = h("div", {
        class: "tpl-thumb",
        style: { aspectRatio: ratio, backgroundColor: safeColor(col.imageBackgroundColor) || "" },
      });
      const img = image(col.thumbnailImageUrl, asString(col.title) || "画像", "tpl-thumb-img");
      img.style.objectFit = fit;
      thumb.append(img);
      main.append(thumb);
    }
    const textBox = h("div", { class: "tpl-body" });
    if (col.title) textBox.append(h("p", { class: "tpl-title", text: asString(col.title) }));
    textBox.append(h("p", { class: "tpl-text", text: asString(col.text) }));
    main.append(textBox);
    if (isObject(col.defaultAction)) makeActionable(main, col.defaultAction);
    card.append(main);
    const actions = asArray(col.actions);
    if (actions.length) {
      card.append(
        h(
          "div",
          { class: "tpl-actions" },
          actions.map((a) => actionControl(a, { className: "tpl-action" })),
        ),
      );
    }
    return card;
  }

  function imageCarouselColumn(col) {
    const c = isObject(col) ? col : {};
    const action = isObject(c.action) ? c.action : {};
    const label = asString(action.label);
    const control = actionControl(action, {
      className: "img-col",
      label: "",
      ariaLabel: label || actionLabel(action),
    });
    control.append(image(c.imageUrl, label || "画像", "img-col-image"));
    if (label) control.append(h("span", { class: "img-col-label", text: label }));
    return control;
  }

  // ---------------------------------------------------------------------------
  // Flex messages
  // ---------------------------------------------------------------------------

  const SPACING = { none: 0, xs: 2, sm: 4, md: 8, lg: 12, xl: 16, xxl: 20 };
  const TEXT_SIZE = {
    xxs: 10, xs: 11, sm: 13, md: 14, lg: 16, xl: 18, xxl: 22, "3xl": 26, "4xl": 32, "5xl": 40,
  };
  const IMAGE_SIZE = {
    xxs: 40, xs: 60, sm: 80, md: 100, lg: 120, xl: 140, xxl: 160, "3xl": 180, "4xl": 200, "5xl": 240,
  };
  const BORDER_WIDTH = { none: 0, light: 0.5, normal: 1, medium: 2, "semi-bold": 3, bold: 4 };
  const BUBBLE_WIDTH = { nano: 120, micro: 160, deca: 220, hecto: 241, kilo: 260, mega: 300, giga: 386 };

  /** Keyword from `table` (as px) or an explicit `12px` / `50%` value. */
  function cssLength(value, table) {
    if (typeof value === "number" && Number.isFinite(value)) return `${value}px`;
    if (typeof value !== "string") return null;
    if (table && Object.prototype.hasOwnProperty.call(table, value)) return `${table[value]}px`;
    return /^-?\d+(\.\d+)?(px|%)$/.test(value.trim()) ? value.trim() : null;
  }

  function renderFlexContainer(contents) {
    const c = isObject(contents) ? contents : {};
    if (c.type === "carousel") {
      return scroller(asArray(c.contents).map(renderBubble), "カルーセル", "rich-flex-carousel");
    }
    if (c.type === "bubble") return h("div", { class: "rich rich-flex" }, renderBubble(c));
    return bubble("未対応の Flex Message です。", "bubble-muted");
  }

  function renderBubble(raw) {
    const b = isObject(raw) ? raw : {};
    const size = Object.prototype.hasOwnProperty.call(BUBBLE_WIDTH, b.size) ? b.size : "mega";
    const el = h("div", {
      class: `flex-bubble size-${size}`,
      dir: b.direction === "rtl" ? "rtl" : null,
      style: { width: `${BUBBLE_WIDTH[size]}px` },
    });
    const styles = isObject(b.styles) ? b.styles : {};
    let previous = false;
    for (const name of ["header", "hero", "body", "footer"]) {
      const part = b[name];
      if (!isObject(part)) continue;
      const st = isObject(styles[name]) ? styles[name] : {};
      const section = h("div", { class: `flex-section flex-${name}` });
      const bg = safeColor(st.backgroundColor);
      if (bg) section.style.backgroundColor = bg;
      if (st.separator && previous) {
        section.style.borderTop = `1px solid ${safeColor(st.separatorColor) || "#e0e0e0"}`;
      }
      section.append(renderFlexComponent(part, { parentLayout: "vertical", root: name }));
      el.append(section);
      previous = true;
    }
    if (isObject(b.action)) makeActionable(el, b.action);
    return el;
  }

  function renderFlexComponent(raw, ctx) {
    const c = isObject(raw) ? raw : {};
    let el;
    switch (c.type) {
      case "box":
        el = renderFlexBox(c, ctx);
        break;
      case "text":
        el = renderFlexText(c);
        break;
      case "image":
        el = renderFlexImage(c, ctx);
        break;
      case "video":
        el = renderVideo(c.previewUrl, c.url, "flex-video");
        break;
      case "button":
        el = renderFlexButton(c);
        break;
      case "icon":
        el = renderFlexIcon(c);
        break;
      case "separator":
        el = h("div", { class: "flex-separator", role: "separator" });
        if (safeColor(c.color)) el.style.borderColor = safeColor(c.color);
        break;
      case "spacer": {
        const size = cssLength(c.size || "md", SPACING) || "8px";
        el = h("div", { class: "flex-spacer", "aria-hidden": "true", style: { flexBasis: size, minHeight: size } });
        break;
      }
      case "filler":
        el = h("div", { class: "flex-filler", "aria-hidden": "true" });
        break;
      default:
        el = h("span", { class: "flex-unknown", text: `[${asString(c.type) || "?"}]` });
    }
    applyItemStyle(el, c, ctx);
    if (isObject(c.action) && c.type !== "button" && c.type !== "video") makeActionable(el, c.action);
    return el;
  }

  /** Sizing and placement common to all flex components. */
  function applyItemStyle(el, c, ctx) {
    const horizontal = ctx.parentLayout !== "vertical";
    const defaultFlex = c.type === "filler" ? 1 : horizontal && !ctx.root ? 1 : 0;
    const flex = Number.isFinite(c.flex) ? Math.max(0, c.flex) : defaultFlex;
    if (c.type === "separator" || c.type === "spacer" || c.type === "icon") {
      el.style.flex = "0 0 auto";
    } else if (flex > 0) {
      el.style.flex = horizontal ? `${flex} 1 0px` : `${flex} 0 auto`;
    } else {
      el.style.flex = "0 0 auto";
    }
    const margin = c.margin !== undefined ? cssLength(c.margin, SPACING) : ctx.spacing || null;
    if (margin && !ctx.first) {
      if (horizontal) el.style.marginInlineStart = margin;
      else el.style.marginTop = margin;
    }
    if (c.position === "absolute") el.style.position = "absolute";
    for (const [prop, side] of [
      ["offsetTop", "top"],
      ["offsetBottom", "bottom"],
      ["offsetStart", "insetInlineStart"],
      ["offsetEnd", "insetInlineEnd"],
    ]) {
      const v = cssLength(c[prop], SPACING);
      if (v) {
        if (c.position !== "absolute") el.style.position = "relative";
        el.style[side] = v;
      }
    }
    const gravity = { top: "flex-start", center: "center", bottom: "flex-end" }[c.gravity];
    if (gravity && horizontal) el.style.alignSelf = gravity;
  }

  function renderFlexBox(c, ctx) {
    const layout = ["horizontal", "baseline"].includes(c.layout) ? c.layout : "vertical";
    const el = h("div", { class: `flex-box layout-${layout}` });
    const s = el.style;
    const bg = safeColor(c.backgroundColor);
    if (bg) s.backgroundColor = bg;
    if (isObject(c.background) && c.background.type === "linearGradient") {
      const start = safeColor(c.background.startColor);
      const end = safeColor(c.background.endColor);
      const angle = /^-?\d+(\.\d+)?deg$/.test(asString(c.background.angle)) ? c.background.angle : "0deg";
      if (start && end) s.backgroundImage = `linear-gradient(${angle}, ${start}, ${end})`;
    }
    const borderColor = safeColor(c.borderColor);
    const borderWidth = cssLength(c.borderWidth, BORDER_WIDTH);
    if (borderColor || borderWidth) {
      s.borderStyle = "solid";
      s.borderWidth = borderWidth || "1px";
      s.borderColor = borderColor || "#000000";
    }
    const radius = cssLength(c.cornerRadius, SPACING);
    if (radius) s.borderRadius = radius;
    for (const prop of ["width", "height", "maxWidth", "maxHeight"]) {
      const v = cssLength(c[prop]);
      if (v) s[prop] = v;
    }
    // Section roots get LINE-like default padding unless set explicitly.
    const hasPadding = ["paddingAll", "paddingTop", "paddingBottom", "paddingStart", "paddingEnd"].some(
      (k) => c[k] !== undefined,
    );
    if (!hasPadding && ctx.root && ctx.root !== "hero") {
      s.padding = ctx.root === "footer" ? "10px" : "16px";
    }
    const all = cssLength(c.paddingAll, SPACING);
    if (all) s.padding = all;
    for (const [prop, css] of [
      ["paddingTop", "paddingTop"],
      ["paddingBottom", "paddingBottom"],
      ["paddingStart", "paddingInlineStart"],
      ["paddingEnd", "paddingInlineEnd"],
    ]) {
      const v = cssLength(c[prop], SPACING);
      if (v) s[css] = v;
    }
    const justify = {
      "flex-start": "flex-start", center: "center", "flex-end": "flex-end",
      "space-between": "space-between", "space-around": "space-around", "space-evenly": "space-evenly",
    }[c.justifyContent];
    if (justify) s.justifyContent = justify;
    const align = { "flex-start": "flex-start", center: "center", "flex-end": "flex-end" }[c.alignItems];
    if (align) s.alignItems = align;

    const spacing = c.spacing !== undefined ? cssLength(c.spacing, SPACING) : null;
    asArray(c.contents).forEach((child, index) => {
      el.append(
        renderFlexComponent(child, { parentLayout: layout, spacing, first: index === 0 }),
      );
    });
    return el;
  }

  function textStyle(el, c) {
    const size = cssLength(c.size, TEXT_SIZE);
    if (size) el.style.fontSize = size;
    if (c.weight === "bold") el.style.fontWeight = "700";
    const color = safeColor(c.color);
    if (color) el.style.color = color;
    if (c.style === "italic") el.style.fontStyle = "italic";
    if (c.decoration === "underline" || c.decoration === "line-through") el.style.textDecoration = c.decoration;
  }

  function renderFlexText(c) {
    const el = h("div", { class: "flex-text" });
    textStyle(el, c);
    const align = { start: "start", center: "center", end: "end" }[c.align];
    if (align) el.style.textAlign = align;
    const spans = asArray(c.contents).filter((s) => isObject(s) && s.type === "span");
    let plain;
    if (spans.length) {
      for (const span of spans) {
        const s = h("span", { text: asString(span.text) });
        textStyle(s, span);
        el.append(s);
      }
      plain = spans.map((s) => asString(s.text)).join("");
    } else {
      plain = asString(c.text);
      el.textContent = plain;
    }
    const lineSpacing = cssLength(c.lineSpacing);
    if (lineSpacing) el.style.lineHeight = `calc(1.4em + ${lineSpacing})`;
    if (c.wrap === true) {
      el.classList.add("wrap");
      if (Number.isInteger(c.maxLines) && c.maxLines > 0) {
        el.classList.add("clamp");
        el.style.webkitLineClamp = String(c.maxLines);
      }
    } else {
      el.classList.add("nowrap");
      el.title = plain;
    }
    return el;
  }

  function renderFlexImage(c, ctx) {
    const wrap = h("div", { class: "flex-image-wrap" });
    const size = c.size === "full" ? "100%" : cssLength(c.size || "md", IMAGE_SIZE) || "100px";
    const ratio = /^\d+(\.\d+)?:\d+(\.\d+)?$/.test(asString(c.aspectRatio))
      ? c.aspectRatio.replace(":", " / ")
      : "1 / 1";
    const frame = h("div", { class: "flex-image", style: { width: size, aspectRatio: ratio } });
    const bg = safeColor(c.backgroundColor);
    if (bg) frame.style.backgroundColor = bg;
    const img = image(c.url, ctx.root === "hero" ? "メイン画像" : "画像", "flex-image-img");
    img.style.objectFit = c.aspectMode === "cover" ? "cover" : "contain";
    frame.append(img);
    wrap.append(frame);
    const align = { start: "flex-start", center: "center", end: "flex-end" }[c.align] || "center";
    wrap.style.justifyContent = align;
    return wrap;
  }

  function renderFlexIcon(c) {
    const size = cssLength(c.size || "md", TEXT_SIZE) || "14px";
    const [w, hgt] = /^\d+(\.\d+)?:\d+(\.\d+)?$/.test(asString(c.aspectRatio))
      ? c.aspectRatio.split(":").map(Number)
      : [1, 1];
    const img = image(c.url, "", "flex-icon");
    img.style.height = size;
    img.style.width = `calc(${size} * ${w / hgt})`;
    return img;
  }

  function renderFlexButton(c) {
    const style = ["primary", "secondary"].includes(c.style) ? c.style : "link";
    const el = actionControl(isObject(c.action) ? c.action : {}, {
      className: `flex-button style-${style}${c.height === "sm" ? " height-sm" : ""}`,
    });
    const color = safeColor(c.color);
    if (color) {
      if (style === "link") el.style.color = color;
      else el.style.backgroundColor = color;
    }
    return el;
  }

  // ---------------------------------------------------------------------------
  // Actions
  // ---------------------------------------------------------------------------

  function actionLabel(action) {
    if (!isObject(action)) return "アクション";
    if (typeof action.label === "string" && action.label) return action.label;
    switch (action.type) {
      case "message":
        return asString(action.text) || "メッセージ";
      case "uri":
        return "リンクを開く";
      case "postback":
        return asString(action.displayText) || "選択";
      case "datetimepicker":
        return "日時を選択";
      case "camera":
        return "カメラ";
      case "cameraRoll":
        return "カメラロール";
      case "location":
        return "位置情報";
      case "clipboard":
        return "コピー";
      default:
        return "アクション";
    }
  }

  /**
   * A control performing `action`: a link for safe `uri` actions, a <button>
   * otherwise. `label: ""` leaves the content to the caller.
   */
  function actionControl(action, { className = "", label, ariaLabel } = {}) {
    const a = isObject(action) ? action : {};
    const text = label === undefined ? actionLabel(a) : label;
    let el;
    const href = a.type === "uri" && !liffTarget(a.uri) ? safeLinkUrl(a.uri) : null;
    if (href) {
      el = h("a", { class: `action ${className}`, href, target: "_blank", rel: "noopener noreferrer" });
      el.addEventListener("click", (event) => event.stopPropagation());
    } else {
      el = h("button", { type: "button", class: `action ${className}` });
      el.addEventListener("click", (event) => {
        event.stopPropagation();
        performAction(a);
      });
    }
    el.dataset.actionType = asString(a.type) || "none";
    if (text) el.append(h("span", { class: "action-label", text }));
    if (ariaLabel) el.setAttribute("aria-label", ariaLabel);
    return el;
  }

  /** Make a non-button element (flex box, template body…) trigger `action`. */
  function makeActionable(el, action) {
    el.classList.add("actionable");
    el.tabIndex = 0;
    el.setAttribute("role", action.type === "uri" ? "link" : "button");
    if (action.label) el.setAttribute("aria-label", asString(action.label));
    el.dataset.actionType = asString(action.type);
    const run = (event) => {
      event.stopPropagation();
      performAction(action);
    };
    el.addEventListener("click", run);
    el.addEventListener("keydown", (event) => {
      if (event.target !== el) return;
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        run(event);
      }
    });
  }

  const UNSUPPORTED_ACTIONS = { camera: "カメラ", cameraRoll: "カメラロール", location: "位置情報" };

  /** Returns true if the action did something (used to dismiss quick replies). */
  async function performAction(action) {
    if (!isObject(action)) return false;
    switch (action.type) {
      case "message":
        return sendText(asString(action.text) || asString(action.label));
      case "postback": {
        if (action.inputOption === "openKeyboard") {
          if (typeof action.fillInText === "string") ui.composerInput.value = action.fillInText;
          ui.composerInput.focus();
        }
        const displayText = asString(action.displayText) || asString(action.text);
        return sendPostback({ data: asString(action.data), displayText: displayText || undefined });
      }
      case "richmenuswitch":
        return switchRichMenu(action);
      case "datetimepicker":
        return pickDateTime(action);
      case "uri": {
        const liff = liffTarget(action.uri);
        if (liff) return openLiff(liff);
        const href = safeLinkUrl(action.uri);
        if (!href) {
          showNotice("このリンクは開けません（URL が不正です）。", "error");
          return false;
        }
        window.open(href, "_blank", "noopener,noreferrer");
        return true;
      }
      case "clipboard":
        return copyText(asString(action.clipboardText));
      default: {
        const name = UNSUPPORTED_ACTIONS[action.type];
        showNotice(
          name
            ? `「${name}」アクションはシミュレーターでは使えません。実機の LINE で確認してください。`
            : `未対応のアクションです（${asString(action.type) || "不明"}）。`,
        );
        return false;
      }
    }
  }

  function requireFollowing() {
    const friend = currentFriend();
    if (friend && friend.following) return friend;
    showNotice(friend ? "友だち追加すると話せます。" : "先に友だちを選ぶか作成してください。");
    return null;
  }

  /** Run sends one after another so the transcript order matches the taps. */
  function enqueue(task) {
    const run = state.actionQueue.then(task, task);
    state.actionQueue = run.catch(() => undefined);
    return run;
  }

  async function sendText(text) {
    if (!text.trim()) return false;
    const friend = requireFollowing();
    if (!friend) return false;
    dismissActiveQuickReply();
    return enqueue(async () => {
      try {
        const result = await api(friendPath(friend.userId, "messages"), { method: "POST", body: { text } });
        reportWebhook(result);
        if (friend.userId === state.currentId) await loadTranscript();
        return true;
      } catch (err) {
        showNotice(describeError(err, "メッセージを送信"), "error");
        return false;
      }
    });
  }

  async function sendPostback({ data, displayText, params }) {
    const friend = requireFollowing();
    if (!friend) return false;
    dismissActiveQuickReply();
    const body = { data };
    if (displayText) body.displayText = displayText;
    if (params) body.params = params;
    return enqueue(async () => {
      try {
        const result = await api(friendPath(friend.userId, "postbacks"), { method: "POST", body });
        reportWebhook(result);
        if (friend.userId === state.currentId) await loadTranscript();
        return true;
      } catch (err) {
        showNotice(describeError(err, "ポストバックを送信"), "error");
        return false;
      }
    });
  }

  const PICKER_MODES = {
    date: { type: "date", title: "日付を選択", label: "日付", re: /^\d{4}-\d{2}-\d{2}$/, length: 10 },
    time: { type: "time", title: "時刻を選択", label: "時刻", re: /^\d{2}:\d{2}$/, length: 5 },
    datetime: {
      type: "datetime-local", title: "日時を選択", label: "日時", re: /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/, length: 16,
    },
  };

  async function pickDateTime(action) {
    if (!requireFollowing()) return false;
    const modeName = Object.prototype.hasOwnProperty.call(PICKER_MODES, action.mode) ? action.mode : "datetime";
    const mode = PICKER_MODES[modeName];
    const value = await askDateTime(mode, action);
    if (value === null) return false;
    return sendPostback({ data: asString(action.data), params: { [modeName]: value } });
  }

  /** Show the native picker in a modal dialog; resolves to the value or null. */
  function askDateTime(mode, action) {
    const input = ui.pickerInput;
    const dialog = ui.pickerDialog;
    if (dialog.open) return Promise.resolve(null);
    input.type = mode.type;
    for (const attr of ["min", "max"]) {
      const v = asString(action[attr]);
      if (mode.re.test(v)) input.setAttribute(attr, v);
      else input.removeAttribute(attr);
    }
    input.value = mode.re.test(asString(action.initial)) ? action.initial : "";
    ui.pickerTitle.textContent = asString(action.label) || mode.title;
    ui.pickerLabel.textContent = mode.label;

    if (typeof dialog.showModal !== "function") {
      const answer = window.prompt(`${mode.title}（例: ${mode.type === "time" ? "09:30" : "2026-01-31"}）`, input.value);
      return Promise.resolve(answer && mode.re.test(answer.trim()) ? answer.trim() : null);
    }
    return new Promise((resolve) => {
      const onClose = () => {
        dialog.removeEventListener("close", onClose);
        const ok = dialog.returnValue === "ok" && input.value;
        resolve(ok ? input.value.slice(0, mode.length) : null);
      };
      dialog.addEventListener("close", onClose);
      dialog.returnValue = "";
      dialog.showModal();
      input.focus();
    });
  }

  ui.pickerCancel.addEventListener("click", () => ui.pickerDialog.close("cancel"));

  async function copyText(text) {
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
      } else {
        const area = h("textarea", { class: "visually-hidden", readonly: true });
        area.value = text;
        document.body.append(area);
        area.select();
        const ok = document.execCommand("copy");
        area.remove();
        if (!ok) throw new Error("copy failed");
      }
      showNotice(`コピーしました: ${text}`);
      return true;
    } catch {
      showNotice(`コピーできませんでした。手動でコピーしてください: ${text}`, "error");
      return false;
    }
  }

  // ---------------------------------------------------------------------------
  // Rich menu
  // ---------------------------------------------------------------------------

  async function loadRichMenu() {
    const userId = state.currentId;
    const token = ++state.richMenuToken;
    let menu = null;
    if (userId) {
      try {
        const data = await api(friendPath(userId, "richmenu"));
        menu = typeof data.richMenuId === "string" ? data : null;
      } catch (err) {
        if (token === state.richMenuToken) showNotice(describeError(err, "リッチメニューを取得"), "error");
        return;
      }
    }
    // A newer request, or another friend chosen meanwhile, wins over this answer.
    if (token !== state.richMenuToken || userId !== state.currentId) return;
    state.richMenu = menu;
    renderRichMenu();
  }

  function scheduleRichMenuReload() {
    clearTimeout(state.richMenuReloadTimer);
    state.richMenuReloadTimer = setTimeout(() => {
      loadRichMenu();
    }, 50);
  }

  /** What the area's button is called: its label, else what tapping it says or does. */
  function richMenuAreaName(action) {
    if (!isObject(action)) return "アクション";
    if (typeof action.label === "string" && action.label) return action.label;
    if (action.type === "message" && action.text) return asString(action.text);
    if (action.type === "postback" && (action.displayText || action.text)) {
      return asString(action.displayText || action.text);
    }
    if (action.type === "richmenuswitch") return "メニューを切り替える";
    return actionLabel(action);
  }

  function renderRichMenu({ keepOpen = false } = {}) {
    const friend = currentFriend();
    const menu = friend && friend.following ? state.richMenu : null;
    ui.richMenu.hidden = !menu;
    if (!menu) {
      state.richMenuShownId = null;
      ui.richMenuPanel.textContent = "";
      delete ui.richMenu.dataset.richMenuId;
      return;
    }
    ui.richMenuBarText.textContent = asString(menu.chatBarText) || "メニュー";
    if (menu.richMenuId !== state.richMenuShownId) {
      if (!keepOpen) state.richMenuOpen = menu.selected === true;
      state.richMenuShownId = menu.richMenuId;
      ui.richMenu.dataset.richMenuId = menu.richMenuId;
      ui.richMenuPanel.textContent = "";
      ui.richMenuPanel.append(richMenuFrame(menu));
    }
    setRichMenuOpen(state.richMenuOpen);
  }

  function richMenuFrame(menu) {
    const size = isObject(menu.size) ? menu.size : {};
    const width = Number(size.width) > 0 ? Number(size.width) : 2500;
    const height = Number(size.height) > 0 ? Number(size.height) : 843;
    const frame = h("div", { class: "richmenu-frame", style: { aspectRatio: `${width} / ${height}` } });
    const src = new URL(`richmenus/${encodeURIComponent(menu.richMenuId)}/image`, API_BASE).href;
    frame.append(
      h("img", {
        class: "richmenu-image",
        "data-testid": "richmenu-image",
        src,
        alt: `リッチメニュー「${asString(menu.chatBarText)}」`,
        draggable: "false",
      }),
    );
    for (const area of asArray(menu.areas)) {
      if (!isObject(area) || !isObject(area.bounds) || !isObject(area.action)) continue;
      const { bounds, action } = area;
      const name = richMenuAreaName(action);
      const button = h("button", {
        type: "button",
        class: "richmenu-area",
        "data-testid": "richmenu-area",
        "aria-label": name,
        title: name,
        dataset: { actionType: asString(action.type) },
        style: {
          left: `${(Number(bounds.x) / width) * 100}%`,
          top: `${(Number(bounds.y) / height) * 100}%`,
          width: `${(Number(bounds.width) / width) * 100}%`,
          height: `${(Number(bounds.height) / height) * 100}%`,
        },
      });
      button.addEventListener("click", () => tapRichMenuArea(action));
      frame.append(button);
    }
    return frame;
  }

  function setRichMenuOpen(open) {
    state.richMenuOpen = open;
    ui.richMenuPanel.hidden = !open;
    ui.richMenuToggle.setAttribute("aria-expanded", open ? "true" : "false");
    ui.richMenu.dataset.open = open ? "true" : "false";
    if (open && state.stickToBottom) scrollToBottom();
  }

  ui.richMenuToggle.addEventListener("click", () => setRichMenuOpen(!state.richMenuOpen));

  /** A tap on an area does what LINE does with the action. */
  function tapRichMenuArea(action) {
    if (action.type === "postback") {
      if (action.inputOption === "closeRichMenu") setRichMenuOpen(false);
      else if (action.inputOption === "openRichMenu") setRichMenuOpen(true);
    }
    return performAction(action);
  }

  /** LINE links the alias's menu to the friend, then sends the postback with its status. */
  async function switchRichMenu(action) {
    const friend = requireFollowing();
    if (!friend) return false;
    const body = { richMenuAliasId: asString(action.richMenuAliasId), data: asString(action.data) };
    return enqueue(async () => {
      try {
        const result = await api(friendPath(friend.userId, "richmenu/switch"), { method: "POST", body });
        reportWebhook(result);
        if (result.status !== "SUCCESS") {
          showNotice(`リッチメニューを切り替えられませんでした（${asString(result.status)}）。`, "error");
        }
        if (friend.userId === state.currentId) {
          state.richMenuToken++; // an older load must not undo the switch
          state.richMenu = isObject(result.richMenu) ? result.richMenu : null;
          renderRichMenu({ keepOpen: true });
          await loadTranscript();
        }
        return true;
      } catch (err) {
        showNotice(describeError(err, "リッチメニューを切り替え"), "error");
        return false;
      }
    });
  }

  // ---------------------------------------------------------------------------
  // LIFF
  // ---------------------------------------------------------------------------

  /** The sandbox page for a LIFF URL (host liff.line.me, path /{liffId}/{path}), or null. */
  function liffTarget(raw) {
    if (typeof raw !== "string") return null;
    let url;
    try {
      url = new URL(raw.trim());
    } catch {
      return null;
    }
    const root = new URL(APP_ROOT);
    // An inflow route of this server (/r/NAME) opened in LINE is identified through LIFF:
    // open it in the overlay, signed in, as LINE's in-app browser would.
    if (url.origin === root.origin && /^\/r\/[^/]+$/.test(url.pathname)) {
      return new URL(`${url.pathname.slice(1)}${url.search}`, APP_ROOT);
    }
    if (url.protocol !== "https:" || url.hostname !== LIFF_HOST) return null;
    const match = /^\/[^/]+\/?(.*)$/.exec(url.pathname);
    if (!match) return null;
    return new URL(`liff/${match[1]}${url.search}`, APP_ROOT);
  }

  /** Open a LIFF page in a phone-sized overlay, signed in as the current friend. */
  async function openLiff(target) {
    const friend = currentFriend();
    if (!friend) {
      showNotice("先に友だちを選ぶか作成してください。");
      return false;
    }
    const dialog = ui.liffDialog;
    ui.liffError.hidden = true;
    ui.liffError.textContent = "";
    ui.liffFrame.hidden = true;
    ui.liffFrame.removeAttribute("src");
    dialog.dataset.state = "loading";
    if (!dialog.open) {
      if (typeof dialog.showModal === "function") dialog.showModal();
      else dialog.setAttribute("open", "");
    }
    try {
      const data = await api("liff/token", { method: "POST", body: { userId: friend.userId } });
      if (typeof data.idToken !== "string" || !data.idToken) {
        throw new ApiError(500, "ID トークンが返されませんでした");
      }
      const page = new URL(target.href);
      page.hash = `sandbox_id_token=${encodeURIComponent(data.idToken)}`;
      ui.liffFrame.src = page.href;
      ui.liffFrame.hidden = false;
      dialog.dataset.state = "open";
      return true;
    } catch (err) {
      ui.liffError.textContent = describeError(err, "LIFF アプリを開く準備（ID トークンの取得）が");
      ui.liffError.hidden = false;
      dialog.dataset.state = "error";
      return false;
    }
  }

  function closeLiff() {
    const dialog = ui.liffDialog;
    if (dialog.open && typeof dialog.close === "function") dialog.close();
    else dialog.removeAttribute("open");
  }

  ui.liffClose.addEventListener("click", closeLiff);
  ui.liffDialog.addEventListener("close", () => {
    ui.liffFrame.removeAttribute("src");
    ui.liffFrame.hidden = true;
    delete ui.liffDialog.dataset.state;
  });

  // ---------------------------------------------------------------------------
  // Quick replies
  // ---------------------------------------------------------------------------

  /** The latest non-system entry, if it is a bot message with a quick reply. */
  function activeQuickReplyEntry() {
    const friend = currentFriend();
    if (!friend || !friend.following) return null;
    const list = sortedEntries(friend.userId);
    for (let i = list.length - 1; i >= 0; i--) {
      const entry = list[i];
      if (entry.direction === "system") continue;
      if (entry.direction !== "out") return null;
      const qr = isObject(entry.message) ? entry.message.quickReply : null;
      const items = isObject(qr) ? asArray(qr.items) : [];
      if (!items.length) return null;
      return state.dismissedQuickReplies.has(`${friend.userId}:${entry.seq}`) ? null : entry;
    }
    return null;
  }

  function dismissActiveQuickReply() {
    const entry = activeQuickReplyEntry();
    if (entry) state.dismissedQuickReplies.add(`${state.currentId}:${entry.seq}`);
    renderQuickReplies();
  }

  function renderQuickReplies() {
    const entry = activeQuickReplyEntry();
    const key = entry ? `${state.currentId}:${entry.seq}` : null;
    if (key === state.quickReplyKey) return;
    state.quickReplyKey = key;
    const bar = ui.quickReplies;
    bar.textContent = "";
    if (!entry) {
      bar.hidden = true;
      return;
    }
    for (const item of asArray(entry.message.quickReply.items)) {
      if (!isObject(item) || !isObject(item.action)) continue;
      const action = item.action;
      const chip = h("button", {
        type: "button",
        class: "chip",
        "data-testid": "quick-reply",
        dataset: { actionType: asString(action.type) },
      });
      const icon = safeMediaUrl(item.imageUrl);
      if (icon) chip.append(h("img", { src: icon, alt: "", class: "chip-icon", referrerpolicy: "no-referrer" }));
      chip.append(h("span", { text: actionLabel(action) }));
      chip.addEventListener("click", async () => {
        if (UNSUPPORTED_ACTIONS[action.type]) {
          performAction(action);
          return;
        }
        const used = await performAction(action);
        if (used && (action.type === "uri" || action.type === "clipboard")) dismissActiveQuickReply();
      });
      bar.append(chip);
    }
    bar.hidden = false;
    if (state.stickToBottom) scrollToBottom();
  }

  // ---------------------------------------------------------------------------
  // Wiring
  // ---------------------------------------------------------------------------

  ui.friendSelect.addEventListener("change", () => {
    selectFriend(ui.friendSelect.value || null);
  });
  ui.newFriendForm.addEventListener("submit", createFriend);
  ui.followButton.addEventListener("click", () => setFollowing(true));
  ui.blockButton.addEventListener("click", () => setFollowing(false));
  ui.showJson.addEventListener("change", () => {
    ui.chat.classList.toggle("show-json", ui.showJson.checked);
  });
  ui.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = ui.composerInput.value;
    if (!text.trim() || ui.composerInput.disabled) return;
    ui.composerInput.value = "";
    sendText(text);
    ui.composerInput.focus();
  });

  // ---------------------------------------------------------------------------
  // Integrations: signed Stripe and Shopify test events for the selected friend
  // ---------------------------------------------------------------------------

  function renderIntegrationButtons(following) {
    const info = state.integrations;
    const stripe = Boolean(info && info.stripe && info.stripe.enabled);
    const shopify = Boolean(info && info.shopify && info.shopify.enabled);
    ui.integrationRow.hidden = !(stripe || shopify);
    ui.simulatePayment.hidden = !stripe;
    ui.simulateOrder.hidden = !shopify;
    ui.simulatePayment.disabled = !following || state.simulating;
    ui.simulateOrder.disabled = !following || state.simulating;
  }

  async function loadIntegrations() {
    try {
      state.integrations = await api("integrations");
    } catch {
      state.integrations = null; // the stand-in alone (stepbot sandbox) has no integrations
    }
    renderFriendState();
  }

  async function simulate(kind) {
    const friend = currentFriend();
    const info = state.integrations;
    if (!friend || !info) return;
    const payment = kind === "payment";
    const path = payment ? "stripe/events" : "shopify/orders";
    const body = payment
      ? { user_id: friend.userId, type: "checkout.session.completed", price: info.stripe.price }
      : { user_id: friend.userId, items: [info.shopify.item] };
    const what = payment ? "決済イベントを送信" : "注文イベントを送信";
    state.simulating = true;
    renderFriendState();
    try {
      const result = await api(path, { method: "POST", body });
      const status = typeof result.status === "number" ? result.status : "?";
      const ok = typeof result.status === "number" && result.status >= 200 && result.status < 300;
      showNotice(
        ok
          ? `${payment ? "決済" : "注文"}のテストイベント（${asString(result.id)}）を送信しました。`
          : `${what}しましたが、ボットが HTTP ${status} を返しました。`,
        ok ? "info" : "error",
      );
      await Promise.allSettled([loadTranscript(), loadRichMenu()]);
    } catch (err) {
      showNotice(describeError(err, what), "error");
    } finally {
      state.simulating = false;
      renderFriendState();
    }
  }

  ui.simulatePayment.addEventListener("click", () => simulate("payment"));
  ui.simulateOrder.addEventListener("click", () => simulate("order"));

  /** With nobody selected, show the friend picked last time (or the first one). */
  async function selectInitialFriend() {
    if (state.currentId || !state.friends.length) return;
    let preferred = null;
    try {
      preferred = localStorage.getItem(STORAGE_KEY);
    } catch {
      preferred = null;
    }
    await selectFriend(findFriend(preferred) ? preferred : state.friends[0].userId);
  }

  async function init() {
    openStream();
    loadIntegrations();
    try {
      await loadFriends();
    } catch (err) {
      showNotice(describeError(err, "友だち一覧を取得"), "error");
      return;
    }
    await selectInitialFriend();
  }

  init();
})();
