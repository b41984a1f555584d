"""The code a customer's web developer pastes into their page to embed a campaign.

Importable without Django's settings: the demo's host page (demo/embed_host.py) pastes the very
code the admin gives.
"""

from html import escape
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from core.links import link_url

if TYPE_CHECKING:
    from campaigns.models import Campaign

# The message the embedded pages post to the page around them (README, "Embedding a campaign").
HEIGHT_MESSAGE_TYPE = "campaign-sso:height"
# The frame's height until the campaign tells its own (or when the host script is left out).
DEFAULT_HEIGHT_PX = 720


def embed_code(*, src: str, title: str, frame_id: str) -> str:
    """The `<iframe>` and the few optional lines that let the campaign set the frame's height."""
    parts = urlsplit(src)
    origin = f"{parts.scheme}://{parts.netloc}"
    return (
        f'<iframe id="{escape(frame_id)}" src="{escape(src)}"\n'
        f'        title="{escape(title)}"\n'
        f'        style="display: block; width: 100%; height: {DEFAULT_HEIGHT_PX}px; border: 0;">'
        "</iframe>\n"
        "<script>\n"
        "  // Optional: the campaign tells its height, so that the frame needs no scroll bar.\n"
        '  window.addEventListener("message", function (event) {\n'
        f'    var frame = document.getElementById("{escape(frame_id)}");\n'
        f'    if (event.origin !== "{escape(origin)}" || event.source !== frame.contentWindow) '
        "return;\n"
        "    var data = event.data;\n"
        f'    if (data && data.type === "{HEIGHT_MESSAGE_TYPE}" && '
        'typeof data.height === "number") {\n'
        '      frame.style.height = data.height + "px";\n'
        "    }\n"
        "  });\n"
        "</script>"
    )


def campaign_embed_url(campaign: "Campaign", *, base_url: str) -> str:
    """The address of the campaign's embedded pages, for the frame's `src`; "" when no app
    serves embedded pages."""
    path = link_url("campaign_embedded_page", slug=campaign.slug)
    return base_url.rstrip("/") + path if path else ""


def campaign_embed_code(campaign: "Campaign", *, base_url: str) -> str:
    """The code to paste; "" when no app serves embedded pages."""
    src = campaign_embed_url(campaign, base_url=base_url)
    if not src:
        return ""
    return embed_code(
        src=src,
        title=campaign.localized_title("en"),
        frame_id=f"campaign-{campaign.slug}",
    )
