"""What a HubSpot portal has out of the box: built-in enumeration options, property groups, the
default properties a list returns when none are requested (issue #26).

Values are HubSpot's internal option values (what the API takes and returns), from the HubSpot
docs' default-property pages. ``hubspot_owner_id`` is an enumeration too, but its options are the
portal's owners: the fake does not check it.
"""

from __future__ import annotations

LIFECYCLE_STAGES = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)

INDUSTRIES = tuple(
    [
        "ACCOUNTING",
        "AIRLINES_AVIATION",
        "ALTERNATIVE_DISPUTE_RESOLUTION",
        "ALTERNATIVE_MEDICINE",
        "ANIMATION",
        "APPAREL_FASHION",
        "ARCHITECTURE_PLANNING",
        "ARTS_AND_CRAFTS",
        "AUTOMOTIVE",
        "AVIATION_AEROSPACE",
        "BANKING",
        "BIOTECHNOLOGY",
        "BROADCAST_MEDIA",
        "BUILDING_MATERIALS",
        "BUSINESS_SUPPLIES_AND_EQUIPMENT",
        "CAPITAL_MARKETS",
        "CHEMICALS",
        "CIVIC_SOCIAL_ORGANIZATION",
        "CIVIL_ENGINEERING",
        "COMMERCIAL_REAL_ESTATE",
        "COMPUTER_NETWORK_SECURITY",
        "COMPUTER_GAMES",
        "COMPUTER_HARDWARE",
        "COMPUTER_NETWORKING",
        "COMPUTER_SOFTWARE",
        "INTERNET",
        "CONSTRUCTION",
        "CONSUMER_ELECTRONICS",
        "CONSUMER_GOODS",
        "CONSUMER_SERVICES",
        "COSMETICS",
        "DAIRY",
        "DEFENSE_SPACE",
        "DESIGN",
        "EDUCATION_MANAGEMENT",
        "E_LEARNING",
        "ELECTRICAL_ELECTRONIC_MANUFACTURING",
        "ENTERTAINMENT",
        "ENVIRONMENTAL_SERVICES",
        "EVENTS_SERVICES",
        "EXECUTIVE_OFFICE",
        "FACILITIES_SERVICES",
        "FARMING",
        "FINANCIAL_SERVICES",
        "FINE_ART",
        "FISHERY",
        "FOOD_BEVERAGES",
        "FOOD_PRODUCTION",
        "FUND_RAISING",
        "FURNITURE",
        "GAMBLING_CASINOS",
        "GLASS_CERAMICS_CONCRETE",
        "GOVERNMENT_ADMINISTRATION",
        "GOVERNMENT_RELATIONS",
        "GRAPHIC_DESIGN",
        "HEALTH_WELLNESS_AND_FITNESS",
        "HIGHER_EDUCATION",
        "HOSPITAL_HEALTH_CARE",
        "HOSPITALITY",
        "HUMAN_RESOURCES",
        "IMPORT_AND_EXPORT",
        "INDIVIDUAL_FAMILY_SERVICES",
        "INDUSTRIAL_AUTOMATION",
        "INFORMATION_SERVICES",
        "INFORMATION_TECHNOLOGY_AND_SERVICES",
        "INSURANCE",
        "INTERNATIONAL_AFFAIRS",
        "INTERNATIONAL_TRADE_AND_DEVELOPMENT",
        "INVESTMENT_BANKING",
        "INVESTMENT_MANAGEMENT",
        "JUDICIARY",
        "LAW_ENFORCEMENT",
        "LAW_PRACTICE",
        "LEGAL_SERVICES",
        "LEGISLATIVE_OFFICE",
        "LEISURE_TRAVEL_TOURISM",
        "LIBRARIES",
        "LOGISTICS_AND_SUPPLY_CHAIN",
        "LUXURY_GOODS_JEWELRY",
        "MACHINERY",
        "MANAGEMENT_CONSULTING",
        "MARITIME",
        "MARKET_RESEARCH",
        "MARKETING_AND_ADVERTISING",
        "MECHANICAL_OR_INDUSTRIAL_ENGINEERING",
        "MEDIA_PRODUCTION",
        "MEDICAL_DEVICES",
        "MEDICAL_PRACTICE",
        "MENTAL_HEALTH_CARE",
        "MILITARY",
        "MINING_METALS",
        "MOBILE_GAMES",
        "MOTION_PICTURES_AND_FILM",
        "MUSEUMS_AND_INSTITUTIONS",
        "MUSIC",
        "NANOTECHNOLOGY",
        "NEWSPAPERS",
        "NON_PROFIT_ORGANIZATION_MANAGEMENT",
        "OIL_ENERGY",
        "ONLINE_MEDIA",
        "OUTSOURCING_OFFSHORING",
        "PACKAGE_FREIGHT_DELIVERY",
        "PACKAGING_AND_CONTAINERS",
        "PAPER_FOREST_PRODUCTS",
        "PERFORMING_ARTS",
        "PHARMACEUTICALS",
        "PHILANTHROPY",
        "PHOTOGRAPHY",
        "PLASTICS",
        "POLITICAL_ORGANIZATION",
        "PRIMARY_SECONDARY_EDUCATION",
        "PRINTING",
        "PROFESSIONAL_TRAINING_COACHING",
        "PROGRAM_DEVELOPMENT",
        "PUBLIC_POLICY",
        "PUBLIC_RELATIONS_AND_COMMUNICATIONS",
        "PUBLIC_SAFETY",
        "PUBLISHING",
        "RAILROAD_MANUFACTURE",
        "RANCHING",
        "REAL_ESTATE",
        "RECREATIONAL_FACILITIES_AND_SERVICES",
        "RELIGIOUS_INSTITUTIONS",
        "RENEWABLES_ENVIRONMENT",
        "RESEARCH",
        "RESTAURANTS",
        "RETAIL",
        "SECURITY_AND_INVESTIGATIONS",
        "SEMICONDUCTORS",
        "SHIPBUILDING",
        "SPORTING_GOODS",
        "SPORTS",
        "STAFFING_AND_RECRUITING",
        "SUPERMARKETS",
        "TELECOMMUNICATIONS",
        "TEXTILES",
        "THINK_TANKS",
        "TOBACCO",
        "TRANSLATION_AND_LOCALIZATION",
        "TRANSPORTATION_TRUCKING_RAILROAD",
        "UTILITIES",
        "VENTURE_CAPITAL_PRIVATE_EQUITY",
        "VETERINARY",
        "WAREHOUSING",
        "WHOLESALE",
        "WINE_AND_SPIRITS",
        "WIRELESS",
        "WRITING_AND_EDITING",
    ]
)

