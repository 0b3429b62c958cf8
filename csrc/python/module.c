/* ockam_py._core: the CPython skin over the C core. It turns Python calls into
 * commands for the loop thread and waits for their completion with the GIL
 * released, in short slices so Ctrl-C is seen. Python objects hold node ids,
 * never C pointers: the loop owns all C state (architecture rule 4).
 * Limited C API of CPython 3.9 (setup.py defines Py_LIMITED_API): one abi3
 * binary serves every CPython from 3.9 on. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#include "api/api.h"
#include "base/err.h"
#include "base/log.h"
#include "codec/bare.h"
#include "runtime/events.h"
#include "secure/identifier.h"
#include "python/errors.h"


#define WAIT_SLICE_MS 50

/* Waits for c with the GIL released. Returns -1 with a Python error set when
 * interrupted (the caller still owns its reference). */
static int wait_call(ock_call *c) {
  for (;;) {
    int done;
    Py_BEGIN_ALLOW_THREADS
    done = ock_call_wait(c, WAIT_SLICE_MS);
    Py_END_ALLOW_THREADS
    if (done) return 0;
    if (PyErr_CheckSignals() < 0) return -1;
  }
}

static PyObject *raise_code(int rc, const char *detail) { return ock_py_raise(rc, detail); }

/* The exception instance for an error code (for results that arrive later). */
static PyObject *py_make_error(PyObject *self, PyObject *args) {
  (void)self;
  int rc;
  const char *msg;
  if (!PyArg_ParseTuple(args, "is", &rc, &msg)) return NULL;
  raise_code(rc, msg);
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  PyErr_NormalizeException(&type, &value, &tb);
  Py_XDECREF(type);
  Py_XDECREF(tb);
  return value;
}

/* Loop thread: a call made with a token finished; queue its result. */
static void call_to_event(ock_call *c, void *arg) {
  ock_event *e = ock_event_new(OCK_EV_CALL, c->rc ? c->err : c->text);
  if (!e) return;
  e->token = (uint64_t)(uintptr_t)arg;
  e->level = c->rc;
  e->node_id = (uint32_t)c->u64;
  if (ock_buf_append(&e->payload, c->out.data, c->out.len)) {
    ock_event_free(e);
    return;
  }
  ock_events_push(e);
}

/* With a token, a call does not wait: its result comes as a "call" event.
 * Returns 1 (token given: notify armed), 0 (no token), -1 (error). */
static int arm_async(PyObject *token) {
  if (!token || token == Py_None) return 0;
  unsigned long long t = PyLong_AsUnsignedLongLong(token);
  if (PyErr_Occurred()) return -1;
  ock_api_notify_next(call_to_event, (void *)(uintptr_t)t);
  return 1;
}

#define CALL_CAPSULE "ockam_py._core.call"

static void call_capsule_free(PyObject *capsule) {
  ock_call_unref(PyCapsule_GetPointer(capsule, CALL_CAPSULE));
}

/* For an async call: the event carries the result; the caller gets an opaque
 * handle holding our reference, good for cancel() until it is dropped. */
static PyObject *started(ock_call *c) {
  if (!c) return PyErr_NoMemory();
  PyObject *handle = PyCapsule_New(c, CALL_CAPSULE, call_capsule_free);
  if (!handle) ock_call_unref(c);
  return handle;
}

/* cancel(handle): the call of an async start stops in the core if it still runs. */
static PyObject *py_cancel(PyObject *self, PyObject *handle) {
  (void)self;
  ock_call *c = PyCapsule_GetPointer(handle, CALL_CAPSULE);
  if (!c) return NULL;
  ock_api_cancel(c);
  Py_RETURN_NONE;
}

/* Waits for the call and raises its error. Returns 0 on success; on -1 the
 * call was released and a Python error is set. On 0 the caller unrefs. */
static int finish(ock_call *c) {
  if (!c) {
    PyErr_NoMemory();
    return -1;
  }
  if (wait_call(c) < 0) { /* Ctrl-C: the request, connect or handshake stops too */
    ock_api_cancel(c);
    ock_call_unref(c);
    return -1;
  }
  if (c->rc) {
    raise_code(c->rc, c->err);
    ock_call_unref(c);
    return -1;
  }
  return 0;
}

