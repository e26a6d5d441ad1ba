// Preview widget: submit without leaving the page and poll the job until it ends.
// Progressive enhancement: without JavaScript the form posts to the portal and the preview's
// page refreshes itself. Served from 'self' (the CSP allows no inline scripts).
(function () {
  "use strict";
  const TERMINAL = ["succeeded", "blocked", "failed"];
  const POLL_MS = 400;

  function parts(box) {
    return {
      status: box.querySelector("[data-testid=preview-status]"),
      image: box.querySelector("[data-testid=preview-image]"),
      notice: box.querySelector("[data-testid=preview-blocked]"),
    };
  }

  function say(element, text) {
    element.textContent = text;
    element.hidden = !text;
  }

  function statusText(data) {
    switch (data.status) {
      case "queued": return "Queued…";
      case "running": return "Rendering: step " + data.progress.step + " of " + data.progress.total + "…";
      case "succeeded": return data.reused ? "Done (an identical preview was reused)." : "Done.";
      case "blocked": return "Blocked.";
      default: return "Failed.";
    }
  }

  function show(box, data) {
    const el = parts(box);
    say(el.status, statusText(data));
    if (data.status === "succeeded" && data.imageUrl) {
      el.image.src = data.imageUrl;
      el.image.hidden = false;
    } else {
      el.image.hidden = true;
      el.image.removeAttribute("src");
    }
    box.dataset.status = data.status;
    if (data.status === "blocked") say(el.notice, data.safety.blocked.message);
    else if (data.status === "failed") say(el.notice, data.error || "The preview failed.");
    else say(el.notice, "");
  }

  function showError(box, message) {
    const el = parts(box);
    say(el.status, "");
    el.image.hidden = true;
    say(el.notice, message);
    box.dataset.status = "error";
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  async function poll(box, url) {
    for (;;) {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      const data = await response.json();
      if (!response.ok) return showError(box, data.error || "The preview could not be loaded.");
      show(box, data);
      if (TERMINAL.includes(data.status)) return;
      await sleep(POLL_MS);
    }
  }

  function payload(form) {
    const body = {};
    const fields = new FormData(form);
    for (const [name, value] of fields.entries()) {
      if (name === "csrfmiddlewaretoken" || value === "") continue;
      if (["seed", "num_inference_steps", "width", "height", "guidance_scale"].includes(name)) {
        const number = Number(value);
        body[name] = Number.isNaN(number) ? value : number;
      } else {
        body[name] = value;
      }
    }
    return body;
  }

  async function submit(form) {
    const box = form.parentElement.querySelector("[data-preview-result]");
    const token = form.querySelector("input[name=csrfmiddlewaretoken]");
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    say(parts(box).status, "Sending…");
    try {
      const response = await fetch(form.dataset.previewApi, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": token ? token.value : "" },
        body: JSON.stringify(payload(form)),
      });
      const data = await response.json();
      if (!response.ok) return showError(box, data.error || "The preview request was refused.");
      show(box, data);
      if (!TERMINAL.includes(data.status)) await poll(box, data.apiUrl);
    } catch (error) {
      showError(box, "The preview could not be sent: " + error.message);
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-preview-api]");
    if (!form) return;
    event.preventDefault();
    submit(form);
  });

  for (const box of document.querySelectorAll("[data-preview-poll]")) {
    poll(box, box.dataset.previewPoll);
  }
})();
