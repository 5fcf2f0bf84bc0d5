"""Two (or more) requests at once, for the tests that prove a transition is safe when they race.

``run_at_once(a, b)`` runs each callable in its own thread, so each gets its own database
connection; a barrier releases them together, and each thread closes its connection when done
(a transactional test cannot flush a table a thread still holds). It returns one ``Outcome``
per callable, in the order given: what it returned, or what it raised. Each thread runs in the
test's active language.
"""

import threading
from collections.abc import Callable
from typing import Any, NamedTuple

from django.db import connection
from django.utils import translation


class Outcome(NamedTuple):
    value: Any = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def run_at_once(*attempts: Callable[[], Any], timeout: float = 120) -> list[Outcome]:
    """Start every attempt at the same moment, each in its own thread and connection."""
    barrier = threading.Barrier(len(attempts))
    # Each thread speaks the test's language (a new thread would take LANGUAGE_CODE).
    language = translation.get_language()
    outcomes = [Outcome(error=TimeoutError("the attempt did not finish in time")) for _ in attempts]

    def run(index: int, attempt: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=timeout)
            with translation.override(language):
                outcomes[index] = Outcome(value=attempt())
        except BaseException as error:  # noqa: BLE001 - handed to the test, which asserts on it
            outcomes[index] = Outcome(error=error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(index, attempt))
        for index, attempt in enumerate(attempts)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return outcomes