static PyObject *simple(ock_call *c) {
  if (finish(c) < 0) return NULL;
  ock_call_unref(c);
  Py_RETURN_NONE;
}

static PyObject *text_result(ock_call *c) {
  if (finish(c) < 0) return NULL;
  PyObject *out = PyUnicode_DecodeUTF8((const char *)c->out.data, (Py_ssize_t)c->out.len, "replace");
  ock_call_unref(c);
  return out;
}

/* The bytes of a bytes-like object (the limited API has no Py_buffer before
 * 3.11): bytes itself, any other buffer copied. A new reference or NULL. */
static PyObject *as_bytes(PyObject *obj) {
  if (PyBytes_Check(obj)) {
    Py_INCREF(obj);
    return obj;
  }
  PyObject *view = PyMemoryView_FromObject(obj);
  PyObject *b = view ? PyBytes_FromObject(view) : NULL;
  Py_XDECREF(view);
  return b;
}

/* A route from a str (multiaddr or route text) or a list of str. The str's
 * UTF-8 comes as a bytes object (no PyUnicode_AsUTF8 in the limited API). */
static int route_from_py(PyObject *obj, ock_route *out) {
  char err[400];
  ock_route_init(out);
  if (PyUnicode_Check(obj)) {
    PyObject *utf8 = PyUnicode_AsUTF8String(obj);
    if (!utf8) return -1;
    int rc = ock_api_parse_route(PyBytes_AsString(utf8), out, err, sizeof err);
    Py_DECREF(utf8);
    if (rc) raise_code(rc, err);
    return rc ? -1 : 0;
  }
  PyObject *seq = PySequence_Fast(obj, "a route is a str or a list of str");
  if (!seq) return -1;
  for (Py_ssize_t i = 0; i < PySequence_Size(seq); i++) {
    PyObject *item = PySequence_GetItem(seq, i);
    PyObject *utf8 = item && PyUnicode_Check(item) ? PyUnicode_AsUTF8String(item) : NULL;
    Py_XDECREF(item);
    const char *s = utf8 ? PyBytes_AsString(utf8) : NULL;
    ock_route part;
    int rc = s ? ock_api_parse_route(s, &part, err, sizeof err) : OCK_EROUTE;
    Py_XDECREF(utf8);
    if (!s) snprintf(err, sizeof err, "route element %zd is not a str", (Py_ssize_t)i);
    if (!rc && ock_route_append(out, &part)) {
      rc = OCK_EROUTE;
      snprintf(err, sizeof err, "route is longer than %d hops", OCK_ROUTE_MAX_HOPS);
    }
    if (rc) {
      Py_DECREF(seq);
      if (!PyErr_Occurred()) raise_code(rc, err);
      return -1;
    }
  }
  Py_DECREF(seq);
  if (out->n == 0) {
    raise_code(OCK_EROUTE, "empty route");
    return -1;
  }
  return 0;
}

static PyObject *route_to_py(const ock_route *r) {
  PyObject *list = PyList_New(r->n);
  if (!list) return NULL;
  for (size_t i = 0; i < r->n; i++) {
    ock_addr a = ock_route_at(r, i);
    PyObject *text = PyUnicode_DecodeUTF8(a.p, (Py_ssize_t)a.len, "replace");
    PyObject *s = text ? PyUnicode_FromFormat("%u#%U", a.tt, text) : NULL;
    Py_XDECREF(text);
    if (!s) {
      Py_DECREF(list);
      return NULL;
    }
    PyList_SetItem(list, (Py_ssize_t)i, s);
  }
  return list;
}

static int timeout_ms(double t) {
  if (!(t > 0)) return 1; /* NaN too: the Python layer refuses it, this is the floor */
  if (t > 86400) return 86400 * 1000;
  return (int)(t * 1000 + 0.5);
}

/* ---- functions ---- */

/* bytes-like or None into a new bytes reference or NULL (*ok: no error). */
static PyObject *optional_bytes(PyObject *obj, int *ok) {
  PyObject *b = obj && obj != Py_None ? as_bytes(obj) : NULL;
  *ok = !(obj && obj != Py_None && !b);
  return b;
}

