"""The demo logins and data, shared by `seed_demo` and the `make run` banner. Imports no Django."""

DEMO_PASSWORD = "leadops-demo"

# (username, first name, what the login is for, superuser?, groups)
DEMO_USERS = [
    ("admin", "Ada", "superuser: everything", True, []),
    ("revops", "Rita", "RevOps: every market, access grants, API clients", False, ["RevOps"]),
    ("manager", "Max", "sales manager of DE only", False, ["Managers DE"]),
]

# (code, name, IANA time zone, holiday countries, weekly hours): four markets in three time
# zones (DE and FR share Central European Time), one in the southern hemisphere.
DEMO_MARKETS = [
    ("DE", "Germany", "Europe/Berlin", ["DE"], "Mon-Fri 08:00-18:00"),
    ("FR", "France", "Europe/Paris", ["FR"], "Mon-Fri 09:00-12:30\nMon-Fri 14:00-18:00"),
    ("US-EAST", "US East", "America/New_York", ["US-NY"], "Mon-Fri 08:00-20:00\nSat 10:00-14:00"),
    ("AU", "Australia", "Australia/Sydney", ["AU-NSW"], "Mon-Fri 08:30-17:30"),
]
DEMO_HOLIDAY_YEARS = [2026, 2027]

# The published market table: (kind, key, country, market)
DEMO_TABLE = [
    ("country", "DE", "DE", "DE"),
    ("country", "AT", "AT", "DE"),
    ("country", "CH", "CH", "DE"),
    ("postal", "97", "DE", "FR"),  # a border area handled from France, to show prefixes
    ("country", "FR", "FR", "FR"),
    ("country", "BE", "BE", "FR"),
    ("region", "US-NY", "US", "US-EAST"),
    ("region", "US-NJ", "US", "US-EAST"),
    ("region", "US-MA", "US", "US-EAST"),
    ("country", "AU", "AU", "AU"),
    ("country", "NZ", "NZ", "AU"),
    ("source", "partner-fr", "", "FR"),
]

# (market, team, [member usernames]); twelve sales reps in three teams.
DEMO_TEAMS = [
    ("DE", "Inbound DACH", ["lena", "jonas", "mia", "paul"]),
    ("US-EAST", "Inbound East", ["emma", "liam", "olivia", "noah"]),
    ("AU", "Inbound ANZ", ["chloe", "jack", "isla", "oliver"]),
]
# The manager of each demo team (told when a lead of the team breaches its SLA): the demo's
# one manager login manages DE. US-EAST and AU have none, so their breaches reach the market's
# manager group through the exception queue only.
DEMO_TEAM_MANAGERS = {("DE", "Inbound DACH"): "manager"}
# Someone works their own hours, someone is out of office next week.
DEMO_OWN_HOURS = {"paul": "Mon-Thu 07:00-15:00", "noah": "Tue-Sat 12:00-20:00"}
DEMO_OUT_OF_OFFICE = "olivia"

DEMO_NOTES = [
    ("DE", "Trade-fair leads from Cologne arrive through the partner feed."),
    ("DE", "Partner feed sends phone numbers without country codes."),
    ("US-EAST", "Inbound demo requests are answered within one business hour."),
    ("AU", "Summer holidays: expect slower responses in January."),
]

# (slug, name, kind, default phone region)
DEMO_SOURCES = [
    ("web", "Website forms", "web_form", ""),
    ("partner-fr", "French reseller feed", "partner_api", "FR"),
    ("events", "Trade-fair scanner", "csv", "DE"),
]

