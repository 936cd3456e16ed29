"""Vocabulary and sentence generators of the built-in site: deterministic encyclopedia-style prose."""

from __future__ import annotations

import random

COUNTRIES = (
    "Albania", "Armenia", "Austria", "Azerbaijan", "Belarus", "Belgium", "Bulgaria", "Canada",
    "Croatia", "Cyprus", "Czechia", "Denmark", "Estonia", "Finland", "France", "Georgia",
    "Germany", "Greece", "Hungary", "Iceland", "Ireland", "Italy", "Kazakhstan", "Latvia",
    "Lithuania", "Luxembourg", "Malta", "Moldova", "Montenegro", "Netherlands", "North Macedonia",
    "Norway", "Poland", "Portugal", "Romania", "Russia", "Serbia", "Slovakia", "Slovenia",
    "Spain", "Sweden", "Switzerland", "Turkey", "Ukraine", "United Kingdom", "United States",
)
CITIES = (
    "Brussels", "Paris", "Washington", "Madrid", "Prague", "Vilnius", "Riga", "Tallinn",
    "Warsaw", "Bucharest", "Sofia", "Ankara", "Oslo", "Copenhagen", "Lisbon", "Rome", "Berlin",
    "Bonn", "Vienna", "Helsinki", "Stockholm", "Budapest", "Bratislava", "Ljubljana", "Zagreb",
    "Tirana", "Skopje", "Podgorica", "Reykjavík", "Kraków", "Gdańsk", "Łódź", "Zürich", "Geneva",
    "Malmö", "Tromsø", "Münster", "Göteborg", "Brno", "Plovdiv", "Constanța", "Tbilisi", "Kyiv",
    "Minsk", "Chișinău", "Yerevan", "Baku", "Astana", "The Hague", "Lyon", "Istanbul", "Thessaloniki",
)
REGIONS = (
    "Baltic", "Nordic", "Atlantic", "Balkan", "Black Sea", "Mediterranean", "Arctic", "Caucasus",
    "Danube", "Adriatic", "Carpathian", "North Sea", "Central European", "Eastern European",
)
NOUNS = (
    "Defence", "Security", "Cooperation", "Air Policing", "Partnership", "Readiness", "Logistics",
    "Cyber Defence", "Maritime", "Energy Security", "Arms Control", "Disarmament", "Intelligence",
)
ADJECTIVES = (
    "Allied", "Steadfast", "Noble", "Trident", "Baltic", "Northern", "Iron", "Silver", "Swift",
    "Resolute", "Amber", "Vigilant", "Eagle", "Atlantic", "Deliberate", "Unified", "Brilliant",
)
CODEWORDS = (
    "Shield", "Guardian", "Sentinel", "Harbour", "Horizon", "Anchor", "Lance", "Falcon", "Spear",
    "Compass", "Bastion", "Beacon", "Javelin", "Citadel", "Meridian", "Trident", "Arrow",
)
SURNAMES = (
    "Halvorsen", "Markovic", "Lindqvist", "Dubois", "Kowalczyk", "Petrescu", "Van der Berg",
    "Oliveira", "Nieminen", "Horváth", "Schäfer", "Ioannou", "Kask", "Ozols", "Brennan", "Duarte",
)
ORG_KINDS = ("Council", "Commission", "Agency", "Command", "Assembly", "Centre", "Initiative")
ITALIC_WORKS = (
    "Russia's Hostile Measures", "The Alliance at Seventy", "Security in a Changing Europe",
    "Deterrence and Dialogue", "The Northern Flank", "After the Wall", "Collective Defence Today",
    "Allies and Adversaries", "A History of the Atlantic Alliance",
)
PUBLISHERS = ("RAND", "Chatham House", "SIPRI", "IISS", "Brookings", "Carnegie Endowment",
              "Oxford University Press", "Cambridge University Press", "NATO Review")
MOTTOS = ("animus in consulendo liber", "vis unita fortior", "pax per vigilantiam",
          "concordia res parvae crescunt")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")


