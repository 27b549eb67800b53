"""Finish the project and say what to do next (cookiecutter runs this last, in the project)."""

from __future__ import annotations

from pathlib import Path

FOLDER = {{ cookiecutter.__distribution_name | tojson }}
FLAVOR = {{ cookiecutter.flavor_name | tojson }}
PACKAGE = {{ cookiecutter.__package_name | tojson }}


def main() -> None:
    # the model-file checker exists for the frameworks the template knows (templates/checkers)
    checker = Path("src", PACKAGE, "_modelfile.py")
    if not checker.read_text(encoding="utf-8").strip():
        checker.unlink()
    print(
        f"Created {FOLDER}, the {FLAVOR!r} flavor plugin. Next:\n"
        f"  cd {FOLDER}\n"
        '  python -m pip install -e ".[testing]"  # flavorkit first if no index has it (README)\n'
        "  python -m pytest            # the conformance kit and the hook tests\n"
        f"  flavorkit flavors           # lists {FLAVOR!r}\n"
        "Then make it yours: tests/sample_models.py builds the models the tests save."
    )


if __name__ == "__main__":
    main()
