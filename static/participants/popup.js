// The login window of an embedded campaign (participants/views_embed.py), a top-level window
// on our own origin. On its last page it hands the login's one-time ticket to the frame that
// opened it: to our own exact origin only (the frame is ours; a page of any other origin that
// opened this window receives nothing), then closes once the frame confirms. Without an answer
// (the frame is gone, or the login service cut this window off from it) it offers to go on
// here instead.
"use strict";
(function () {
  const TICKET = "campaign-sso:ticket";
  const TICKET_RECEIVED = "campaign-sso:ticket-received";
  const WAIT_MS = 3000;

  document.querySelectorAll("button[data-close-window]").forEach(function (button) {
    button.addEventListener("click", function () {
      window.close();
    });
  });

  const holder = document.querySelector("[data-embed-ticket]");
  if (!holder) {
    return;
  }
  const ownOrigin = window.location.origin;
  const opener = window.opener;
  const pending = holder.querySelector("[data-embed-pending]");
  const fallback = holder.querySelector("[data-embed-fallback]");
  const offerToContinue = function () {
    pending.hidden = true;
    fallback.hidden = false;
  };
  if (!opener || opener.closed || !holder.dataset.embedTicket) {
    offerToContinue();
    return;
  }
  window.addEventListener("message", function (event) {
    if (event.origin !== ownOrigin || event.source !== opener) {
      return;
    }
    if (event.data && event.data.type === TICKET_RECEIVED) {
      window.close();
    }
  });
  opener.postMessage({ type: TICKET, ticket: holder.dataset.embedTicket }, ownOrigin);
  window.setTimeout(offerToContinue, WAIT_MS);
})();