static PyObject *py_node_create(PyObject *self, PyObject *args) {
  (void)self;
  const char *name, *listen = NULL;
  PyObject *secret_obj = NULL, *history_obj = NULL;
  if (!PyArg_ParseTuple(args, "s|zOO", &name, &listen, &secret_obj, &history_obj)) return NULL;
  int ok1, ok2;
  PyObject *secret = optional_bytes(secret_obj, &ok1), *history = optional_bytes(history_obj, &ok2);
  if (!ok1 || !ok2 || (secret && (PyBytes_Size(secret) != 32 || !history))) {
    Py_XDECREF(secret);
    Py_XDECREF(history);
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "an identity needs a 32-byte secret and its change history");
    return NULL;
  }
  ock_call *c = ock_api_node_create(name, listen, secret ? (const uint8_t *)PyBytes_AsString(secret) : NULL,
                                    history ? (const uint8_t *)PyBytes_AsString(history) : NULL,
                                    history ? (size_t)PyBytes_Size(history) : 0);
  Py_XDECREF(secret);
  Py_XDECREF(history);
  if (finish(c) < 0) return NULL;
  PyObject *r = Py_BuildValue("(Ks)", (unsigned long long)c->u64, c->text);
  ock_call_unref(c);
  return r;
}

static PyObject *py_node_close(PyObject *self, PyObject *args) {
  (void)self;
  unsigned int id;
  if (!PyArg_ParseTuple(args, "I", &id)) return NULL;
  return simple(ock_api_node_close(id));
}

static PyObject *py_start_service(PyObject *self, PyObject *args) {
  (void)self;
  unsigned int id;
  const char *kind, *addr = NULL;
  if (!PyArg_ParseTuple(args, "Is|z", &id, &kind, &addr)) return NULL;
  return simple(ock_api_start_service(id, kind, addr));
}

static PyObject *py_connect(PyObject *self, PyObject *args) {
  (void)self;
  unsigned int id;
  const char *hostport;
  double t = 10.0;
  PyObject *token = NULL;
  if (!PyArg_ParseTuple(args, "Is|dO", &id, &hostport, &t, &token)) return NULL;
  int async = arm_async(token);
  if (async < 0) return NULL;
  ock_call *c = ock_api_connect(id, hostport, timeout_ms(t));
  if (async) return started(c);
  if (finish(c) < 0) return NULL;
  PyObject *r = PyUnicode_FromString(c->text);
  ock_call_unref(c);
  return r;
}

static PyObject *py_request(PyObject *self, PyObject *args) {
  (void)self;
  unsigned int id;
  PyObject *route, *data, *token = NULL;
  double t;
  if (!PyArg_ParseTuple(args, "IOOd|O", &id, &route, &data, &t, &token)) return NULL;
  PyObject *payload = as_bytes(data);
  ock_route r;
  int async = !payload || route_from_py(route, &r) < 0 ? -1 : arm_async(token);
  if (async < 0) {
    Py_XDECREF(payload);
    return NULL;
  }
  ock_call *c = ock_api_request(id, &r, PyBytes_AsString(payload), (size_t)PyBytes_Size(payload), timeout_ms(t));
  Py_DECREF(payload);
  if (async) return started(c);
  if (finish(c) < 0) return NULL;
  PyObject *out = PyBytes_FromStringAndSize((const char *)c->out.data, (Py_ssize_t)c->out.len);
  ock_call_unref(c);
  return out;
}

static PyObject *py_send(PyObject *self, PyObject *args) {
  (void)self;
  unsigned int id;
  PyObject *onward, *ret, *data;
  if (!PyArg_ParseTuple(args, "IOOO", &id, &onward, &ret, &data)) return NULL;
  PyObject *payload = as_bytes(data);
  if (!payload) return NULL;
  ock_route o, r;
  int ok = route_from_py(onward, &o) == 0;
  if (ok) {
    if (PySequence_Check(ret) && !PyUnicode_Check(ret) && PySequence_Size(ret) == 0)
      ock_route_init(&r);
    else
      ok = route_from_py(ret, &r) == 0;
  }
  int rc = ok ? ock_api_send(id, &o, &r, PyBytes_AsString(payload), (size_t)PyBytes_Size(payload)) : 0;
  Py_DECREF(payload);
  if (!ok) return NULL;
  if (rc) return raise_code(rc, "the node is closed");
  Py_RETURN_NONE;
}

