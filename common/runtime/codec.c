/* codec.c — schema loading, the writer registry, Confluent framing and the
 * binary read/write every other codec file goes through.
 *
 * The struct mapping (ac_event, ac_action, ac_signal) lives in codec_event.c,
 * the JSON conversion in codec_json.c. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_int.h"
#include "err.h"

#define CODEC_SCHEMA_FILE_MAX ((long)1024 * 1024)

static const char *const codec_own_names[CODEC_N_OWN] = {
    "orders", "deliveries", "feedback", "usage", "actions", "signals", "decisions"};

int codec_own_by_name(const char *name)
{
    for (int i = 0; i < CODEC_N_OWN; i++) {
        if (name && strcmp(name, codec_own_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

/* Reads a whole file into a NUL-terminated heap buffer (caller frees). */
static char *codec_slurp(const char *path, size_t *len, char *errstr, size_t errlen)
{
    char *text = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(errstr, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (fseek(f, 0, SEEK_END) != 0) {
        snprintf(errstr, errlen, "%s: cannot seek", path);
        goto out;
    }
    long size = ftell(f);
    if (size < 0 || size > CODEC_SCHEMA_FILE_MAX || fseek(f, 0, SEEK_SET) != 0) {
        snprintf(errstr, errlen, "%s: unreadable or too large", path);
        goto out;
    }
    text = malloc((size_t)size + 1);
    if (!text) {
        snprintf(errstr, errlen, "%s: out of memory", path);
        goto out;
    }
    if (fread(text, 1, (size_t)size, f) != (size_t)size) {
        snprintf(errstr, errlen, "%s: short read", path);
        free(text);
        text = NULL;
        goto out;
    }
    text[size] = '\0';
    *len = (size_t)size;
out:
    if (f) {
        fclose(f);
    }
    return text;
}

static int codec_name_put(json_t *names, const char *name, json_t *def)
{
    return json_object_set(names, name, def);
}

/* Indexes every named type (record, enum, fixed) under its full name and
 * its short name, so the JSON converters can follow references. */
static int codec_index_names(json_t *names, json_t *node, const char *ns)
{
    if (json_is_array(node)) {
        size_t i;
        json_t *branch;
        json_array_foreach(node, i, branch)
        {
            if (codec_index_names(names, branch, ns) != 0) {
                return -1;
            }
        }
        return 0;
    }
    if (!json_is_object(node)) {
        return 0;
    }
    const char *type = json_string_value(json_object_get(node, "type"));
    if (!type) {
        return codec_index_names(names, json_object_get(node, "type"), ns);
    }
    const char *name = json_string_value(json_object_get(node, "name"));
    const char *own_ns = json_string_value(json_object_get(node, "namespace"));
    const char *inner_ns = ns;
    char full[256];
    if (name && (strcmp(type, "record") == 0 || strcmp(type, "enum") == 0 ||
                 strcmp(type, "fixed") == 0 || strcmp(type, "error") == 0)) {
        const char *dot = strrchr(name, '.');
        if (dot) {
            snprintf(full, sizeof(full), "%s", name);
        } else if (own_ns && *own_ns) {
            snprintf(full, sizeof(full), "%s.%s", own_ns, name);
        } else if (ns && *ns) {
            snprintf(full, sizeof(full), "%s.%s", ns, name);
        } else {
            snprintf(full, sizeof(full), "%s", name);
        }
        const char *shortname = strrchr(full, '.');
        if (codec_name_put(names, full, node) != 0 ||
            codec_name_put(names, shortname ? shortname + 1 : full, node) != 0) {
            return -1;
        }
        inner_ns = own_ns ? own_ns : ns;
    }
    if (strcmp(type, "record") == 0 || strcmp(type, "error") == 0) {
        size_t i;
        json_t *field;
        json_array_foreach(json_object_get(node, "fields"), i, field)
        {
            if (codec_index_names(names, json_object_get(field, "type"), inner_ns) != 0) {
                return -1;
            }
        }
    } else if (strcmp(type, "array") == 0) {
        return codec_index_names(names, json_object_get(node, "items"), inner_ns);
    } else if (strcmp(type, "map") == 0) {
        return codec_index_names(names, json_object_get(node, "values"), inner_ns);
    }
    return 0;
}

/* Parses one schema file into w (id already set). */
static int codec_writer_load(struct codec_writer *w, const char *path, char *errstr, size_t errlen)
{
    int rc = AC_ERR_FATAL;
    size_t len = 0;
    json_error_t jerr;
    char *text = codec_slurp(path, &len, errstr, errlen);
    if (!text) {
        goto out;
    }
    if (avro_schema_from_json_length(text, len, &w->schema) != 0) {
        snprintf(errstr, errlen, "%s: %s", path, avro_strerror());
        w->schema = NULL;
        goto out;
    }
    if (!is_avro_record(w->schema)) {
        snprintf(errstr, errlen, "%s: top-level schema is not a record", path);
        goto out;
    }
    w->json = json_loadb(text, len, 0, &jerr);
    w->names = json_object();
    if (!w->json || !w->names || codec_index_names(w->names, w->json, NULL) != 0) {
        snprintf(errstr, errlen, "%s: cannot index schema: %s", path, jerr.text);
        goto out;
    }
    w->iface = avro_generic_class_from_schema(w->schema);
    if (!w->iface || avro_generic_value_new(w->iface, &w->value) != 0) {
        snprintf(errstr, errlen, "%s: %s", path, avro_strerror());
        w->value.self = NULL;
        goto out;
    }
    rc = 0;
out:
    free(text);
    return rc;
}

static void codec_writer_fini(struct codec_writer *w)
{
    for (int i = 0; i < CODEC_N_OWN; i++) {
        if (w->rstate[i] > 0) {
            avro_value_decref(&w->resolved[i]);
        }
        if (w->resolver[i]) {
            avro_value_iface_decref(w->resolver[i]);
        }
    }
    if (w->value.self) {
        avro_value_decref(&w->value);
    }
    if (w->iface) {
        avro_value_iface_decref(w->iface);
    }
    if (w->schema) {
        avro_schema_decref(w->schema);
    }
    json_decref(w->json);
    json_decref(w->names);
    memset(w, 0, sizeof(*w));
}

/* "<digits>.avsc" or "<digits>-<anything>.avsc" -> id; -1 for other names. */
static int64_t codec_registry_id(const char *name)
{
    size_t n = strlen(name);
    if (n < 6 || strcmp(name + n - 5, ".avsc") != 0 || name[0] < '0' || name[0] > '9') {
        return -1;
    }
    char *end = NULL;
    errno = 0;
    long long id = strtoll(name, &end, 10);
    if (errno != 0 || id < 0 || id > INT32_MAX || (*end != '-' && *end != '.')) {
        return -1;
    }
    if (*end == '.' && strcmp(end, ".avsc") != 0) {
        return -1;
    }
    return id;
}

static int codec_writer_cmp(const void *a, const void *b)
{
    const struct codec_writer *wa = a;
    const struct codec_writer *wb = b;
    return (wa->id > wb->id) - (wa->id < wb->id);
}

static int codec_load_registry(struct ac_codec *codec, const char *dir, char *errstr, size_t errlen)
{
    int rc = AC_ERR_FATAL;
    struct dirent *de;
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(errstr, errlen, "%s: %s", dir, strerror(errno));
        goto out;
    }
    while ((de = readdir(d)) != NULL) {
        int64_t id = codec_registry_id(de->d_name);
        if (id < 0) {
            continue;
        }
        if (id <= CODEC_N_OWN) {
            snprintf(errstr, errlen, "%s/%s: schema id %" PRId64 " is reserved", dir, de->d_name,
                     id);
            goto out;
        }
        for (size_t i = 0; i < codec->n_reg; i++) {
            if (codec->reg[i].id == id) {
                snprintf(errstr, errlen, "%s/%s: schema id %" PRId64 " registered twice", dir,
                         de->d_name, id);
                goto out;
            }
        }
        struct codec_writer *grown = realloc(codec->reg, (codec->n_reg + 1) * sizeof(*grown));
        if (!grown) {
            snprintf(errstr, errlen, "out of memory");
            goto out;
        }
        codec->reg = grown;
        struct codec_writer *w = &codec->reg[codec->n_reg++];
        memset(w, 0, sizeof(*w));
        w->id = (int32_t)id;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (codec_writer_load(w, path, errstr, errlen) != 0) {
            goto out;
        }
    }
    if (codec->n_reg > 1) {
        qsort(codec->reg, codec->n_reg, sizeof(*codec->reg), codec_writer_cmp);
    }
    rc = 0;
out:
    if (d) {
        closedir(d);
    }
    return rc;
}

