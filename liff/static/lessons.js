// The lesson history (これまでの動画): lessons delivered so far, watched ones marked.

import { callApi, FAILED, setStatus, showNotice, signedInToken } from "./core.js";

function item(lesson) {
  const li = document.createElement("li");
  li.className = "lesson";
  li.dataset.testid = "lesson";
  li.dataset.watched = String(lesson.watched);

  const number = document.createElement("p");
  number.className = "lesson-number";
  number.textContent = `レッスン${lesson.number}`;
  const title = document.createElement("h2");
  title.className = "lesson-title";
  title.textContent = lesson.title;

  const footer = document.createElement("div");
  footer.className = "lesson-footer";
  const mark = document.createElement("span");
  mark.className = lesson.watched ? "mark watched" : "mark";
  mark.dataset.testid = "watched-mark";
  mark.textContent = lesson.watched ? "視聴済み" : "未視聴";
  footer.append(mark);
  if (lesson.url) {
    const link = document.createElement("a");
    link.className = "watch-link";
    link.href = lesson.url; // the server only hands out http(s) links
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    link.textContent = "動画を見る";
    link.setAttribute("aria-label", `${lesson.title}の動画を見る`);
    footer.append(link);
  }
  li.append(number, title, footer);
  return li;
}

async function start() {
  const token = await signedInToken();
  if (!token) {
    return;
  }
  const { status, data } = await callApi(document.body.dataset.api, { token });
  if (status !== 200) {
    showNotice(data.message || FAILED);
    return;
  }
  setStatus("");
  const list = document.getElementById("lessons");
  list.replaceChildren(...data.lessons.map(item));
  list.hidden = data.lessons.length === 0;
  document.getElementById("empty").hidden = data.lessons.length > 0;
}

start();
