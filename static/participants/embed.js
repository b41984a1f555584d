// The campaign's pages inside a customer's frame (participants/views_embed.py). A static file
// of our own, like every script of ours: the Content-Security-Policy allows no other.
//
// 1. The height. The page tells the page around the frame how tall it is, so that the frame
//    can take that height: {type: "campaign-sso:height", height: <CSS pixels>}. It goes to the
//    one site allowed to frame the campaign when there is exactly one, else to "*"; either way
//    the message holds the height and nothing else.
// 2. The login. Identity providers refuse to be framed, and cookies do not work here: "Log in"
//    opens a small window on our own origin, where the login happens first-party. That window
//    sends back a one-time ticket; this page accepts it only from our own exact origin and from
//    the very window it opened, confirms it, and redeems it with the hidden form. When the
//    browser blocks the window, the participant is offered the campaign in a new tab.
"use strict";
(function () {
  const HEIGHT = "campaign-sso:height";
  const TICKET = "campaign-sso:ticket";
  const TICKET_RECEIVED = "campaign-sso:ticket-received";
  const TICKET_FORMAT = /^[A-Za-z0-9_-]{43}$/;
  const ownOrigin = window.location.origin;

  // ------------------------------------------------------------------ height
  if (window.parent !== window) {
    const target = document.body.dataset.embedParentOrigin || "*";
    let last = 0;
    const post = function () {
      const height = Math.ceil(document.documentElement.getBoundingClientRect().height);
      if (height === last) {
        return;
      }
      last = height;
      window.parent.postMessage({ type: HEIGHT, height: height }, target);
    };
    if ("ResizeObserver" in window) {
      new ResizeObserver(post).observe(document.documentElement);
    }
    window.addEventListener("load", post);
    post();
  }

  // ------------------------------------------------------------------ login
  const link = document.querySelector("a[data-embed-login]");
  if (!link) {
    return;
  }
  const area = link.closest("[data-embed-login-area]");
  const redeem = area.querySelector("form[data-embed-redeem]");
  const blocked = area.querySelector("[data-embed-popup-blocked]");
  const opened = area.querySelector("[data-embed-popup-open]");
  let popup = null;

  link.addEventListener("click", function (event) {
    event.preventDefault();
    const width = 520;
    const height = 680;
    const left = Math.max(0, window.screenX + (window.outerWidth - width) / 2);
    const top = Math.max(0, window.screenY + (window.outerHeight - height) / 3);
    popup = window.open(
      link.href,
      link.target,
      "popup,width=" + width + ",height=" + height + ",left=" + left + ",top=" + top
    );
    if (!popup) {
      // Blocked: never a dead end, the campaign's own pages work in a tab of their own.
      opened.hidden = true;
      blocked.hidden = false;
      blocked.querySelector("a").focus();
      return;
    }
    blocked.hidden = true;
    opened.hidden = false;
    popup.focus();
  });

  window.addEventListener("message", function (event) {
    // Our own login window only: our exact origin, and the window this page opened.
    if (event.origin !== ownOrigin || popup === null || event.source !== popup) {
      return;
    }
    const data = event.data;
    if (!data || data.type !== TICKET || typeof data.ticket !== "string") {
      return;
    }
    if (!TICKET_FORMAT.test(data.ticket)) {
      return;
    }
    popup.postMessage({ type: TICKET_RECEIVED }, ownOrigin);
    popup = null; // one ticket per window
    redeem.elements.ticket.value = data.ticket;
    redeem.submit();
  });
})();
