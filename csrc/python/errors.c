/* The package's exceptions: ockam_py.Error under every error the core
 * reports, each one also the builtin a Python user already catches
 * (RouteError is a ValueError, TimeoutError the builtin TimeoutError,
 * AccessDeniedError a PermissionError, a refused connection a
 * ConnectionRefusedError...), so that `except ockam_py.Error` catches all
 * of them and no existing `except` clause stops working. */
#include "python/errors.h"

#include <stdio.h>
#include <uv.h>

#include "base/err.h"

static PyObject *Error, *RouteError, *NodeClosedError, *Timeout, *AccessDenied, *NotFound, *Protocol, *State,
    *Invalid;
static PyObject *os_classes; /* builtin OSError subclass -> ours, made on first use */

static PyObject *new_class(const char *name, const char *doc, PyObject *builtin) {
  PyObject *bases = PyTuple_Pack(2, Error, builtin);
  PyObject *cls = bases ? PyErr_NewExceptionWithDoc(name, doc, bases, NULL) : NULL;
  Py_XDECREF(bases);
  return cls;
}

static int add(PyObject *module, const char *name, PyObject *cls) {
  if (!cls) return -1;
  Py_INCREF(cls); /* one for the module, one kept here */
  if (PyModule_AddObject(module, name, cls) < 0) {
    Py_DECREF(cls);
    return -1;
  }
  return 0;
}

int ock_py_errors_init(PyObject *m) {
  Error = PyErr_NewExceptionWithDoc("ockam_py.Error", "Base of every error ockam_py raises.", NULL, NULL);
  if (add(m, "Error", Error) < 0) return -1;
  RouteError = new_class("ockam_py.RouteError", "A malformed route or an unknown node.", PyExc_ValueError);
  NodeClosedError = new_class("ockam_py.NodeClosedError", "The node was closed.", PyExc_RuntimeError);
  Timeout = new_class("ockam_py.TimeoutError", "No answer in time (also the builtin TimeoutError).",
                      PyExc_TimeoutError);
  AccessDenied = new_class("ockam_py.AccessDeniedError",
                           "An identity or a registration was refused (also a PermissionError).", PyExc_PermissionError);
  NotFound = new_class("ockam_py.NotFoundError", "No such node, worker, portal or channel (also a LookupError).",
                       PyExc_LookupError);
  Protocol = new_class("ockam_py.ProtocolError",
                       "A peer sent something invalid: a bad signature, an expired identity (also a ValueError).",
                       PyExc_ValueError);
  State = new_class("ockam_py.StateError", "Not possible in this state (also a RuntimeError).", PyExc_RuntimeError);
  Invalid = new_class("ockam_py.InvalidError", "A value the core refused: a name in use, a limit (also a ValueError).",
                      PyExc_ValueError);
  os_classes = PyDict_New();
  if (!os_classes || add(m, "RouteError", RouteError) < 0 || add(m, "NodeClosedError", NodeClosedError) < 0 ||
      add(m, "TimeoutError", Timeout) < 0 || add(m, "AccessDeniedError", AccessDenied) < 0 ||
      add(m, "NotFoundError", NotFound) < 0 || add(m, "ProtocolError", Protocol) < 0 ||
      add(m, "StateError", State) < 0 || add(m, "InvalidError", Invalid) < 0)
    return -1;
  return 0;
}

PyObject *ock_py_node_closed_error(void) { return NodeClosedError; }

/* ockam_py's class for a builtin OSError subclass (ConnectionRefusedError...):
 * (Error, that class), made once. A borrowed reference or NULL. */
static PyObject *os_class(PyObject *builtin) {
  PyObject *cls = PyDict_GetItem(os_classes, builtin);
  if (cls) return cls;
  PyObject *name = PyObject_GetAttrString(builtin, "__name__");
  PyObject *utf8 = name ? PyUnicode_AsUTF8String(name) : NULL;
  Py_XDECREF(name);
  if (!utf8) return NULL;
  char full[128];
  snprintf(full, sizeof full, "ockam_py.%s", PyBytes_AsString(utf8));
  Py_DECREF(utf8);
  cls = new_class(full, "A system error from the network (also the builtin of the same name).", builtin);
  if (!cls || PyDict_SetItem(os_classes, builtin, cls) < 0) {
    Py_XDECREF(cls);
    return NULL;
  }
  Py_DECREF(cls); /* the dict keeps it */
  return cls;
}

/* errno and message as the OSError subclass Python itself would pick for
 * that errno (OSError(ECONNREFUSED, ...) is a ConnectionRefusedError), ours. */
static void raise_os(int err, const char *msg) {
  PyObject *args = err ? Py_BuildValue("(is)", err, msg) : Py_BuildValue("(s)", msg);
  PyObject *probe = args ? PyObject_Call(PyExc_OSError, args, NULL) : NULL;
  PyObject *cls = probe ? os_class((PyObject *)Py_TYPE(probe)) : NULL;
  if (cls) PyErr_SetObject(cls, args);
  Py_XDECREF(probe);
  Py_XDECREF(args);
}

/* A negated errno; libuv's name-lookup codes (UV_EAI_*, -3000 to -3014) are
 * not errno values: they get a message and no errno. */
static int is_errno(int rc) { return rc < 0 && rc > -4096 && !(rc <= UV_EAI_ADDRFAMILY && rc >= UV_EAI_PROTOCOL); }

PyObject *ock_py_raise(int rc, const char *detail) {
  const char *msg = detail && *detail ? detail : ock_strerror(rc);
  switch (rc) {
  case OCK_EROUTE:
  case OCK_ENONODE: PyErr_SetString(RouteError, msg); break;
  case OCK_ETIMEOUT: PyErr_SetString(Timeout, msg); break;
  case OCK_ECLOSED: PyErr_SetString(NodeClosedError, msg); break;
  case OCK_EEXIST:
  case OCK_EINVAL:
  case OCK_ETOOBIG: PyErr_SetString(Invalid, msg); break;
  case OCK_ENOENT: PyErr_SetString(NotFound, msg); break;
  case OCK_EUNTRUSTED: PyErr_SetString(AccessDenied, msg); break;
  case OCK_EPROTO:
  case OCK_EBADSIG:
  case OCK_EIDENTITY:
  case OCK_EEXPIRED:
  case OCK_EATTEST: PyErr_SetString(Protocol, msg); break;
  case OCK_ESTATE: PyErr_SetString(State, msg); break;
  case OCK_ENOMEM: PyErr_NoMemory(); break;
  default: raise_os(is_errno(rc) ? -rc : 0, msg);
  }
  return NULL;
}