def make_title(rng: random.Random, kind: str) -> str:
    """One generated title of the given kind (uniqueness is the caller's business)."""
    if kind == "relations":
        a, b = rng.sample(COUNTRIES, 2)
        return f"{a}–{b} relations"
    if kind == "treaty":
        form = rng.choice(("Treaty of {c}", "{c} Accord", "{c} Protocol", "{c} Declaration"))
        return form.format(c=rng.choice(CITIES))
    if kind == "summit":
        return f"{rng.randrange(1952, 2024)} {rng.choice(CITIES)} Summit"
    if kind == "operation":
        return f"Operation {rng.choice(ADJECTIVES)} {rng.choice(CODEWORDS)}"
    if kind == "organization":
        form = rng.choice(("{r} {n} {k}", "{r} {k} for {n}", "{n} {k} of the {r} States"))
        return form.format(r=rng.choice(REGIONS), n=rng.choice(NOUNS), k=rng.choice(ORG_KINDS))
    if kind == "conflict":
        form = rng.choice(("{r} crisis ({y})", "Siege of {c}", "{c} incident ({y})"))
        return form.format(r=rng.choice(REGIONS), c=rng.choice(CITIES),
                           y=rng.randrange(1948, 2023))
    return f"{rng.choice(SURNAMES)} doctrine"


GENERATED_KINDS = ("relations", "treaty", "summit", "operation", "organization", "conflict",
                   "doctrine")


def _date(rng: random.Random, year: int) -> str:
    return f"{rng.randrange(1, 29)} {rng.choice(MONTHS)} {year}"


def lead_wikitext(rng: random.Random, title: str, kind: str, links: list[str],
                  debris: set[str]) -> str:
    """The lead of a generated article in the site's wikitext subset (see wikitext.py).

    :param links: titles of other topics the lead may link to.
    :param debris: which conversion traps to plant: "pipe" (piped links, echoed by the
        mirror as "Target, text"), "italic", "motto" (an empty "motto is ."), "ref".
    """
    year = rng.randrange(1949, 2021)
    other = rng.choice(links) if links else "Collective security"
    third = rng.choice(links) if links else "Cold War"
    if kind == "relations":
        a, _, rest = title.partition("–")
        b = rest.replace(" relations", "")
        text = (f"{a}–{b} relations are the bilateral relations between [[{a}]] and [[{b}]]. "
                f"Diplomatic relations were established in {year}, and both countries take "
                f"part in the work of the [[{other}]].")
    elif kind == "treaty":
        text = (f"The {title} is an international agreement signed on {_date(rng, year)} by "
                f"the member states of the [[{other}]]. It entered into force in "
                f"{year + rng.randrange(1, 4)}.")
    elif kind == "summit":
        text = (f"The {title} was a meeting of the heads of state and government of the "
                f"alliance. Its declaration addressed [[{other}]] and the future of [[{third}]].")
    elif kind == "operation":
        text = (f"{title} was a multinational military operation launched in {year} in "
                f"support of [[{other}]]. Forces from {rng.randrange(4, 31)} countries took part.")
    elif kind == "organization":
        text = (f"The {title} is an [[intergovernmental organization|intergovernmental]] body "
                f"established in {year} to coordinate the policies of its members on "
                f"[[{other}]].")
    elif kind == "conflict":
        text = (f"The {title} was a confrontation that began in {year} and strained relations "
                f"between the [[NATO]] allies and their neighbours. It is often compared with "
                f"[[{other}]].")
    else:
        name = title.replace(" doctrine", "")
        first = rng.choice(("Anna", "Jonas", "Maria", "Pieter", "Elena"))
        text = (f"The {title} is a security policy named after the diplomat {first} {name}, "
                f"first set out in {year}. It shaped the debate on [[{other}]].")
    if "pipe" in debris:
        text += (" Scholars describe it as a [[Transnationalism|transnational]] effort of "
                 "[[Member states of NATO|member states]] rooted in "
                 "[[Deterrence theory|deterrence]].")
    if "motto" in debris:
        text += f" Its motto is {{{{{rng.choice(MOTTOS)}}}}}."
    text += " " + sentence(rng, title, year)
    if "ref" in debris or "italic" in debris:
        work = rng.choice(ITALIC_WORKS)
        text += (f" Its legacy remains disputed.<ref>{rng.choice(PUBLISHERS)}, ''{work}'' "
                 f"({rng.randrange(1990, 2024)})</ref>")
    if "italic" in debris:
        text += f" The standard account is ''{rng.choice(ITALIC_WORKS)}''."
    for _ in range(rng.randrange(2, 6)):
        text += " " + sentence(rng, title, year)
    return text


