/* codec_json.c — JSON lines to Avro and back, driven by the schema text.
 *
 * Both directions walk the parsed schema (jansson) beside the avro value, so
 * they know what avro-c does not keep: logical types. A timestamp-millis
 * long is an ISO-8601 string in JSON ("2026-01-03T10:00:00.000Z"); on input
 * epoch milliseconds are accepted as well. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_int.h"
#include "err.h"

#define JSON_MS_PER_DAY INT64_C(86400000)

struct jctx {
    struct codec_writer *w; /* its `names` resolve type references */
    char path[256];         /* the field being converted: "items[2].quantity" */
    size_t plen;
    char *err;
    size_t errlen;
};

/* ---- ISO-8601 ------------------------------------------------------------ */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t json_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void json_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* n decimal digits at s; -1 if any is not a digit. */
static int json_digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* "YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM|±HHMM]" -> epoch ms. Digits past
 * milliseconds are truncated. Returns 0 or -1. */
static int json_parse_iso(const char *s, int64_t *ms)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (strnlen(s, 20) < 20) { /* the fixed part and at least a 'Z' */
        return -1;
    }
    int y = json_digits(s, 4);
    if (y < 0 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
        s[16] != ':') {
        return -1;
    }
    int mo = json_digits(s + 5, 2);
    int d = json_digits(s + 8, 2);
    int h = json_digits(s + 11, 2);
    int mi = json_digits(s + 14, 2);
    int sec = json_digits(s + 17, 2);
    if (mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59) {
        return -1;
    }
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] + (mo == 2 && leap)) {
        return -1;
    }
    const char *p = s + 19;
    int frac = 0;
    if (*p == '.' || *p == ',') {
        int n = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, n++) {
            if (n < 3) {
                frac = frac * 10 + (*p - '0');
            }
        }
        if (n == 0) {
            return -1;
        }
        for (; n < 3; n++) {
            frac *= 10;
        }
    }
    int64_t offset_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        int oh = json_digits(p + 1, 2);
        int om = -1;
        if (oh >= 0 && p[3] == ':') {
            om = json_digits(p + 4, 2);
            p += 6;
        } else if (oh >= 0) {
            om = json_digits(p + 3, 2);
            p += 5;
        }
        if (oh < 0 || oh > 23 || om < 0 || om > 59) {
            return -1;
        }
        offset_min = sign * (oh * 60 + om);
    } else {
        return -1; /* a zone is required: no guessing local time */
    }
    if (*p != '\0') {
        return -1;
    }
    int64_t secs = json_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    *ms = (secs - offset_min * 60) * 1000 + frac;
    return 0;
}

/* Years 0000..9999: what json_parse_iso() reads back. */
#define JSON_ISO_MIN_MS INT64_C(-62167219200000) /* 0000-01-01T00:00:00.000Z */
#define JSON_ISO_MAX_MS INT64_C(253402300799999) /* 9999-12-31T23:59:59.999Z */

/* ms as an ISO-8601 string, or as the plain epoch-ms number when its year
 * has no four-digit form: the output always converts back (found by
 * tests/fuzz/fuzz_json_avro.c: year 2806274 did not). */
