/* One intrusive doubly-linked list, as libuv's queue.h and Linux's list_head:
 * a circular chain through a head node. An element embeds an ock_list and is
 * found again with OCK_LIST_ENTRY, so linking allocates nothing and an element
 * leaves its list in O(1) from a pointer to it alone.
 *
 * The list owns nothing: whoever links an element frees it, after removing
 * it. No locking: a list belongs to whichever thread its owner says. */
#ifndef OCK_LIST_H
#define OCK_LIST_H

#include <stddef.h>

typedef struct ock_list ock_list;
struct ock_list {
  ock_list *next, *prev;
};

/* An initialiser for a head with static storage: `ock_list h = OCK_LIST_HEAD_INIT(h);`. */
#define OCK_LIST_HEAD_INIT(name) {&(name), &(name)}

/* The struct of `type` whose member `field` is the ock_list at ptr. */
#define OCK_LIST_ENTRY(ptr, type, field) ((type *)((char *)(ptr) - offsetof(type, field)))

/* Walks the list at head, `pos` (an ock_list *, declared here) on each
 * element in turn. The body must not remove pos: use OCK_LIST_FOREACH_SAFE. */
#define OCK_LIST_FOREACH(pos, head) for (ock_list *pos = (head)->next; pos != (head); pos = pos->next)

/* The same, reading the next element before the body runs, so the body may
 * remove (and free) pos. It must not remove the element after pos. */
#define OCK_LIST_FOREACH_SAFE(pos, head)                                                     \
  for (ock_list *pos = (head)->next, *pos##_next_ = pos->next; pos != (head);               \
       pos = pos##_next_, pos##_next_ = pos->next)

/* Makes h an empty list (a head, or an element linked nowhere). */
static inline void ock_list_init(ock_list *h) { h->next = h->prev = h; }

/* 1 when the list at h has no element. */
static inline int ock_list_empty(const ock_list *h) { return h->next == h; }

/* The first element of h, or h itself when the list is empty. */
static inline ock_list *ock_list_first(const ock_list *h) { return h->next; }

/* Links e between two adjacent nodes. */
static inline void ock_list_link_(ock_list *e, ock_list *prev, ock_list *next) {
  e->prev = prev;
  e->next = next;
  prev->next = e;
  next->prev = e;
}

/* Links e (in no list) first in h. */
static inline void ock_list_insert_head(ock_list *h, ock_list *e) { ock_list_link_(e, h, h->next); }

/* Links e (in no list) last in h. */
static inline void ock_list_insert_tail(ock_list *h, ock_list *e) { ock_list_link_(e, h->prev, h); }

/* Unlinks e from whatever list holds it and leaves it linked to itself, so
 * removing it again does nothing. e must have been linked or initialised. */
static inline void ock_list_remove(ock_list *e) {
  e->prev->next = e->next;
  e->next->prev = e->prev;
  ock_list_init(e);
}

/* Moves every element of `from`, in order, to `to` (whose own elements, if
 * any, are forgotten); `from` is left empty. For taking a list's elements
 * away before calling out to code that may link new ones into it. */
static inline void ock_list_move(ock_list *from, ock_list *to) {
  if (ock_list_empty(from)) {
    ock_list_init(to);
    return;
  }
  *to = *from;
  to->next->prev = to;
  to->prev->next = to;
  ock_list_init(from);
}

#endif