_SENTENCES = (
    "In {y} its members agreed to review the arrangements every {n} years.",
    "Critics argued that the {t} placed too much weight on military planning.",
    "The secretariat of the {t} was moved to {c} in {y}.",
    "By {y} more than {n} states had taken part in its meetings.",
    "Negotiations were led by delegations from {c} and {c2}.",
    "A joint statement issued in {c} in {y} reaffirmed its principles.",
    "Historians link its origins to the debates that followed the crisis of {y}.",
    "Its annual budget was about {n} million euros in {y}.",
    "Public support for the {t} varied widely among the member states.",
    "The arrangement was extended in {y} after a review by the foreign ministers.",
    "Observers from {c} attended the sessions held in {y}.",
    "Its records for the years before {y} were declassified later.",
)


def sentence(rng: random.Random, title: str, year: int) -> str:
    """One plain sentence about the topic."""
    return rng.choice(_SENTENCES).format(
        t=title, y=year + rng.randrange(0, 30), n=rng.randrange(2, 40),
        c=rng.choice(CITIES), c2=rng.choice(CITIES))


def paragraph(rng: random.Random, title: str, links: list[str], sentences: int) -> str:
    """A body paragraph (wikitext) of plain sentences with a few internal links."""
    year = rng.randrange(1949, 2015)
    parts: list[str] = []
    for i in range(sentences):
        if links and i % 2 == 1:
            parts.append(f"See also the article on [[{rng.choice(links)}]].")
        parts.append(sentence(rng, title, year))
    return " ".join(parts)


SECTION_TITLES = {
    "relations": ("History", "Diplomatic missions", "Trade and cooperation"),
    "treaty": ("Background", "Provisions", "Ratification", "Legacy"),
    "summit": ("Background", "Agenda", "Outcome"),
    "operation": ("Background", "Forces", "Course of the operation", "Aftermath"),
    "organization": ("History", "Structure", "Membership", "Activities"),
    "conflict": ("Background", "Events", "International response", "Aftermath"),
    "doctrine": ("Origins", "Principles", "Reception"),
}

INFOBOX_KEYS = {
    "relations": ("Embassies", "Established", "Ambassador"),
    "treaty": ("Signed", "Location", "Effective", "Parties", "Languages"),
    "summit": ("Host city", "Dates", "Participants", "Chair"),
    "operation": ("Date", "Location", "Result", "Commanded by"),
    "organization": ("Formation", "Type", "Headquarters", "Membership", "Official languages"),
    "conflict": ("Date", "Location", "Outcome", "Belligerents"),
    "doctrine": ("Formulated", "Author", "Adopted by"),
}


def infobox_value(rng: random.Random, key: str) -> str:
    """A plausible value for an infobox key."""
    year = rng.randrange(1949, 2021)
    if key in ("Established", "Formation", "Signed", "Effective", "Formulated", "Date", "Dates"):
        return _date(rng, year)
    if key in ("Location", "Host city", "Headquarters", "Embassies"):
        return f"{rng.choice(CITIES)}, {rng.choice(COUNTRIES)}"
    if key in ("Parties", "Participants", "Membership"):
        return f"{rng.randrange(2, 33)} states"
    if key in ("Languages", "Official languages"):
        return rng.choice(("English, French", "English", "English, French, Russian"))
    if key in ("Ambassador", "Chair", "Commanded by", "Author"):
        return f"{rng.choice(('A.', 'J.', 'M.', 'P.', 'E.'))} {rng.choice(SURNAMES)}"
    if key == "Belligerents":
        return " and ".join(rng.sample(COUNTRIES, 2))
    if key in ("Result", "Outcome"):
        return rng.choice(("Ceasefire agreement", "Operational success", "Status quo ante",
                           "Withdrawal of forces"))
    if key == "Adopted by":
        return rng.choice(COUNTRIES)
    return rng.choice(("Military alliance", "Intergovernmental organization", "Forum"))


CATEGORIES = {
    "relations": ("Bilateral relations", "Foreign relations of {a}"),
    "treaty": ("Treaties of the Cold War", "Arms control treaties"),
    "summit": ("NATO summits", "Diplomatic conferences in {c}"),
    "operation": ("Military operations involving NATO", "Peacekeeping missions"),
    "organization": ("Intergovernmental organizations", "Organizations based in {c}"),
    "conflict": ("Conflicts in Europe", "Political crises"),
    "doctrine": ("Foreign policy doctrines", "Military doctrines"),
}