# Demo leads (source slug, fields); one is quarantined (a phone that is no number), one matches
# no market (Japan), one repeats an email (a merge), and the last is Ada again in France: a
# possible duplicate across two markets, for RevOps to review side by side.
DEMO_LEADS = [
    (
        "web",
        {
            "email": "ada@engines.example",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "company": "Analytical Engines",
            "title": "Head of Research",
            "country": "Germany",
            "postal_code": "10115",
            "phone": "030 1234567",
            "utm_source": "google",
        },
    ),
    (
        "web",
        {
            "email": "grace@navy.example",
            "first_name": "Grace",
            "last_name": "Hopper",
            "company": "Navy Labs",
            "country": "USA",
            "region": "NY",
            "postal_code": "10001",
        },
    ),
    (
        "events",
        {
            "email": "marie@radium.example",
            "first_name": "Marie",
            "last_name": "Curie",
            "company": "Radium Institute",
            "country": "France",
            "postal_code": "75005",
        },
    ),
    (
        "web",
        {
            "email": "alan@bletchley.example",
            "first_name": "alan",
            "last_name": "TURING",
            "company": "Bletchley",
            "country": "AU",
            "postal_code": "2000",
            "phone": "+61 2 9999 9999",
        },
    ),
    (
        "partner-fr",
        {
            "email": "sophie@germain.example",
            "first_name": "Sophie",
            "last_name": "Germain",
            "country": "FR",
            "phone": "01 42 00 00 00",
        },
    ),
    (
        "web",
        {
            "email": "emmy@noether.example",
            "first_name": "Emmy",
            "last_name": "Noether",
            "country": "Deutschland",
            "phone": "call me maybe",
        },
    ),
    (
        "web",
        {
            "email": "hideyo@noguchi.example",
            "first_name": "Hideyo",
            "last_name": "Noguchi",
            "country": "Japan",
            "postal_code": "100-0001",
        },
    ),
    (
        "events",
        {
            "email": "ADA@engines.example",
            "title": "Chief Scientist",
            "country": "DE",
            "utm_source": "fair",
        },
    ),
    (
        "events",
        {
            "email": "ada@engines.example",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "company": "Analytical Engines",
            "title": "Research lead",
            "country": "France",
            "postal_code": "75008",
            "utm_source": "webinar",
        },
    ),
]

# With the default scorer (leadops/leads/scoring.py) only a senior title with a business domain
# scores this much: the team answers such a lead first, in turn (routing), and sooner (SLA).
DEMO_HOT_SCORE = 50

# First-response SLA policies, published through `sla import` as the routing rules are through
# `routing import`: (market, key, name, content over the defaults of leadops/sla/policies.py).
# Each market with a team promises an answer within a business hour; DE promises hot leads one
# within half an hour (more specific, so it wins for them) and gives the lead to someone else
# a quarter of an hour after a breach.
DEMO_SLA_INBOUND: dict[str, object] = {
    "minutes": 60,
    "warn_percent": 75,
    "ladder": [
        {"step": "notify_owner", "after": 0},
        {"step": "notify_manager", "after": 0},
        {"step": "file_breach", "after": 30},
    ],
}
DEMO_SLA_POLICIES: list[tuple[str, str, str, dict[str, object]]] = [
    *[
        (code, "inbound", "Inbound leads: first response within a business hour", DEMO_SLA_INBOUND)
        for code in dict.fromkeys(code for code, _team, _members in DEMO_TEAMS)
    ],
    (
        "DE",
        "hot",
        f"Hot leads (score {DEMO_HOT_SCORE}+): first response within 30 business minutes",
        {
            "score_min": DEMO_HOT_SCORE,
            "minutes": 30,
            "warn_percent": 75,
            "ladder": [
                {"step": "notify_owner", "after": 0},
                {"step": "notify_manager", "after": 0},
                {"step": "reassign", "after": 15},
                {"step": "file_breach", "after": 30},
            ],
        },
    ),
]
DEMO_SLA_NOTE = "Demo policy: inbound leads answered within a business hour, hot leads sooner."

# (index into DEMO_NOTES, reason) flagged for review; AU's recovery time is one minute, so beat
# escalates it soon after `make run` starts and its managers get a notification.
DEMO_FLAGS = [
    (0, "Cologne feed was switched off last week"),
    (1, "Numbers without country codes are quarantined now"),
    (3, "Holiday dates need checking"),
]
# (index, index) pairs of notes in two markets that contradict each other (RevOps sees these).
DEMO_CONFLICTS = [(0, 2)]


def demo_logins_text() -> str:
    lines = [f"Demo logins (password for all, as seeded: {DEMO_PASSWORD}):"]
    lines += [f"  {username:<10} {role}" for username, _first, role, _su, _groups in DEMO_USERS]
    return "\n".join(lines)
