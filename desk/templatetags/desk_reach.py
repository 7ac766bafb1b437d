"""`{{ customer|reach_links }}` in the staff templates: desk.reach.reach_links for a client."""

from django import template

from desk.reach import ReachLinks
from desk.reach import reach_links as client_reach_links

register = template.Library()


@register.filter
def reach_links(customer) -> ReachLinks:
    return client_reach_links(customer)
