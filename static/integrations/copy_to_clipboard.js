// "Copy" buttons in the admin: <button data-copy-target="element-id">. A static file rather
// than inline script, so that the Content-Security-Policy needs no nonce for it.
"use strict";
document.addEventListener("click", function (event) {
  const button = event.target.closest("button[data-copy-target]");
  if (!button) {
    return;
  }
  event.preventDefault();
  const source = document.getElementById(button.dataset.copyTarget);
  if (!source || !navigator.clipboard) {
    return;
  }
  const label = button.textContent;
  navigator.clipboard.writeText(source.textContent.trim()).then(function () {
    button.textContent = "Copied";
    window.setTimeout(function () { button.textContent = label; }, 2000);
  });
});
