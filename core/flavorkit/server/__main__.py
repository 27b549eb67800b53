"""``python -m flavorkit.server [serve options] MODEL``: the same as ``flavorkit serve``.

Without arguments, serves the config a parent process left in
``FLAVORKIT_SERVER_CONFIG`` (how ``--env-manager virtualenv`` starts the
server inside the model's environment).
"""

from __future__ import annotations

import os
import sys

from flavorkit.server._config import CONFIG_ENV


def main() -> int:
    """Run the server; returns the exit status."""
    if len(sys.argv) == 1 and os.environ.get(CONFIG_ENV):
        from flavorkit.server._config import ServerConfig
        from flavorkit.server._run import serve

        return serve(ServerConfig.from_env())
    from flavorkit.cli import main as cli_main

    return cli_main(["serve", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