static int json_format_iso(struct ac_buf *out, int64_t ms)
{
    if (ms < JSON_ISO_MIN_MS || ms > JSON_ISO_MAX_MS) {
        return ac_buf_printf(out, "%" PRId64, ms);
    }
    int64_t days = ms / JSON_MS_PER_DAY;
    int64_t rem = ms % JSON_MS_PER_DAY;
    if (rem < 0) {
        rem += JSON_MS_PER_DAY;
        days--;
    }
    int64_t y;
    int m;
    int d;
    json_civil_from_days(days, &y, &m, &d);
    return ac_buf_printf(out, "\"%04" PRId64 "-%02d-%02dT%02d:%02d:%02d.%03dZ\"", y, m, d,
                         (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
                         (int)(rem % 1000));
}

/* ---- schema walking ------------------------------------------------------- */

static int json_fail(struct jctx *c, const char *msg)
{
    if (c->plen) {
        snprintf(c->err, c->errlen, "%s: %s", c->path, msg);
    } else {
        snprintf(c->err, c->errlen, "%s", msg);
    }
    return AC_ERR_INVALID;
}

static size_t json_path_push(struct jctx *c, const char *fmt_dot, const char *name, size_t index)
{
    size_t saved = c->plen;
    size_t room = sizeof(c->path) - c->plen;
    int n = name ? snprintf(c->path + c->plen, room, "%s%s", c->plen ? fmt_dot : "", name)
                 : snprintf(c->path + c->plen, room, "[%zu]", index);
    if (n > 0) {
        c->plen = (size_t)n < room ? c->plen + (size_t)n : sizeof(c->path) - 1;
    }
    return saved;
}

static void json_path_pop(struct jctx *c, size_t saved)
{
    c->plen = saved;
    c->path[saved] = '\0';
}

static int json_is_primitive(const char *t)
{
    static const char *const prims[] = {"null",  "boolean", "int",   "long",
                                        "float", "double",  "bytes", "string"};
    for (size_t i = 0; i < sizeof(prims) / sizeof(prims[0]); i++) {
        if (strcmp(t, prims[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Follows name references and {"type": {...}} wrappers to a definition:
 * a primitive name (string), a union (array) or a complex type (object). */
static json_t *json_norm(struct jctx *c, json_t *node)
{
    for (int depth = 0; node && depth < 16; depth++) {
        if (json_is_string(node)) {
            const char *t = json_string_value(node);
            if (json_is_primitive(t)) {
                return node;
            }
            node = json_object_get(c->w->names, t);
        } else if (json_is_object(node) && !json_is_string(json_object_get(node, "type"))) {
            node = json_object_get(node, "type");
        } else {
            return node;
        }
    }
    return NULL;
}

/* "union", a primitive name or a complex type name; "" if unknown. */
static const char *json_kind(json_t *node)
{
    if (json_is_array(node)) {
        return "union";
    }
    if (json_is_string(node)) {
        return json_string_value(node);
    }
    const char *t = json_string_value(json_object_get(node, "type"));
    return t ? t : "";
}

static int json_is_timestamp(json_t *node)
{
    const char *lt = json_string_value(json_object_get(node, "logicalType"));
    return lt && (strcmp(lt, "timestamp-millis") == 0 || strcmp(lt, "local-timestamp-millis") == 0);
}

static int json_enum_index(json_t *node, const char *sym)
{
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(node, "symbols"), i, s)
    {
        if (strcmp(json_string_value(s) ? json_string_value(s) : "", sym) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* Whether JSON value jv can be a value of schema node (a union branch). */
static int json_fits(struct jctx *c, json_t *node, json_t *jv)
{
    node = json_norm(c, node);
    const char *k = node ? json_kind(node) : "";
    if (strcmp(k, "null") == 0) {
        return json_is_null(jv);
    }
    if (strcmp(k, "boolean") == 0) {
        return json_is_boolean(jv);
    }
    if (strcmp(k, "int") == 0 || strcmp(k, "long") == 0) {
        return json_is_integer(jv) || (json_is_string(jv) && json_is_timestamp(node));
    }
    if (strcmp(k, "float") == 0 || strcmp(k, "double") == 0) {
        return json_is_number(jv);
    }
    if (strcmp(k, "string") == 0 || strcmp(k, "bytes") == 0) {
        return json_is_string(jv);
    }
    if (strcmp(k, "enum") == 0) {
        return json_is_string(jv) && json_enum_index(node, json_string_value(jv)) >= 0;
    }
    if (strcmp(k, "array") == 0) {
        return json_is_array(jv);
    }
    return (strcmp(k, "map") == 0 || strcmp(k, "record") == 0) && json_is_object(jv);
}

static int json_union_has_null(struct jctx *c, json_t *node)
{
    size_t i;
    json_t *branch;
    if (!json_is_array(node)) {
        return 0;
    }
    json_array_foreach(node, i, branch)
    {
        json_t *b = json_norm(c, branch);
        if (b && strcmp(json_kind(b), "null") == 0) {
            return 1;
        }
    }
    return 0;
}

/* ---- JSON -> Avro ------------------------------------------------------------- */

static int json_to_value(struct jctx *c, json_t *node, json_t *jv, avro_value_t *val);

static int json_to_record(struct jctx *c, json_t *node, json_t *jv, avro_value_t *val)
{
    size_t i;
    json_t *field;
    const char *key;
    json_t *unused;
    if (!json_is_object(jv)) {
        return json_fail(c, "expected object");
    }
    json_array_foreach(json_object_get(node, "fields"), i, field)
    {
        const char *name = json_string_value(json_object_get(field, "name"));
        json_t *ftype = json_object_get(field, "type");
        json_t *fv = name ? json_object_get(jv, name) : NULL;
        avro_value_t child;
        if (!name || avro_value_get_by_index(val, i, &child, NULL) != 0) {
            return json_fail(c, "schema and value disagree");
        }
        size_t saved = json_path_push(c, ".", name, 0);
        if (!fv) {
            fv = json_object_get(field, "default");
        }
        if (!fv && json_union_has_null(c, json_norm(c, ftype))) {
            fv = json_null();
        }
        int rc = fv ? json_to_value(c, ftype, fv, &child) : json_fail(c, "missing required field");
        if (rc != 0) {
            return rc;
        }
        json_path_pop(c, saved);
    }
    json_object_foreach(jv, key, unused)
    {
        int known = 0;
        json_array_foreach(json_object_get(node, "fields"), i, field)
        {
            if (strcmp(json_string_value(json_object_get(field, "name")), key) == 0) {
                known = 1;
                break;
            }
        }
        if (!known) {
            char msg[160];
            snprintf(msg, sizeof(msg), "unknown field '%s'", key);
            return json_fail(c, msg);
        }
    }
    return 0;
}

static int json_to_union(struct jctx *c, json_t *node, json_t *jv, avro_value_t *val)
{
    size_t i;
    json_t *branch;
    char msg[160] = "expected";
    json_array_foreach(node, i, branch)
    {
        if (json_fits(c, branch, jv)) {
            avro_value_t b;
            if (avro_value_set_branch(val, (int)i, &b) != 0) {
                return json_fail(c, "cannot select union branch");
            }
            return json_to_value(c, branch, jv, &b);
        }
    }
    json_array_foreach(node, i, branch)
    {
        size_t n = strlen(msg);
        snprintf(msg + n, sizeof(msg) - n, "%s %s", i ? " or" : "",
                 json_kind(json_norm(c, branch)));
    }
    return json_fail(c, msg);
}

static int json_to_long(struct jctx *c, json_t *node, json_t *jv, avro_value_t *val, int is_int)
{
    int64_t x;
    if (json_is_string(jv) && json_is_timestamp(node)) {
        if (json_parse_iso(json_string_value(jv), &x) != 0) {
            return json_fail(c, "expected ISO-8601 timestamp (2026-01-03T10:00:00Z) or epoch ms");
        }
    } else if (json_is_integer(jv)) {
        x = (int64_t)json_integer_value(jv);
    } else {
        return json_fail(c, json_is_timestamp(node) ? "expected ISO-8601 timestamp or epoch ms"
                                                    : "expected integer");
    }
    if (is_int) {
        if (x < INT32_MIN || x > INT32_MAX) {
            return json_fail(c, "integer out of range for int");
        }
        return avro_value_set_int(val, (int32_t)x) ? json_fail(c, "cannot set int") : 0;
    }
    return avro_value_set_long(val, x) ? json_fail(c, "cannot set long") : 0;
}

static int json_to_value(struct jctx *c, json_t *node, json_t *jv, avro_value_t *val)
{
    node = json_norm(c, node);
    const char *k = node ? json_kind(node) : "";
    int err = 0;
    if (strcmp(k, "union") == 0) {
        return json_to_union(c, node, jv, val);
    }
    if (strcmp(k, "record") == 0 || strcmp(k, "error") == 0) {
        return json_to_record(c, node, jv, val);
    }
    if (strcmp(k, "int") == 0 || strcmp(k, "long") == 0) {
        return json_to_long(c, node, jv, val, k[0] == 'i');
    }
    if (strcmp(k, "null") == 0) {
        return json_is_null(jv) ? avro_value_set_null(val) : json_fail(c, "expected null");
    }
    if (strcmp(k, "boolean") == 0) {
        if (!json_is_boolean(jv)) {
            return json_fail(c, "expected true or false");
        }
        err = avro_value_set_boolean(val, json_is_true(jv));
    } else if (strcmp(k, "float") == 0 || strcmp(k, "double") == 0) {
        if (!json_is_number(jv)) {
            return json_fail(c, "expected number");
        }
        double x = json_number_value(jv);
        err = k[0] == 'f' ? avro_value_set_float(val, (float)x) : avro_value_set_double(val, x);
    } else if (strcmp(k, "string") == 0 || strcmp(k, "bytes") == 0) {
        if (!json_is_string(jv)) {
            return json_fail(c, "expected string");
        }
        size_t n = json_string_length(jv);
        err = k[0] == 's' ? avro_value_set_string_len(val, json_string_value(jv), n + 1)
                          : avro_value_set_bytes(val, (void *)json_string_value(jv), n);
    } else if (strcmp(k, "enum") == 0) {
        int idx = json_is_string(jv) ? json_enum_index(node, json_string_value(jv)) : -1;
        if (idx < 0) {
            char msg[160];
            snprintf(msg, sizeof(msg), "expected one of the symbols of %s",
                     json_string_value(json_object_get(node, "name")));
            return json_fail(c, msg);
        }
        err = avro_value_set_enum(val, idx);
    } else if (strcmp(k, "array") == 0) {
        size_t i;
        json_t *e;
        if (!json_is_array(jv)) {
            return json_fail(c, "expected array");
        }
        json_array_foreach(jv, i, e)
        {
            avro_value_t child;
            if (avro_value_append(val, &child, NULL) != 0) {
                return json_fail(c, "cannot append");
            }
            size_t saved = json_path_push(c, "", NULL, i);
            int rc = json_to_value(c, json_object_get(node, "items"), e, &child);
            if (rc != 0) {
                return rc;
            }
            json_path_pop(c, saved);
        }
    } else if (strcmp(k, "map") == 0) {
        const char *key;
        json_t *e;
        if (!json_is_object(jv)) {
            return json_fail(c, "expected object");
        }
        json_object_foreach(jv, key, e)
        {
            avro_value_t child;
            if (avro_value_add(val, key, &child, NULL, NULL) != 0) {
                return json_fail(c, "cannot add map entry");
            }
            size_t saved = json_path_push(c, ".", key, 0);
            int rc = json_to_value(c, json_object_get(node, "values"), e, &child);
            if (rc != 0) {
                return rc;
            }
            json_path_pop(c, saved);
        }
    } else {
        return json_fail(c, "unsupported schema type");
    }
    return err ? json_fail(c, "cannot set value") : 0;
}

int ac_codec_json_to_avro(struct ac_codec *codec, const char *name, const char *json,
                          struct ac_buf *out, char *err, size_t errlen)
{
    int rc = AC_ERR_INVALID;
    json_error_t jerr;
    json_t *root = NULL;
    int own = codec_own_by_name(name);
    struct jctx c = {.err = err, .errlen = errlen};

    if (own < 0) {
        snprintf(err, errlen, "unknown schema '%s'", name ? name : "(null)");
        goto out;
    }
    root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(err, errlen, "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column,
                 jerr.text);
        goto out;
    }
    if (!json_is_object(root)) {
        snprintf(err, errlen, "expected a JSON object");
        goto out;
    }
    c.w = &codec->own[own];
    avro_value_reset(&c.w->value);
    rc = json_to_value(&c, c.w->json, root, &c.w->value);
    if (rc != 0) {
        goto out;
    }
    rc = codec_write(codec, &c.w->value, own + 1, out);
    if (rc != 0) {
        snprintf(err, errlen, "cannot encode: %s", ac_err_str(rc));
    }
out:
    json_decref(root);
    return rc;
}

/* ---- Avro -> JSON ------------------------------------------------------------- */

static int json_put_double(struct ac_buf *out, double x)
{
    char tmp[40];
    if (!isfinite(x)) {
        return ac_buf_append(out, "null", 4); /* JSON has no NaN or infinity */
    }
    if (fpclassify(x) == FP_ZERO && signbit(x)) {
        /* "-0" reads back as the integer 0: keep the sign (found by fuzzing) */
        return ac_buf_append(out, "-0.0", 4);
    }
    for (int prec = 15; prec <= 17; prec++) { /* the shortest text that reads back */
        snprintf(tmp, sizeof(tmp), "%.*g", prec, x);
        double back = strtod(tmp, NULL);
        if (memcmp(&back, &x, sizeof(x)) == 0) {
            break;
        }
    }
    return ac_buf_printf(out, "%s", tmp);
}

/* Avro's JSON encoding of bytes: a string of one code point per byte
 * (U+0000..U+00FF), written as UTF-8 and escaped by jansson. */
static int json_put_bytes(struct ac_buf *out, const unsigned char *p, size_t n)
{
    char *text = malloc(n * 2 + 1);
    size_t len = 0;
    if (!text) {
        return AC_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] < 0x80) {
            text[len++] = (char)p[i];
        } else {
            text[len++] = (char)(0xc0 | p[i] >> 6);
            text[len++] = (char)(0x80 | (p[i] & 0x3f));
        }
    }
    int rc = ac_buf_json_strn(out, text, len);
    free(text);
    return rc;
}

static int json_from_value(struct jctx *c, json_t *node, avro_value_t *val, struct ac_buf *out)
{
    node = json_norm(c, node);
    const char *k = node ? json_kind(node) : "";
    int rc = 0;
    if (strcmp(k, "union") == 0) {
        int disc = -1;
        avro_value_t b;
        if (avro_value_get_discriminant(val, &disc) != 0 ||
            avro_value_get_current_branch(val, &b) != 0) {
            return json_fail(c, "union without a branch");
        }
        return json_from_value(c, json_array_get(node, (size_t)disc), &b, out);
    }
    if (strcmp(k, "record") == 0 || strcmp(k, "error") == 0) {
        size_t i;
        json_t *field;
        rc = ac_buf_append(out, "{", 1);
        json_array_foreach(json_object_get(node, "fields"), i, field)
        {
            avro_value_t child;
            const char *name = json_string_value(json_object_get(field, "name"));
            if (!name || avro_value_get_by_index(val, i, &child, NULL) != 0) {
                return json_fail(c, "schema and value disagree");
            }
            if ((i && ac_buf_append(out, ",", 1)) || ac_buf_json_str(out, name) ||
                ac_buf_append(out, ":", 1)) {
                return AC_ERR_NOMEM;
            }
            size_t saved = json_path_push(c, ".", name, 0);
            if ((rc = json_from_value(c, json_object_get(field, "type"), &child, out)) != 0) {
                return rc;
            }
            json_path_pop(c, saved);
        }
        return rc ? rc : ac_buf_append(out, "}", 1);
    }
    if (strcmp(k, "array") == 0 || strcmp(k, "map") == 0) {
        size_t n = 0;
        int is_map = k[0] == 'm';
        json_t *inner = json_object_get(node, is_map ? "values" : "items");
        if (avro_value_get_size(val, &n) != 0 || ac_buf_append(out, is_map ? "{" : "[", 1)) {
            return json_fail(c, "cannot read container");
        }
        for (size_t i = 0; i < n; i++) {
            avro_value_t child;
            const char *key = NULL;
            if (avro_value_get_by_index(val, i, &child, &key) != 0 ||
                (i && ac_buf_append(out, ",", 1)) ||
                (is_map && (ac_buf_json_str(out, key ? key : "") || ac_buf_append(out, ":", 1))) ||
                (rc = json_from_value(c, inner, &child, out)) != 0) {
                return rc ? rc : json_fail(c, "cannot read container");
            }
        }
        return ac_buf_append(out, is_map ? "}" : "]", 1);
    }
    if (strcmp(k, "null") == 0) {
        return ac_buf_append(out, "null", 4);
    }
    if (strcmp(k, "boolean") == 0) {
        int b = 0;
        rc = avro_value_get_boolean(val, &b);
        return rc ? json_fail(c, "bad boolean") : ac_buf_printf(out, "%s", b ? "true" : "false");
    }
    if (strcmp(k, "int") == 0) {
        int32_t x = 0;
        rc = avro_value_get_int(val, &x);
        return rc ? json_fail(c, "bad int") : ac_buf_printf(out, "%" PRId32, x);
    }
    if (strcmp(k, "long") == 0) {
        int64_t x = 0;
        if (avro_value_get_long(val, &x) != 0) {
            return json_fail(c, "bad long");
        }
        return json_is_timestamp(node) ? json_format_iso(out, x)
                                       : ac_buf_printf(out, "%" PRId64, x);
    }
    if (strcmp(k, "float") == 0 || strcmp(k, "double") == 0) {
        double x = 0;
        float f = 0;
        rc = k[0] == 'f' ? avro_value_get_float(val, &f) : avro_value_get_double(val, &x);
        return rc ? json_fail(c, "bad number") : json_put_double(out, k[0] == 'f' ? (double)f : x);
    }
    if (strcmp(k, "string") == 0) {
        const char *s = NULL;
        size_t size = 0;
        rc = avro_value_get_string(val, &s, &size);
        if (rc != 0) {
            return json_fail(c, "bad string");
        }
        /* size counts avro-c's NUL; NULs inside are kept (as \u0000) */
        return ac_buf_json_strn(out, s, s && size ? size - 1 : 0);
    }
    if (strcmp(k, "bytes") == 0) {
        const void *p = NULL;
        size_t size = 0;
        if (avro_value_get_bytes(val, &p, &size) != 0) {
            return json_fail(c, "bad bytes");
        }
        return json_put_bytes(out, p, size);
    }
    if (strcmp(k, "enum") == 0) {
        int idx = -1;
        const char *sym = NULL;
        if (avro_value_get_enum(val, &idx) == 0 && idx >= 0) {
            sym = json_string_value(json_array_get(json_object_get(node, "symbols"), (size_t)idx));
        }
        return sym ? ac_buf_json_str(out, sym) : json_fail(c, "enum index out of range");
    }
    return json_fail(c, "unsupported schema type");
}

int ac_codec_avro_to_json(struct ac_codec *codec, const char *name, const void *buf, size_t len,
                          struct ac_buf *json, char *err, size_t errlen)
{
    int rc = AC_ERR_INVALID;
    avro_value_t *v = NULL;
    struct codec_writer *w = NULL;
    size_t start = json->len;
    int own = codec_own_by_name(name);
    struct jctx c = {.err = err, .errlen = errlen};

    if (own < 0) {
        snprintf(err, errlen, "unknown schema '%s'", name ? name : "(null)");
        goto out;
    }
    /* Rendered with the writer's own schema: a newer writer's extra fields
     * are shown, not dropped. */
    rc = codec_read(codec, own, buf, len, 0, &v, &w, err, errlen);
    if (rc != 0) {
        goto out;
    }
    c.w = w;
    rc = json_from_value(&c, w->json, v, json);
out:
    if (rc != 0 && json->data) {
        json->len = start;
        json->data[start] = '\0';
    }
    return rc;
}
