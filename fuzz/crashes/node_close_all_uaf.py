"""Reproduces a heap-use-after-free in ock_node_close_all (csrc/node/node.c), found by
scripts/sanitize.sh asan (tests/test_lifecycle.py::test_2_close_from_inside_a_handler
exits 1 with an ASan report after printing OK).

Two nodes without a TCP listener are open when the process exits. At exit the
loop's stop hook runs ock_node_close_all(), whose loop is

    for (ock_node *n = g_nodes; n; n = n->next) ock_node_close(n, NULL);

A node with no libuv handle open (no listener, no connection) is freed inside
ock_node_close (handles++ then ock_node_handle_closed -> node_free), so the
loop then reads n->next from freed memory. Without ASan it usually "works"
because the freed block still holds the old pointer.

Run (after `SANITIZE_KEEP=1 SANITIZE_PYTEST=0 scripts/sanitize.sh asan`, with D the kept dir):

    cd /tmp && PYTHONPATH=$D/src ASAN_OPTIONS=detect_leaks=0 \
      LD_PRELOAD=$(clang -print-file-name=libclang_rt.asan-x86_64.so) \
      python3 /work/main/fuzz/crashes/node_close_all_uaf.py

Fix: take next before closing, e.g.
    for (ock_node *n = g_nodes, *next; n; n = next) { next = n->next; ock_node_close(n, NULL); }
(node_free unlinks n under g_mu; nothing else can free `next` meanwhile: close of
a listener-less node frees only that node.)
"""
from ockam_py import Node

a = Node("uaf-a")
b = Node("uaf-b")
print("exiting with two listener-less nodes open")
