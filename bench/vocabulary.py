"""The words the data generator draws from: boutiques, names, cities, phones, personas, products, notes.

Plain data, kept apart from bench.generator so the logic stays readable. Everything here is fictitious; emails
use reserved example domains so a demo can never write to a real mailbox.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class BoutiqueSpec:
    code: str
    name: str
    city: str
    country: str
    timezone: str
    currency: str
    slug: str  # used in staff usernames: advisor.<slug>.1, manager.<slug>
    utc_offset: int  # standard-time offset in hours, enough to put visits in opening hours
    advisors: int
    weight: int  # share of the clientele
    visitors: tuple[str, ...]  # countries of the travelling clients this boutique sees most


BOUTIQUES: tuple[BoutiqueSpec, ...] = (
    BoutiqueSpec("PAR-FSH", "Paris Faubourg Saint-Honoré", "Paris", "FR", "Europe/Paris", "EUR", "paris", 1, 4, 24,
                 ("GB", "US", "CN", "DE", "CH", "ES", "JP")),
    BoutiqueSpec("LON-NBS", "London New Bond Street", "London", "GB", "Europe/London", "GBP", "london", 0, 4, 18,
                 ("US", "FR", "CN", "DE")),
    BoutiqueSpec("MIL-MTN", "Milan Via Montenapoleone", "Milan", "IT", "Europe/Rome", "EUR", "milan", 1, 3, 12,
                 ("CH", "DE", "US", "CN", "FR")),
    BoutiqueSpec("NYC-MAD", "New York Madison Avenue", "New York", "US", "America/New_York", "USD", "newyork", -5, 4,
                 20, ("GB", "FR", "CN")),
    BoutiqueSpec("TYO-GNZ", "Tokyo Ginza", "Tokyo", "JP", "Asia/Tokyo", "JPY", "tokyo", 9, 3, 15, ("CN", "US")),
    BoutiqueSpec("DXB-MOE", "Dubai Mall of the Emirates", "Dubai", "AE", "Asia/Dubai", "AED", "dubai", 4, 3, 11,
                 ("SA", "GB", "FR", "CN")),
)
HEAD_OFFICE_USERNAME = "headoffice"


def staff_usernames() -> list[str]:
    """Every staff login the generator creates, so a reset can delete exactly those and no one else."""
    names = [HEAD_OFFICE_USERNAME]
    for boutique in BOUTIQUES:
        names.append(f"manager.{boutique.slug}")
        names.extend(f"advisor.{boutique.slug}.{number}" for number in range(1, boutique.advisors + 1))
    return names


def _digits(rng: random.Random, count: int) -> str:
    return str(rng.randrange(10**count)).zfill(count)


# Mobile numbers in each country's valid national ranges (libphonenumber's metadata), already in E.164.
PHONES: dict[str, Callable[[random.Random], str]] = {
    "FR": lambda rng: "+33" + (
        "6" + rng.choice("01245678") if rng.random() < 0.8 else "7" + rng.choice("3456789")
    ) + _digits(rng, 7),
    "GB": lambda rng: "+447" + rng.choice("123") + _digits(rng, 8),
    "IT": lambda rng: "+393" + rng.choice("23456789") + _digits(rng, 8),
    "US": lambda rng: "+1" + rng.choice(("212", "646", "917", "718", "347", "929", "332"))
    + rng.choice("23456789") + _digits(rng, 6),
    "JP": lambda rng: "+81" + rng.choice("789") + "0" + rng.choice("123456789") + _digits(rng, 7),
    "AE": lambda rng: "+9715" + rng.choice("024568") + _digits(rng, 7),
    "CN": lambda rng: "+8613" + _digits(rng, 9),
    "DE": lambda rng: "+4917" + _digits(rng, 9),
    "CH": lambda rng: "+417" + rng.choice("56789") + _digits(rng, 7),
    "SA": lambda rng: "+9665" + rng.choice("01345689") + _digits(rng, 7),
    "ES": lambda rng: "+346" + _digits(rng, 8),
}


@dataclass(frozen=True)
class CountrySpec:
    languages: tuple[str, ...]
    cities: tuple[str, ...]
    female: tuple[str, ...]
    male: tuple[str, ...]
    surnames: tuple[str, ...]


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


_ARABIC = CountrySpec(
    ("ar", "en"),
    ("Dubai", "Abu Dhabi", "Sharjah"),
    _names("Fatima, Mariam, Aisha, Noura, Layla, Hessa, Shamma, Maitha, Salama, Reem, Latifa, Alia, Amna, Hind, Sara"),
    _names("Mohammed, Ahmed, Khalid, Saeed, Rashid, Hamdan, Sultan, Omar, Abdullah, Majid, Faisal, Hamad, Yousef, "
           "Saif, Tariq"),
    _names("Al Marri, Al Ali, Al Mansoori, Al Falasi, Al Suwaidi, Al Ketbi, Al Mazrouei, Al Shamsi, Al Nuaimi, "
           "Al Dhaheri, Al Hashimi, Al Muhairi, Al Romaithi, Al Zaabi, Haddad"),
)

COUNTRIES: dict[str, CountrySpec] = {
    "FR": CountrySpec(
        ("fr",),
        ("Paris", "Paris", "Paris", "Neuilly-sur-Seine", "Versailles", "Boulogne-Billancourt", "Lyon", "Saint-Cloud"),
        _names("Camille, Claire, Sophie, Juliette, Louise, Chloé, Inès, Manon, Léa, Margaux, Hélène, Isabelle, Anne, "
               "Charlotte, Élise, Victoire, Agathe, Mathilde, Constance, Béatrice"),
        _names("Antoine, Louis, Hugo, Arthur, Mathieu, Olivier, Pierre, Julien, Nicolas, Étienne, Henri, Thomas, "
               "Alexandre, Maxime, Guillaume, François"),
        _names("Martin, Bernard, Dubois, Durand, Lefèvre, Moreau, Laurent, Simon, Michel, Garnier, Rousseau, Fontaine, "
               "Chevalier, Girard, Mercier, Blanc, Guérin, Faure, Lambert, de Villiers, Bonnet, Dupont, Roussel, "
               "Marchand, Lemoine, Perrin, Morel, Fournier, d'Aubigny, Castellane"),
    ),
    "GB": CountrySpec(
        ("en",),
        ("London", "London", "London", "Richmond", "Windsor", "Oxford", "Cambridge", "Guildford"),
        _names("Olivia, Amelia, Charlotte, Emily, Sophie, Isabella, Georgina, Harriet, Eleanor, Florence, Alice, "
               "Victoria, Imogen, Lucy, Poppy"),
        _names("Oliver, George, Harry, William, James, Henry, Edward, Charles, Alexander, Thomas, Frederick, Arthur, "
               "Hugo, Rupert, Sebastian"),
        _names("Smith, Jones, Taylor, Brown, Williams, Wilson, Davies, Evans, Thomas, Johnson, Roberts, Walker, "
               "Wright, Robinson, Thompson, Hughes, Clarke, Hall, Green, Ashworth, Pemberton, Fitzgerald, Cavendish, "
               "Harrington, Montague, O'Neill"),
    ),
    "IT": CountrySpec(
        ("it",),
        ("Milan", "Milan", "Milan", "Monza", "Como", "Bergamo", "Turin", "Varese"),
        _names("Giulia, Francesca, Chiara, Sofia, Alessandra, Valentina, Martina, Elena, Beatrice, Ludovica, "
               "Caterina, Federica, Bianca, Carlotta, Vittoria"),
        _names("Alessandro, Lorenzo, Matteo, Leonardo, Federico, Riccardo, Tommaso, Giovanni, Marco, Andrea, "
               "Filippo, Pietro, Edoardo, Giacomo, Niccolò"),
        _names("Rossi, Russo, Ferrari, Esposito, Bianchi, Romano, Colombo, Ricci, Marino, Greco, Bruno, Gallo, "
               "Conti, De Luca, Mancini, Costa, Giordano, Rizzo, Lombardi, Moretti, Barbieri, Fontana, Santoro"),
    ),
    "US": CountrySpec(
        ("en",),
        ("New York", "New York", "New York", "Brooklyn", "Greenwich", "Scarsdale", "Hoboken", "Southampton"),
        _names("Emma, Olivia, Ava, Madison, Charlotte, Harper, Abigail, Elizabeth, Grace, Natalie, Sarah, Lauren, "
               "Caroline, Katherine, Meredith"),
        _names("James, Michael, William, Benjamin, Daniel, Matthew, Andrew, Christopher, Jonathan, Ethan, Nathan, "
               "Ryan, Samuel, Jack, Theodore"),
        _names("Smith, Johnson, Williams, Brown, Jones, Miller, Davis, Garcia, Rodriguez, Wilson, Anderson, Taylor, "
               "Moore, Jackson, Whitman, Goldberg, Rosenthal, Kennedy, Sullivan, Carter, Bennett, Brooks, Hayes, Kim"),
    ),
    "JP": CountrySpec(
        ("ja",),
        ("Tokyo", "Tokyo", "Tokyo", "Yokohama", "Kawasaki", "Chiba", "Saitama", "Kamakura"),
        _names("Yui, Aoi, Sakura, Hina, Mei, Yuna, Rin, Haruka, Misaki, Nanami, Ayaka, Emi, Keiko, Yoko, Mariko"),
        _names("Haruto, Yuto, Sota, Ren, Hiroshi, Takashi, Kenji, Daiki, Kaito, Riku, Shota, Naoki, Kazuki, Ryo, "
               "Takumi"),
        _names("Sato, Suzuki, Takahashi, Tanaka, Watanabe, Ito, Yamamoto, Nakamura, Kobayashi, Kato, Yoshida, "
               "Yamada, Sasaki, Matsumoto, Inoue, Kimura, Hayashi, Shimizu, Mori, Ikeda"),
    ),
    "AE": _ARABIC,
    "SA": CountrySpec(("ar",), ("Riyadh", "Jeddah", "Dammam"), _ARABIC.female, _ARABIC.male,
                      _names("Al Saud, Al Qahtani, Al Harbi, Al Otaibi, Al Ghamdi, Al Zahrani, Al Shehri, Al Dosari")),
    "CN": CountrySpec(
        ("zh", "en"),
        ("Shanghai", "Beijing", "Shenzhen", "Hangzhou", "Chengdu"),
        _names("Jing, Xin, Yan, Mei, Lin, Hui, Ying, Fang, Xiaoling, Yue"),
        _names("Wei, Jun, Hao, Lei, Yang, Jian, Tao, Ming, Bo, Zhiwei"),
        _names("Wang, Li, Zhang, Liu, Chen, Yang, Huang, Zhao, Wu, Zhou, Xu, Sun"),
    ),
    "DE": CountrySpec(
        ("de",),
        ("Munich", "Berlin", "Hamburg", "Frankfurt", "Düsseldorf"),
        _names("Anna, Lena, Katharina, Julia, Sophie, Laura, Johanna, Clara, Charlotte, Marie"),
        _names("Maximilian, Felix, Lukas, Jonas, Paul, Leon, Friedrich, Konstantin, Moritz, Philipp"),
        _names("Müller, Schmidt, Schneider, Fischer, Weber, Meyer, Wagner, Becker, von Arnim, Hoffmann, Schäfer"),
    ),
    "CH": CountrySpec(
        ("de", "fr"),
        ("Geneva", "Zurich", "Lausanne", "Basel", "Lugano"),
        _names("Léa, Nina, Mia, Anna, Elena, Laura, Chiara, Noémie"),
        _names("Luca, Noah, David, Marco, Jan, Samuel, Julien, Nicolas"),
        _names("Meier, Keller, Brunner, Baumann, Favre, Rochat, Gerber, Huber, Bernasconi, Rey"),
    ),
    "ES": CountrySpec(
        ("es",),
        ("Madrid", "Barcelona", "Marbella", "Valencia"),
        _names("Lucía, Carmen, María, Paula, Alba, Elena, Sofía, Cristina"),
        _names("Alejandro, Pablo, Javier, Diego, Álvaro, Carlos, Manuel, Jaime"),
        _names("García, Fernández, González, Rodríguez, López, Martínez, Sánchez, Álvarez, de la Fuente, Ortega"),
    ),
}

# Reserved example domains (RFC 2606 / 6761): safe for a demo whose follow-ups really send mail.
EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example", "client.example")


@dataclass(frozen=True)
class PersonaSpec:
    slug: str
    name: str
    description: str
    motivations: str
    pain_points: str
    preferred_channels: tuple[str, ...]
    weight: int  # share of the clientele
    buys: float  # probability of having bought at all
    repeat: float  # mean number of further orders for a buyer
    web_share: float  # share of orders placed online
    engagement: float  # mean number of touchpoints beside orders
    categories: tuple[str, ...]  # most likely first
    styles: tuple[str, ...]
    channel_affinity: dict[str, float]  # multiplies the base weight of touchpoints on that channel


PERSONAS: tuple[PersonaSpec, ...] = (
    PersonaSpec(
        "heritage-collector", "The Heritage Collector",
        "A long-standing client who knows the house's archives and collects its icons and numbered pieces.",
        "Craftsmanship, provenance, rarity; being offered a piece before anyone else.",
        "Being treated like a first-time visitor; waiting lists without news; an advisor who changes often.",
        ("boutique", "phone", "event"), 15, 0.82, 2.6, 0.08, 9.0,
        ("Handbags", "Watches", "Jewellery", "Small leather goods"), ("heritage", "classic", "tailored"),
        {"boutique": 1.6, "phone": 1.5, "event": 2.0, "web": 0.5, "social": 0.3},
    ),
    PersonaSpec(
        "time-pressed-executive", "The Time-Pressed Executive",
        "Buys for work and travel; expects the advisor to have chosen before the appointment.",
        "Efficiency, discretion, pieces that last; a short list ready when they arrive.",
        "Long visits, repeated questions, deliveries that miss the travel date.",
        ("messaging", "email", "boutique"), 20, 0.66, 1.4, 0.3, 7.0,
        ("Ready-to-wear", "Small leather goods", "Shoes", "Watches"), ("tailored", "minimalist", "classic"),
        {"messaging": 2.0, "email": 1.2, "boutique": 1.0, "event": 0.4},
    ),
    PersonaSpec(
        "digital-native", "The Digital Native",
        "Discovers the house on social media and the app, often buys online, comes in for the experience.",
        "Newness, exclusivity online, a seamless move between app, site and boutique.",
        "Stock shown online but not in store; slow replies; generic newsletters.",
        ("app", "social", "web"), 22, 0.52, 0.9, 0.65, 12.0,
        ("Shoes", "Small leather goods", "Ready-to-wear", "Handbags"), ("bold", "sporty", "minimalist"),
        {"web": 2.0, "social": 3.0, "email": 1.2, "boutique": 0.5, "phone": 0.2},
    ),
    PersonaSpec(
        "gift-giver", "The Occasional Gift Giver",
        "Comes a few times a year for birthdays, anniversaries and the holidays; wants reassurance on the choice.",
        "A gift that will please, wrapped and delivered on time; suggestions within a budget.",
        "Feeling out of place in the boutique; exchanges that are complicated.",
        ("email", "web", "boutique"), 23, 0.55, 0.5, 0.4, 5.0,
        ("Fragrance", "Small leather goods", "Jewellery", "Shoes"), ("classic", "evening"),
        {"email": 1.5, "web": 1.2, "boutique": 0.8, "event": 0.3},
    ),
    PersonaSpec(
        "global-traveller", "The Global Traveller",
        "Shops in several of the house's cities and expects to be recognised in each.",
        "Recognition across boutiques, tax-free shopping, pieces reserved in the city they fly to.",
        "Having to repeat preferences in every boutique; a history that does not follow them.",
        ("messaging", "boutique", "email"), 12, 0.7, 1.6, 0.2, 8.0,
        ("Handbags", "Ready-to-wear", "Shoes", "Jewellery"), ("bold", "evening", "bohemian"),
        {"messaging": 2.0, "boutique": 1.3, "web": 0.7},
    ),
    PersonaSpec(
        "discreet-vic", "The Discreet VIC",
        "One of the house's most important clients; buys high jewellery and watches, values absolute discretion.",
        "Private viewings, first access to exceptional pieces, one trusted advisor.",
        "Any lack of discretion; public events; being contacted by someone they do not know.",
        ("phone", "boutique", "event"), 8, 0.96, 5.5, 0.05, 10.0,
        ("Jewellery", "Watches", "Handbags", "Ready-to-wear"), ("classic", "evening", "heritage"),
        {"phone": 2.0, "boutique": 1.5, "event": 1.5, "web": 0.3, "social": 0.1, "email": 0.6},
    ),
)

STYLES = ("classic", "minimalist", "bold", "heritage", "evening", "sporty", "bohemian", "tailored")
FEMALE_SIZES = ("FR 34", "FR 36", "FR 38", "FR 40", "FR 42", "FR 44")
MALE_SIZES = ("IT 46", "IT 48", "IT 50", "IT 52", "IT 54")
FEMALE_SHOE_SIZES = ("EU 36", "EU 36.5", "EU 37", "EU 37.5", "EU 38", "EU 38.5", "EU 39", "EU 40")
MALE_SHOE_SIZES = ("EU 40", "EU 41", "EU 42", "EU 42.5", "EU 43", "EU 44", "EU 45")


@dataclass(frozen=True)
class CategorySpec:
    name: str
    code: str
    count: int
    items: tuple[str, ...]
    price_range: tuple[int, int]  # euros
    step: int  # prices end in round amounts


CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec("Handbags", "HB", 28,
                 ("tote", "shoulder bag", "top-handle bag", "clutch", "bucket bag", "crossbody bag", "hobo bag"),
                 (1900, 9500), 100),
    CategorySpec("Ready-to-wear", "RW", 26,
                 ("cashmere coat", "silk blouse", "tweed jacket", "wool trousers", "cocktail dress", "knit cardigan",
                  "trench coat", "leather jacket"), (650, 6800), 50),
    CategorySpec("Shoes", "SH", 18,
                 ("ballerina flats", "slingback pumps", "ankle boots", "loafers", "sneakers", "sandals"),
                 (620, 1450), 10),
    CategorySpec("Jewellery", "JW", 16,
                 ("pendant necklace", "bangle", "cocktail ring", "earrings", "tennis bracelet"), (1200, 48000), 100),
    CategorySpec("Watches", "WA", 8, ("automatic watch", "chronograph", "dress watch", "moon-phase watch"),
                 (5200, 42000), 100),
    CategorySpec("Small leather goods", "SL", 14,
                 ("card holder", "wallet", "key pouch", "belt", "passport cover"), (280, 1100), 10),
    CategorySpec("Fragrance", "FR", 10,
                 ("eau de parfum 100 ml", "extrait 50 ml", "eau de toilette 75 ml", "scented candle"), (160, 420), 5),
)
LINES = ("Rivoli", "Opéra", "Camélia", "Étoile", "Vendôme", "Palais", "Mirage", "Lune", "Sirène", "Aurore", "Jardin",
         "Riviera", "Solstice", "Orangerie", "Bellevue", "Trianon", "Mistral", "Odéon", "Tuileries", "Marquise")

ADVISOR_NOTES = (
    "Prefers private appointments after 18:00.",
    "Collects the {line} line; call when new colours arrive.",
    "Allergic to nickel: no plated jewellery.",
    "Anniversary in {month}; usually buys a gift a week before.",
    "Travels often: reach by messaging rather than by phone.",
    "Likes to see new collections before the launch.",
    "Do not call at the office.",
    "Prefers discreet packaging and delivery to the hotel.",
    "Waiting for the next {category} pieces.",
    "Mother has been a client of the house for thirty years.",
    "Usually comes with family; offer tea in the salon.",
    "Partner's birthday in {month}: suggest a gift a few weeks before.",
    "Wears {size} in ready-to-wear; prefers the fitting to be done at home.",
)
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
CAMPAIGNS = ("New collection launch", "Holiday gifting", "Cruise preview", "Fragrance discovery",
             "Savoir-faire stories", "Icons revisited", "Spring window", "Jewellery week")
EVENTS = ("Private collection preview", "High jewellery evening", "Savoir-faire workshop", "Art fair dinner",
          "Watchmaking masterclass", "Fragrance creation session")
APPOINTMENT_PURPOSES = ("private viewing", "fitting", "gift selection", "alterations", "watch servicing advice")
PHONE_REASONS = ("thank-you call", "new arrivals", "order ready for collection", "repair update", "event invitation")
MESSAGING_APPS = {"CN": "WeChat", "JP": "LINE"}  # elsewhere WhatsApp
SOCIAL_NETWORKS = ("Instagram", "TikTok", "Pinterest", "YouTube")
