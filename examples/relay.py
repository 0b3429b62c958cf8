"""The relay walkthrough: n3 never listens, yet n1 reaches its uppercase service.

n2 listens and runs the relay service (every node does). n3 starts hop, then
creates relay "n3" at n2: it connects out to n2 and becomes reachable there as
/service/forward_to_n3. n1 connects to n2 and sends "hello" to
/worker/<hex>/service/forward_to_n3/service/uppercase. Prints HELLO.
"""

from ockam_py import Node


def main() -> None:
    with Node("n2", tcp_listener_address="127.0.0.1:0") as n2, Node("n3") as n3, Node("n1") as n1:
        assert n2.tcp_listener and n3.tcp_listener is None
        n3.start_service("hop")
        relay = n3.create_relay("n3", at=n2.tcp_listener.address)
        c12 = n1.connect_tcp(n2.tcp_listener.address)
        print(n1.message_send("hello", to=f"{c12.address}{relay.route}/service/uppercase"))


if __name__ == "__main__":
    main()
