// response_mode=form_post: send the form at once. Without script the page shows its button.
// The page kit loads scripts in <head>, before the form exists: wait for the document.
(function () {
  "use strict";
  function send() {
    var form = document.getElementById("form-post");
    if (form) { form.submit(); }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", send);
  } else {
    send();
  }
})();
