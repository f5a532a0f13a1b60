"""``make run``: ``streamlit run app.py``, with what the first page needs imported meanwhile.

Streamlit runs ``app.py`` only when a browser connects, so a fresh server paid every
import the Draw page needs (pandas, which the canvas component checks its data against
on every run; OpenCV, LiteRT, the library) and the model's loading inside the first
visitor's first run. Here a background thread does both once the server listens (not
before: it would slow the server's own start), while the browser loads Streamlit's
page, so the first run finds them done.

    python -m mnist_app.ui.serve [streamlit run's options, e.g. --server.port 8600]
"""

from __future__ import annotations

import socket
import sys
import threading
import time

from mnist_app import PROJECT_ROOT

APP = PROJECT_ROOT / "app.py"
DEFAULT_PORT = 8501
START_WAIT_S = 10.0


def port_of(arguments: list[str]) -> int:
    """The port given as ``--server.port N`` or ``--server.port=N`` (else Streamlit's default)."""
    for i, argument in enumerate(arguments):
        if argument == "--server.port" and i + 1 < len(arguments):
            return int(arguments[i + 1])
        if argument.startswith("--server.port="):
            return int(argument.split("=", 1)[1])
    return DEFAULT_PORT


def wait_until_listening(port: int, timeout_s: float = START_WAIT_S) -> None:
    """Until the server accepts connections on ``port`` (at most ``timeout_s``): the
    imports below would otherwise hold the interpreter while the server starts."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)  # polling interval of a bounded wait


def prepare_the_first_page(port: int) -> None:
    """Import what the Draw page needs and load the model, once the server listens."""
    wait_until_listening(port)
    import pandas  # noqa: F401 - streamlit-drawable-canvas looks for DataFrames in its data

    import mnist_app.segmentation  # noqa: F401 - OpenCV
    import mnist_app.ui.feedback_controls  # noqa: F401 - the feedback store
    import mnist_app.ui.widgets  # noqa: F401
    import mnist_app.visual  # noqa: F401
    from mnist_app.ui import resources

    try:
        resources.preload()  # the network (LiteRT), warmed up
    except FileNotFoundError:
        pass  # no model: the first page says how to get one


def main() -> None:
    threading.Thread(target=prepare_the_first_page, args=(port_of(sys.argv[1:]),), name="first-page",
                     daemon=True).start()
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", str(APP), *sys.argv[1:]]
    sys.exit(cli.main())


if __name__ == "__main__":
    main()
