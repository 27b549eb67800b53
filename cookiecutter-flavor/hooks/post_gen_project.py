"""Say what to do next, once the project is written (cookiecutter runs this last)."""

from __future__ import annotations

FOLDER = {{ cookiecutter.__distribution_name | tojson }}
FLAVOR = {{ cookiecutter.flavor_name | tojson }}


def main() -> None:
    print(
        f"Created {FOLDER}, the {FLAVOR!r} flavor plugin. Next:\n"
        f"  cd {FOLDER}\n"
        '  python -m pip install -e ".[testing]"\n'
        "  python -m pytest            # the conformance kit and the hook tests\n"
        f"  flavorkit flavors           # lists {FLAVOR!r}\n"
        "Then make it yours: tests/sample_models.py builds the models the tests save."
    )


if __name__ == "__main__":
    main()
