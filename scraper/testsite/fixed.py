"""The hand-written topics that open every built-in site, NATO and the seed page's topic first."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FixedTopic:
    title: str
    kind: str  # one of words.GENERATED_KINDS: picks sections and infobox keys
    lead: str  # wikitext (see wikitext.py); generated sentences are appended unless `whole`
    related: tuple[str, ...]  # titles; those not on a small site are skipped
    categories: tuple[str, ...] = ()
    infobox: tuple[tuple[str, str], ...] = ()
    cut_after: str = ""  # the mirror cuts its summary right after this text
    whole: bool = False


# The two leads of the seed page (../shared/seed/infolist-page.txt), written so that the
# mirror rendering gives back the seed's text, debris included, up to its cut.
NATO_LEAD = (
    "The North Atlantic Treaty Organization (NATO {{/ˈneɪtoʊ/ NAY-toh}}; {{French: "
    "Organisation du traité de l'Atlantique nord}}, OTAN), also called the North Atlantic "
    "Alliance, is an [[intergovernmental organization|intergovernmental]] "
    "[[Transnationalism|transnational]] military alliance of 32 [[Member states of NATO|member "
    "states]]—30 European and 2 North American. Established in the aftermath of [[World War "
    "II]], the organization implements the [[North Atlantic Treaty]], signed in [[Washington, "
    "D.C.]], on 4 April 1949.<ref>NATO, ''The North Atlantic Treaty'' (1949)</ref> NATO is a "
    "[[collective security]] system: its independent member states agree to defend each other "
    "against attacks by third parties. During the [[Cold War]], NATO operated as a check on the "
    "threat posed by the [[Soviet Union]]. The alliance remained in place after the "
    "[[dissolution of the Soviet Union]] and the [[Warsaw Pact]], and has been involved in "
    "military operations in the Balkans, the Middle East, South Asia, and Africa. The "
    "organization's motto is {{animus in consulendo liber}}. The organization's strategic "
    "concepts include [[Deterrence theory|deterrence]]. [[NATO headquarters|NATO's main "
    "headquarters]] are located in [[Brussels]], Belgium, while NATO's military headquarters "
    "are near Mons, Belgium.<ref>NATO Review, ''A short history of NATO'' (2022)</ref>\n\n"
    "NATO's membership has grown from the 12 founding states to 32, most recently with the "
    "accession of Finland and Sweden. [[Enlargement of NATO|Enlargement]] has been a source of "
    "tension with non-member [[Russia–NATO Relations|Russia]]."
)

RUSSIA_NATO_LEAD = (
    "Relations between the [[NATO]] military alliance and the Russian Federation were "
    "established in 1991 within the framework of the [[North Atlantic Cooperation Council]]. In "
    "1994, Russia joined the [[Partnership for Peace]] program, and on 27 May 1997, the "
    "[[NATO–Russia Founding Act]] (NRFA) was signed at the [[1997 Paris NATO Summit]] in France, "
    "enabling the creation of the NATO–Russia Permanent Joint Council (NRPJC). Through the early "
    "part of 2010s, NATO and Russia signed several additional agreements on cooperation. The "
    "NRPJC was replaced in 2002 by the NATO-Russia Council (NRC), which was established in an "
    "effort to partner on security issues and joint projects together.<ref>NATO, ''NATO-Russia "
    "Council'' (2002)</ref> Despite efforts to structure forums that promote cooperation between "
    "Russia and NATO, relations as of 2024 have become severely strained over time due to "
    "post-Soviet conflicts and territory disputes involving Russia having broken out, many of "
    "which are still ongoing, including:\n"
    "* Azerbaijan (1988–2024)<ref inline>RAND, ''Russia's Hostile Measures: Combating Russian "
    "Gray Zone Aggression Against NATO'' (2019)</ref>\n"
    "* Georgia (2008)\n"
    "* Ukraine (2014–present)\n\n"
    "In response, NATO suspended all practical civilian and military cooperation with Russia in "
    "2014, while leaving the [[NATO–Russia Council]] open for political dialogue."
)

FIXED: tuple[FixedTopic, ...] = (
    FixedTopic(
        "NATO", "organization", NATO_LEAD,
        ("Russia–NATO Relations", "Warsaw Pact", "Cold War", "North Atlantic Treaty",
         "Member states of NATO", "Partnership for Peace", "NATO headquarters",
         "Collective security", "Deterrence theory", "Enlargement of NATO", "European Union",
         "Soviet Union"),
        ("NATO", "Military alliances", "Organizations established in 1949",
         "Intergovernmental organizations"),
        (("Formation", "4 April 1949"), ("Type", "Military alliance"),
         ("Headquarters", "Brussels, Belgium"), ("Membership", "32 states"),
         ("Official languages", "English, French")),
        cut_after="NATO's main headquarter", whole=True),
    FixedTopic(
        "Russia–NATO Relations", "relations", RUSSIA_NATO_LEAD,
        ("NATO", "NATO–Russia Council", "Partnership for Peace", "NATO–Russia Founding Act",
         "1997 Paris NATO Summit", "North Atlantic Cooperation Council", "Cold War",
         "Soviet Union", "Dissolution of the Soviet Union", "Enlargement of NATO", "Warsaw Pact",
         "Organization for Security and Co-operation in Europe", "Collective security",
         "European Union"),
        ("Bilateral relations of Russia", "NATO relations"),
        (("NATO", "Brussels"), ("Russia", "Moscow"), ("Council", "NATO–Russia Council"),
         ("Established", "1991")),
        cut_after="''Russia's Hos", whole=True),
    FixedTopic("Warsaw Pact", "treaty",
               "The Warsaw Pact was a collective defence treaty signed in Warsaw in May "
               "1955 by the [[Soviet Union]] and seven other states of Central and Eastern "
               "Europe during the [[Cold War]].",
               ("Cold War", "Soviet Union", "NATO", "Dissolution of the Soviet Union")),
    FixedTopic("Cold War", "conflict",
               "The Cold War was a period of geopolitical tension between the United States "
               "and the [[Soviet Union]] and their respective allies, the [[NATO|Western "
               "Bloc]] and the [[Warsaw Pact|Eastern Bloc]].",
               ("NATO", "Warsaw Pact", "Soviet Union", "Deterrence theory")),
    FixedTopic("North Atlantic Treaty", "treaty",
               "The North Atlantic Treaty, also referred to as the Washington Treaty, is the "
               "treaty that forms the legal basis of [[NATO]]. It was signed in [[Washington, "
               "D.C.]] on 4 April 1949.",
               ("NATO", "Collective security", "Member states of NATO")),
    FixedTopic("Partnership for Peace", "organization",
               "The Partnership for Peace (PfP) is a [[NATO]] program aimed at creating trust "
               "between the alliance and other states in Europe and the former [[Soviet "
               "Union]].", ("NATO", "Russia–NATO Relations", "Enlargement of NATO")),
    FixedTopic("NATO–Russia Council", "organization",
               "The NATO–Russia Council was established in 2002 for handling security issues "
               "and joint projects of [[NATO]] and Russia.",
               ("Russia–NATO Relations", "NATO", "NATO–Russia Founding Act")),
    FixedTopic("Soviet Union", "organization",
               "The Union of Soviet Socialist Republics was a transcontinental country that "
               "spanned much of Eurasia from 1922 until its [[Dissolution of the Soviet "
               "Union|dissolution]] in 1991.",
               ("Cold War", "Warsaw Pact", "Dissolution of the Soviet Union")),
    FixedTopic("Dissolution of the Soviet Union", "conflict",
               "The dissolution of the [[Soviet Union]] was formally enacted on 26 December "
               "1991, ending the [[Cold War]].", ("Soviet Union", "Cold War", "Warsaw Pact")),
    FixedTopic("Collective security", "doctrine",
               "Collective security is a security arrangement in which each state accepts that "
               "the security of one is the concern of all, as in [[NATO]].",
               ("NATO", "Deterrence theory", "North Atlantic Treaty")),
    FixedTopic("Deterrence theory", "doctrine",
               "Deterrence theory refers to the scholarship and practice of how threats of "
               "force by one party can convince another party to refrain from some course of "
               "action. It shaped the strategy of the [[Cold War]].",
               ("Cold War", "Collective security", "NATO")),
    FixedTopic("Member states of NATO", "organization",
               "[[NATO]] is an international military alliance of 32 member states from "
               "Europe and North America.", ("NATO", "Enlargement of NATO")),
    FixedTopic("Transnationalism", "doctrine",
               "Transnationalism is a research field and social phenomenon grown out of the "
               "heightened interconnectivity between people across national borders.",
               ("Intergovernmental organization", "European Union")),
    FixedTopic("Intergovernmental organization", "organization",
               "An intergovernmental organization is an organization composed primarily of "
               "sovereign states, such as the [[United Nations]] and [[NATO]].",
               ("United Nations", "NATO", "European Union")),
    FixedTopic("World War II", "conflict",
               "World War II was a global conflict that lasted from 1939 to 1945 and was "
               "followed by the [[Cold War]].", ("Cold War", "United Nations")),
    FixedTopic("Washington, D.C.", "organization",
               "Washington, D.C., is the capital city of the United States, where the [[North "
               "Atlantic Treaty]] was signed.", ("North Atlantic Treaty",)),
    FixedTopic("European Union", "organization",
               "The European Union is a supranational political and economic union of member "
               "states located primarily in Europe.", ("NATO", "Intergovernmental organization")),
    FixedTopic("United Nations", "organization",
               "The United Nations is a diplomatic and political [[intergovernmental "
               "organization]] founded in 1945 after [[World War II]].",
               ("World War II", "Intergovernmental organization")),
    FixedTopic("Organization for Security and Co-operation in Europe", "organization",
               "The Organization for Security and Co-operation in Europe is the world's largest "
               "regional security-oriented [[intergovernmental organization]].",
               ("NATO", "European Union")),
    FixedTopic("NATO headquarters", "organization",
               "The headquarters of [[NATO]] are located on Boulevard Léopold III in "
               "[[Brussels]].", ("NATO", "Brussels")),
    FixedTopic("Brussels", "organization",
               "Brussels is a region of Belgium comprising 19 municipalities, and the seat of "
               "[[NATO headquarters]].", ("NATO headquarters", "European Union")),
    FixedTopic("1997 Paris NATO Summit", "summit",
               "The 1997 Paris NATO Summit was held in Paris on 27 May 1997, where the "
               "[[NATO–Russia Founding Act]] was signed.",
               ("NATO–Russia Founding Act", "Russia–NATO Relations")),
    FixedTopic("North Atlantic Cooperation Council", "organization",
               "The North Atlantic Cooperation Council was a forum for dialogue between [[NATO]] "
               "and the states of Central and Eastern Europe, founded in 1991.",
               ("NATO", "Partnership for Peace")),
    FixedTopic("NATO–Russia Founding Act", "treaty",
               "The NATO–Russia Founding Act on Mutual Relations, Cooperation and Security was "
               "signed at the [[1997 Paris NATO Summit]].",
               ("1997 Paris NATO Summit", "NATO–Russia Council", "Russia–NATO Relations")),
    FixedTopic("Enlargement of NATO", "organization",
               "[[NATO]] is a military alliance of 32 European and North American countries; "
               "enlargement is the process of adding new [[member states of NATO|member "
               "states]].", ("NATO", "Member states of NATO", "Russia–NATO Relations")),
)
