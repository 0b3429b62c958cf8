/* Routes and addresses (route.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "codec/route.h"
#include "test.h"

static int push(ock_route *r, uint8_t tt, const char *s) { return ock_route_push_back(r, tt, s, strlen(s)); }

/* r is exactly the listed "tt#name" hops */
static int route_is(const ock_route *r, size_t n, const char *const *hops) {
  if (!t_route_sane(r) || r->n != n) return 0;
  for (size_t i = 0; i < n; i++) {
    uint8_t tt;
    const char *p;
    size_t len;
    if (ock_addr_parse(hops[i], strlen(hops[i]), &tt, &p, &len)) return 0;
    if (!ock_addr_eq(ock_route_at(r, i), tt, p, len)) return 0;
  }
  return 1;
}
#define ROUTE_IS(r, ...)                                                                  \
  route_is((r), sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *),        \
           (const char *const[]){__VA_ARGS__})

void test_route_ops_order(void) {
  ock_route r, other;
  ock_route_init(&r);
  CHECK_EQ(r.n, 0);
  CHECK_EQ(push(&r, 0, "a"), 0);
  CHECK_EQ(push(&r, 1, "bb"), 0);
  CHECK_EQ(push(&r, 0, "ccc"), 0);
  CHECK(ROUTE_IS(&r, "0#a", "1#bb", "0#ccc"));
  CHECK_EQ(ock_route_push_front(&r, 2, "zzzz", 4), 0);
  CHECK(ROUTE_IS(&r, "2#zzzz", "0#a", "1#bb", "0#ccc"));
  ock_route_pop_front(&r);
  CHECK(ROUTE_IS(&r, "0#a", "1#bb", "0#ccc"));
  ock_route_pop_back(&r);
  CHECK(ROUTE_IS(&r, "0#a", "1#bb"));
  /* pop_back must not leave the dropped bytes in the way */
  CHECK_EQ(push(&r, 0, "dd"), 0);
  CHECK(ROUTE_IS(&r, "0#a", "1#bb", "0#dd"));
  /* set: longer, shorter, same, different type */
  CHECK_EQ(ock_route_set(&r, 1, 0, "longer-name", 11), 0);
  CHECK(ROUTE_IS(&r, "0#a", "0#longer-name", "0#dd"));
  CHECK_EQ(ock_route_set(&r, 0, 1, "127.0.0.1:4000", 14), 0);
  CHECK(ROUTE_IS(&r, "1#127.0.0.1:4000", "0#longer-name", "0#dd"));
  CHECK_EQ(ock_route_set(&r, 2, 0, "e", 1), 0);
  CHECK(ROUTE_IS(&r, "1#127.0.0.1:4000", "0#longer-name", "0#e"));
  CHECK_EQ(ock_route_set(&r, 1, 0, "x", 1), 0);
  CHECK(ROUTE_IS(&r, "1#127.0.0.1:4000", "0#x", "0#e"));
  /* prepend keeps head's order; append keeps tail's */
  ock_route_init(&other);
  push(&other, 0, "h1");
  push(&other, 0, "h2");
  CHECK_EQ(ock_route_prepend(&r, &other), 0);
  CHECK(ROUTE_IS(&r, "0#h1", "0#h2", "1#127.0.0.1:4000", "0#x", "0#e"));
  ock_route_init(&other);
  push(&other, 3, "t1");
  push(&other, 0, "t2");
  push(&other, 0, "t3");
  CHECK_EQ(ock_route_append(&r, &other), 0);
  CHECK(ROUTE_IS(&r, "0#h1", "0#h2", "1#127.0.0.1:4000", "0#x", "0#e", "3#t1", "0#t2", "0#t3"));
  CHECK(ROUTE_IS(&other, "3#t1", "0#t2", "0#t3")); /* the source is untouched */
  /* empty routes are no-ops */
  ock_route_init(&other);
  CHECK_EQ(ock_route_append(&r, &other), 0);
  CHECK_EQ(ock_route_prepend(&r, &other), 0);
  CHECK_EQ(r.n, 8);
  /* into an empty route */
  CHECK_EQ(ock_route_append(&other, &r), 0);
  CHECK(t_route_eq(&other, &r));
  ock_route_init(&other);
  CHECK_EQ(ock_route_prepend(&other, &r), 0);
  CHECK(t_route_eq(&other, &r));
  /* ock_addr_is */
  CHECK(ock_addr_is(ock_route_at(&r, 0), "h1"));
  CHECK(!ock_addr_is(ock_route_at(&r, 0), "h"));
  CHECK(!ock_addr_is(ock_route_at(&r, 5), "t1")); /* tt 3, not LOCAL */
  /* an empty address is representable */
  CHECK_EQ(ock_route_push_front(&r, 0, "", 0), 0);
  CHECK_EQ(ock_route_at(&r, 0).len, 0);
  CHECK(t_addr_is(&r, 1, 0, "h1"));
}

