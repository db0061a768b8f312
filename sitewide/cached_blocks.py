"""Block template tags that render their content once per key:
``{% name "part" value ... %}...{% endname %}``, the key being the resolved
values, the rendered HTML kept by the tag's ``store(key, render)``."""

from django import template


def cached_block_tag(name, store):
    """The compile function of a block tag ``name`` keeping its HTML in ``store``."""
    end = f"end{name}"

    def compile_tag(parser, token):
        bits = token.split_contents()
        if len(bits) < 2:
            raise template.TemplateSyntaxError(f"{name} needs a name (and the values the block depends on)")
        nodelist = parser.parse((end,))
        parser.delete_first_token()
        return CachedBlockNode(nodelist, [parser.compile_filter(bit) for bit in bits[1:]], store)

    return compile_tag


class CachedBlockNode(template.Node):
    def __init__(self, nodelist, key_parts, store):
        self.nodelist, self.key_parts, self.store = nodelist, key_parts, store

    def render(self, context):
        key = tuple(part.resolve(context) for part in self.key_parts)
        return self.store(key, lambda: self.nodelist.render(context))
