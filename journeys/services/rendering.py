"""Follow-up subjects and bodies: Django template syntax over a fixed, safe context.

Staff write templates in the admin, so a template must not reach further than the few values it is given:
- the context is built from plain values (dicts, lists, strings, numbers, dates), never model instances, so no
  `{{ client.orders.delete }}` can reach the ORM;
- the engine has no loaders and only the harmless built-in tags and filters (no `load`, `include`, `extends`,
  `debug`, `url`, `csrf_token`);
- every variable a template names is checked on save against the context contract below, so a typo is an error
  in the admin rather than an empty greeting in a client's inbox.

The context contract (the rule engine's default templates are written against exactly these names):
`client` (.first_name, .last_name, .name), `advisor` (.name), `boutique` (.name), `last_order` (.total,
.currency, .placed_at, .lines: each .name, .category, .quantity, .unit_price), `recommended_products` (each
.name, .category, .price, .currency), `preferences` (.sizes, .categories, .styles).
"""

from __future__ import annotations

import functools
import html
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.template import Context, Engine, Library, Node, NodeList, TemplateSyntaxError, defaultfilters, defaulttags
from django.template.base import FilterExpression, Variable
from django.utils.html import strip_tags

from core.errors import ApplicationError
from customers.models import Customer
from customers.normalizers import PREFERENCE_KEYS
from journeys.models import FollowUpTemplate
from touchpoints.models import Order, OrderLine, Product

# The harmless built-in tags. Left out: load (libraries), include/extends/block (files), debug (dumps the
# context and the loaded modules), url and csrf_token (the site, not a message), lorem, resetcycle.
ALLOWED_TAGS = (
    "autoescape", "comment", "cycle", "filter", "firstof", "for", "if", "ifchanged", "now", "regroup", "spaceless",
    "templatetag", "verbatim", "widthratio", "with",
)

register = Library()  # the engine's only library (SafeEngine.default_builtins)
register.tags.update({name: defaulttags.register.tags[name] for name in ALLOWED_TAGS})
register.filters.update(defaultfilters.register.filters)

_LINE = frozenset({"name", "category", "quantity", "unit_price"})
_PRODUCT = frozenset({"name", "category", "price", "currency"})
# What each name of the context offers; None: any attribute (a dict's keys are the template author's to know).
CONTEXT_CONTRACT: dict[str, frozenset[str] | None] = {
    "client": frozenset({"first_name", "last_name", "name"}),
    "advisor": frozenset({"name"}),
    "boutique": frozenset({"name"}),
    "last_order": frozenset({"total", "currency", "placed_at", "lines"}),
    "recommended_products": frozenset({"0", "1", "2", "3", "4"}),  # by position; a loop gets each item's shape
    "preferences": frozenset({*PREFERENCE_KEYS, "items"}),
}
# The lists whose items have a shape of their own, for the loop variables that walk them.
_ITEM_CONTRACT = {("recommended_products",): _PRODUCT, ("last_order", "lines"): _LINE}


class SafeEngine(Engine):
    default_builtins = ["journeys.services.rendering"]


@functools.cache
def _engine(*, autoescape: bool) -> Engine:
    return SafeEngine(dirs=[], app_dirs=False, loaders=[], libraries={}, autoescape=autoescape, debug=False,
                      string_if_invalid="")


def is_html(channel: str) -> bool:
    """Email bodies are HTML (escaped values); SMS and advisor scripts are plain text."""
    return channel == FollowUpTemplate.Channel.EMAIL


# --- Validation ---------------------------------------------------------------------------------------------


def _expressions(value: Any, depth: int = 0) -> list[FilterExpression]:
    """Every FilterExpression held by a node's attributes (if-conditions nest them in operator objects)."""
    if depth > 6 or isinstance(value, NodeList | Node | str):
        return []
    if isinstance(value, FilterExpression):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list | tuple):
        return [found for item in value for found in _expressions(item, depth + 1)]
    if hasattr(value, "__dict__") and type(value).__module__.startswith("django.template"):
        return _expressions(list(vars(value).values()), depth + 1)
    return []


def _variables(expression: FilterExpression) -> list[Variable]:
    found = [expression.var] if isinstance(expression.var, Variable) and expression.var.lookups else []
    for _filter, arguments in expression.filters:
        found += [argument for is_lookup, argument in arguments if is_lookup and argument.lookups]
    return found


