/* The parsers' optional C accelerator: writes the access-log ECS document of the fast path.
 *
 * Why C: in CPython, assembling a ~1.7 KB JSON document from some thirty pieces costs about
 * 15k instructions per event however it is spelled (one `%` template, small `%`s, join),
 * almost as much as the line's regex match itself; here it is one exact-size allocation
 * and a few memcpy calls. Everything that decides *whether* an envelope takes the fast path
 * (the regex, the plan cache, the day and address caches) stays in fastpath.py; this only
 * lays out the document, byte for byte as fastpath._access_doc does in Python, which is the
 * fallback when no C compiler was at hand at install time (setup.py builds this optionally).
 * tests/unit/parsers/test_fastpath.py holds both to the same output.
 *
 * envelope_tail(value, mid) -> int       (fastpath._envelope_tail in Python)
 *   where the per-file part `mid` starts in the envelope when the agent's tail
 *   (,"event":{"id":"<32 alphanumerics>"}}) ends it and `mid` sits right before that tail;
 *   -1 when the tail is the agent's but `mid` is not there; -2 when the tail is not the agent's.
 *
 * access_doc(groups, value, start, j, day, ingested, plan, ip) -> bytes   (fastpath._access_doc)
 *   groups  ENVELOPE_ACCESS's 12 groups: line, addr, user, date, hms, method, target,
 *           version, status, size, referrer, agent (bytes, or None when an optional part
 *           of the line is absent)
 *   value   the envelope: value[start:j] is copied after `plan` ("log":{...}...,"tags":[..]),
 *           and the event id is the 32 bytes after the tail's `,"event":{"id":"` at j
 *   the rest: bytes pasted as they are (the caller made them valid JSON string content)
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define MAX_PIECES 64

typedef struct {
    const char *p[MAX_PIECES];
    Py_ssize_t n[MAX_PIECES];
    int count;
    Py_ssize_t total;
} pieces;

static inline void add(pieces *w, const char *p, Py_ssize_t n) {
    w->p[w->count] = p;
    w->n[w->count] = n;
    w->count++;
    w->total += n;
}

#define LIT(w, s) add((w), (s), (Py_ssize_t)(sizeof(s) - 1))

/* A bytes argument (NULL data and length 0 for None when allow_none). */
static int as_bytes(PyObject *o, const char **p, Py_ssize_t *n, int allow_none, const char *what) {
    if (o == Py_None && allow_none) {
        *p = NULL;
        *n = 0;
        return 0;
    }
    if (!PyBytes_Check(o)) {
        PyErr_Format(PyExc_TypeError, "access_doc: %s must be bytes, not %.100s", what, Py_TYPE(o)->tp_name);
        return -1;
    }
    *p = PyBytes_AS_STRING(o);
    *n = PyBytes_GET_SIZE(o);
    return 0;
}

#define EVENT_AT ",\"event\":{\"id\":\""
#define EVENT_AT_N ((Py_ssize_t)(sizeof(EVENT_AT) - 1))
#define ID_N 32
#define TAIL_N (EVENT_AT_N + ID_N + 3)

static int is_alnum(const char *p, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) {
        char c = p[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return 0;
    }
    return 1;
}

static PyObject *envelope_tail(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    const char *v, *mid;
    Py_ssize_t vn, midn;
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "envelope_tail() takes 2 arguments (%zd given)", nargs);
        return NULL;
    }
    if (as_bytes(args[0], &v, &vn, 0, "value") < 0 || as_bytes(args[1], &mid, &midn, 0, "mid") < 0) return NULL;
    Py_ssize_t j = vn - TAIL_N;
    if (j <= 0 || memcmp(v + j, EVENT_AT, EVENT_AT_N) != 0 || memcmp(v + vn - 3, "\"}}", 3) != 0 ||
        !is_alnum(v + j + EVENT_AT_N, ID_N))
        return PyLong_FromLong(-2);
    Py_ssize_t e = j - midn;
    if (e <= 0 || memcmp(v + e, mid, (size_t)midn) != 0) return PyLong_FromLong(-1);
    return PyLong_FromSsize_t(e);
}

static inline int is_dash(const char *p, Py_ssize_t n) { return n == 1 && p[0] == '-'; }