struct ac_codec *ac_codec_new(const char *schema_dir, const char *registry_dir, char *errstr,
                              size_t errlen)
{
    struct ac_codec *codec = NULL;
    int ok = 0;
    codec = calloc(1, sizeof(*codec));
    if (!codec) {
        snprintf(errstr, errlen, "out of memory");
        goto out;
    }
    for (int i = 0; i < CODEC_N_OWN; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s.avsc", schema_dir, codec_own_names[i]);
        codec->own[i].id = i + 1;
        if (codec_writer_load(&codec->own[i], path, errstr, errlen) != 0) {
            goto out;
        }
    }
    if (registry_dir && codec_load_registry(codec, registry_dir, errstr, errlen) != 0) {
        goto out;
    }
    codec->reader = avro_reader_memory("", 0);
    codec->writer = avro_writer_memory("", 0);
    if (!codec->reader || !codec->writer) {
        snprintf(errstr, errlen, "out of memory");
        goto out;
    }
    ok = 1;
out:
    if (!ok) {
        ac_codec_destroy(codec);
        codec = NULL;
    }
    return codec;
}

void ac_codec_destroy(struct ac_codec *codec)
{
    if (!codec) {
        return;
    }
    for (int i = 0; i < CODEC_N_OWN; i++) {
        codec_writer_fini(&codec->own[i]);
    }
    for (size_t i = 0; i < codec->n_reg; i++) {
        codec_writer_fini(&codec->reg[i]);
    }
    free(codec->reg);
    if (codec->reader) {
        avro_reader_free(codec->reader);
    }
    if (codec->writer) {
        avro_writer_free(codec->writer);
    }
    free(codec->wbuf);
    free(codec);
}

