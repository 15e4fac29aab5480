/* The broker's optional C accelerator: checks the record framing inside a v2 batch.
 *
 * Why: Kafka parses every record of a produced batch before it stores it
 * (LogValidator, DefaultRecord.readFrom), so a batch whose CRC is right but whose records
 * are not - a client bug, or a compression library that wrote a broken frame before the
 * CRC was taken - is refused with INVALID_RECORD instead of being stored, where consumers
 * would stall on it for good. Walking a million 100-byte records costs about five seconds in
 * CPython and ~9 ms here; storage/records.py has the same walk in Python (records_problem)
 * for an install without a C compiler, and tests/unit/test_broker_records_check.py holds the
 * two to the same verdicts.
 *
 * check(payload, count) -> None | str
 *   payload  the uncompressed records of one batch (any buffer: bytes, memoryview)
 *   count    the batch's recordsCount
 *   None when payload is exactly `count` well-formed records, else what is wrong.
 * A record: length varint | attributes int8 | timestampDelta varlong | offsetDelta varint |
 *   keyLength varint (-1 = null) | key | valueLength varint (-1 = null) | value |
 *   headerCount varint | (headerKeyLength varint >= 0, key, headerValueLength varint, value)*
 * and it must end exactly where its length says. Varints are zigzag (protobuf) encoded.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

/* Reads a zigzag varint of at most max_bytes bytes at *pos (< end); 0 on success. Most
 * fields of small records fit one byte: that case is inlined. */
static int varint_slow(const unsigned char *b, Py_ssize_t *pos, Py_ssize_t end, int max_bytes, int64_t *out);

static inline int varint(const unsigned char *b, Py_ssize_t *pos, Py_ssize_t end, int max_bytes, int64_t *out) {
    Py_ssize_t p = *pos;
    if (p < end && b[p] < 0x80) {
        unsigned char c = b[p];
        *pos = p + 1;
        *out = (int64_t)(c >> 1) ^ -(int64_t)(c & 1);
        return 0;
    }
    if (p + 1 < end && b[p + 1] < 0x80) { /* two bytes: lengths of records up to 8 KB */
        uint64_t raw = (uint64_t)(b[p] & 0x7F) | ((uint64_t)b[p + 1] << 7);
        *pos = p + 2;
        *out = (int64_t)(raw >> 1) ^ -(int64_t)(raw & 1);
        return 0;
    }
    return varint_slow(b, pos, end, max_bytes, out);
}

static int varint_slow(const unsigned char *b, Py_ssize_t *pos, Py_ssize_t end, int max_bytes, int64_t *out) {
    uint64_t raw = 0;
    int shift = 0;
    for (int i = 0; i < max_bytes; i++) {
        if (*pos >= end)
            return -1;
        unsigned char c = b[(*pos)++];
        raw |= (uint64_t)(c & 0x7F) << shift;
        if (!(c & 0x80)) {
            *out = (int64_t)(raw >> 1) ^ -(int64_t)(raw & 1);
            return 0;
        }
        shift += 7;
    }
    return -1;
}

/* The fields of one record body, b[p:stop): NULL when they add up to exactly that, else the
 * reason. Kept apart from the walk from record to record (check below), whose next position
 * comes from the length varint alone: the CPU can then validate record k while it already
 * walks to k+1, instead of waiting for one long chain of dependent loads. Straight-line
 * code for key and value and a shortcut for a record without headers halve the time
 * (15 -> 9 ms per million 100-byte records). */
static const char *record_body(const unsigned char *b, Py_ssize_t p, Py_ssize_t stop) {
    int64_t v, n;
    if (p >= stop)
        return "a record is too short for its attributes";
    p++; /* attributes */
    if (varint(b, &p, stop, 10, &v))
        return "a record's timestamp delta is not a valid varint";
    if (varint(b, &p, stop, 5, &v))
        return "a record's offset delta is not a valid varint";
    if (varint(b, &p, stop, 5, &n) || n < -1 || n > stop - p)
        return "a record's key length does not fit the record";
    p += n > 0 ? (Py_ssize_t)n : 0;
    if (varint(b, &p, stop, 5, &n) || n < -1 || n > stop - p)
        return "a record's value length does not fit the record";
    p += n > 0 ? (Py_ssize_t)n : 0;
    if (__builtin_expect(p + 1 == stop && b[p] == 0, 1)) /* no headers: how most records end */
        return NULL;
    if (varint(b, &p, stop, 5, &n) || n < 0)
        return "a record's header count is not valid";
    for (int64_t h = 0; h < n; h++) {
        int64_t k;
        if (varint(b, &p, stop, 5, &k) || k < 0 || k > stop - p)
            return "a record header's key length does not fit the record";
        p += (Py_ssize_t)k;
        if (varint(b, &p, stop, 5, &k) || k < -1 || k > stop - p)
            return "a record header's value length does not fit the record";
        if (k > 0)
            p += (Py_ssize_t)k;
    }
    if (p != stop)
        return "a record's fields do not add up to its length";
    return NULL;
}

/* NULL when the record at *pos is well formed (and *pos moves past it), else the reason. */
static inline const char *one_record(const unsigned char *b, Py_ssize_t *pos, Py_ssize_t end) {
    int64_t length;
    if (varint(b, pos, end, 5, &length) || length < 0)
        return "a record's length is not a valid varint";
    if (length > end - *pos)
        return "a record runs past the end of its batch";
    Py_ssize_t body = *pos;
    *pos += (Py_ssize_t)length;
    return record_body(b, body, *pos);
}

static PyObject *check(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "check(payload, count) takes 2 arguments");
        return NULL;
    }
    long long count = PyLong_AsLongLong(args[1]);
    if (count == -1 && PyErr_Occurred())
        return NULL;
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    const unsigned char *b = (const unsigned char *)view.buf;
    Py_ssize_t pos = 0, end = view.len;
    const char *why = NULL;
    Py_BEGIN_ALLOW_THREADS
    for (long long i = 0; i < count && !why; i++)
        why = one_record(b, &pos, end);
    if (!why && pos != end)
        why = count < 0 ? "a negative record count" : "bytes left over after the batch's last record";
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    if (why)
        return PyUnicode_FromString(why);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"check", (PyCFunction)(void (*)(void))check, METH_FASTCALL,
     "check(payload, count) -> None | str: whether payload is exactly count well-formed v2 records."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_records", "The broker's optional C accelerator (see _records.c).", -1, methods};

PyMODINIT_FUNC PyInit__records(void) { return PyModule_Create(&module); }
