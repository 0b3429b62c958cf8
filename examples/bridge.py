"""The bridge walkthrough: n1 -> n2 (hop) -> n3, as in Ockam's documentation.

n2 and n3 listen; n2 runs `hop`; n1 connects to n2, n2 connects to n3, and n1
sends "hello" to n3's `uppercase` through both connections and n2's hop.
Prints HELLO.
"""

from ockam_py import Node


def main() -> None:
    with Node("n1") as n1, Node("n2", tcp_listener_address="127.0.0.1:0") as n2, Node(
        "n3", tcp_listener_address="127.0.0.1:0"
    ) as n3:
        assert n2.tcp_listener and n3.tcp_listener
        n2.start_service("hop")
        c12 = n1.connect_tcp(n2.tcp_listener.address)
        c23 = n2.connect_tcp(n3.tcp_listener.address)
        route = f"{c12.address}/service/hop{c23.address}/service/uppercase"
        print(n1.message_send("hello", to=route))


if __name__ == "__main__":
    main()
