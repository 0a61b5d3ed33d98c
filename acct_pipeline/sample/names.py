"""Word lists for the synthetic company (names, domains, people, industries)."""

from __future__ import annotations

ADJECTIVES = (
    "blue", "bright", "swift", "north", "silver", "green", "clear", "bold", "prime", "true",
    "rapid", "solid", "smart", "urban", "alpine", "coastal", "golden", "iron", "lunar", "noble",
    "open", "pacific", "quiet", "red", "royal", "sharp", "summit", "terra", "vivid", "wild",
    "amber", "cedar", "crystal", "delta", "ember", "frontier", "harbor", "maple", "nova", "orbit",
)  # fmt: skip
NOUNS = (
    "falcon", "river", "peak", "forge", "harvest", "beacon", "bridge", "canyon", "cloud", "crest",
    "field", "grove", "haven", "lake", "ledger", "meadow", "mesa", "mill", "path", "pine",
    "pixel", "quarry", "ridge", "rock", "sail", "signal", "spark", "stone", "stream", "tide",
    "tower", "trail", "vale", "vector", "wave", "works", "yard", "anchor", "arrow", "atlas",
)  # fmt: skip
KINDS = (
    "Labs", "Systems", "Group", "Inc", "Analytics", "Health", "Logistics", "Software", "Partners",
    "Foods", "Energy", "Media", "Capital", "Retail", "Robotics", "Bio",
)  # fmt: skip
TLDS = ("com", "io", "co", "net")
FIRST_NAMES = (
    "Ana", "Ben", "Chloe", "David", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kara",
    "Liam", "Maya", "Nils", "Olga", "Pedro", "Quinn", "Rosa", "Sam", "Tara", "Umar", "Vera",
    "Wen", "Ximena", "Yusuf", "Zoe", "Aaron", "Bea", "Carlos", "Dana", "Eli", "Fatima",
)  # fmt: skip
LAST_NAMES = (
    "Adams", "Berg", "Costa", "Diaz", "Evans", "Fischer", "Garcia", "Hansen", "Ito", "Jensen",
    "Kim", "Lopez", "Moreau", "Nakamura", "Okafor", "Patel", "Quist", "Rossi", "Schmidt", "Tanaka",
    "Urbina", "Varga", "Weber", "Xu", "Yilmaz", "Zhang", "Novak", "Silva", "Khan", "Murphy",
)  # fmt: skip
INDUSTRIES = (
    "software", "financial_services", "healthcare", "retail", "manufacturing", "education",
    "media", "logistics", "real_estate", "professional_services",
)  # fmt: skip
REGIONS = ("NA", "EMEA", "APAC", "LATAM")
CHAMPION_TITLES = ("VP Operations", "Head of Analytics", "Director RevOps", "COO", "Head of Data")
CONTACT_TITLES = (
    "Analyst", "Operations Manager", "Engineer", "Finance Manager", "Coordinator", "CFO",
    "Product Manager", "Sales Manager", "IT Admin", "Marketing Lead",
)  # fmt: skip
FREE_MAIL = ("gmail.com", "yahoo.com", "outlook.com")
BAD_DOMAINS = ("", "not a domain", "http://", "n/a")
