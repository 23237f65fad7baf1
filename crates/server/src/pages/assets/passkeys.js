// Passkeys on the hosted pages. Each form with data-options asks the server for WebAuthn
// options (posting its own fields; data-begun: they came with the page), runs the ceremony, puts the ceremony token and the
// browser's answer (WebAuthn JSON) in its hidden fields and submits. Without WebAuthn, or
// without script, the buttons stay hidden and the password forms work as before.
(function () {
  "use strict";

  function b64urlToBuf(s) {
    var b = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
    var out = new Uint8Array(b.length);
    for (var i = 0; i < b.length; i++) { out[i] = b.charCodeAt(i); }
    return out.buffer;
  }

  function bufToB64url(buf) {
    var bytes = new Uint8Array(buf), s = "";
    for (var i = 0; i < bytes.length; i++) { s += String.fromCharCode(bytes[i]); }
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function creationOptions(o) {
    var pk = o.publicKey;
    pk.challenge = b64urlToBuf(pk.challenge);
    pk.user.id = b64urlToBuf(pk.user.id);
    (pk.excludeCredentials || []).forEach(function (c) { c.id = b64urlToBuf(c.id); });
    return pk;
  }

  function requestOptions(o) {
    var pk = o.publicKey;
    pk.challenge = b64urlToBuf(pk.challenge);
    (pk.allowCredentials || []).forEach(function (c) { c.id = b64urlToBuf(c.id); });
    return pk;
  }

  function registrationJSON(c) {
    return JSON.stringify({
      id: c.id, rawId: bufToB64url(c.rawId), type: c.type,
      extensions: c.getClientExtensionResults ? c.getClientExtensionResults() : {},
      response: {
        attestationObject: bufToB64url(c.response.attestationObject),
        clientDataJSON: bufToB64url(c.response.clientDataJSON),
        transports: c.response.getTransports ? c.response.getTransports() : []
      }
    });
  }

  function assertionJSON(c) {
    var r = c.response;
    return JSON.stringify({
      id: c.id, rawId: bufToB64url(c.rawId), type: c.type,
      extensions: c.getClientExtensionResults ? c.getClientExtensionResults() : {},
      response: {
        authenticatorData: bufToB64url(r.authenticatorData),
        clientDataJSON: bufToB64url(r.clientDataJSON),
        signature: bufToB64url(r.signature),
        userHandle: r.userHandle ? bufToB64url(r.userHandle) : null
      }
    });
  }

  // The form's own fields (CSRF token, sealed request, the hosted page's session token, …) as
  // the options request's body. A form whose options came with the page (data-begun) asks
  // nothing.
  function fetchOptions(form, extra) {
    var begun = form.getAttribute("data-begun");
    if (begun) { return Promise.resolve(JSON.parse(begun)); }
    var body = new URLSearchParams();
    ["csrf", "request", "mfa_token", "kind", "signin_method", "session_token", "redirect_uri", "state"].forEach(function (n) {
      var f = form.elements[n];
      if (f && f.value) { body.append(n, f.value); }
    });
    Object.keys(extra || {}).forEach(function (k) { body.set(k, extra[k]); });
    return fetch(form.getAttribute("data-options"), {
      method: "POST", credentials: "same-origin", body: body,
      headers: { "Content-Type": "application/x-www-form-urlencoded" }
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) { throw new Error(j.error_description || j.message || "the server refused"); }
        return j;
      });
    });
  }

  function submitWith(form, ceremony, credential) {
    form.elements.ceremony.value = ceremony;
    form.elements.credential.value = credential;
    form.submit();
  }

  // What the user reads of a ceremony that did not finish: the browser's own texts are written
  // for developers.
  function why(e) {
    if (e && e.name === "NotAllowedError") { return "it was cancelled, took too long, or this device has no passkey for this site"; }
    if (e && e.name === "InvalidStateError") { return "this authenticator is already registered"; }
    if (e && e.name === "SecurityError") { return "this page's address cannot use passkeys"; }
    return e && e.message ? e.message : String(e);
  }

  function showError(msg) {
    var el = document.getElementById("register-error") || document.getElementById("error");
    if (!el) {
      el = document.createElement("p");
      el.className = "err"; el.setAttribute("role", "alert"); el.id = "error";
      var h1 = document.querySelector("h1");
      h1.parentNode.insertBefore(el, h1.nextSibling);
    }
    el.textContent = msg; el.hidden = false;
  }

  var conditional = null;

  function signIn(form, mediation) {
    return fetchOptions(form).then(function (o) {
      var opts = { publicKey: requestOptions(o) };
      if (mediation) {
        conditional = new AbortController();
        opts.mediation = mediation; opts.signal = conditional.signal;
      }
      return navigator.credentials.get(opts).then(function (c) {
        if (c) { submitWith(form, o.ceremony, assertionJSON(c)); }
      });
    });
  }

  function ready() {
    if (!window.PublicKeyCredential || !navigator.credentials) { return; }
    var passkeyForm = document.getElementById("passkey-form");
    if (passkeyForm) {
      var button = document.getElementById("passkey-button");
      button.hidden = false;
      button.addEventListener("click", function () {
        if (conditional) { conditional.abort(); conditional = null; }
        signIn(passkeyForm, null).catch(function (e) {
          if (e && e.name !== "AbortError") { showError("The passkey sign-in did not finish: " + why(e) + "."); }
        });
      });
      // Conditional UI: the browser offers the realm's passkeys in the identifier field's autofill.
      if (PublicKeyCredential.isConditionalMediationAvailable) {
        PublicKeyCredential.isConditionalMediationAvailable().then(function (yes) {
          if (yes) { signIn(passkeyForm, "conditional").catch(function () {}); }
        });
      }
    }
    var keyForm = document.getElementById("key-form");
    if (keyForm) {
      var keyButton = document.getElementById("key-button");
      var cannot = document.getElementById("no-webauthn");
      keyButton.hidden = false;
      if (cannot) { cannot.hidden = true; }
      keyButton.addEventListener("click", function () {
        signIn(keyForm, null).catch(function (e) {
          showError("The security key did not answer: " + why(e) + ".");
        });
      });
    }
    var registerForm = document.getElementById("register-form");
    if (registerForm) {
      ["add-passkey", "add-security-key"].forEach(function (id) {
        var b = document.getElementById(id);
        if (!b) { return; }
        b.addEventListener("click", function () {
          registerForm.elements.kind.value = b.getAttribute("data-kind");
          fetchOptions(registerForm).then(function (o) {
            return navigator.credentials.create({ publicKey: creationOptions(o) }).then(function (c) {
              submitWith(registerForm, o.ceremony, registrationJSON(c));
            });
          }).catch(function (e) {
            showError("The key was not added: " + why(e) + ".");
          });
        });
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
