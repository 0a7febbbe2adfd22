// crosspost web app: the few things htmx does not do by itself. No framework, no build step.
"use strict";

function csrfToken() {
  const headers = document.body.getAttribute("hx-headers");
  return headers ? JSON.parse(headers)["X-CSRF-Token"] : "";
}

// Calendar: drag a post to another day (its time of day is kept); the answer replaces the
// calendar, or shows the refusal (a DST gap, a blackout) where it was dropped.
function setUpCalendarDrag(root) {
  root.querySelectorAll("[data-publication][draggable=true]").forEach((entry) => {
    entry.addEventListener("dragstart", (event) => {
      event.dataTransfer.setData("text/plain", entry.dataset.publication);
      event.dataTransfer.effectAllowed = "move";
    });
  });
  root.querySelectorAll("[data-day]").forEach((day) => {
    day.addEventListener("dragover", (event) => { event.preventDefault(); day.classList.add("drop-target"); });
    day.addEventListener("dragleave", () => day.classList.remove("drop-target"));
    day.addEventListener("drop", (event) => {
      event.preventDefault();
      day.classList.remove("drop-target");
      const publication = event.dataTransfer.getData("text/plain");
      if (!publication) return;
      htmx.ajax("POST", "/calendar/move", {
        target: "#calendar", swap: "outerHTML",
        values: { publication: publication, day: day.dataset.day, csrf: csrfToken(), view: root.dataset.view || "month", start: root.dataset.start || "", zone: root.dataset.zone || "" },
      });
    });
  });
}

// Composer: upload through the API (multipart, the session cookie and its CSRF token) with a
// progress bar; each uploaded file becomes a media row: its id, alt text and focal point.
function setUpUpload(form) {
  const input = form.querySelector("input[type=file]");
  const bar = form.querySelector("progress");
  const status = form.querySelector("[data-upload-status]");
  input.addEventListener("change", () => {
    const file = input.files[0];
    if (!file) return;
    const body = new FormData();
    body.append("file", file, file.name);
    const request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.setRequestHeader("X-CSRF-Token", csrfToken());
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) { bar.max = event.total; bar.value = event.loaded; }
    });
    request.addEventListener("load", () => {
      let answer = {};
      try { answer = JSON.parse(request.responseText); } catch (error) { answer = { detail: request.responseText }; }
      if (request.status >= 300) {
        status.textContent = "Not uploaded: " + (answer.detail || request.status);
        status.className = "refusal";
        return;
      }
      status.className = "hint";
      status.textContent = "Uploaded " + file.name;
      const target = document.querySelector(form.dataset.target);
      const index = target.children.length;
      const row = document.createElement("div");
      row.className = "card media-row";
      const url = URL.createObjectURL(file);
      const picture = answer.kind === "image"
        ? `<div class="focal" tabindex="0" role="group" aria-label="Focal point of ${escapeHtml(file.name)}: click, or use the arrow keys"><img src="${url}" alt="" style="max-width:16rem"><span class="dot"></span></div>`
        : `<video src="${url}" controls style="max-width:16rem"></video>`;
      row.innerHTML = `${picture}
        <p class="hint">${escapeHtml(answer.name || file.name)} · ${answer.kind} · ${answer.width || "?"}x${answer.height || "?"}</p>
        <input type="hidden" name="media_id" value="${answer.id}" form="compose-form">
        <input type="hidden" name="media_focus_x" value="" form="compose-form">
        <input type="hidden" name="media_focus_y" value="" form="compose-form">
        <label for="alt-${index}">Alt text for ${escapeHtml(file.name)}</label>
        <textarea id="alt-${index}" name="media_alt" form="compose-form" style="min-height:3rem"></textarea>`;
      target.appendChild(row);
      row.querySelectorAll(".focal").forEach(setUpFocalPicker);
    });
    request.send(body);
  });
}

function escapeHtml(text) {
  const span = document.createElement("span");
  span.textContent = text;
  return span.innerHTML;
}

// Focal point: click on the image; the point (0..1, 0..1) goes into the hidden inputs.
function setUpFocalPicker(box) {
  if (box.dataset.ready) return;
  box.dataset.ready = "1";
  const image = box.querySelector("img");
  const dot = box.querySelector(".dot");
  const x = box.parentElement.querySelector("input[name$='focus_x']");
  const y = box.parentElement.querySelector("input[name$='focus_y']");
  if (!x || !y) return;
  dot.hidden = !x.value;  // no point until one is picked: the crop then follows the subject found automatically
  const place = (fx, fy) => { dot.hidden = false; dot.style.left = (fx * 100) + "%"; dot.style.top = (fy * 100) + "%"; x.value = fx.toFixed(3); y.value = fy.toFixed(3); };
  image.addEventListener("click", (event) => {
    const rect = image.getBoundingClientRect();
    place((event.clientX - rect.left) / rect.width, (event.clientY - rect.top) / rect.height);
  });
  box.addEventListener("keydown", (event) => {  // arrow keys move the point: usable without a mouse
    const step = 0.05;
    let fx = parseFloat(x.value || "0.5"), fy = parseFloat(y.value || "0.5");
    if (event.key === "ArrowLeft") fx -= step; else if (event.key === "ArrowRight") fx += step;
    else if (event.key === "ArrowUp") fy -= step; else if (event.key === "ArrowDown") fy += step; else return;
    event.preventDefault();
    place(Math.min(1, Math.max(0, fx)), Math.min(1, Math.max(0, fy)));
  });
  place(parseFloat(x.value || "0.5"), parseFloat(y.value || "0.5"));
}

// Tabs (composer channels): arrow keys move between tabs, as the ARIA pattern asks.
function setUpTabs(list) {
  const tabs = Array.from(list.querySelectorAll("[role=tab]"));
  const select = (tab) => {
    tabs.forEach((other) => {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      other.tabIndex = selected ? 0 : -1;
      document.getElementById(other.getAttribute("aria-controls")).hidden = !selected;
    });
    tab.focus();
  };
  tabs.forEach((tab, index) => {
    tab.addEventListener("click", () => select(tab));
    tab.addEventListener("keydown", (event) => {
      if (event.key === "ArrowRight") select(tabs[(index + 1) % tabs.length]);
      if (event.key === "ArrowLeft") select(tabs[(index - 1 + tabs.length) % tabs.length]);
    });
  });
}

function setUp(root) {
  root.querySelectorAll("[data-calendar]").forEach(setUpCalendarDrag);
  root.querySelectorAll("form[data-upload]").forEach(setUpUpload);
  root.querySelectorAll(".focal").forEach(setUpFocalPicker);
  root.querySelectorAll("[role=tablist]").forEach(setUpTabs);
}

document.addEventListener("DOMContentLoaded", () => setUp(document));
document.addEventListener("htmx:afterSettle", (event) => setUp(event.target.parentElement || document));

// Channels: start the platform's sign-in through the API, then go to its page; the platform
// sends the browser back to crosspost's callback, which stores the new tokens.
document.addEventListener("submit", async (event) => {
  const form = event.target.closest("form.reconnect");
  if (!form) return;
  event.preventDefault();
  const status = form.querySelector("[data-reconnect-status]");
  const body = { client_id: form.client_id.value, client_secret: form.client_secret.value || null };
  const answer = await fetch(`/api/v1/channels/${encodeURIComponent(form.dataset.channel)}/reconnect`, {
    method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() }, body: JSON.stringify(body),
  });
  const data = await answer.json().catch(() => ({}));
  if (!answer.ok) { status.textContent = data.detail || ("Refused: " + answer.status); status.className = "refusal"; return; }
  window.location.assign(data.authorization_url);
});
