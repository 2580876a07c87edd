"""Free localhost ports for the multi-process cluster tests."""

import socket


def free_ports(count):
    """Returns `count` distinct ports that were free a moment ago.

    All sockets stay bound until every port is chosen, so the ports differ;
    another process could still take one before the caller binds it, which the
    multi-process tests accept for a test run.

    Example:
        >>> cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    """
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
