// response_mode=form_post: send the form at once. Without script the page shows its button.
(function () {
  "use strict";
  var form = document.getElementById("form-post");
  if (form) { form.submit(); }
})();
