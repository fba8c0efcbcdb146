"""etbot.demo_page: Discord markdown and embeds as HTML, every piece of text escaped."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import disnake
from disnake.ui.select.string import StringSelect

from etbot.commands.formatting import escape
from etbot.demo_page import (
    Message,
    RenderContext,
    components_html,
    embed_html,
    markdown_html,
    page_html,
    relative_time,
)

ZONE = ZoneInfo("Europe/Berlin")
NOW = datetime(2025, 11, 20, 21, 0, tzinfo=ZONE)
CTX = RenderContext(now=NOW, zone=ZONE, members={42: "Ana <3"})


def test_markdown_formatting() -> None:
    assert markdown_html("**bold** and *it* and __under__ and ~~gone~~", CTX) == (
        "<strong>bold</strong> and <em>it</em> and <u>under</u> and <s>gone</s>"
    )
    assert markdown_html("a `b*c*` d", CTX) == "a <code>b*c*</code> d"


def test_code_block_keeps_its_text_verbatim() -> None:
    block = "```\n  #  Player\n  1. **x** <b>\n```"
    assert markdown_html(block, CTX) == (
        "<pre><code>  #  Player\n  1. **x** &lt;b&gt;</code></pre>"
    )


def test_escaped_names_show_literally() -> None:
    """Names escaped for Discord (``escape``) show exactly as the player wrote them."""
    for name in ("**not bold**", "_x_y_", "<script>alert(1)</script>", "a\\b", "`tick`", "[GU]*"):
        shown = markdown_html(f"**{escape(name)}** played", CTX)
        expected = (
            name.replace("&", "&amp;")
            .replace("<", "&lt;")
            .replace(">", "&gt;")
            .replace('"', "&quot;")
            .replace("'", "&#x27;")
        )
        assert shown == f"<strong>{expected}</strong> played", name


def test_no_markup_from_text() -> None:
    html = markdown_html('<img src=x onerror=alert(1)> "quoted" & <@42>', CTX)
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt; &quot;quoted&quot; &amp; " in html
    assert '<span class="mention">@Ana &lt;3</span>' in html


def test_private_use_characters_cannot_forge_pieces() -> None:
    """The renderer's own placeholders are private-use characters: text holding them
    gets no HTML from elsewhere in the message."""
    text = "\ue000 then `code`"
    assert markdown_html(text, CTX) == "\ufffd then <code>code</code>"


def test_timestamps_in_the_server_zone() -> None:
    moment = int(datetime(2025, 11, 21, 20, 30, tzinfo=UTC).timestamp())  # 21:30 Berlin
    assert ">21 November 2025 21:30<" in markdown_html(f"<t:{moment}:f>", CTX)
    assert ">21:30<" in markdown_html(f"<t:{moment}:t>", CTX)
    assert ">Friday, 21 November 2025 21:30<" in markdown_html(f"<t:{moment}:F>", CTX)
    assert ">in 1 day<" in markdown_html(f"<t:{moment}:R>", CTX)


def test_relative_time() -> None:
    assert relative_time(datetime(2025, 11, 20, 23, 0, tzinfo=ZONE), NOW) == "in 2 hours"
    assert relative_time(datetime(2025, 11, 18, 20, 0, tzinfo=ZONE), NOW) == "2 days ago"
    assert relative_time(NOW, NOW) == "in a few seconds"


def test_embed_card() -> None:
    embed = disnake.Embed(title="A <b>", description="**d**", colour=0x57F287)
    embed.add_field("Inline", "1")
    embed.add_field("Wide", "2", inline=False)
    embed.set_footer(text="foot **not markdown**")
    embed.set_image(url="attachment://chart.png")
    html = embed_html(embed, {"attachment://chart.png": "charts/chart.png"}, CTX)
    assert 'style="border-left-color:#57f287"' in html
    assert '<div class="embed-title">A &lt;b&gt;</div>' in html
    assert "<strong>d</strong>" in html
    assert '<div class="field inline">' in html
    assert '<div class="field">' in html
    assert '<img src="charts/chart.png" alt="chart.png">' in html
    assert "foot **not markdown**" in html  # Discord renders no markdown in footers


def test_embed_without_its_image_file_shows_no_broken_image() -> None:
    embed = disnake.Embed(title="t")
    embed.set_image(url="attachment://missing.png")
    assert "<img" not in embed_html(embed, {}, CTX)


def test_buttons_and_selects_are_drawn_disabled() -> None:
    buttons = [
        disnake.ui.Button(label="Bet <A>", style=disnake.ButtonStyle.primary, custom_id="a"),
        disnake.ui.Button(label="No", style=disnake.ButtonStyle.danger, custom_id="b"),
    ]
    select = StringSelect(
        custom_id="s",
        placeholder="Choose",
        options=[disnake.SelectOption(label="Q3 <x>", value="q3", default=True)],
    )
    html = components_html([*buttons, disnake.ui.ActionRow(select)])
    assert html.count("disabled") == 2
    assert 'class="button primary" disabled' in html
    assert "Bet &lt;A&gt;" in html
    assert 'class="button danger"' in html
    assert "Q3 &lt;x&gt;" in html


def test_page_has_every_message_and_no_remote_resource() -> None:
    messages = [
        Message("one", "First <1>", "/stats player: <x>", [disnake.Embed(title="e")]),
        Message("two", "Second", None, content="hello **you**", note="n & m"),
    ]
    html = page_html("Demo <title>", ["intro & more"], messages, {}, CTX, ["warn <w>"])
    assert html.startswith("<!DOCTYPE html>")
    assert '<section class="message" id="one">' in html
    assert '<section class="message" id="two">' in html
    assert '<a href="#one">First &lt;1&gt;</a>' in html
    assert "/stats player: &lt;x&gt;" in html
    assert "hello <strong>you</strong>" in html
    assert '<div class="warning">warn &lt;w&gt;</div>' in html
    assert "http://" not in html
    assert "https://" not in html
    assert "<script" not in html
