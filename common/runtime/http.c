/* http.c — /metrics, /healthz and /readyz over libmicrohttpd.
 *
 * We bind and listen on our own socket (so a failure reports the real errno
 * and port 0 can be read back with getsockname) and hand it to MHD, which
 * serves it from an internal polling thread and closes it on stop. */
#include "metrics.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "err.h"
#include "log.h"

#define HTTP_BACKLOG 64
#define HTTP_CONN_LIMIT 64
#define HTTP_CONN_TIMEOUT_S 10

static struct MHD_Daemon *http_daemon;
static atomic_int http_ready;

void ac_metrics_set_ready(int ready)
{
    atomic_store(&http_ready, ready ? 1 : 0);
}

static void http_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n') {
        msg[--n] = '\0';
    }
    AC_WARN("http: %s", msg);
}

static enum MHD_Result http_reply(struct MHD_Connection *conn, unsigned status, const char *body,
                                  size_t len, enum MHD_ResponseMemoryMode mode,
                                  const char *content_type)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)body, mode);
    if (!resp) {
        if (mode == MHD_RESPMEM_MUST_FREE) {
            free((void *)body);
        }
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    }
    enum MHD_Result ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result http_static(struct MHD_Connection *conn, unsigned status, const char *body)
{
    return http_reply(conn, status, body, strlen(body), MHD_RESPMEM_PERSISTENT,
                      "text/plain; charset=utf-8");
}

static enum MHD_Result http_handle(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **req_cls)
{
    (void)cls;
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)req_cls;

    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        return http_static(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
    }
    if (strcmp(url, "/metrics") == 0) {
        char *text = ac_metrics_render();
        if (!text) {
            return http_static(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
        }
        return http_reply(conn, MHD_HTTP_OK, text, strlen(text), MHD_RESPMEM_MUST_FREE,
                          "text/plain; version=0.0.4; charset=utf-8");
    }
    if (strcmp(url, "/healthz") == 0) {
        return http_static(conn, MHD_HTTP_OK, "ok\n");
    }
    if (strcmp(url, "/readyz") == 0) {
        if (atomic_load(&http_ready)) {
            return http_static(conn, MHD_HTTP_OK, "ready\n");
        }
        return http_static(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready\n");
    }
    return http_static(conn, MHD_HTTP_NOT_FOUND, "not found\n");
}

int ac_http_start(const char *bind_addr, int port, int *bound_port, char *errstr, size_t errlen)
{
    int rc = AC_ERR_IO;
    int fd = -1;
    struct addrinfo hints;
    struct addrinfo *ai = NULL;
    char portstr[16];
    char where[128];
    char dummy[8];
    const int one = 1;

    if (!errstr || errlen == 0) {
        errstr = dummy;
        errlen = sizeof(dummy);
    }
    errstr[0] = '\0';
    if (!bind_addr || !*bind_addr) {
        bind_addr = "0.0.0.0";
    } else if (strcmp(bind_addr, "localhost") == 0) {
        bind_addr = "127.0.0.1";
    }
    snprintf(where, sizeof(where), strchr(bind_addr, ':') ? "[%s]:%d" : "%s:%d", bind_addr, port);
    if (http_daemon) {
        snprintf(errstr, errlen, "cannot listen on %s: the HTTP server is already running", where);
        rc = AC_ERR_INVALID;
        goto out;
    }
    if (port < 0 || port > 65535) {
        snprintf(errstr, errlen, "cannot listen on %s: invalid port", where);
        rc = AC_ERR_INVALID;
        goto out;
    }

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV; /* no DNS */
    snprintf(portstr, sizeof(portstr), "%d", port);
    int gai = getaddrinfo(bind_addr, portstr, &hints, &ai);
    if (gai != 0) {
        snprintf(errstr, errlen, "cannot listen on %s: %s", where, gai_strerror(gai));
        rc = AC_ERR_INVALID;
        goto out;
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, HTTP_BACKLOG) != 0) {
        snprintf(errstr, errlen, "cannot listen on %s: %s", where, strerror(errno));
        goto out;
    }

    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sslen) != 0) {
        snprintf(errstr, errlen, "cannot listen on %s: %s", where, strerror(errno));
        goto out;
    }
    int actual = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                          : ntohs(((struct sockaddr_in *)&ss)->sin_port);

    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) {
        flags |= MHD_USE_IPv6;
    }
    http_daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, http_handle, NULL, MHD_OPTION_EXTERNAL_LOGGER, http_log, NULL,
        MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONN_LIMIT,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_CONN_TIMEOUT_S, MHD_OPTION_END);
    if (!http_daemon) {
        snprintf(errstr, errlen, "cannot listen on %s: libmicrohttpd failed to start", where);
        fd = -1; /* MHD may have closed it already: leak rather than double-close */
        goto out;
    }
    fd = -1; /* the daemon owns it now */
    if (bound_port) {
        *bound_port = actual;
    }
    rc = 0;

out:
    if (fd >= 0) {
        close(fd);
    }
    if (ai) {
        freeaddrinfo(ai);
    }
    return rc;
}

void ac_http_stop(void)
{
    if (http_daemon) {
        MHD_stop_daemon(http_daemon);
        http_daemon = NULL;
    }
}