static struct codec_writer *codec_writer_get(struct ac_codec *codec, uint32_t id)
{
    if (id >= 1 && id <= CODEC_N_OWN) {
        return &codec->own[id - 1];
    }
    size_t lo = 0;
    size_t hi = codec->n_reg;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((uint32_t)codec->reg[mid].id == id) {
            return &codec->reg[mid];
        }
        if ((uint32_t)codec->reg[mid].id < id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

/* Builds (once) the resolved view of writer w as the project's schema own. */
static int codec_resolver(struct ac_codec *codec, struct codec_writer *w, int own)
{
    struct codec_writer *r = &codec->own[own];
    if (w->rstate[own] != 0) {
        return w->rstate[own] > 0 ? 0 : AC_ERR_INVALID;
    }
    w->rstate[own] = -1;
    /* Same record name, or it is some other contract. */
    if (strcmp(avro_schema_name(w->schema), avro_schema_name(r->schema)) != 0) {
        return AC_ERR_INVALID;
    }
    w->resolver[own] = avro_resolved_reader_new(w->schema, r->schema);
    if (!w->resolver[own]) {
        return AC_ERR_INVALID;
    }
    if (avro_resolved_reader_new_value(w->resolver[own], &w->resolved[own]) != 0) {
        return AC_ERR_NOMEM;
    }
    avro_resolved_reader_set_source(&w->resolved[own], &w->value);
    w->rstate[own] = 1;
    return 0;
}

/* ---- validation ----------------------------------------------------------
 *
 * avro-c 1.11.1 trusts the lengths it reads: a string longer than the
 * bytes left is allocated first and leaked when the read then fails, and
 * block counts are not bounded. So every message is walked once against the
 * writer schema before avro-c reads it: after this check passes, the read
 * cannot run out of bytes. */

static int codec_varint(const unsigned char **p, const unsigned char *end, int64_t *out)
{
    uint64_t u = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end) {
            return -1;
        }
        unsigned char b = *(*p)++;
        u |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
            return 0;
        }
    }
    return -1;
}

