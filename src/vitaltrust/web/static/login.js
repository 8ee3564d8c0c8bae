// The login form: posts JSON to /auth/login, then goes where the server says.
// Without JavaScript the same form still works as a plain form post.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("login-form");
  const banner = document.getElementById("login-error");
  if (!form || !banner) return;
  const button = form.querySelector("button[type=submit]");

  const show = (message) => {
    banner.textContent = message;
    banner.hidden = false;
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const email = String(data.get("email") || "").trim();
    const password = String(data.get("password") || "");
    if (!email || !password) {
      show("Enter your e-mail and password.");
      return;
    }
    button.disabled = true;
    banner.hidden = true;
    try {
      const response = await fetch("/auth/login", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify({ email, password, next: data.get("next") || null }),
      });
      const body = await response.json().catch(() => ({}));
      if (response.ok) {
        window.location.assign(body.redirect || "/");
        return;
      }
      if (response.status === 429) {
        const wait = Number(response.headers.get("Retry-After") || 0);
        const minutes = Math.max(1, Math.ceil(wait / 60));
        show(`Too many failed attempts. Try again in about ${minutes} minute${minutes > 1 ? "s" : ""}.`);
      } else {
        show(body.detail || "Sign-in failed.");
      }
    } catch (err) {
      show("The server could not be reached. Check your connection and try again.");
    } finally {
      button.disabled = false;
    }
  });
});
