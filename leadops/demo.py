"""The demo logins, shared by `seed_demo` and the `make run` banner. Imports no Django."""

DEMO_PASSWORD = "leadops-demo"

# (username, first name, what the login is for, superuser?)
DEMO_USERS = [
    ("admin", "Ada", "superuser: everything", True),
    ("revops", "Rita", "RevOps staff: markets, rules, dashboard", False),
    ("manager", "Max", "sales manager: the exception queue of their markets", False),
]


def demo_logins_text() -> str:
    lines = [f"Demo logins (password for all: {DEMO_PASSWORD}):"]
    lines += [f"  {username:<10} {role}" for username, _first, role, _su in DEMO_USERS]
    return "\n".join(lines)