static int codec_skip_bytes(const unsigned char **p, const unsigned char *end, int64_t n)
{
    if (n < 0 || n > end - *p) {
        return -1;
    }
    *p += n;
    return 0;
}

static int codec_skip(avro_schema_t s, const unsigned char **p, const unsigned char *end, int depth)
{
    int64_t n = 0;
    if (!s || depth > 32) {
        return -1;
    }
    switch (avro_typeof(s)) {
    case AVRO_NULL: return 0;
    case AVRO_BOOLEAN:
        if (*p >= end || **p > 1) {
            return -1;
        }
        (*p)++;
        return 0;
    case AVRO_INT32:
    case AVRO_INT64: return codec_varint(p, end, &n);
    case AVRO_FLOAT: return codec_skip_bytes(p, end, 4);
    case AVRO_DOUBLE: return codec_skip_bytes(p, end, 8);
    case AVRO_STRING:
    case AVRO_BYTES: return codec_varint(p, end, &n) == 0 ? codec_skip_bytes(p, end, n) : -1;
    case AVRO_FIXED: return codec_skip_bytes(p, end, avro_schema_fixed_size(s));
    case AVRO_ENUM:
        if (codec_varint(p, end, &n) != 0 || n < 0 || n >= avro_schema_enum_number_of_symbols(s)) {
            return -1;
        }
        return 0;
    case AVRO_UNION:
        if (codec_varint(p, end, &n) != 0 || n < 0 || (size_t)n >= avro_schema_union_size(s)) {
            return -1;
        }
        return codec_skip(avro_schema_union_branch(s, (int)n), p, end, depth + 1);
    case AVRO_RECORD:
        for (size_t i = 0; i < avro_schema_record_size(s); i++) {
            if (codec_skip(avro_schema_record_field_get_by_index(s, (int)i), p, end, depth + 1) !=
                0) {
                return -1;
            }
        }
        return 0;
    case AVRO_ARRAY:
    case AVRO_MAP: {
        int is_map = avro_typeof(s) == AVRO_MAP;
        avro_schema_t inner = is_map ? avro_schema_map_values(s) : avro_schema_array_items(s);
        int64_t total = 0;
        for (;;) {
            int64_t size = 0;
            if (codec_varint(p, end, &n) != 0 || n == INT64_MIN) {
                return -1;
            }
            if (n == 0) {
                return 0;
            }
            if (n < 0) {
                n = -n;
                if (codec_varint(p, end, &size) != 0 || size < 0) {
                    return -1;
                }
            }
            /* Checked before adding: a count near INT64_MAX would overflow total. */
            if (n > AC_MAX_MESSAGE_BYTES - total) {
                return -1;
            }
            total += n;
            for (int64_t i = 0; i < n; i++) {
                if ((is_map &&
                     (codec_varint(p, end, &size) != 0 || codec_skip_bytes(p, end, size) != 0)) ||
                    codec_skip(inner, p, end, depth + 1) != 0) {
                    return -1;
                }
            }
        }
    }
    case AVRO_LINK: return codec_skip(avro_schema_link_target(s), p, end, depth + 1);
    default: return -1;
    }
}

