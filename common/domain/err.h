/* err.h — error codes shared by every module.
 *
 * Functions return 0 or a negative enum ac_err. Classify at the boundary:
 * transient errors are retried, permanent ones reject the input (DLQ),
 * fatal ones stop the process. */
#ifndef AC_ERR_H
#define AC_ERR_H

enum ac_err {
    AC_OK = 0,
    AC_ERR_INVALID = -1,   /* permanent: bad input, goes to the DLQ */
    AC_ERR_TRANSIENT = -2, /* retry: Redis/Kafka unavailable, timeout */
    AC_ERR_CONFLICT = -3,  /* optimistic concurrency: re-read and retry */
    AC_ERR_FATAL = -4,     /* stop the process: data loss, bad config */
    AC_ERR_NOMEM = -5,
    AC_ERR_NOTFOUND = -6,
    AC_ERR_IO = -7,
};

/* Static string naming the error; never NULL. */
const char *ac_err_str(int err);

#endif