static PyObject *py_start_worker(PyObject *self, PyObject *args) {
  (void)self;
  unsigned int id;
  const char *addr;
  if (!PyArg_ParseTuple(args, "Is", &id, &addr)) return NULL;
  return simple(ock_api_start_worker(id, addr));
}

static PyObject *py_stop_worker(PyObject *self, PyObject *args) {
  (void)self;
  unsigned int id;
  const char *addr;
  if (!PyArg_ParseTuple(args, "Is", &id, &addr)) return NULL;
  return simple(ock_api_stop_worker(id, addr));
}

static PyObject *py_list_connections(PyObject *self, PyObject *args) {
  (void)self;
  unsigned int id;
  if (!PyArg_ParseTuple(args, "I", &id)) return NULL;
  return text_result(ock_api_list_connections(id));
}

static PyObject *py_close_connection(PyObject *self, PyObject *args) {
  (void)self;
  unsigned int id;
  const char *addr;
  if (!PyArg_ParseTuple(args, "Is", &id, &addr)) return NULL;
  return simple(ock_api_close_connection(id, addr));
}

static PyObject *py_udp_bind(PyObject *self, PyObject *args) {
  (void)self;
  unsigned int id;
  const char *hostport;
  if (!PyArg_ParseTuple(args, "Is", &id, &hostport)) return NULL;
  ock_call *c = ock_api_udp_bind(id, hostport);
  if (finish(c) < 0) return NULL;
  PyObject *r = PyUnicode_FromString(c->text);
  ock_call_unref(c);
  return r;
}

static PyObject *py_udp_list(PyObject *self, PyObject *args) {
  (void)self;
  unsigned int id;
  if (!PyArg_ParseTuple(args, "I", &id)) return NULL;
  return text_result(ock_api_udp_list(id));
}

static PyObject *py_relay_create(PyObject *self, PyObject *args) {
  (void)self;
  unsigned int id;
  const char *name;
  PyObject *at;
  ock_relay_opts o;
  ock_relay_opts_default(&o);
  double ping = o.ping_interval_ms / 1000.0, backoff_max = o.backoff_max_ms / 1000.0;
  unsigned long long serial = 0;
  if (!PyArg_ParseTuple(args, "IsO|ddK", &id, &name, &at, &ping, &backoff_max, &serial)) return NULL;
  o.serial = serial;
  o.ping_interval_ms = timeout_ms(ping);
  o.backoff_max_ms = timeout_ms(backoff_max);
  if (o.backoff_min_ms > o.backoff_max_ms) o.backoff_min_ms = o.backoff_max_ms;
  ock_route r;
  if (route_from_py(at, &r) < 0) return NULL;
  return simple(ock_api_relay_create(id, name, &r, &o));
}

static PyObject *py_relay_close(PyObject *self, PyObject *args) {
  (void)self;
  unsigned int id;
  const char *name;
  if (!PyArg_ParseTuple(args, "Is", &id, &name)) return NULL;
  return simple(ock_api_relay_close(id, name));
}

static PyObject *py_relay_list(PyObject *self, PyObject *args) {
  (void)self;
  unsigned int id;
  if (!PyArg_ParseTuple(args, "I", &id)) return NULL;
  return text_result(ock_api_relay_list(id));
}

static PyObject *py_relay_service_list(PyObject *self, PyObject *args) {
  (void)self;
  unsigned int id;
  if (!PyArg_ParseTuple(args, "I", &id)) return NULL;
  return text_result(ock_api_relay_service_list(id));
}

static PyObject *py_inlet_create(PyObject *self, PyObject *args) {
  (void)self;
  unsigned int id;
  const char *bind;
  PyObject *to;
  if (!PyArg_ParseTuple(args, "IsO", &id, &bind, &to)) return NULL;
  ock_route r;
  if (route_from_py(to, &r) < 0) return NULL;
  ock_call *c = ock_api_inlet_create(id, bind, &r);
  if (finish(c) < 0) return NULL;
  PyObject *out = PyUnicode_FromString(c->text);
  ock_call_unref(c);
  return out;
}

static PyObject *py_portal_close(PyObject *self, PyObject *args) {
  (void)self;
  unsigned int id;
  const char *kind, *addr;
  if (!PyArg_ParseTuple(args, "Iss", &id, &kind, &addr)) return NULL;
  return simple(!strcmp(kind, "inlet") ? ock_api_inlet_close(id, addr) : ock_api_outlet_close(id, addr));
}

