"""The demo logins and data, shared by `seed_demo` and the `make run` banner. Imports no Django."""

DEMO_PASSWORD = "leadops-demo"

# (username, first name, what the login is for, superuser?, groups)
DEMO_USERS = [
    ("admin", "Ada", "superuser: everything", True, []),
    ("revops", "Rita", "RevOps: every market, access grants, API clients", False, ["RevOps"]),
    ("manager", "Max", "sales manager of DE only", False, ["Managers DE"]),
]

# (code, name, IANA time zone)
DEMO_MARKETS = [
    ("DE", "Germany", "Europe/Berlin"),
    ("US-EAST", "US East", "America/New_York"),
    ("AU", "Australia", "Australia/Sydney"),
]

DEMO_NOTES = [
    ("DE", "Trade-fair leads from Cologne arrive through the partner feed."),
    ("DE", "Partner feed sends phone numbers without country codes."),
    ("US-EAST", "Inbound demo requests are answered within one business hour."),
    ("AU", "Summer holidays: expect slower responses in January."),
]

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
    lines = [f"Demo logins (password for all: {DEMO_PASSWORD}):"]
    lines += [f"  {username:<10} {role}" for username, _first, role, _su, _groups in DEMO_USERS]
    return "\n".join(lines)
