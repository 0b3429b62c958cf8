#include "services/relay_joins.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

#define ADDR_CAP 33 /* a connection's 32 hex and a NUL */

struct ock_join {
  char from[ADDR_CAP], to[ADDR_CAP];
  const void *owner;
  ock_join *next;
};

static uint64_t hash(const char *from, const char *to) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a over both addresses */
  for (const char *p = from; *p; p++) h = (h ^ (uint8_t)*p) * 1099511628211ull;
  h = (h ^ 0xff) * 1099511628211ull;
  for (const char *p = to; *p; p++) h = (h ^ (uint8_t)*p) * 1099511628211ull;
  return h;
}

void ock_joins_init(ock_joins *j) { memset(j, 0, sizeof *j); }

static void free_chain(ock_join *p) {
  while (p) {
    ock_join *next = p->next;
    free(p);
    p = next;
  }
}

void ock_joins_free(ock_joins *j) {
  for (size_t i = 0; i < j->nbuckets; i++) free_chain(j->buckets[i]);
  free(j->buckets);
  ock_joins_init(j);
}

static int grow(ock_joins *j) {
  size_t nb = j->nbuckets ? j->nbuckets * 2 : 64;
  ock_join **b = calloc(nb, sizeof *b);
  if (!b) return OCK_ENOMEM;
  for (size_t i = 0; i < j->nbuckets; i++) {
    for (ock_join *p = j->buckets[i], *next; p; p = next) {
      next = p->next;
      size_t k = hash(p->from, p->to) & (nb - 1);
      p->next = b[k];
      b[k] = p;
    }
  }
  free(j->buckets);
  j->buckets = b;
  j->nbuckets = nb;
  return 0;
}

int ock_joins_has(const ock_joins *j, const char *from, const char *to) {
  if (!j->nbuckets) return 0;
  for (const ock_join *p = j->buckets[hash(from, to) & (j->nbuckets - 1)]; p; p = p->next)
    if (!strcmp(p->from, from) && !strcmp(p->to, to)) return 1;
  return 0;
}

static int add_one(ock_joins *j, const char *from, const char *to, const void *owner) {
  if (ock_joins_has(j, from, to)) return 0;
  if (j->count >= j->nbuckets && grow(j)) return OCK_ENOMEM;
  ock_join *p = calloc(1, sizeof *p);
  if (!p) return OCK_ENOMEM;
  strcpy(p->from, from);
  strcpy(p->to, to);
  p->owner = owner;
  size_t k = hash(from, to) & (j->nbuckets - 1);
  p->next = j->buckets[k];
  j->buckets[k] = p;
  j->count++;
  return 0;
}

int ock_joins_add(ock_joins *j, const char *a, const char *b, size_t blen, const void *owner) {
  char bb[ADDR_CAP];
  if (strlen(a) >= ADDR_CAP || blen >= ADDR_CAP) return 0;
  memcpy(bb, b, blen);
  bb[blen] = 0;
  int rc = add_one(j, a, bb, owner);
  return rc ? rc : add_one(j, bb, a, owner);
}

/* Drops every pair for which drop(pair, arg) says so. */
static void drop_if(ock_joins *j, int (*drop)(const ock_join *p, const void *arg), const void *arg) {
  for (size_t i = 0; i < j->nbuckets; i++) {
    for (ock_join **pp = &j->buckets[i]; *pp;) {
      ock_join *p = *pp;
      if (drop(p, arg)) {
        *pp = p->next;
        free(p);
        j->count--;
      } else {
        pp = &p->next;
      }
    }
  }
}

static int owned_by(const ock_join *p, const void *owner) { return p->owner == owner; }
static int names(const ock_join *p, const void *addr) { return !strcmp(p->from, addr) || !strcmp(p->to, addr); }

void ock_joins_drop_owner(ock_joins *j, const void *owner) { drop_if(j, owned_by, owner); }
void ock_joins_drop_address(ock_joins *j, const char *addr) { drop_if(j, names, addr); }