static int identifiers_from_py(PyObject *obj, ock_buf *out);

static PyObject *py_outlet_create(PyObject *self, PyObject *args) {
  (void)self;
  unsigned int id;
  const char *target, *addr;
  PyObject *allow = Py_None;
  if (!PyArg_ParseTuple(args, "Iss|O", &id, &target, &addr, &allow)) return NULL;
  ock_buf ids;
  ock_buf_init(&ids);
  if (identifiers_from_py(allow, &ids) < 0) {
    ock_buf_free(&ids);
    return NULL;
  }
  ock_call *c = ock_api_outlet_create(id, target, addr, ids.data, ids.len / OCK_IDENTIFIER_LEN);
  ock_buf_free(&ids);
  return simple(c);
}

static PyObject *py_portal_list(PyObject *self, PyObject *args) {
  (void)self;
  unsigned int id;
  if (!PyArg_ParseTuple(args, "I", &id)) return NULL;
  return text_result(ock_api_portal_list(id));
}

static PyObject *py_node_stats(PyObject *self, PyObject *args) {
  (void)self;
  unsigned int id;
  if (!PyArg_ParseTuple(args, "I", &id)) return NULL;
  return text_result(ock_api_node_stats(id));
}

static PyObject *py_set_limit(PyObject *self, PyObject *args) {
  (void)self;
  unsigned int id;
  const char *name;
  long value;
  if (!PyArg_ParseTuple(args, "Isl", &id, &name, &value)) return NULL;
  return simple(ock_api_set_limit(id, name, value));
}

static PyObject *py_limits(PyObject *self, PyObject *args) {
  (void)self;
  unsigned int id;
  if (!PyArg_ParseTuple(args, "I", &id)) return NULL;
  return text_result(ock_api_limits(id));
}

static PyObject *py_parse_route(PyObject *self, PyObject *arg) {
  (void)self;
  ock_route r;
  if (route_from_py(arg, &r) < 0) return NULL;
  return route_to_py(&r);
}

/* ---- identities and secure channels ---- */

static PyObject *py_node_identity(PyObject *self, PyObject *args) {
  (void)self;
  unsigned int id;
  if (!PyArg_ParseTuple(args, "I", &id)) return NULL;
  ock_call *c = ock_api_node_identity(id);
  if (finish(c) < 0) return NULL;
  PyObject *r = Py_BuildValue("(sy#)", c->text, (const char *)c->out.data, (Py_ssize_t)c->out.len);
  ock_call_unref(c);
  return r;
}

static PyObject *py_identity_create(PyObject *self, PyObject *noargs) {
  (void)self, (void)noargs;
  uint8_t secret[32];
  char identifier[66];
  ock_buf history;
  ock_buf_init(&history);
  int rc = ock_api_identity_create(secret, &history, identifier);
  PyObject *r = rc ? raise_code(rc, NULL)
                   : Py_BuildValue("(sy#y#)", identifier, (const char *)secret, (Py_ssize_t)32, (const char *)history.data,
                                   (Py_ssize_t)history.len);
  memset(secret, 0, sizeof secret);
  ock_buf_free(&history);
  return r;
}

static PyObject *py_identity_check(PyObject *self, PyObject *args) {
  (void)self;
  PyObject *secret_obj, *history_obj;
  if (!PyArg_ParseTuple(args, "OO", &secret_obj, &history_obj)) return NULL;
  PyObject *secret = as_bytes(secret_obj), *history = secret ? as_bytes(history_obj) : NULL;
  if (!history) {
    Py_XDECREF(secret);
    return NULL;
  }
  char identifier[66];
  int rc = PyBytes_Size(secret) == 32 ? ock_api_identity_check((const uint8_t *)PyBytes_AsString(secret),
                                                                (const uint8_t *)PyBytes_AsString(history),
                                                                (size_t)PyBytes_Size(history), identifier)
                                      : OCK_EINVAL;
  Py_DECREF(secret);
  Py_DECREF(history);
  if (rc) return raise_code(rc, rc == OCK_EINVAL ? "the secret is not this identity's key" : NULL);
  return PyUnicode_FromString(identifier);
}