# property name -> allowed values (the same on every object that has the property)
ENUMERATIONS: dict[str, tuple[str, ...]] = {
    "lifecyclestage": LIFECYCLE_STAGES,
    "industry": INDUSTRIES,
    "hs_buying_role": (
        "BLOCKER",
        "BUDGET_HOLDER",
        "CHAMPION",
        "DECISION_MAKER",
        "END_USER",
        "EXECUTIVE_SPONSOR",
        "INFLUENCER",
        "LEGAL_AND_COMPLIANCE",
        "OTHER",
    ),
    "hs_ticket_priority": ("LOW", "MEDIUM", "HIGH", "URGENT"),
    "hs_pipeline_stage": ("1", "2", "3", "4"),
    "hs_task_status": ("NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"),
    "hs_task_priority": ("NONE", "LOW", "MEDIUM", "HIGH"),
    "hs_task_type": (
        "TODO",
        "CALL",
        "EMAIL",
        "LINKED_IN",
        "LINKED_IN_CONNECT",
        "LINKED_IN_MESSAGE",
    ),
    "hs_email_direction": ("EMAIL", "INCOMING_EMAIL", "FORWARDED_EMAIL"),
    "hs_survey_type": ("NPS", "CSAT", "CES", "CUSTOM"),
}

# the group built-in properties belong to, per object
PROPERTY_GROUPS: dict[str, tuple[str, str]] = {
    "companies": ("companyinformation", "Company information"),
    "contacts": ("contactinformation", "Contact information"),
    "tickets": ("ticketinformation", "Ticket information"),
    "tasks": ("task", "Task information"),
}
ENGAGEMENT_GROUP = ("engagement", "Engagement information")

# What ``GET /crm/v3/objects/{type}`` returns when no ``properties=`` is given.
DEFAULT_LIST_PROPERTIES: dict[str, frozenset[str]] = {
    "companies": frozenset({"createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"}),
    "contacts": frozenset(
        {"createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"}
    ),
    "tickets": frozenset(
        {
            "content",
            "createdate",
            "hs_lastmodifieddate",
            "hs_object_id",
            "hs_pipeline",
            "hs_pipeline_stage",
            "hs_ticket_category",
            "hs_ticket_priority",
            "subject",
        }
    ),
}
ENGAGEMENT_DEFAULT_PROPERTIES = frozenset({"createdate", "hs_lastmodifieddate", "hs_object_id"})

# Engagements that need ``hs_timestamp`` on create.
TIMESTAMPED = ("tasks", "emails", "meetings", "calls", "notes")
ASSOCIATION_CATEGORIES = ("HUBSPOT_DEFINED", "USER_DEFINED", "INTEGRATOR_DEFINED")


def option_list(values: tuple[str, ...]) -> list[dict[str, object]]:
    """Options as the properties API returns them."""
    return [
        {
            "label": v.replace("_", " ").title() if v.isupper() else v.capitalize(),
            "value": v,
            "displayOrder": i,
            "hidden": False,
            "description": "",
        }
        for i, v in enumerate(values)
    ]
