/* config.h — table-driven configuration.
 *
 * One const table per process (struct ac_cfg_entry[], terminated by an entry
 * with key == NULL) drives defaults, validation, --help and the example
 * config. Sources, later wins: the table's defaults, the config file, the
 * environment. The file holds `key = value` lines; `#` starts a comment at
 * the start of a line or after whitespace in an unquoted value. Whitespace
 * around keys and values is trimmed; a value may be double-quoted (inside,
 * \" and \\ are escapes) to keep spaces or " #". A key set twice in the
 * file is an error. Bools accept true/false, yes/no, on/off, 1/0.
 * Environment: AFTERCARE_<KEY> with the key upper-cased and '.' and '-' as
 * '_' (redis.url -> AFTERCARE_REDIS_URL; kafka.brokers -> AFTERCARE_KAFKA_BROKERS).
 *
 * Keys starting with "kafka." that are not in the table are librdkafka
 * properties and pass through unchanged (kafka.security.protocol=SASL_SSL).
 * Any other unknown key stops start-up with file:line:column. */
#ifndef AC_CONFIG_H
#define AC_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum ac_cfg_type { AC_CFG_STR, AC_CFG_INT, AC_CFG_BOOL, AC_CFG_DOUBLE };

struct ac_cfg_entry {
    const char *key;
    enum ac_cfg_type type;
    const char *def; /* default as text; NULL = required */
    const char *help;
    int64_t min, max; /* for INT (inclusive); ignored when min == max */
};

struct ac_config; /* opaque */

/* Builds a config from table(s): `tables` is an array of n_tables tables
 * (the runtime's common table plus a processor's own); the tables are
 * borrowed and must outlive the config (static const). path may be NULL.
 * Returns NULL and fills errstr ("file:line:column: message") on any error.
 * Caller owns the result: ac_config_destroy(). */
struct ac_config *ac_config_load(const struct ac_cfg_entry *const *tables, size_t n_tables,
                                 const char *path, char *errstr, size_t errlen);
void ac_config_destroy(struct ac_config *cfg);

/* Set a key programmatically (tests, CLI flags); same validation.
 * Returns 0 or AC_ERR_INVALID with errstr filled. */
int ac_config_set(struct ac_config *cfg, const char *key, const char *value, char *errstr,
                  size_t errlen);

/* Getters; key must be in a table and of the getter's type (programmer error
 * otherwise: the process aborts with a message, also under NDEBUG).
 * Strings are borrowed, valid until the config is destroyed or set again. */
/* Applies every "--set KEY=VALUE" pair of argv (other arguments are the
 * caller's). Returns 0, or AC_ERR_INVALID with errstr filled. */
int ac_config_apply_sets(struct ac_config *cfg, int argc, char **argv, char *errstr, size_t errlen);

const char *ac_config_str(const struct ac_config *cfg, const char *key);
int64_t ac_config_int(const struct ac_config *cfg, const char *key);
int ac_config_bool(const struct ac_config *cfg, const char *key);
double ac_config_double(const struct ac_config *cfg, const char *key);

/* Pass-through librdkafka properties: calls fn(name-without-"kafka.", value, opaque)
 * for each, in file order. Stops and returns fn's first non-zero result. */
int ac_config_each_kafka(const struct ac_config *cfg,
                         int (*fn)(const char *name, const char *value, void *opaque),
                         void *opaque);

/* Writes the --help text for the tables (key, type, default, help). */
void ac_config_print_help(const struct ac_cfg_entry *const *tables, size_t n_tables, FILE *out);

#endif
