"""How staff reach a client from the client page and from a task: a tap-to-call link, and a WhatsApp link when the
client agreed to be contacted by messaging. Plain links, so they work without JavaScript; desk/static/desk/reach.js
then prompts for the outcome."""

from __future__ import annotations

from dataclasses import dataclass

from customers.models import ConsentChannel, ConsentPurpose, Customer


@dataclass(frozen=True)
class ReachLinks:
    """The addresses to reach a client at; blank where there is none (no phone, or no messaging consent)."""

    phone: str
    call: str
    whatsapp: str


NO_REACH = ReachLinks(phone="", call="", whatsapp="")


def reach_links(customer: Customer) -> ReachLinks:
    """`tel:` with the client's phone (kept in E.164), and `https://wa.me/<digits>` when messaging consent is
    granted for either purpose: the advisor's message may be a service (the order is ready) or an invitation. An
    erased client has neither."""
    if customer.is_anonymized or not customer.phone:
        return NO_REACH
    consent = customer.consent or {}
    messaging = any(consent.get(f"{ConsentChannel.MESSAGING}_{purpose}") is True for purpose in ConsentPurpose.values)
    digits = "".join(character for character in customer.phone if character.isdigit())
    return ReachLinks(phone=customer.phone, call=f"tel:{customer.phone}",
                      whatsapp=f"https://wa.me/{digits}" if messaging and digits else "")
