/* base/list.h: order, O(1) removal, iteration that removes, moving a list. */
#include <stdlib.h>

#include "base/list.h"
#include "test.h"

typedef struct {
  int v;
  ock_list link;
} item;

static int value_at(ock_list *pos) { return OCK_LIST_ENTRY(pos, item, link)->v; }

/* The values from head to tail into out (at most cap); returns how many. */
static int values(const ock_list *h, int *out, int cap) {
  int n = 0;
  OCK_LIST_FOREACH(pos, h) {
    if (n < cap) out[n] = value_at(pos);
    n++;
  }
  return n;
}

/* The links agree both ways: every next's prev is where it came from. */
static int consistent(const ock_list *h) {
  const ock_list *p = h;
  do {
    if (p->next->prev != p) return 0;
    p = p->next;
  } while (p != h);
  return 1;
}

void test_list_insert_and_order(void) {
  ock_list h;
  ock_list_init(&h);
  CHECK(ock_list_empty(&h));
  CHECK(ock_list_first(&h) == &h);
  item it[4] = {{1, {0}}, {2, {0}}, {3, {0}}, {4, {0}}};
  ock_list_insert_head(&h, &it[1].link); /* 2 */
  ock_list_insert_head(&h, &it[0].link); /* 1 2 */
  ock_list_insert_tail(&h, &it[2].link); /* 1 2 3 */
  ock_list_insert_tail(&h, &it[3].link); /* 1 2 3 4 */
  CHECK(!ock_list_empty(&h));
  CHECK(consistent(&h));
  int v[8];
  CHECK_EQ(values(&h, v, 8), 4);
  for (int i = 0; i < 4; i++) CHECK_EQ(v[i], i + 1);
  CHECK(OCK_LIST_ENTRY(ock_list_first(&h), item, link) == &it[0]);
}

void test_list_remove(void) {
  ock_list h = OCK_LIST_HEAD_INIT(h);
  CHECK(ock_list_empty(&h));
  item it[3] = {{1, {0}}, {2, {0}}, {3, {0}}};
  for (int i = 0; i < 3; i++) ock_list_insert_tail(&h, &it[i].link);
  int v[4];
  ock_list_remove(&it[1].link); /* the middle */
  CHECK(consistent(&h));
  CHECK_EQ(values(&h, v, 4), 2);
  CHECK_EQ(v[0], 1);
  CHECK_EQ(v[1], 3);
  ock_list_remove(&it[1].link); /* again: nothing happens */
  CHECK(consistent(&h));
  CHECK_EQ(values(&h, v, 4), 2);
  ock_list_remove(&it[2].link); /* the last */
  CHECK_EQ(values(&h, v, 4), 1);
  CHECK_EQ(v[0], 1);
  ock_list_remove(&it[0].link); /* the only one */
  CHECK(ock_list_empty(&h));
  CHECK(consistent(&h));
  ock_list_insert_head(&h, &it[2].link); /* a removed element links again */
  CHECK_EQ(values(&h, v, 4), 1);
  CHECK_EQ(v[0], 3);
}

void test_list_foreach_safe_frees(void) {
  ock_list h;
  ock_list_init(&h);
  for (int i = 0; i < 10; i++) {
    item *it = calloc(1, sizeof *it);
    CHECK(it != NULL);
    if (!it) return;
    it->v = i;
    ock_list_insert_tail(&h, &it->link);
  }
  /* the body frees every odd element, then every other one */
  OCK_LIST_FOREACH_SAFE(pos, &h) {
    if (value_at(pos) % 2 == 0) continue;
    ock_list_remove(pos);
    free(OCK_LIST_ENTRY(pos, item, link));
  }
  int v[10];
  CHECK_EQ(values(&h, v, 10), 5);
  for (int i = 0; i < 5; i++) CHECK_EQ(v[i], 2 * i);
  CHECK(consistent(&h));
  int seen = 0;
  OCK_LIST_FOREACH_SAFE(pos, &h) {
    seen++;
    ock_list_remove(pos);
    free(OCK_LIST_ENTRY(pos, item, link));
  }
  CHECK_EQ(seen, 5);
  CHECK(ock_list_empty(&h));
}

void test_list_move(void) {
  ock_list a, b;
  ock_list_init(&a);
  ock_list_init(&b);
  ock_list_move(&a, &b); /* empty to empty */
  CHECK(ock_list_empty(&a));
  CHECK(ock_list_empty(&b));
  CHECK(consistent(&b));
  item it[3] = {{1, {0}}, {2, {0}}, {3, {0}}};
  for (int i = 0; i < 3; i++) ock_list_insert_tail(&a, &it[i].link);
  ock_list_move(&a, &b);
  CHECK(ock_list_empty(&a));
  CHECK(consistent(&a));
  CHECK(consistent(&b));
  int v[4];
  CHECK_EQ(values(&b, v, 4), 3);
  for (int i = 0; i < 3; i++) CHECK_EQ(v[i], i + 1);
  /* what links into `a` while b's elements are handled stays apart */
  item late = {9, {0}};
  ock_list_insert_head(&a, &late.link);
  ock_list_remove(&it[1].link); /* removed from b wherever it now is */
  CHECK_EQ(values(&b, v, 4), 2);
  CHECK_EQ(v[0], 1);
  CHECK_EQ(v[1], 3);
  CHECK_EQ(values(&a, v, 4), 1);
  CHECK_EQ(v[0], 9);
  /* a single element moves too */
  ock_list c;
  ock_list_move(&a, &c);
  CHECK(ock_list_empty(&a));
  CHECK_EQ(values(&c, v, 4), 1);
  CHECK(consistent(&c));
}