def template_check(source: str, *, channel: str, field: str = "body") -> None:
    """Refuse a subject or body that does not compile, or that names a variable outside the context contract.
    Raises ApplicationError for `field` with a message staff can act on."""
    try:
        template = _engine(autoescape=is_html(channel)).from_string(source)
    except TemplateSyntaxError as error:
        raise ApplicationError.for_field(
            field, f"The template does not compile: {error} (the tags a follow-up may use: {', '.join(ALLOWED_TAGS)})."
        ) from error
    nodes = template.nodelist.get_nodes_by_type(Node)
    # Names a template binds itself: loop variables (with the shape of the list they walk), with, regroup.
    bound: dict[str, frozenset[str] | None] = {"forloop": None}
    for node in nodes:
        if isinstance(node, defaulttags.ForNode):
            sequence = node.sequence.var.lookups if isinstance(node.sequence.var, Variable) else None
            for name in node.loopvars:
                bound[name] = _ITEM_CONTRACT.get(tuple(sequence or ()))
        elif isinstance(node, defaulttags.WithNode):
            bound.update(dict.fromkeys(node.extra_context))
        elif isinstance(node, defaulttags.RegroupNode):
            bound[node.var_name] = None
        elif isinstance(node, defaulttags.FilterNode):
            bound["var"] = None  # {% filter %} applies its filters to a variable of its own named "var"
        # `{% cycle … as c %}`, `{% firstof … as x %}`, `{% now … as y %}`, `{% widthratio … as w %}`.
        for attribute in ("asvar", "variable_name"):
            if isinstance(getattr(node, attribute, None), str):
                bound[getattr(node, attribute)] = None
    known = ", ".join(CONTEXT_CONTRACT)
    for node in nodes:
        for expression in _expressions({k: v for k, v in vars(node).items() if k != "token"}):
            for variable in _variables(expression):
                root, *rest = variable.lookups
                if root in bound:
                    offered = bound[root]
                elif root in CONTEXT_CONTRACT:
                    offered = CONTEXT_CONTRACT[root]
                else:
                    raise ApplicationError.for_field(
                        field, f"Unknown variable {variable.var!r}: a follow-up template may use {known}."
                    )
                if rest and offered is not None and rest[0] not in offered:
                    raise ApplicationError.for_field(
                        field,
                        f"{variable.var!r}: {root} has no {rest[0]!r}; it offers {', '.join(sorted(offered))}.",
                    )


# --- Context ------------------------------------------------------------------------------------------------

# An order that still counts as the client's last purchase.
_KEPT_ORDERS = (Order.Status.PLACED, Order.Status.FULFILLED)


def _last_order(customer: Customer) -> dict[str, Any] | None:
    order = (
        Order.objects.filter(customer=customer, status__in=_KEPT_ORDERS, total__gt=0)
        .order_by("-placed_at", "-pk")
        .first()
    )
    if order is None:
        return None
    lines = OrderLine.objects.filter(order=order, is_return=False).order_by("line_number")
    return {
        "total": order.total,
        "currency": order.currency,
        "placed_at": order.placed_at,
        "lines": [
            {"name": line.product_name or line.sku, "category": line.category, "quantity": line.quantity,
             "unit_price": line.unit_price}
            for line in lines
        ],
    }


def recommended_products(customer: Customer, *, limit: int | None = None) -> list[dict[str, Any]]:
    """A few active products from the client's categories (their stated preferences, else what they bought),
    which they have not bought yet; the most precious first."""
    limit = settings.FOLLOWUP_RECOMMENDED_PRODUCTS if limit is None else limit
    bought = OrderLine.objects.filter(order__customer=customer, is_return=False)
    categories = list((customer.preferences or {}).get("categories") or [])
    if not categories:
        categories = list(bought.exclude(category="").values_list("category", flat=True).distinct())
    if not categories or limit <= 0:
        return []
    products = (
        Product.objects.filter(is_active=True, category__in=categories)
        .exclude(sku__in=bought.values("sku"))
        .order_by("-price", "name", "pk")[:limit]
    )
    return [{"name": p.name, "category": p.category, "price": p.price, "currency": p.currency} for p in products]


def followup_context(customer: Customer) -> dict[str, Any]:
    """The context every follow-up template is rendered with, from plain values only (see the module docstring)."""
    advisor = customer.advisor
    boutique = customer.home_boutique
    preferences = customer.preferences or {}
    return {
        "client": {
            "first_name": customer.first_name,
            "last_name": customer.last_name,
            "name": customer.full_name,
        },
        "advisor": {"name": str(advisor)} if advisor is not None else None,
        "boutique": {"name": boutique.name} if boutique is not None else None,
        "last_order": _last_order(customer),
        "recommended_products": recommended_products(customer),
        "preferences": {key: list(preferences.get(key) or []) for key in PREFERENCE_KEYS},
    }


# --- Rendering ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedMessage:
    """A follow-up as the client (or advisor) reads it. `text` is `body` without HTML, for SMS and email text."""

    subject: str
    body: str
    text: str


def render_message(*, subject: str, body: str, channel: str, context: dict[str, Any]) -> RenderedMessage:
    """Render a variant's subject and body for one client's context. Raises ApplicationError if either fails to
    compile (a variant saved before templates were checked)."""
    escaped = is_html(channel)
    try:
        # The Context, not the engine, decides escaping when a template is rendered this way.
        rendered_subject = _engine(autoescape=False).from_string(subject).render(
            Context(context, autoescape=False)).strip()
        rendered_body = _engine(autoescape=escaped).from_string(body).render(
            Context(context, autoescape=escaped)).strip()
    except TemplateSyntaxError as error:
        raise ApplicationError(f"The follow-up template does not compile: {error}") from error
    # A subject is one line: a stray newline would be refused by the mail library as a header injection.
    rendered_subject = " ".join(rendered_subject.split())
    text = html.unescape(strip_tags(rendered_body)) if escaped else rendered_body
    return RenderedMessage(subject=rendered_subject, body=rendered_body, text=text)


def with_unsubscribe_link(message: RenderedMessage, *, url: str) -> RenderedMessage:
    """A marketing email with its unsubscribe link at the foot of both the HTML and the text body (the mail
    client's own button comes from the List-Unsubscribe header the dispatcher adds)."""
    link = html.escape(url, quote=True)
    return RenderedMessage(
        subject=message.subject,
        body=f'{message.body}\n<p style="font-size:small">To stop receiving these emails, '
             f'<a href="{link}">unsubscribe</a>.</p>',
        text=f"{message.text}\n\n--\nTo stop receiving these emails, unsubscribe: {url}",
    )