void test_route_pop_empty(void) {
  ock_route r;
  ock_route_init(&r);
  ock_route_pop_front(&r);
  ock_route_pop_back(&r);
  CHECK_EQ(r.n, 0);
  CHECK(t_route_sane(&r));
  push(&r, 0, "only");
  ock_route_pop_front(&r);
  CHECK_EQ(r.n, 0);
  CHECK(t_route_sane(&r));
  push(&r, 0, "again");
  CHECK(ROUTE_IS(&r, "0#again"));
  ock_route_pop_back(&r);
  CHECK_EQ(r.n, 0);
  CHECK_EQ(ock_route_push_front(&r, 0, "front", 5), 0);
  CHECK(ROUTE_IS(&r, "0#front"));
}

void test_route_push_front_many(void) {
  ock_route r;
  ock_route_init(&r);
  char name[16];
  for (int i = 0; i < OCK_ROUTE_MAX_HOPS; i++) {
    int k = snprintf(name, sizeof name, "w%d", i);
    CHECK_EQ(ock_route_push_front(&r, (uint8_t)(i % 3), name, (size_t)k), 0);
  }
  CHECK_EQ(r.n, OCK_ROUTE_MAX_HOPS);
  CHECK(t_route_sane(&r));
  for (int i = 0; i < OCK_ROUTE_MAX_HOPS; i++) {
    int j = OCK_ROUTE_MAX_HOPS - 1 - i;
    snprintf(name, sizeof name, "w%d", j);
    CHECK(t_addr_is(&r, (size_t)i, (uint8_t)(j % 3), name));
  }
  /* pop them all from the front, in order */
  for (int i = 0; i < OCK_ROUTE_MAX_HOPS; i++) {
    snprintf(name, sizeof name, "w%d", OCK_ROUTE_MAX_HOPS - 1 - i);
    CHECK(t_addr_is(&r, 0, (uint8_t)((OCK_ROUTE_MAX_HOPS - 1 - i) % 3), name));
    ock_route_pop_front(&r);
    CHECK(t_route_sane(&r));
  }
  CHECK_EQ(r.n, 0);
}

void test_route_limit_hops(void) {
  ock_route r, before;
  ock_route_init(&r);
  for (int i = 0; i < OCK_ROUTE_MAX_HOPS; i++) CHECK_EQ(push(&r, 0, "x"), 0);
  before = r;
  CHECK_EQ(push(&r, 0, "y"), OCK_ETOOBIG);
  CHECK(t_route_eq(&r, &before));
  CHECK_EQ(ock_route_push_front(&r, 0, "y", 1), OCK_ETOOBIG);
  CHECK(t_route_eq(&r, &before));
  CHECK_EQ(ock_route_push_front(&r, 0, "", 0), OCK_ETOOBIG);
  CHECK(t_route_eq(&r, &before));
  /* after a pop there is room again */
  ock_route_pop_front(&r);
  CHECK_EQ(push(&r, 0, "y"), 0);
  CHECK(t_addr_is(&r, OCK_ROUTE_MAX_HOPS - 1, 0, "y"));
}

