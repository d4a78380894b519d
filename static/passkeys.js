// Passkeys (WebAuthn): the server sends options as JSON, the browser's authenticator answers, we post the answer.
(function () {
  "use strict";

  function toBytes(b64url) {
    const base64 = b64url.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((b64url.length + 3) % 4);
    return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)).buffer;
  }

  function toB64url(buffer) {
    let binary = "";
    new Uint8Array(buffer).forEach((b) => { binary += String.fromCharCode(b); });
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function post(url, csrf, fields) {
    const body = new URLSearchParams(Object.assign({ csrf_token: csrf }, fields || {}));
    return fetch(url, { method: "POST", body: body, credentials: "same-origin",
                        headers: { Accept: "application/json" } });
  }

  function credentialJSON(credential) {
    const response = credential.response;
    const out = { id: credential.id, rawId: toB64url(credential.rawId), type: credential.type,
                  clientExtensionResults: credential.getClientExtensionResults(),
                  authenticatorAttachment: credential.authenticatorAttachment || undefined, response: {
                    clientDataJSON: toB64url(response.clientDataJSON) } };
    if (response.attestationObject) {
      out.response.attestationObject = toB64url(response.attestationObject);
      out.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      out.response.authenticatorData = toB64url(response.authenticatorData);
      out.response.signature = toB64url(response.signature);
      out.response.userHandle = response.userHandle ? toB64url(response.userHandle) : undefined;
    }
    return JSON.stringify(out);
  }

  // The page gives its words in its own language (data-text-*); these English ones are the fallback.
  function words(holder, key, fallback, reason) {
    return (holder.dataset[key] || fallback).replace("{reason}", reason || "");
  }

  function show(element, text, isError) {
    element.textContent = text;
    element.classList.toggle("text-danger", !!isError);
  }

  const adder = document.getElementById("passkeys");
  if (adder) {
    const status = document.getElementById("passkey-add-status");
    document.getElementById("passkey-add-button").addEventListener("click", async () => {
      const csrf = adder.dataset.csrf;
      try {
        show(status, words(adder, "textPrompt", "Follow your browser's prompt…"));
        const options = await (await post(adder.dataset.optionsUrl, csrf)).json();
        options.challenge = toBytes(options.challenge);
        options.user.id = toBytes(options.user.id);
        (options.excludeCredentials || []).forEach((c) => { c.id = toBytes(c.id); });
        const credential = await navigator.credentials.create({ publicKey: options });
        const answer = await post(adder.dataset.addUrl, csrf, {
          credential: credentialJSON(credential), name: document.getElementById("passkey-name").value });
        const result = await answer.json();
        if (!result.ok) { show(status, result.error, true); return; }
        if (result.recovery_codes && result.recovery_codes.length) {
          show(status, result.message + " " +
                       words(adder, "textCodes", "Keep these recovery codes now — they are shown only once:") + " " +
                       result.recovery_codes.join("  "));
          return;
        }
        window.location.reload();
      } catch (error) {
        show(status, words(adder, "textFailed", "No passkey was added ({reason}). You can try again.", error.name), true);
      }
    });
  }

  const login = document.getElementById("passkey-login");
  if (login) {
    const error = document.getElementById("passkey-login-error");
    document.getElementById("passkey-login-button").addEventListener("click", async () => {
      const csrf = login.dataset.csrf;
      try {
        show(error, "");
        const options = await (await post(login.dataset.optionsUrl, csrf)).json();
        options.challenge = toBytes(options.challenge);
        (options.allowCredentials || []).forEach((c) => { c.id = toBytes(c.id); });
        const credential = await navigator.credentials.get({ publicKey: options });
        const result = await (await post(login.dataset.verifyUrl, csrf, { credential: credentialJSON(credential) })).json();
        if (result.ok) { window.location.assign(result.redirect); } else { show(error, result.error, true); }
      } catch (problem) {
        show(error, words(login, "textFailed", "The passkey was not used ({reason}). Try again or enter a code.",
                          problem.name), true);
      }
    });
  }
})();