static PyObject *access_doc(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 8) {
        PyErr_Format(PyExc_TypeError, "access_doc() takes 8 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *groups = args[0];
    if (!PyTuple_Check(groups) || PyTuple_GET_SIZE(groups) != 12) {
        PyErr_SetString(PyExc_TypeError, "access_doc: groups must be a tuple of 12");
        return NULL;
    }
    const char *g[12];
    Py_ssize_t gn[12];
    static const char *names[12] = {"line", "addr", "user", "date", "hms", "method", "target",
                                    "version", "status", "size", "referrer", "agent"};
    for (int i = 0; i < 12; i++) {
        /* version, referrer and agent are optional groups of the pattern */
        if (as_bytes(PyTuple_GET_ITEM(groups, i), &g[i], &gn[i], i == 7 || i == 10 || i == 11, names[i]) < 0)
            return NULL;
    }
    const char *value, *day, *ingested, *plan, *ip;
    Py_ssize_t value_n, day_n, ingested_n, plan_n, ip_n;
    if (as_bytes(args[1], &value, &value_n, 0, "value") < 0) return NULL;
    Py_ssize_t start = PyLong_AsSsize_t(args[2]);
    if (start == -1 && PyErr_Occurred()) return NULL;
    Py_ssize_t end = PyLong_AsSsize_t(args[3]);
    if (end == -1 && PyErr_Occurred()) return NULL;
    if (start < 0 || end < start || end + TAIL_N > value_n) {
        PyErr_SetString(PyExc_ValueError, "access_doc: start:j is not a slice of value before its tail");
        return NULL;
    }
    const char *eid = value + end + EVENT_AT_N;
    Py_ssize_t eid_n = ID_N;
    if (as_bytes(args[4], &day, &day_n, 0, "day") < 0 || as_bytes(args[5], &ingested, &ingested_n, 0, "ingested") < 0 ||
        as_bytes(args[6], &plan, &plan_n, 0, "plan") < 0 || as_bytes(args[7], &ip, &ip_n, 0, "ip") < 0)
        return NULL;
    if (gn[8] < 1) {
        PyErr_SetString(PyExc_ValueError, "access_doc: empty status");
        return NULL;
    }

    pieces w;
    w.count = 0;
    w.total = 0;
    LIT(&w, "{\"@timestamp\":\"");
    add(&w, day, day_n);
    LIT(&w, "T");
    add(&w, g[4], gn[4]);
    LIT(&w, ".000Z\",\"message\":\"");
    add(&w, g[0], gn[0]);
    LIT(&w, "\",\"event\":{\"id\":\"");
    add(&w, eid, eid_n);
    LIT(&w, "\",\"original\":\"");
    add(&w, g[0], gn[0]);
    LIT(&w, "\",\"ingested\":\"");
    add(&w, ingested, ingested_n);
    LIT(&w, "\",\"kind\":\"event\",\"category\":[\"web\"],\"type\":[\"access\"],\"outcome\":\"");
    if (g[8][0] >= '4')
        LIT(&w, "failure\"");
    else
        LIT(&w, "success\"");
    add(&w, plan, plan_n);
    add(&w, value + start, end - start);
    LIT(&w, ",\"source\":{\"address\":\"");
    add(&w, g[1], gn[1]);
    LIT(&w, "\"");
    add(&w, ip, ip_n);
    LIT(&w, "}");
    if (!is_dash(g[2], gn[2])) {
        LIT(&w, ",\"user\":{\"name\":\"");
        add(&w, g[2], gn[2]);
        LIT(&w, "\"}");
    }
    LIT(&w, ",\"url\":{\"original\":\"");
    add(&w, g[6], gn[6]);
    LIT(&w, "\",\"path\":\"");
    const char *q = gn[6] ? memchr(g[6], '?', (size_t)gn[6]) : NULL;
    if (q == NULL) {
        add(&w, g[6], gn[6]);
        LIT(&w, "\"");
    } else {
        add(&w, g[6], q - g[6]);
        LIT(&w, "\",\"query\":\"");
        add(&w, q + 1, gn[6] - (q - g[6]) - 1);
        LIT(&w, "\"");
    }
    LIT(&w, "},\"http\":{\"request\":{\"method\":\"");
    add(&w, g[5], gn[5]);
    LIT(&w, "\"");
    if (gn[10] && !is_dash(g[10], gn[10])) {
        LIT(&w, ",\"referrer\":\"");
        add(&w, g[10], gn[10]);
        LIT(&w, "\"");
    }
    LIT(&w, "}");
    if (gn[7]) {
        LIT(&w, ",\"version\":\"");
        add(&w, g[7], gn[7]);
        LIT(&w, "\"");
    }
    LIT(&w, ",\"response\":{\"status_code\":");
    add(&w, g[8], gn[8]);
    if (!is_dash(g[9], gn[9])) {
        LIT(&w, ",\"body\":{\"bytes\":");
        add(&w, g[9], gn[9]);
        LIT(&w, "}");
    }
    LIT(&w, "}}");
    if (gn[11] && !is_dash(g[11], gn[11])) {
        LIT(&w, ",\"user_agent\":{\"original\":\"");
        add(&w, g[11], gn[11]);
        LIT(&w, "\"}");
    }
    LIT(&w, "}");

    PyObject *out = PyBytes_FromStringAndSize(NULL, w.total);
    if (out == NULL) return NULL;
    char *dst = PyBytes_AS_STRING(out);
    for (int i = 0; i < w.count; i++) {
        memcpy(dst, w.p[i], (size_t)w.n[i]);
        dst += w.n[i];
    }
    return out;
}

static PyMethodDef methods[] = {
    {"envelope_tail", (PyCFunction)(void (*)(void))envelope_tail, METH_FASTCALL,
     "envelope_tail(value, mid) -> int: where mid starts before the agent's tail (-1: not there, -2: no such tail)."},
    {"access_doc", (PyCFunction)(void (*)(void))access_doc, METH_FASTCALL,
     "access_doc(groups, value, start, j, day, ingested, plan, ip) -> bytes: the fast path's access document."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_accel", "The parsers' optional C accelerator (see _accel.c).", -1, methods};

PyMODINIT_FUNC PyInit__accel(void) { return PyModule_Create(&module); }