void test_route_limit_bytes(void) {
  static char big[OCK_ADDR_MAX_LEN];
  memset(big, 'b', sizeof big);
  ock_route r, before;
  ock_route_init(&r);
  int i;
  for (i = 0; i < OCK_ROUTE_MAX_BYTES / OCK_ADDR_MAX_LEN; i++)
    CHECK_EQ(ock_route_push_back(&r, 0, big, sizeof big), 0);
  CHECK_EQ(r.off[r.n], OCK_ROUTE_MAX_BYTES);
  before = r;
  CHECK_EQ(ock_route_push_back(&r, 0, "z", 1), OCK_ETOOBIG);
  CHECK(t_route_eq(&r, &before));
  CHECK_EQ(ock_route_push_front(&r, 0, "z", 1), OCK_ETOOBIG);
  CHECK(t_route_eq(&r, &before));
  /* exactly full is fine; one byte less leaves room for one byte */
  ock_route_pop_back(&r);
  CHECK_EQ(ock_route_push_back(&r, 0, big, sizeof big - 1), 0);
  CHECK_EQ(ock_route_push_front(&r, 0, "z", 1), 0);
  CHECK_EQ(r.off[r.n], OCK_ROUTE_MAX_BYTES);
  CHECK(t_addr_is(&r, 0, 0, "z"));
  CHECK(t_route_sane(&r));
}

void test_route_limit_addr_len(void) {
  static char big[OCK_ADDR_MAX_LEN + 1];
  memset(big, 'a', sizeof big);
  ock_route r, before;
  ock_route_init(&r);
  push(&r, 0, "keep");
  before = r;
  CHECK_EQ(ock_route_push_back(&r, 0, big, OCK_ADDR_MAX_LEN + 1), OCK_ETOOBIG);
  CHECK_EQ(ock_route_push_front(&r, 0, big, OCK_ADDR_MAX_LEN + 1), OCK_ETOOBIG);
  CHECK_EQ(ock_route_set(&r, 0, 0, big, OCK_ADDR_MAX_LEN + 1), OCK_ETOOBIG);
  CHECK(t_route_eq(&r, &before));
  CHECK_EQ(ock_route_push_back(&r, 0, big, OCK_ADDR_MAX_LEN), 0);
  CHECK_EQ(ock_route_at(&r, 1).len, OCK_ADDR_MAX_LEN);
}

void test_route_append_prepend_limits(void) {
  ock_route r, add, before;
  ock_route_init(&r);
  ock_route_init(&add);
  for (int i = 0; i < OCK_ROUTE_MAX_HOPS - 1; i++) push(&r, 0, "r");
  push(&add, 0, "a1");
  push(&add, 0, "a2");
  before = r;
  /* 31 + 2 hops: refused as a whole, nothing half-added */
  CHECK_EQ(ock_route_append(&r, &add), OCK_ETOOBIG);
  CHECK(t_route_eq(&r, &before));
  CHECK_EQ(ock_route_prepend(&r, &add), OCK_ETOOBIG);
  CHECK(t_route_eq(&r, &before));
  ock_route_pop_back(&add);
  CHECK_EQ(ock_route_prepend(&r, &add), 0);
  CHECK(t_addr_is(&r, 0, 0, "a1"));
  CHECK_EQ(r.n, OCK_ROUTE_MAX_HOPS);

  /* the byte limit */
  static char big[OCK_ADDR_MAX_LEN];
  memset(big, 'q', sizeof big);
  ock_route_init(&r);
  ock_route_init(&add);
  for (int i = 0; i < 3; i++) ock_route_push_back(&r, 0, big, sizeof big);
  ock_route_push_back(&add, 0, big, 300);
  ock_route_push_back(&add, 0, big, 300);
  before = r;
  CHECK_EQ(ock_route_append(&r, &add), OCK_ETOOBIG);
  CHECK(t_route_eq(&r, &before));
  CHECK_EQ(ock_route_prepend(&r, &add), OCK_ETOOBIG);
  CHECK(t_route_eq(&r, &before));
  ock_route_pop_back(&add);
  CHECK_EQ(ock_route_append(&r, &add), 0);
  CHECK_EQ(r.n, 4);
  CHECK(t_route_sane(&r));
}

