"""Call names: formal first names and the names people actually go by (NL, BE, SE, FR, EN).

Dutch Catholic baptismal names (Johannes, Cornelis, ...) rarely appear in daily life: the CRM may
hold `Cornelis` where the webshop holds `Kees`. Two first names are nickname-equivalent when they
appear in one group. Names are lower-case ASCII, as `features.py` writes them.
"""

from __future__ import annotations

from itertools import combinations

GROUPS: tuple[tuple[str, ...], ...] = (
    # Dutch / Flemish, men
    ("johannes", "jan", "hans", "johan", "joop", "jo", "hannes", "jannes", "jantje"),
    ("cornelis", "kees", "cor", "cees", "corne", "niels"),
    ("jacobus", "koos", "jaap", "jacob", "co", "sjaak", "jac"),
    ("hendrik", "henk", "henny", "hein", "rik", "henri", "hendrikus"),
    ("wilhelmus", "wim", "willem", "pim", "wil", "willy"),
    ("petrus", "piet", "peter", "pieter", "pierre", "pit"),
    ("gerardus", "gerard", "gert", "gerrit", "geert", "ger", "gerd"),
    ("adrianus", "adrie", "arie", "adriaan", "ad", "janus"),
    ("theodorus", "theo", "ruud", "dorus", "door"),
    ("franciscus", "frans", "frank", "sus", "cis", "francois"),
    ("antonius", "toon", "ton", "anton", "teun", "antoon", "tony"),
    ("nicolaas", "klaas", "niek", "nico", "nick", "claes", "nicolas", "nils", "nisse"),
    ("hubertus", "huub", "bert", "huib"),
    ("lambertus", "bert", "lammert"),
    ("albertus", "bert", "albert", "appie"),
    ("engelbertus", "bert"),
    ("gijsbertus", "gijs", "bert"),
    ("robertus", "robert", "bob", "rob", "robbie", "bert", "robban"),
    ("william", "bill", "will", "wille", "willy", "liam"),
    ("jozef", "jef", "jos", "joseph", "sjef", "joep", "josef", "jo"),
    ("ludovicus", "lode", "louis", "lodewijk", "ludo", "lou"),
    ("alexander", "alex", "sander", "xander", "alexandre"),
    ("christiaan", "chris", "christian", "christophe", "christoffel", "stoffel", "kristoffer", "krille", "christopher"),
    ("matthijs", "thijs", "mathias", "matthias", "mats", "matteus"),
    ("bartholomeus", "bart", "bartel"),
    ("marinus", "rinus", "mari", "rien"),
    ("martinus", "martin", "tinus", "maarten"),
    ("leonardus", "leo", "leen", "leonard", "nard"),
    ("everardus", "evert", "eef"),
    ("bernardus", "ben", "benno", "bernard", "bernd", "nard"),
    ("abraham", "bram", "abe"),
    ("isaac", "sjaak", "ies"),
    ("emanuel", "manuel", "manu"),
    ("dirk", "dick", "diederik", "derk"),
    ("frederik", "frits", "freek", "fred", "frederic", "frederick", "fredrik", "frida"),
    ("reinier", "rein", "reinder"),
    ("daniel", "daan", "dani", "danny"),
    ("samuel", "sam", "sammy"),
    ("benjamin", "ben", "benji"),
    ("thomas", "tom", "tommy", "thom"),
    ("joris", "george", "georg", "joor", "jurre", "jurgen", "goran", "orjan"),
    ("michael", "mikael", "micke", "michiel", "michel", "mike", "mick", "mischa"),
    ("stefan", "steffe", "stephan", "stephane", "steven", "stijn"),
    ("lars", "lasse", "laurens", "lau", "laurentius"),
    ("karl", "kalle", "carl", "karel", "charles", "charlie", "carlo"),
    ("per", "pelle", "peer"),
    ("anders", "acke", "andreas", "andre", "dries", "andries", "andy"),
    ("magnus", "manne", "mange"),
    ("johan", "janne", "jon", "jonne", "john", "johnny"),
    ("hans", "hasse", "hansi"),
    ("eduard", "edward", "ed", "eddy", "ward", "ede"),
    ("philippe", "phil", "philip", "flip", "filip", "fillip"),
    ("guillaume", "guy", "willem"),
    ("dominique", "domi", "dominic"),
    ("veronique", "vero", "veronica"),
    # Dutch / Flemish, women
    ("johanna", "anneke", "hanneke", "jo", "hanna", "hannah", "jannie", "joke", "jopie", "annie", "johanne"),
    ("cornelia", "corrie", "nel", "cor", "cora", "nelleke", "neeltje", "lia"),
    ("elisabeth", "lies", "els", "betty", "bep", "liesbeth", "lisa", "elsa", "elise", "liz", "liesje", "babette",
     "elizabeth", "elisabet", "beth", "isa", "lisbet", "lisette", "betsy"),
    ("catharina", "toos", "tineke", "karin", "katrien", "trien", "cato", "kaat", "katja", "catherine", "cathy",
     "katarina", "kajsa", "karen", "katrin", "kitty", "katharina", "cathrine"),
    ("margaretha", "greet", "margriet", "griet", "grietje", "margot", "greta", "maggan", "meta", "marga",
     "margareta", "margaret", "maggie", "marit"),
    ("wilhelmina", "mien", "wilma", "mina", "willemijn", "helma", "minke"),
    ("maria", "marie", "ria", "mia", "marieke", "mieke", "mies", "mary", "maja", "maaike", "mirjam", "marja"),
    ("petronella", "nel", "ellie", "nelly", "pleun", "pet", "nella"),
    ("geertruida", "truus", "trudy", "geertje", "trui", "gerda", "truida"),
    ("jacoba", "coby", "co", "coba", "jaqueline", "jacqueline", "jacky", "jacqueline"),
    ("josephina", "fien", "jose", "josephine", "josje", "fientje", "pien"),
    ("isabelle", "isa", "belle", "isabel", "isabella", "bella"),
    ("adriana", "jannie", "adrie", "ria", "sjaan"),
    ("hendrika", "riek", "rieky", "henny", "dika", "rika"),
    ("helena", "leen", "lena", "lenie", "heleen", "helene", "elena", "hella"),
    ("christina", "stina", "kicki", "tina", "christine", "kristina", "kristin", "chris", "tineke", "stien"),
    ("birgitta", "gittan", "britt", "brigitte", "birgit", "gitte", "bridget", "britta"),
    ("barbro", "bibbi", "barbara", "babs"),
    ("susanna", "suus", "suzanne", "sanne", "susan", "sus", "zus", "suze"),
    ("alexandra", "sandra", "alex", "lex", "sasha"),
    ("francisca", "cis", "sientje", "francine", "fran", "francoise"),
    ("wilhelmina", "wil", "willy"),
    ("anna", "anneke", "ans", "annie", "anja", "anne", "annika", "ann", "antje", "hanna"),
    ("marie christine", "marie"),
    ("theodora", "dora", "thea", "door"),
    ("gertrud", "trude", "gertrude", "gerda"),
    ("ingrid", "inga", "inge", "ingeborg"),
    ("ulrika", "ulla", "rika"),
    ("eva", "eef", "evi", "evelien", "eefje"),
    ("emma", "em", "emmy"),
    ("sofia", "sofie", "sophie", "fia", "sophia", "fie"),
)

NICKNAME_PAIRS: frozenset[tuple[str, str]] = frozenset(
    pair for group in GROUPS for a, b in combinations(sorted(set(group)), 2) for pair in ((a, b), (b, a))
)


def are_nicknames(a: str, b: str) -> bool:
    """True when one of two (lower-case ASCII) first names is a call name of the other."""
    return (a, b) in NICKNAME_PAIRS
