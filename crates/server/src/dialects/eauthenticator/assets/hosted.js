// The hosted 2FA page. In a popup, the result goes to the opener, and only to the origin of the
// registered redirect URI (the server wrote it into the page); then the popup closes.
(function () {
  "use strict";
  function post(el, token) {
    var origin = el.getAttribute("data-target-origin");
    var msg = { session_token: token };
    if (el.getAttribute("data-has-state") === "true") msg.state = el.getAttribute("data-state");
    var error = el.getAttribute("data-error");
    if (error) msg.error = error;
    if (window.opener && origin) {
      window.opener.postMessage(msg, origin);
      window.close();
    }
  }
  document.addEventListener("DOMContentLoaded", function () {
    var done = document.querySelector("[data-auto]");
    if (done) post(done, done.getAttribute("data-session-token"));
    var signIn = document.querySelector("button[data-post-result]");
    // The failure page's button posts no token; the verified page's "continue" its own.
    if (signIn) signIn.addEventListener("click", function () { post(signIn, signIn.getAttribute("data-session-token")); });
    var form = document.getElementById("verify-form");
    if (form) form.addEventListener("submit", function () {
      var b = document.getElementById("verify");
      // One submission at a time: the code is single use.
      setTimeout(function () { b.disabled = true; b.textContent = "Verifying…"; }, 0);
    });
  });
})();
