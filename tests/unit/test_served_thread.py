"""Given local mode's in-process servers (the Meta double, moto's server), when one starts on port 0, then it
takes a free port and answers there; when it stops, the port is free again for the next start, the
server no longer counts as alive, and a second stop is harmless (Ctrl-C after a failed start)."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest


def meta_double():
    from numberguard_ops.meta_double import MetaDouble

    return MetaDouble(0)


def moto_server():
    from numberguard_ops.embedded_aws import MotoServer

    return MotoServer(0)


def answers(endpoint: str) -> int:
    try:
        with urllib.request.urlopen(endpoint + "/", timeout=10) as response:  # noqa: S310 - 127.0.0.1
            return response.status
    except urllib.error.HTTPError as err:  # any HTTP answer: something listens there
        return err.code


@pytest.mark.parametrize("make", [meta_double, moto_server], ids=["meta-double", "moto-server"])
def test_a_server_takes_a_free_port_answers_there_and_gives_it_back(make):
    from numberguard_ops.local import port_free

    server = make()
    assert not server.alive()
    server.start()
    try:
        assert server.port != 0 and not port_free(server.port)
        assert server.alive()
        assert 100 <= answers(server.endpoint) < 600
    finally:
        server.stop()
    assert not server.alive() and port_free(server.port)
    server.stop()  # again: nothing left to stop
