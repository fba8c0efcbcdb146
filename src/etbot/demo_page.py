"""Discord messages as one static HTML page (the ``etbot demo`` index.html).

The demo builds the bot's answers with the cogs' own code (``disnake.Embed`` objects and
components); this module draws them the way the Discord client shows them: embeds as
cards with a colour bar, title, description, fields and footer; buttons and select menus
(disabled: a page cannot press them); chart attachments inline. Discord's markdown is
rendered for the subset the bot writes (bold, italics, underline, strike-through, inline
code, code blocks, backslash escapes, ``<t:…>`` timestamps and ``<@…>`` mentions).

Every piece of text goes through :func:`html.escape`; the page loads nothing from the
network (no script, no font or stylesheet from a CDN), so it works offline.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import disnake

log = logging.getLogger(__name__)

# Private-use code points stand for pieces already turned into HTML while the rest of
# the text is still markdown (any such code point in the input is replaced first).
_TOKEN_BASE = 0xE000
_TOKEN_LIMIT = 0xF8FF
_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")
_TOKEN = re.compile("[\ue000-\uf8ff]")

_CODE_BLOCK = re.compile(r"```(?:([A-Za-z0-9_+\-]+)\n)?\n?(.*?)```", re.DOTALL)
# One left-to-right pass: a backslash escape (``\*``, ``\```) or an inline code span,
# whichever starts first (an escaped backtick opens no code span; a backslash inside a
# code span is shown as it is).
_ESCAPE_OR_CODE = re.compile(r"\\([^A-Za-z0-9\s])|`([^`\n]+)`")
_TIMESTAMP = re.compile(r"<t:(-?\d{1,13})(?::([tTdDfFR]))?>")
_USER_MENTION = re.compile(r"<@!?(\d{1,20})>")
_BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)
_UNDERLINE = re.compile(r"__(.+?)__", re.DOTALL)
_ITALIC_STAR = re.compile(r"\*(?!\s)(.+?)(?<!\s)\*")
_ITALIC_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_(?!\s)(.+?)(?<!\s)_(?![A-Za-z0-9])")
_STRIKE = re.compile(r"~~(.+?)~~", re.DOTALL)

#: Discord's timestamp styles (``<t:unix:style>``), in the reader's (here: the server's)
#: time zone.
_TIME_STYLES = {
    "t": "%H:%M",
    "T": "%H:%M:%S",
    "d": "%d/%m/%Y",
    "D": "%d %B %Y",
    "f": "%d %B %Y %H:%M",
    "F": "%A, %d %B %Y %H:%M",
}

_BUTTON_STYLES = {1: "primary", 2: "secondary", 3: "success", 4: "danger", 5: "link"}


def esc(text: object) -> str:
    """``text`` as HTML text (quotes escaped too, so it is also safe in attributes)."""
    return html.escape(str(text), quote=True)


@dataclass(frozen=True)
class RenderContext:
    """What markdown needs from outside the text: the clock, the time zone in which
    timestamps are shown, and display names for member mentions."""

    now: datetime
    zone: ZoneInfo
    members: Mapping[int, str] = field(default_factory=dict)


def relative_time(moment: datetime, now: datetime) -> str:
    """Discord's relative style: "in 3 hours", "2 days ago"."""
    seconds = (moment - now).total_seconds()
    future = seconds >= 0
    seconds = abs(seconds)
    for size, unit in (
        (31_536_000, "year"),
        (2_592_000, "month"),
        (86_400, "day"),
        (3600, "hour"),
        (60, "minute"),
    ):
        if seconds >= size:
            n = int(seconds // size)
            text = f"{n} {unit}" if n == 1 else f"{n} {unit}s"
            break
    else:
        text = "a few seconds"
    return f"in {text}" if future else f"{text} ago"


def timestamp_html(unix: int, style: str | None, ctx: RenderContext) -> str:
    """A ``<t:…>`` timestamp as Discord shows it (with the exact time as a tooltip)."""
    try:
        moment = datetime.fromtimestamp(unix, UTC).astimezone(ctx.zone)
    except (OverflowError, OSError, ValueError):
        return esc(f"<t:{unix}>")
    exact = moment.strftime(_TIME_STYLES["F"])
    if style == "R":
        shown = relative_time(moment, ctx.now)
    else:
        shown = moment.strftime(_TIME_STYLES.get(style or "f", _TIME_STYLES["f"]))
    return f'<span class="timestamp" title="{esc(exact)}">{esc(shown)}</span>'


def markdown_html(text: str, ctx: RenderContext) -> str:
    """Discord markdown (the subset the bot writes) as HTML; all text escaped."""
    tokens: list[str] = []

    def stash(fragment: str) -> str:
        if _TOKEN_BASE + len(tokens) > _TOKEN_LIMIT:  # pragma: no cover - 6,400 pieces
            return fragment
        tokens.append(fragment)
        return chr(_TOKEN_BASE + len(tokens) - 1)

    def code_block(m: re.Match[str]) -> str:
        return stash(f"<pre><code>{esc(m.group(2).rstrip(chr(10)))}</code></pre>")

    def mention(m: re.Match[str]) -> str:
        member = int(m.group(1))
        name = _PRIVATE_USE.sub("\ufffd", ctx.members.get(member, f"user {member}"))
        return stash(f'<span class="mention">@{esc(name)}</span>')

    text = _PRIVATE_USE.sub("\ufffd", text)
    text = _CODE_BLOCK.sub(code_block, text)
    text = _ESCAPE_OR_CODE.sub(
        lambda m: stash(esc(m.group(1)) if m.group(1) else f"<code>{esc(m.group(2))}</code>"),
        text,
    )
    text = _TIMESTAMP.sub(lambda m: stash(timestamp_html(int(m.group(1)), m.group(2), ctx)), text)
    text = _USER_MENTION.sub(mention, text)
    out = esc(text)
    out = _BOLD.sub(r"<strong>\1</strong>", out)
    out = _UNDERLINE.sub(r"<u>\1</u>", out)
    out = _ITALIC_STAR.sub(r"<em>\1</em>", out)
    out = _ITALIC_UNDERSCORE.sub(r"<em>\1</em>", out)
    out = _STRIKE.sub(r"<s>\1</s>", out)
    # One pass: the stashed pieces were built from text already free of private-use
    # characters, so none of them holds a placeholder.
    return _TOKEN.sub(lambda m: tokens[ord(m.group(0)) - _TOKEN_BASE], out)


# --------------------------------------------------------------------------- embeds


def _colour(value: object) -> str:
    if isinstance(value, int) and 0 <= value <= 0xFFFFFF:
        return f"#{value:06x}"
    return "#1e1f22"


def embed_html(embed: disnake.Embed, images: Mapping[str, str], ctx: RenderContext) -> str:
    """One embed as a card. ``images`` maps ``attachment://name`` URLs to the page's
    relative image paths; an image that is not there is left out (never a broken one)."""
    data: dict[str, Any] = dict(embed.to_dict())
    parts: list[str] = []
    author = data.get("author") or {}
    if author.get("name"):
        parts.append(f'<div class="embed-author">{esc(author["name"])}</div>')
    if data.get("title"):
        parts.append(f'<div class="embed-title">{markdown_html(data["title"], ctx)}</div>')
    if data.get("description"):
        parts.append(
            f'<div class="embed-description md">{markdown_html(data["description"], ctx)}</div>'
        )
    fields = data.get("fields") or []
    if fields:
        cells = []
        for f in fields:
            inline = " inline" if f.get("inline") else ""
            name = markdown_html(str(f.get("name", "")), ctx)
            value = markdown_html(str(f.get("value", "")), ctx)
            cells.append(
                f'<div class="field{inline}"><div class="field-name">{name}</div>'
                f'<div class="field-value md">{value}</div></div>'
            )
        parts.append(f'<div class="embed-fields">{"".join(cells)}</div>')
    image = (data.get("image") or {}).get("url")
    if image:
        src = images.get(image)
        if src is not None:
            alt = esc(image.removeprefix("attachment://"))
            parts.append(f'<div class="embed-image"><img src="{esc(src)}" alt="{alt}"></div>')
    footer = (data.get("footer") or {}).get("text")
    timestamp = data.get("timestamp")
    if footer or timestamp:
        bits = [esc(footer)] if footer else []
        if timestamp:
            bits.append(esc(timestamp))
        parts.append(f'<div class="embed-footer">{" · ".join(bits)}</div>')
    return (
        f'<div class="embed" style="border-left-color:{_colour(data.get("color"))}">'
        f"{''.join(parts)}</div>"
    )


def _component_dicts(components: Sequence[Any]) -> list[dict[str, Any]]:
    """Action rows as dicts, from rows, bare buttons/selects (one row) or a View."""
    rows: list[dict[str, Any]] = []
    loose: list[dict[str, Any]] = []
    for item in components:
        if isinstance(item, disnake.ui.View):
            rows.extend(dict(r) for r in item.to_components())
        elif isinstance(item, disnake.ui.ActionRow):
            rows.append(dict(item.to_component_dict()))
        elif isinstance(item, disnake.ui.Item):
            loose.append(dict(item.to_component_dict()))
        elif isinstance(item, Mapping):
            rows.append(dict(item))
    if loose:
        rows.append({"type": 1, "components": loose})
    return rows


def components_html(components: Sequence[Any]) -> str:
    """Buttons and select menus, drawn disabled (this page cannot press them)."""
    rows = []
    for row in _component_dicts(components):
        cells = []
        for c in row.get("components", []):
            if c.get("type") == 2:
                style = _BUTTON_STYLES.get(int(c.get("style", 2)), "secondary")
                emoji = (c.get("emoji") or {}).get("name") or ""
                label = " ".join(x for x in (emoji, c.get("label") or "") if x)
                cells.append(
                    f'<button type="button" class="button {style}" disabled '
                    f'title="a button: it works in Discord">{esc(label)}</button>'
                )
            elif c.get("type") in (3, 5, 6, 7, 8):
                chosen = [o for o in c.get("options", []) if o.get("default")]
                shown = chosen[0]["label"] if chosen else c.get("placeholder") or "Choose…"
                count = len(c.get("options", []))
                cells.append(
                    f'<div class="select" title="a menu of {count} options: it works in '
                    f'Discord">{esc(shown)}<span class="chevron">▾</span></div>'
                )
        rows.append(f'<div class="action-row">{"".join(cells)}</div>')
    return "".join(rows)


# --------------------------------------------------------------------------- messages


@dataclass
class Message:
    """One answer of the bot as the Discord client shows it."""

    #: Anchor and table-of-contents entry.
    anchor: str
    heading: str
    #: What the member typed ("/stats player: vid"), or None for the bot's own posts.
    command: str | None
    embeds: list[disnake.Embed] = field(default_factory=list)
    content: str | None = None
    components: list[Any] = field(default_factory=list)
    #: A sentence for the newcomer under the message (plain text).
    note: str | None = None
    #: Only the member who asked sees it.
    ephemeral: bool = False
    #: Who ran the command.
    user: str = "newcomer"


def message_html(msg: Message, images: Mapping[str, str], ctx: RenderContext) -> str:
    """One message block: the command line, the bot's header, content, embeds, buttons."""
    parts = [f'<section class="message" id="{esc(msg.anchor)}">']
    parts.append(f'<h2 class="heading">{esc(msg.heading)}</h2>')
    if msg.command:
        parts.append(
            f'<div class="reply-line"><span class="mention">@{esc(msg.user)}</span> used '
            f'<span class="command">{esc(msg.command)}</span></div>'
        )
    shown_at = ctx.now.strftime("%d/%m/%Y %H:%M")
    parts.append(
        '<div class="message-row"><div class="avatar" aria-hidden="true">et</div>'
        '<div class="message-body"><div class="author">etbot <span class="bot-tag">APP</span>'
        f' <span class="time">{esc(shown_at)}</span></div>'
    )
    if msg.content:
        parts.append(f'<div class="content md">{markdown_html(msg.content, ctx)}</div>')
    parts.extend(embed_html(e, images, ctx) for e in msg.embeds)
    if msg.components:
        parts.append(components_html(msg.components))
    if msg.ephemeral:
        parts.append('<div class="ephemeral">Only you can see this</div>')
    parts.append("</div></div>")
    if msg.note:
        parts.append(f'<p class="note">{esc(msg.note)}</p>')
    parts.append("</section>")
    return "".join(parts)


_CSS = """
*{box-sizing:border-box}
body{margin:0;background:#313338;color:#dbdee1;font:16px/1.375 "gg sans","Noto Sans",
"DejaVu Sans","Liberation Sans",Helvetica,Arial,sans-serif,"Noto Color Emoji",
"Apple Color Emoji","Segoe UI Emoji"}
header.page{padding:24px 32px;background:#2b2d31;border-bottom:1px solid #1f2023}
header.page h1{margin:0 0 8px;font-size:24px;color:#f2f3f5}
header.page p{margin:4px 0;color:#b5bac1}
.warning{background:#4a3b12;border:1px solid #f0b232;color:#f2f3f5;padding:8px 12px;
border-radius:4px;margin:12px 0}
nav.toc{padding:12px 32px;background:#2b2d31}
nav.toc a{color:#00a8fc;text-decoration:none;margin-right:14px;white-space:nowrap;
line-height:1.9}
main{padding:8px 32px 48px;max-width:1100px}
.message{margin:28px 0;padding-top:8px;border-top:1px solid #3f4147}
.heading{font-size:13px;text-transform:uppercase;letter-spacing:.04em;color:#949ba4;
margin:0 0 8px}
.reply-line{font-size:14px;color:#b5bac1;margin:0 0 4px 56px}
.command{color:#c9cdfb;background:rgba(88,101,242,.15);padding:0 4px;border-radius:3px;
font-family:"DejaVu Sans Mono","Liberation Mono",Consolas,monospace;font-size:13px}
.message-row{display:flex;gap:16px}
.avatar{flex:0 0 40px;height:40px;border-radius:50%;background:#5865f2;color:#fff;
display:flex;align-items:center;justify-content:center;font-weight:700}
.message-body{flex:1;min-width:0}
.author{font-weight:600;color:#f2f3f5}
.bot-tag{background:#5865f2;color:#fff;font-size:10px;padding:1px 4px;border-radius:3px;
vertical-align:middle}
.time{color:#949ba4;font-size:12px;font-weight:400;margin-left:4px}
.md{white-space:pre-wrap;overflow-wrap:anywhere}
.content{margin:2px 0 4px}
.embed{background:#2b2d31;border-left:4px solid #1e1f22;border-radius:4px;
padding:8px 16px 16px 12px;margin:4px 0;max-width:520px}
.embed:has(.embed-image){max-width:640px}
.embed-author{font-size:14px;font-weight:600;margin-top:8px}
.embed-title{font-weight:600;color:#f2f3f5;margin-top:8px}
.embed-description{font-size:14px;margin-top:8px}
.embed-fields{display:flex;flex-wrap:wrap;gap:8px 12px;margin-top:8px}
.field{flex:1 1 100%;min-width:0;font-size:14px}
.field.inline{flex:1 1 28%}
.field-name{font-weight:600;color:#f2f3f5;margin-bottom:2px}
.embed-image{margin-top:16px}
.embed-image img{max-width:100%;height:auto;border-radius:4px;display:block}
.embed-footer{font-size:12px;color:#b5bac1;margin-top:8px}
pre{background:#1e1f22;border:1px solid #1a1b1e;border-radius:4px;padding:7px;
margin:6px 0;overflow-x:auto;white-space:pre}
code{font-family:"DejaVu Sans Mono","Liberation Mono",Consolas,monospace;font-size:13px;
background:#1e1f22;border-radius:3px;padding:0 2px}
pre code{background:none;padding:0}
.timestamp{background:rgba(78,80,88,.5);border-radius:3px;padding:0 2px}
.mention{color:#c9cdfb;background:rgba(88,101,242,.3);border-radius:3px;padding:0 2px;
font-weight:500}
.action-row{display:flex;flex-wrap:wrap;gap:8px;margin-top:8px}
.button{font:inherit;font-size:14px;font-weight:500;border:0;border-radius:3px;
padding:2px 16px;min-height:32px;color:#fff;cursor:not-allowed;opacity:.8}
.button.primary{background:#5865f2}.button.secondary{background:#4e5058}
.button.success{background:#248046}.button.danger{background:#da373c}
.button.link{background:#4e5058}
.select{background:#1e1f22;border:1px solid #1a1b1e;border-radius:4px;padding:8px 12px;
min-width:300px;max-width:520px;color:#b5bac1;font-size:14px;display:flex;
justify-content:space-between;cursor:not-allowed}
.chevron{margin-left:12px}
.ephemeral{font-size:12px;color:#949ba4;margin-top:4px}
.note{color:#949ba4;font-size:14px;margin:8px 0 0 56px;max-width:720px}
.missing{color:#f0b232}
"""


def page_html(
    title: str,
    intro: Sequence[str],
    messages: Sequence[Message],
    images: Mapping[str, str],
    ctx: RenderContext,
    warnings: Sequence[str] = (),
) -> str:
    """The whole page: a header (``intro`` paragraphs, ``warnings``), a table of
    contents, then every message."""
    toc = " ".join(f'<a href="#{esc(m.anchor)}">{esc(m.heading)}</a>' for m in messages)
    warn = "".join(f'<div class="warning">{esc(w)}</div>' for w in warnings)
    paragraphs = "".join(f"<p>{esc(p)}</p>" for p in intro)
    body = "\n".join(message_html(m, images, ctx) for m in messages)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # No network: nothing but this file and the chart images beside it.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src 'self' data:; style-src 'unsafe-inline'\">"
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>"
        f'<header class="page"><h1>{esc(title)}</h1>{paragraphs}{warn}</header>'
        f'<nav class="toc">{toc}</nav><main>{body}</main></body></html>\n'
    )