void test_route_set_limits(void) {
  static char big[OCK_ADDR_MAX_LEN];
  memset(big, 's', sizeof big);
  ock_route r, before;
  ock_route_init(&r);
  ock_route_push_back(&r, 0, big, 512);
  ock_route_push_back(&r, 0, big, 512);
  ock_route_push_back(&r, 0, big, 512);
  ock_route_push_back(&r, 0, big, 500);
  ock_route_push_back(&r, 1, "abcdefghij", 10); /* 2046 bytes used */
  before = r;
  CHECK_EQ(ock_route_set(&r, 4, 0, big, 13), OCK_ETOOBIG); /* would be 2049 */
  CHECK(t_route_eq(&r, &before));
  CHECK_EQ(ock_route_set(&r, 0, 0, big, 512), 0); /* same size */
  CHECK_EQ(ock_route_set(&r, 4, 2, big, 12), 0);  /* exactly 2048 */
  CHECK_EQ(r.off[r.n], OCK_ROUTE_MAX_BYTES);
  CHECK_EQ(ock_route_at(&r, 4).tt, 2);
  CHECK_EQ(ock_route_at(&r, 4).len, 12);
  CHECK_EQ(ock_route_at(&r, 3).len, 500);
}

/* Random operations checked against a plain model. */
typedef struct {
  int n;
  uint8_t tt[OCK_ROUTE_MAX_HOPS];
  size_t len[OCK_ROUTE_MAX_HOPS];
  char s[OCK_ROUTE_MAX_HOPS][OCK_ADDR_MAX_LEN + 1];
} model;

static size_t model_bytes(const model *m) {
  size_t t = 0;
  for (int i = 0; i < m->n; i++) t += m->len[i];
  return t;
}

static int model_matches(const model *m, const ock_route *r) {
  if (!t_route_sane(r) || r->n != m->n) return 0;
  for (int i = 0; i < m->n; i++)
    if (!ock_addr_eq(ock_route_at(r, (size_t)i), m->tt[i], m->s[i], m->len[i])) return 0;
  return 1;
}

static void model_insert(model *m, int at, uint8_t tt, const char *p, size_t len) {
  for (int i = m->n; i > at; i--) {
    m->tt[i] = m->tt[i - 1];
    m->len[i] = m->len[i - 1];
    memcpy(m->s[i], m->s[i - 1], m->len[i - 1]);
  }
  m->tt[at] = tt;
  m->len[at] = len;
  memcpy(m->s[at], p, len);
  m->n++;
}

static void model_remove(model *m, int at) {
  for (int i = at; i + 1 < m->n; i++) {
    m->tt[i] = m->tt[i + 1];
    m->len[i] = m->len[i + 1];
    memcpy(m->s[i], m->s[i + 1], m->len[i + 1]);
  }
  m->n--;
}

