"""Item contents as safe HTML: data is shown, never run.

Markdown is rendered by markdown-it-py with raw HTML off (a `<script>` in an answer comes out
as the text `<script>`) and its link check on (no `javascript:` or `data:` links), and the
result then goes through nh3 (ammonia), which keeps only formatting tags and http(s)/mailto
links. The pages add a Content-Security-Policy that allows no inline script at all, so even
markup that slipped through both could not run.
"""

from __future__ import annotations

from functools import lru_cache

ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li", "a", "h1", "h2", "h3", "h4",
    "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "del", "s",
}  # fmt: skip


@lru_cache(maxsize=1)
def _markdown():
    from markdown_it import MarkdownIt

    markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": True}).enable("table")
    markdown.add_render_rule("image", _image_as_text)
    return markdown


def _image_as_text(self, tokens, index, options, env) -> str:
    """An image is shown as its alt text and address: the labeller judges what the answer says,
    and the page fetches nothing the data names."""
    from markdown_it.common.utils import escapeHtml

    token = tokens[index]
    alt = self.renderInline(token.children or [], options, env) if token.children else token.content
    return f"[image: {alt} ({escapeHtml(str(token.attrGet('src') or ''))})]"


def _absolute_links_only(tag: str, attribute: str, value: str) -> str | None:
    """Links keep only absolute http(s) and mailto targets: a relative one (/login?token=...)
    would act on this app."""
    if tag == "a" and attribute == "href":
        return value if value.lower().startswith(("http://", "https://", "mailto:")) else None
    return value


def safe_html(text: str) -> str:
    """`text` (Markdown) as HTML holding only formatting tags and safe links."""
    import nh3

    rendered = _markdown().render(text or "")
    return nh3.clean(
        rendered,
        tags=ALLOWED_TAGS,
        attributes={"a": {"href", "title"}, "code": {"class"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        attribute_filter=_absolute_links_only,
    )
