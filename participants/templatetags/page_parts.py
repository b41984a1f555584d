"""`{% page_part "header" %}…{% end_page_part %}`: a part of a campaign's page rendered once per
campaign, language, path and page template, and written from then on as it was rendered.

`participants.pages.page_render` gives a campaign's page a `page_parts` store that lives with
the campaign's published copy (campaigns/lookup.py), so that any change of the campaign renders
the parts again, and that no campaign's parts can reach another's page. Without the store (a
page of no campaign, an embedded page, a page whose links carry a receipt), the part renders
as any other template code.

What a part shows must therefore depend on nothing but the campaign, the language, the path and
the page's template: never on the participant, the session, the form or the query string. The
`{% block %}`s inside a part stay overridable: a page template that overrides one is its own key.
"""

from django import template

register = template.Library()


class PagePartNode(template.Node):
    def __init__(self, name: str, nodelist: template.NodeList) -> None:
        self.name = name
        self.nodelist = nodelist

    def render(self, context) -> str:
        parts = context.get("page_parts")
        if parts is None:
            return self.nodelist.render(context)
        # The page's template itself (kept alive by the key): one that overrides a block
        # inside the part renders its own.
        key = (self.name, context.template)
        html = parts.get(key)
        if html is None:
            html = parts[key] = self.nodelist.render(context)
        return html


@register.tag("page_part")
def page_part(parser, token) -> PagePartNode:
    bits = token.split_contents()
    if len(bits) != 2 or bits[1][0] not in "\"'" or bits[1][0] != bits[1][-1]:
        raise template.TemplateSyntaxError('Usage: {% page_part "name" %}…{% end_page_part %}')
    nodelist = parser.parse(("end_page_part",))
    parser.delete_first_token()
    return PagePartNode(bits[1][1:-1], nodelist)
