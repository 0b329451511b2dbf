"""`tptctl up` chooses every port before the services start: below the kernel's ephemeral range,
so that no other program's bind(0) or outgoing connection takes one in the meantime."""

from __future__ import annotations

import socket

from threeport_cli.local import processes


def test_ports_are_chosen_below_the_ephemeral_range_and_free() -> None:
    low = processes._ephemeral_low()
    for _ in range(50):
        port = processes.free_port()
        assert processes.LOWEST_PORT <= port < low
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", port))  # free when chosen


def test_a_port_in_use_is_not_bindable() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        used = taken.getsockname()[1]
        assert not processes._bindable(used)