void test_route_model_random_ops(void) {
  static model m;
  static ock_route r, other;
  static char src[OCK_ADDR_MAX_LEN + 8];
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  memset(&m, 0, sizeof m);
  ock_route_init(&r);
  int mismatches = 0;
  for (int step = 0; step < 20000 && mismatches < 3; step++) {
    uint64_t x = t_rand(&seed);
    /* mostly short addresses, sometimes long ones near the limit */
    size_t len = (x >> 8) % 8 == 0 ? (size_t)((x >> 16) % (OCK_ADDR_MAX_LEN + 2)) : (size_t)((x >> 16) % 40);
    uint8_t tt = (uint8_t)((x >> 32) % 4);
    for (size_t i = 0; i < len; i++) src[i] = (char)('a' + (t_rand(&seed) % 26));
    int fits1 = len <= OCK_ADDR_MAX_LEN && m.n + 1 <= OCK_ROUTE_MAX_HOPS &&
                model_bytes(&m) + len <= OCK_ROUTE_MAX_BYTES;
    int rc;
    switch (x % 7) {
    case 0:
      rc = ock_route_push_back(&r, tt, src, len);
      CHECK_EQ(rc, fits1 ? 0 : OCK_ETOOBIG);
      if (fits1) model_insert(&m, m.n, tt, src, len);
      break;
    case 1:
      rc = ock_route_push_front(&r, tt, src, len);
      CHECK_EQ(rc, fits1 ? 0 : OCK_ETOOBIG);
      if (fits1) model_insert(&m, 0, tt, src, len);
      break;
    case 2:
    case 3:
      ock_route_pop_front(&r);
      if (m.n) model_remove(&m, 0);
      break;
    case 4:
      ock_route_pop_back(&r);
      if (m.n) model_remove(&m, m.n - 1);
      break;
    case 5:
      if (m.n) {
        int i = (int)((x >> 40) % (uint64_t)m.n);
        int fits = len <= OCK_ADDR_MAX_LEN && model_bytes(&m) - m.len[i] + len <= OCK_ROUTE_MAX_BYTES;
        rc = ock_route_set(&r, (size_t)i, tt, src, len);
        CHECK_EQ(rc, fits ? 0 : OCK_ETOOBIG);
        if (fits) {
          m.tt[i] = tt;
          m.len[i] = len;
          memcpy(m.s[i], src, len);
        }
      }
      break;
    default: {
      /* append or prepend a short random route */
      ock_route_init(&other);
      int k = (int)((x >> 40) % 4);
      model add;
      add.n = 0;
      for (int j = 0; j < k; j++) {
        size_t l = 1 + t_rand(&seed) % 12;
        char tmp[16];
        for (size_t q = 0; q < l; q++) tmp[q] = (char)('A' + t_rand(&seed) % 26);
        ock_route_push_back(&other, (uint8_t)j, tmp, l);
        add.tt[j] = (uint8_t)j;
        add.len[j] = l;
        memcpy(add.s[j], tmp, l);
        add.n++;
      }
      int fits = m.n + add.n <= OCK_ROUTE_MAX_HOPS && model_bytes(&m) + model_bytes(&add) <= OCK_ROUTE_MAX_BYTES;
      int front = (x >> 50) & 1;
      rc = front ? ock_route_prepend(&r, &other) : ock_route_append(&r, &other);
      CHECK_EQ(rc, fits ? 0 : OCK_ETOOBIG);
      if (fits)
        for (int j = 0; j < add.n; j++)
          model_insert(&m, front ? j : m.n, add.tt[j], add.s[j], add.len[j]);
      break;
    }
    }
    if (!model_matches(&m, &r)) {
      mismatches++;
      CHECK(model_matches(&m, &r));
      /* resynchronise so one bug does not cascade */
      ock_route_init(&r);
      m.n = 0;
    }
  }
}

void test_addr_parse(void) {
  uint8_t tt = 99;
  const char *p = NULL;
  size_t len = 0;
  const char *s = "0#echo";
  CHECK_EQ(ock_addr_parse(s, strlen(s), &tt, &p, &len), 0);
  CHECK_EQ(tt, 0);
  CHECK_BYTES(p, len, "echo", 4);
  s = "echo";
  tt = 99;
  CHECK_EQ(ock_addr_parse(s, strlen(s), &tt, &p, &len), 0);
  CHECK_EQ(tt, OCK_TT_LOCAL);
  CHECK(p == s && len == 4);
  s = "1#127.0.0.1:4000";
  CHECK_EQ(ock_addr_parse(s, strlen(s), &tt, &p, &len), 0);
  CHECK_EQ(tt, OCK_TT_TCP);
  CHECK_BYTES(p, len, "127.0.0.1:4000", 14);
  CHECK(p == s + 2);
  s = "255#x";
  CHECK_EQ(ock_addr_parse(s, strlen(s), &tt, &p, &len), 0);
  CHECK_EQ(tt, 255);
  /* only the first n bytes count */
  s = "0#echo#junk";
  CHECK_EQ(ock_addr_parse(s, 6, &tt, &p, &len), 0);
  CHECK_BYTES(p, len, "echo", 4);

  const char *bad[] = {"#x", "a#b#c", "0#b#c", "256#x", "", "0#", "x#y", "-1#x", "1 #x", "999#x"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int rc = ock_addr_parse(bad[i], strlen(bad[i]), &tt, &p, &len);
    if (rc != OCK_EROUTE) fprintf(stderr, "  addr_parse accepted '%s'\n", bad[i]);
    CHECK_EQ(rc, OCK_EROUTE);
  }
  /* the address length limit */
  static char big[OCK_ADDR_MAX_LEN + 3];
  memset(big, 'a', sizeof big);
  big[0] = '0';
  big[1] = '#';
  CHECK_EQ(ock_addr_parse(big, 2 + OCK_ADDR_MAX_LEN, &tt, &p, &len), 0);
  CHECK_EQ(len, OCK_ADDR_MAX_LEN);
  CHECK_EQ(ock_addr_parse(big, 2 + OCK_ADDR_MAX_LEN + 1, &tt, &p, &len), OCK_EROUTE);
}

