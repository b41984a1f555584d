// The webhook endpoint form: show only the extra-authentication fields of the chosen type
// (a user name for Basic, a header name for a custom header, the secret for any but None).
// Without JavaScript every field shows, and the server ignores those that do not apply.
(function () {
  "use strict";
  function rowOf(name) {
    return document.querySelector(".form-row.field-" + name + ", .fieldBox.field-" + name);
  }
  function update(select) {
    var type = select.value;
    var shown = {
      auth_username: type === "basic",
      auth_header_name: type === "header",
      auth_secret: type !== "none" && type !== "",
    };
    Object.keys(shown).forEach(function (name) {
      var row = rowOf(name);
      if (row) {
        row.hidden = !shown[name];
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var select = document.getElementById("id_auth_type");
    if (!select) {
      return;
    }
    update(select);
    select.addEventListener("change", function () { update(select); });
  });
})();
