"""The normalize package stays pure: standard library, phonenumbers and pycountry only, so it
is fast to test and reusable outside Django."""

import ast
import sys
from pathlib import Path

import pytest

import leadops.leads.normalize

PACKAGE = Path(leadops.leads.normalize.__file__).parent
ALLOWED = set(sys.stdlib_module_names) | {"phonenumbers", "pycountry"}


def imported_modules(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda path: path.name)
def test_modules_import_only_the_standard_library_and_the_allowed_libraries(path):
    for module in imported_modules(path):
        assert module.split(".")[0] in ALLOWED or module.startswith("leadops.leads.normalize"), (
            f"{path.name} imports {module}"
        )
