/* The package's exceptions (ockam_py.Error and its subclasses). */
#ifndef OCK_PY_ERRORS_H
#define OCK_PY_ERRORS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* Makes the classes and adds the fixed ones to module. 0 or -1 (error set). */
int ock_py_errors_init(PyObject *module);
/* Sets the exception for an error code (detail: the one-line reason, may be
 * NULL or empty) and returns NULL. */
PyObject *ock_py_raise(int rc, const char *detail);
/* The exception class for NodeClosedError (to raise it directly). */
PyObject *ock_py_node_closed_error(void);

#endif
