/* A tiny test harness for the C core: no framework. CHECK records file:line
 * and carries on; test_main.c runs every test function in its table and prints
 * "N passed, N failed". */
#ifndef OCK_TEST_H
#define OCK_TEST_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/buf.h"
#include "codec/route.h"

void t_fail(const char *file, int line, const char *what);
void t_fail_int(const char *file, int line, const char *what, long long got, long long want);
void t_fail_bytes(const char *file, int line, const char *what, const uint8_t *got, size_t gn,
                  const uint8_t *want, size_t wn);

#define CHECK(c)                                   \
  do {                                             \
    if (!(c)) t_fail(__FILE__, __LINE__, #c);      \
  } while (0)

/* Integers: prints both values on failure. */
#define CHECK_EQ(got, want)                                                                \
  do {                                                                                     \
    long long g_ = (long long)(got), w_ = (long long)(want);                               \
    if (g_ != w_) t_fail_int(__FILE__, __LINE__, #got " == " #want, g_, w_);               \
  } while (0)

/* Byte strings: prints both in hex on failure. */
#define CHECK_BYTES(got, gn, want, wn)                                                      \
  do {                                                                                      \
    const uint8_t *g_ = (const uint8_t *)(got), *w_ = (const uint8_t *)(want);              \
    size_t gn_ = (gn), wn_ = (wn);                                                          \
    if (gn_ != wn_ || (gn_ && memcmp(g_, w_, gn_)))                                         \
      t_fail_bytes(__FILE__, __LINE__, #got " == " #want, g_, gn_, w_, wn_);                \
  } while (0)

/* ---- helpers (test_util.c) ---- */

/* Appends hex digits ("83 80 80 40"; spaces ignored) to b. */
void b_hex(ock_buf *b, const char *hex);
/* Appends the bytes of a C string (no NUL). */
void b_str(ock_buf *b, const char *s);
/* Appends one byte repeated n times. */
void b_rep(ock_buf *b, uint8_t byte, size_t n);
/* A heap copy of exactly n bytes (so valgrind sees any read past the end).
 * Never NULL; free() it. */
uint8_t *t_dup(const void *p, size_t n);
/* Address i of r equals (tt, s). */
int t_addr_is(const ock_route *r, size_t i, uint8_t tt, const char *s);
/* Same hops in the same order. */
int t_route_eq(const ock_route *a, const ock_route *b);
/* Internal consistency: within limits, offsets monotonic. */
int t_route_sane(const ock_route *r);
/* Deterministic PRNG (xorshift64*). */
uint64_t t_rand(uint64_t *s);

/* ---- the tests ---- */
#define OCK_TESTS(X)                     \
  X(cbor_head_shortest_form)             \
  X(cbor_decode_any_width)               \
  X(cbor_strings)                        \
  X(cbor_indefinite_arrays)              \
  X(cbor_indefinite_bytes_rejected)      \
  X(cbor_reserved_and_bad_heads)         \
  X(cbor_array_count_too_big)            \
  X(cbor_truncated_prefixes)             \
  X(cbor_skip_items)                     \
  X(cbor_skip_deep_nesting)              \
  X(cbor_bool_null_struct_arrays)        \
  X(bare_uleb_round_trip)                \
  X(bare_uleb_overflow_rejected)         \
  X(bare_uleb_truncated_rejected)        \
  X(bare_read_string_exact)              \
  X(bare_put_string)                     \
  X(utf8_valid_sequences)                \
  X(utf8_invalid_sequences)              \
  X(route_ops_order)                     \
  X(route_pop_empty)                     \
  X(route_push_front_many)               \
  X(route_limit_hops)                    \
  X(route_limit_bytes)                   \
  X(route_limit_addr_len)                \
  X(route_append_prepend_limits)         \
  X(route_set_limits)                    \
  X(route_model_random_ops)              \
  X(route_aliased_arguments)             \
  X(addr_parse)                          \
  X(route_format)                        \
  X(ma_worker_service)                   \
  X(ma_ip4_tcp)                          \
  X(ma_ip6_tcp)                          \
  X(ma_dnsaddr_tcp)                      \
  X(ma_route_text)                       \
  X(ma_errors)                           \
  X(ma_error_buffer_small)               \
  X(ma_too_many_hops)                    \
  X(ma_node_lookup)                      \
  X(ma_format_round_trip)                \
  X(ma_udp)                              \
  X(portal_payload_counter)              \
  X(portal_eof_counter_round_trip)       \
  X(udp_part_spec_example)               \
  X(udp_part_max_size)                   \
  X(udp_part_rejects_malformed)          \
  X(udp_routing_split_and_join)          \
  X(udp_reasm_out_of_order_dropped)      \
  X(udp_reasm_bounds)                    \
  X(udp_reasm_expiry)                    \
  X(hostport_split)                      \
  X(msg_spec_2_5)                        \
  X(msg_spec_2_5_encode)                 \
  X(msg_spec_4_uppercase)                \
  X(msg_spec_3_1_heartbeat)              \
  X(msg_spec_5_2_registration)           \
  X(msg_spec_6_3_portal)                 \
  X(msg_tcp_address_encoding)            \
  X(msg_indefinite_arrays)               \
  X(msg_extra_fields_ignored)            \
  X(msg_address_extra_fields_ignored)    \
  X(msg_tracing_null)                    \
  X(msg_rejects_malformed)               \
  X(msg_route_limits)                    \
  X(msg_payload_1mib)                    \
  X(msg_frame_too_big)                   \
  X(msg_truncations_rejected)            \
  X(fuzz_msg_decode)                     \
  X(fuzz_route_parse_text)                \
  X(rand_kernel_bytes_only)               \
  X(buf_shrink_to_zero)                   \
  X(api_request_without_memory_for_its_payload_fails) \
  X(api_cancel_request)                  \
  X(deadline_wait_ignores_wall_clock_set_back) \
  X(buf_large_blocks_are_returned)        \
  X(buf_grow_and_shrink_across_threshold_keeps_bytes) \
  X(crypto_sha256)                       \
  X(crypto_verify_cache)                  \
  X(crypto_hkdf)                         \
  X(crypto_aead)                         \
  X(crypto_rekey)                        \
  X(crypto_x25519)                       \
  X(crypto_ed25519)                      \
  X(crypto_p256)                         \
  X(identity_vectors)                    \
  X(identity_flipped_bytes)              \
  X(identity_framing)                    \
  X(identity_create_ed25519)             \
  X(identity_p256)                       \
  X(identity_rotate)                     \
  X(identity_broken_chains)              \
  X(identity_too_many_changes)           \
  X(identity_time)                       \
  X(identifier_text)                     \
  X(purpose_key_create_verify)           \
  X(purpose_key_forged)                  \
  X(purpose_key_time)                    \
  X(purpose_key_rotation_and_p256)       \
  X(purpose_key_import)                  \
  X(attestation_decode_shapes)           \
  X(purpose_key_deterministic)           \
  X(noise_known_answers)                 \
  X(noise_bounds)                        \
  X(xx_full_handshake)                   \
  X(xx_reversed_split)                   \
  X(xx_tampered_messages)                \
  X(xx_peer_checks)                      \
  X(xx_responder_checks)                 \
  X(xx_payload_shapes)                   \
  X(xx_fixed_keys_example)               \
  X(sc_known_answers)                    \
  X(sc_nonce_window)                     \
  X(sc_both_ways_across_renewals)        \
  X(sc_replay_and_forgery)               \
  X(sc_reordering)                       \
  X(sc_skipping_ahead)                   \
  X(sc_in_place_and_limits)              \
  X(sc_message_codec)                    \
  X(sc_payload_through_channel)          \
  X(list_insert_and_order)               \
  X(list_remove)                         \
  X(list_foreach_safe_frees)             \
  X(list_move)                           \
  X(loop_restart_after_abandoned_stop_refused) /* leaves the loop abandoned: last */

#define OCK_DECLARE_TEST(name) void test_##name(void);
OCK_TESTS(OCK_DECLARE_TEST)
#undef OCK_DECLARE_TEST

#endif