/* Identifiers ("I" + 64 hex, a sequence of str or None) into 32-byte ids. */
static int identifiers_from_py(PyObject *obj, ock_buf *out) {
  if (obj == Py_None) return 0;
  PyObject *seq = PySequence_Fast(obj, "expected a list of identifiers");
  if (!seq) return -1;
  for (Py_ssize_t i = 0; i < PySequence_Size(seq); i++) {
    PyObject *item = PySequence_GetItem(seq, i);
    PyObject *utf8 = item && PyUnicode_Check(item) ? PyUnicode_AsUTF8String(item) : NULL;
    const char *s = utf8 ? PyBytes_AsString(utf8) : NULL;
    uint8_t id[OCK_IDENTIFIER_LEN];
    int bad = !s || ock_identifier_parse(s, (size_t)PyBytes_Size(utf8), id) || ock_buf_append(out, id, sizeof id);
    Py_XDECREF(utf8);
    if (bad) {
      Py_DECREF(seq);
      if (!PyErr_Occurred()) PyErr_Format(PyExc_ValueError, "not an identifier (I + 64 hex digits): %R", item);
      Py_XDECREF(item);
      return -1;
    }
    Py_XDECREF(item);
  }
  Py_DECREF(seq);
  return 0;
}

static PyObject *py_sc_create(PyObject *self, PyObject *args) {
  (void)self;
  unsigned int id;
  PyObject *to, *authorized, *token = NULL;
  double t;
  if (!PyArg_ParseTuple(args, "IOOd|O", &id, &to, &authorized, &t, &token)) return NULL;
  ock_route r;
  ock_buf ids;
  ock_buf_init(&ids);
  int async = route_from_py(to, &r) < 0 || identifiers_from_py(authorized, &ids) < 0 ? -1 : arm_async(token);
  ock_call *c = async < 0 ? NULL : ock_api_sc_create(id, &r, ids.data, ids.len / OCK_IDENTIFIER_LEN, timeout_ms(t));
  ock_buf_free(&ids);
  if (async < 0) return NULL;
  if (async) return started(c);
  if (finish(c) < 0) return NULL;
  PyObject *out = PyUnicode_FromString(c->text);
  ock_call_unref(c);
  return out;
}

static PyObject *py_sc_listener_create(PyObject *self, PyObject *args) {
  (void)self;
  unsigned int id;
  const char *addr;
  PyObject *authorized;
  if (!PyArg_ParseTuple(args, "IsO", &id, &addr, &authorized)) return NULL;
  ock_buf ids;
  ock_buf_init(&ids);
  if (identifiers_from_py(authorized, &ids) < 0) {
    ock_buf_free(&ids);
    return NULL;
  }
  ock_call *c = ock_api_sc_listener_create(id, addr, ids.data, ids.len / OCK_IDENTIFIER_LEN);
  ock_buf_free(&ids);
  return simple(c);
}

static PyObject *py_sc_close(PyObject *self, PyObject *args) {
  (void)self;
  unsigned int id;
  const char *kind, *addr;
  if (!PyArg_ParseTuple(args, "Iss", &id, &kind, &addr)) return NULL;
  return simple(!strcmp(kind, "listener") ? ock_api_sc_listener_stop(id, addr) : ock_api_sc_close(id, addr));
}

static PyObject *py_sc_list(PyObject *self, PyObject *args) {
  (void)self;
  unsigned int id;
  const char *kind = "channels";
  if (!PyArg_ParseTuple(args, "I|s", &id, &kind)) return NULL;
  return text_result(!strcmp(kind, "listeners") ? ock_api_sc_listener_list(id) : ock_api_sc_list(id));
}

static PyObject *event_to_py(ock_event *e) {
  switch (e->type) {
  case OCK_EV_LOG: return Py_BuildValue("(sis)", "log", e->level, e->text);
  case OCK_EV_MESSAGE: {
    PyObject *on = route_to_py(e->onward), *ret = route_to_py(e->ret);
    PyObject *r = on && ret ? Py_BuildValue("(sIsy#OO)", "message", e->node_id, e->text, (const char *)e->payload.data,
                                            (Py_ssize_t)e->payload.len, on, ret)
                            : NULL;
    Py_XDECREF(on);
    Py_XDECREF(ret);
    return r;
  }
  case OCK_EV_CALL:
    return Py_BuildValue("(sKisy#)", "call", (unsigned long long)e->token, e->level, e->text ? e->text : "",
                         (const char *)e->payload.data, (Py_ssize_t)e->payload.len);
  default:
    return Py_BuildValue("(sIiss#K)", "status", e->node_id, e->level, e->text ? e->text : "",
                         e->payload.len ? (const char *)e->payload.data : "", (Py_ssize_t)e->payload.len,
                         (unsigned long long)e->token);
  }
}