/* 0 when buf holds exactly one well-formed datum of schema s. */
static int codec_check(avro_schema_t s, const unsigned char *buf, size_t len)
{
    const unsigned char *p = buf;
    const unsigned char *end = buf + len;
    return codec_skip(s, &p, end, 0) == 0 && p == end ? 0 : -1;
}

int codec_read(struct ac_codec *codec, int own, const void *buf, size_t len, int resolve,
               avro_value_t **view, struct codec_writer **writer, char *reason, size_t rlen)
{
    int rc = AC_ERR_INVALID;
    const unsigned char *p = buf;
    struct codec_writer *w = &codec->own[own];
    avro_value_t *v = &w->value;
    char extra;

    if (len > AC_MAX_MESSAGE_BYTES) {
        snprintf(reason, rlen, "oversize");
        goto out;
    }
    if (len == 0 || !buf) {
        snprintf(reason, rlen, "empty");
        goto out;
    }
    /* A plain record of ours never starts with 0: that would be an empty
     * first string (event_id, action_id, signal_id), which is invalid. */
    if (p[0] == 0) {
        if (len < 5) {
            snprintf(reason, rlen, "undecodable");
            goto out;
        }
        uint32_t id = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
        w = codec_writer_get(codec, id);
        if (!w) {
            snprintf(reason, rlen, "unknown_schema_id:%" PRIu32, id);
            goto out;
        }
        p += 5;
        len -= 5;
        v = &w->value;
        if (resolve && w != &codec->own[own]) {
            int err = codec_resolver(codec, w, own);
            if (err != 0) {
                snprintf(reason, rlen, "incompatible_schema_id:%" PRIu32, id);
                rc = err == AC_ERR_NOMEM ? err : AC_ERR_INVALID;
                goto out;
            }
            v = &w->resolved[own];
        } else if (!resolve &&
                   strcmp(avro_schema_name(w->schema), avro_schema_name(codec->own[own].schema))) {
            snprintf(reason, rlen, "incompatible_schema_id:%" PRIu32, id);
            goto out;
        }
    }
    if (codec_check(w->schema, p, len) != 0) { /* truncated, garbage or trailing bytes */
        snprintf(reason, rlen, "undecodable");
        goto out;
    }
    /* Resetting a resolved view also resets the writer's value under it. */
    avro_value_reset(v);
    avro_reader_memory_set_source(codec->reader, (const char *)p, (int64_t)len);
    if (avro_value_read(codec->reader, &w->value) != 0 ||
        avro_read(codec->reader, &extra, 1) == 0) {
        snprintf(reason, rlen, "undecodable");
        goto out;
    }
    *view = v;
    if (writer) {
        *writer = w;
    }
    rc = 0;
out:
    return rc;
}

int codec_write(struct ac_codec *codec, avro_value_t *value, int32_t frame_id, struct ac_buf *out)
{
    int rc = AC_ERR_INVALID;
    size_t size = 0;
    if (avro_value_sizeof(value, &size) != 0) {
        goto out;
    }
    if (size > codec->wcap) {
        char *p = realloc(codec->wbuf, size);
        if (!p) {
            rc = AC_ERR_NOMEM;
            goto out;
        }
        codec->wbuf = p;
        codec->wcap = size;
    }
    avro_writer_memory_set_dest(codec->writer, codec->wbuf, (int64_t)size);
    if (avro_value_write(codec->writer, value) != 0) {
        goto out;
    }
    if (frame_id > 0) {
        unsigned char hdr[5] = {0, (unsigned char)(frame_id >> 24), (unsigned char)(frame_id >> 16),
                                (unsigned char)(frame_id >> 8), (unsigned char)frame_id};
        if (ac_buf_append(out, hdr, sizeof(hdr)) != 0) {
            rc = AC_ERR_NOMEM;
            goto out;
        }
    }
    if (ac_buf_append(out, codec->wbuf, size) != 0) {
        rc = AC_ERR_NOMEM;
        goto out;
    }
    rc = 0;
out:
    return rc;
}