void test_route_format(void) {
  ock_route r;
  ock_route_init(&r);
  char out[128];
  memset(out, 'X', sizeof out);
  ock_route_format(&r, out, sizeof out);
  CHECK(strcmp(out, "") == 0);
  push(&r, 0, "echo");
  ock_route_format(&r, out, sizeof out);
  CHECK(strcmp(out, "0#echo") == 0);
  push(&r, 1, "127.0.0.1:4000");
  push(&r, 0, "603b62d245c9119d584ba3d874eb8108");
  ock_route_format(&r, out, sizeof out);
  CHECK(strcmp(out, "0#echo => 1#127.0.0.1:4000 => 0#603b62d245c9119d584ba3d874eb8108") == 0);
  /* truncation: NUL-terminated within cap, never past it */
  for (size_t cap = 1; cap < 40; cap++) {
    char small[48];
    memset(small, 'X', sizeof small);
    ock_route_format(&r, small, cap);
    CHECK(strlen(small) == cap - 1);
    CHECK(memcmp(small, "0#echo => 1#127.0.0.1:4000 => 0#603b62d245c9119d584ba3d874eb8108", cap - 1) == 0);
    CHECK(small[cap] == 'X');
  }
  char guard = 'G';
  ock_route_format(&r, &guard, 0);
  CHECK(guard == 'G');
}

/* Arguments that point into the route being changed: the header does not
 * forbid it, and ock_route_set and ock_route_push_back already handle it. */
void test_route_aliased_arguments(void) {
  ock_route r;
  ock_route_init(&r);
  push(&r, 0, "a");
  push(&r, 0, "b");
  CHECK_EQ(ock_route_append(&r, &r), 0);
  CHECK(ROUTE_IS(&r, "0#a", "0#b", "0#a", "0#b"));
  ock_route_init(&r);
  push(&r, 0, "a");
  push(&r, 0, "b");
  CHECK_EQ(ock_route_prepend(&r, &r), 0);
  CHECK(ROUTE_IS(&r, "0#a", "0#b", "0#a", "0#b"));
  /* re-adding one of the route's own hops */
  ock_route_init(&r);
  push(&r, 0, "abc");
  push(&r, 0, "xy");
  ock_addr a = ock_route_at(&r, 1);
  CHECK_EQ(ock_route_push_front(&r, a.tt, a.p, a.len), 0);
  CHECK(ROUTE_IS(&r, "0#xy", "0#abc", "0#xy"));
  ock_route_init(&r);
  push(&r, 0, "abc");
  push(&r, 0, "xy");
  a = ock_route_at(&r, 0);
  CHECK_EQ(ock_route_push_back(&r, a.tt, a.p, a.len), 0);
  CHECK(ROUTE_IS(&r, "0#abc", "0#xy", "0#abc"));
  a = ock_route_at(&r, 1);
  CHECK_EQ(ock_route_set(&r, 0, a.tt, a.p, a.len), 0);
  CHECK(ROUTE_IS(&r, "0#xy", "0#xy", "0#abc"));
}