static PyObject *py_next_event(PyObject *self, PyObject *args) {
  (void)self;
  double t;
  if (!PyArg_ParseTuple(args, "d", &t)) return NULL;
  ock_event *e;
  Py_BEGIN_ALLOW_THREADS
  e = ock_events_pop(timeout_ms(t));
  Py_END_ALLOW_THREADS
  if (!e) Py_RETURN_NONE;
  PyObject *r = event_to_py(e);
  ock_event_free(e);
  return r;
}

static PyObject *py_events_dropped(PyObject *self, PyObject *noargs) {
  (void)self, (void)noargs;
  uint64_t logs, messages;
  ock_events_dropped(&logs, &messages);
  return Py_BuildValue("(KK)", (unsigned long long)logs, (unsigned long long)messages);
}

static PyObject *py_interrupt_events(PyObject *self, PyObject *noargs) {
  (void)self, (void)noargs;
  ock_events_interrupt();
  Py_RETURN_NONE;
}

static PyObject *py_shutdown(PyObject *self, PyObject *args) {
  (void)self;
  double t = 5.0;
  if (!PyArg_ParseTuple(args, "|d", &t)) return NULL;
  Py_BEGIN_ALLOW_THREADS
  ock_api_shutdown(timeout_ms(t));
  Py_END_ALLOW_THREADS
  Py_RETURN_NONE;
}

static PyObject *py_after_fork_child(PyObject *self, PyObject *noargs) {
  (void)self, (void)noargs;
  ock_api_after_fork();
  Py_RETURN_NONE;
}

static PyObject *py_bare_encode(PyObject *self, PyObject *arg) {
  (void)self;
  PyObject *b = as_bytes(arg);
  if (!b) return NULL;
  ock_buf out;
  ock_buf_init(&out);
  int rc = ock_bare_put_string(&out, PyBytes_AsString(b), (size_t)PyBytes_Size(b));
  Py_DECREF(b);
  PyObject *r = rc ? PyErr_NoMemory() : PyBytes_FromStringAndSize((const char *)out.data, (Py_ssize_t)out.len);
  ock_buf_free(&out);
  return r;
}

static PyObject *py_bare_decode(PyObject *self, PyObject *arg) {
  (void)self;
  PyObject *b = as_bytes(arg);
  if (!b) return NULL;
  const uint8_t *s;
  size_t n;
  int rc = ock_bare_read_string((const uint8_t *)PyBytes_AsString(b), (size_t)PyBytes_Size(b), &s, &n);
  PyObject *r = rc ? (PyErr_SetString(PyExc_ValueError, "payload is not a BARE string"), NULL)
                   : PyBytes_FromStringAndSize((const char *)s, (Py_ssize_t)n);
  Py_DECREF(b);
  return r;
}

static void log_sink(int level, const char *line) {
  ock_event *e = ock_event_new(OCK_EV_LOG, line);
  if (!e) return;
  e->level = level;
  ock_events_push(e); /* a full queue drops the line: logging must never block the loop */
}

static PyObject *py_set_log_level(PyObject *self, PyObject *args) {
  (void)self;
  int level;
  if (!PyArg_ParseTuple(args, "i", &level)) return NULL;
  ock_log_set_sink(log_sink, level);
  Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"node_create", py_node_create, METH_VARARGS, "node_create(name, listen) -> (id, bound address)"},
    {"node_close", py_node_close, METH_VARARGS, "node_close(id): close a node, wait until its sockets are closed"},
    {"start_service", py_start_service, METH_VARARGS, "start_service(id, kind, address)"},
    {"connect", py_connect, METH_VARARGS, "connect(id, 'host:port', timeout[, token]) -> worker address (a call handle with a token)"},
    {"request", py_request, METH_VARARGS, "request(id, route, payload, timeout[, token]) -> reply payload (a call handle with a token)"},
    {"send", py_send, METH_VARARGS, "send(id, onward, return_route, payload)"},
    {"start_worker", py_start_worker, METH_VARARGS, "start_worker(id, address)"},
    {"stop_worker", py_stop_worker, METH_VARARGS, "stop_worker(id, address)"},
    {"list_connections", py_list_connections, METH_VARARGS, "list_connections(id) -> text"},
    {"close_connection", py_close_connection, METH_VARARGS, "close_connection(id, worker address)"},
    {"udp_bind", py_udp_bind, METH_VARARGS, "udp_bind(id, 'IP:port') -> 'worker bound_address'"},
    {"udp_list", py_udp_list, METH_VARARGS, "udp_list(id) -> text"},
    {"relay_create", py_relay_create, METH_VARARGS, "relay_create(id, name, at, ping_interval, backoff_max[, serial])"},
    {"relay_close", py_relay_close, METH_VARARGS, "relay_close(id, name)"},
    {"relay_list", py_relay_list, METH_VARARGS, "relay_list(id) -> text"},
    {"relay_service_list", py_relay_service_list, METH_VARARGS, "relay_service_list(id) -> text"},
    {"make_error", py_make_error, METH_VARARGS, "make_error(code, message) -> exception instance"},
    {"inlet_create", py_inlet_create, METH_VARARGS, "inlet_create(id, bind, route) -> bound address"},
    {"outlet_create", py_outlet_create, METH_VARARGS, "outlet_create(id, target, address[, allow])"},
    {"portal_close", py_portal_close, METH_VARARGS, "portal_close(id, 'inlet'|'outlet', address)"},
    {"portal_list", py_portal_list, METH_VARARGS, "portal_list(id) -> text"},
    {"node_identity", py_node_identity, METH_VARARGS, "node_identity(id) -> (identifier, change history)"},
    {"identity_create", py_identity_create, METH_NOARGS, "identity_create() -> (identifier, secret, change history)"},
    {"identity_check", py_identity_check, METH_VARARGS, "identity_check(secret, history) -> identifier"},
    {"sc_create", py_sc_create, METH_VARARGS, "sc_create(id, route, authorized, timeout[, token]) -> 'encryptor identifier'"},
    {"sc_listener_create", py_sc_listener_create, METH_VARARGS, "sc_listener_create(id, address, authorized)"},
    {"sc_close", py_sc_close, METH_VARARGS, "sc_close(id, 'channel'|'listener', address)"},
    {"sc_list", py_sc_list, METH_VARARGS, "sc_list(id[, 'channels'|'listeners']) -> text"},
    {"node_stats", py_node_stats, METH_VARARGS, "node_stats(id) -> 'name value' lines"},
    {"cancel", py_cancel, METH_O, "cancel(handle): cancel an async call in the core if it still runs"},
    {"set_limit", py_set_limit, METH_VARARGS, "set_limit(id, name, value)"},
    {"limits", py_limits, METH_VARARGS, "limits(id) -> 'name value' lines"},
    {"parse_route", py_parse_route, METH_O, "parse_route(route) -> ['tt#address', ...]"},
    {"next_event", py_next_event, METH_VARARGS, "next_event(timeout) -> tuple or None"},
    {"interrupt_events", py_interrupt_events, METH_NOARGS, "wake a thread blocked in next_event"},
    {"events_dropped", py_events_dropped, METH_NOARGS, "events_dropped() -> (log lines, messages) dropped so far"},
    {"shutdown", py_shutdown, METH_VARARGS, "shutdown(timeout): close every node, stop the loop thread"},
    {"after_fork_child", py_after_fork_child, METH_NOARGS, "forget the parent's loop in a forked child"},
    {"bare_encode", py_bare_encode, METH_O, "BARE-encode bytes as Vec<u8>/String"},
    {"bare_decode", py_bare_decode, METH_O, "decode a BARE Vec<u8>/String"},
    {"set_log_level", py_set_log_level, METH_VARARGS, "lowest level of core log lines to queue"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "ockam_py._core", "C core of ockam_py", -1, methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__core(void) {
  PyObject *m = PyModule_Create(&module);
  if (!m) return NULL;
  if (ock_py_errors_init(m) < 0) {
    Py_DECREF(m);
    return NULL;
  }
  ock_log_set_sink(log_sink, OCK_LOG_INFO);
  return m;
}
