/*
 * libmicrohttpd front end. The access handler is called once with the
 * headers, then with each piece of the body, then once more with nothing:
 * vmdb answers on that last call (answering on the first call makes
 * 0.9.75 close keep-alive connections). Bodies are buffered up to
 * VMDB_MAX_BODY; the rest is read and dropped so that the client gets an
 * answer instead of a reset.
 */
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "server/server.h"
#include "util/log.h"
#include "util/sb.h"

struct vmdb_http {
    struct MHD_Daemon *d;
    vmdb_engine *e;
    char *swagger_dir;
};

typedef struct conn_ctx {
    vmdb_buf body;
    bool too_big;
} conn_ctx;

typedef struct route {
    const char *path; /* exact path, or action suffix under /api/models/{model}/ */
    bool model;
    const char *method;
    vmdb_handler h;
} route;

static const route routes[] = {
    {"/health", false, "GET", vmdb_h_health},
    {"/api/execute", false, "POST", vmdb_h_execute},
    {"create-batch", true, "POST", vmdb_h_create},
    {"read-batch", true, "POST", vmdb_h_read_batch},
    {"read-latest", true, "POST", vmdb_h_read_latest},
    {"upsert", true, "POST", vmdb_h_upsert},
    {"delete-batch", true, "POST", vmdb_h_delete},
    {"/bootstrap/apply-schema", false, "POST", vmdb_h_apply_schema},
    {"/bootstrap/clear-data", false, "POST", vmdb_h_clear},
    {"/bootstrap/migrate", false, "POST", vmdb_h_migrate},
    {"/bootstrap/repair-roots", false, "POST", vmdb_h_repair},
    {"/bootstrap/schema", false, "GET", vmdb_h_schema},
    {"/api/identity", false, "GET", vmdb_h_identity},
    {"/api/roots/latest", false, "GET", vmdb_h_roots_latest},
    {"/api-docs/openapi.json", false, "GET", NULL},
    {"/swagger-ui", false, "GET", NULL},
};

static enum MHD_Result send_buf(struct MHD_Connection *c, int status, const char *ctype, void *data,
                                size_t len, const char *allow)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(data);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", ctype);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (allow)
        MHD_add_response_header(r, "Allow", allow);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Renders the seed's envelope (plus `code`) and queues it. */
static enum MHD_Result send_answer(struct MHD_Connection *c, vmdb_answer *a, const char *allow)
{
    vmdb_buf out = VMDB_BUF_INIT;
    int rc = 0;
    if (a->bare) {
        out = a->data;
        a->data = (vmdb_buf)VMDB_BUF_INIT;
    } else if (!a->code) {
        rc = vmdb_sb_puts(&out, "{\"success\":true");
        if (rc == 0 && a->data.len) {
            rc = vmdb_sb_puts(&out, ",\"data\":");
            rc = rc ? rc : vmdb_buf_put(&out, a->data.ptr, a->data.len);
        }
        rc = rc ? rc : vmdb_buf_putc(&out, '}');
    } else {
        rc = vmdb_sb_puts(&out, "{\"success\":false,\"code\":");
        rc = rc ? rc : vmdb_sb_jstrz(&out, a->code);
        if (rc == 0 && a->data.len) {
            rc = vmdb_sb_puts(&out, ",\"data\":");
            rc = rc ? rc : vmdb_buf_put(&out, a->data.ptr, a->data.len);
        }
        rc = rc ? rc : vmdb_sb_puts(&out, ",\"error\":");
        rc = rc ? rc : vmdb_sb_jstrz(&out, a->error);
        rc = rc ? rc : vmdb_buf_putc(&out, '}');
    }
    if (rc) {
        vmdb_buf_free(&out);
        return MHD_NO;
    }
    return send_buf(c, a->status ? a->status : 500, "application/json", out.ptr, out.len, allow);
}

static enum MHD_Result send_error(struct MHD_Connection *c, int status, const char *code,
                                  const char *msg, const char *allow)
{
    vmdb_answer a = {0};
    vmdb_answer_fail(&a, status, code, "%s", msg);
    enum MHD_Result r = send_answer(c, &a, allow);
    vmdb_buf_free(&a.data);
    return r;
}

static enum MHD_Result send_copy(struct MHD_Connection *c, const char *ctype, const void *p,
                                 size_t n)
{
    void *m = malloc(n ? n : 1);
    if (!m)
        return MHD_NO;
    memcpy(m, p, n);
    return send_buf(c, 200, ctype, m, n, NULL);
}

static const char swagger_index[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>vmdb API</title>"
    "<link rel=\"stylesheet\" href=\"/swagger-ui/swagger-ui.css\"></head><body>"
    "<div id=\"swagger-ui\"></div><script src=\"/swagger-ui/swagger-ui-bundle.js\"></script>"
    "<script src=\"/swagger-ui/swagger-ui-standalone-preset.js\"></script>"
    "<script>window.ui = SwaggerUIBundle({url: '/api-docs/openapi.json', dom_id: '#swagger-ui', "
    "presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: "
    "'StandaloneLayout'});"
    "</script></body></html>\n";

/* Serves one file of swagger-ui-dist: plain names only, no paths. */
static enum MHD_Result send_asset(struct MHD_Connection *c, const vmdb_http *h, const char *name)
{
    size_t n = strlen(name);
    bool ok = n > 0 && n < 100 && name[0] != '.';
    for (size_t i = 0; ok && i < n; i++)
        ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
             (name[i] >= '0' && name[i] <= '9') || name[i] == '.' || name[i] == '-' ||
             name[i] == '_';
    if (!ok)
        return send_error(c, 404, "ROUTE_NOT_FOUND", "Not found", NULL);
    vmdb_buf path = VMDB_BUF_INIT;
    if (vmdb_sb_printf(&path, "%s/%s", h->swagger_dir, name) || vmdb_sb_cstr(&path)) {
        vmdb_buf_free(&path);
        return MHD_NO;
    }
    int fd = open((const char *)path.ptr, O_RDONLY | O_CLOEXEC);
    vmdb_buf_free(&path);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return send_error(
            c, 404, "ROUTE_NOT_FOUND",
            "Not found (Swagger UI assets come from npm: run `npm ci` in the source tree)", NULL);
    }
    struct MHD_Response *r = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    const char *ct = "application/octet-stream";
    if (n > 3 && !strcmp(name + n - 3, ".js"))
        ct = "text/javascript; charset=utf-8";
    else if (n > 4 && !strcmp(name + n - 4, ".css"))
        ct = "text/css; charset=utf-8";
    else if (n > 5 && !strcmp(name + n - 5, ".html"))
        ct = "text/html; charset=utf-8";
    else if (n > 4 && !strcmp(name + n - 4, ".png"))
        ct = "image/png";
    else if (n > 4 && !strcmp(name + n - 4, ".map"))
        ct = "application/json";
    MHD_add_response_header(r, "Content-Type", ct);
    MHD_add_response_header(r, "Cache-Control", "max-age=3600");
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result dispatch(vmdb_http *h, struct MHD_Connection *c, const char *url,
                                const char *method, conn_ctx *cx)
{
    const route *match = NULL;
    const char *model = NULL;
    char modelbuf[256];
    bool path_known = false;
    if (strncmp(url, "/swagger-ui/", 12) == 0) {
        if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
            return send_error(c, 405, "METHOD_NOT_ALLOWED", "Method not allowed", "GET");
        if (url[12] == 0 || strcmp(url + 12, "index.html") == 0)
            return send_copy(c, "text/html; charset=utf-8", swagger_index,
                             sizeof swagger_index - 1);
        return send_asset(c, h, url + 12);
    }
    if (strncmp(url, "/api/roots/", 11) == 0 && strcmp(url, "/api/roots/latest") != 0) {
        if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
            return send_error(c, 405, "METHOD_NOT_ALLOWED", "Method not allowed", "GET");
        vmdb_req req = {.method = method, .model = url + 11};
        vmdb_answer ans = {0};
        vmdb_h_roots_get(h->e, &req, &ans);
        enum MHD_Result r = send_answer(c, &ans, NULL);
        vmdb_buf_free(&ans.data);
        return r;
    }
    if (strncmp(url, "/api/models/", 12) == 0) {
        const char *seg = url + 12, *slash = strchr(seg, '/');
        if (slash && slash > seg && (size_t)(slash - seg) < sizeof modelbuf) {
            memcpy(modelbuf, seg, (size_t)(slash - seg));
            modelbuf[slash - seg] = 0;
            model = modelbuf;
            for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
                if (routes[i].model && strcmp(slash + 1, routes[i].path) == 0) {
                    path_known = true;
                    if (strcmp(method, routes[i].method) == 0)
                        match = &routes[i];
                    else if (!match)
                        match = NULL;
                }
            if (path_known && !match)
                return send_error(c, 405, "METHOD_NOT_ALLOWED", "Method not allowed", "POST");
        }
    } else {
        for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
            if (!routes[i].model && strcmp(url, routes[i].path) == 0) {
                path_known = true;
                if (strcmp(method, routes[i].method) == 0 ||
                    (strcmp(method, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0))
                    match = &routes[i];
                else
                    return send_error(c, 405, "METHOD_NOT_ALLOWED", "Method not allowed",
                                      routes[i].method);
            }
    }
    if (!match)
        return send_error(c, 404, "ROUTE_NOT_FOUND", "Not found", NULL);
    if (strcmp(match->path, "/api-docs/openapi.json") == 0)
        return send_copy(c, "application/json", vmdb_openapi_json, vmdb_openapi_json_len);
    if (strcmp(match->path, "/swagger-ui") == 0)
        return send_copy(c, "text/html; charset=utf-8", swagger_index, sizeof swagger_index - 1);
    vmdb_req req = {
        .method = method,
        .content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type"),
        .body = cx->body.ptr ? cx->body.ptr : (const uint8_t *)"",
        .body_len = cx->body.len,
        .body_too_big = cx->too_big,
        .model = model,
    };
    vmdb_answer ans = {0};
    match->h(h->e, &req, &ans);
    enum MHD_Result r = send_answer(c, &ans, NULL);
    vmdb_buf_free(&ans.data);
    return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    vmdb_http *h = cls;
    conn_ctx *cx = *con_cls;
    if (!cx) {
        cx = calloc(1, sizeof *cx);
        if (!cx)
            return MHD_NO;
        cx->body.max = VMDB_MAX_BODY;
        *con_cls = cx;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!cx->too_big && vmdb_buf_put(&cx->body, upload, *upload_size) != 0) {
            cx->too_big = true;
            vmdb_buf_free(&cx->body);
        }
        *upload_size = 0;
        return MHD_YES;
    }
    return dispatch(h, c, url, method, cx);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    conn_ctx *cx = *con_cls;
    if (cx) {
        vmdb_buf_free(&cx->body);
        free(cx);
        *con_cls = NULL;
    }
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n')
        line[--n] = 0;
    LOG_WARN("http: %s", line);
}

int vmdb_http_start(vmdb_http **out, const vmdb_http_config *cfg, vmdb_engine *e)
{
    *out = NULL;
    char host[256];
    const char *colon = strrchr(cfg->listen, ':');
    if (!colon || colon == cfg->listen || (size_t)(colon - cfg->listen) >= sizeof host) {
        LOG_ERROR("VMDB_LISTEN must be host:port, got '%s'", cfg->listen);
        return VMDB_EINVAL;
    }
    memcpy(host, cfg->listen, (size_t)(colon - cfg->listen));
    host[colon - cfg->listen] = 0;
    char *hp = host;
    size_t hl = strlen(hp);
    if (hp[0] == '[' && hl > 2 && hp[hl - 1] == ']') {
        hp[hl - 1] = 0;
        hp++;
    }
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    int g = getaddrinfo(hp, colon + 1, &hints, &ai);
    if (g != 0 || !ai) {
        LOG_ERROR("VMDB_LISTEN '%s': %s", cfg->listen, gai_strerror(g));
        return VMDB_EINVAL;
    }
    vmdb_http *h = calloc(1, sizeof *h);
    if (!h) {
        freeaddrinfo(ai);
        return VMDB_ENOMEM;
    }
    h->e = e;
    h->swagger_dir = strdup(cfg->swagger_dir ? cfg->swagger_dir : "node_modules/swagger-ui-dist");
    /* Handlers block (a write waits for its group commit, a read for
     * PostgreSQL), so a connection must not wait behind another one's
     * request. In a pool, connections are spread over the threads by
     * whichever accepts first, and two on one thread take turns: at 32
     * clients on 64 threads about a fifth of them share. One thread per
     * connection avoids that (measured: 15 instead of 12 requests per group
     * commit, 10-25% more writes/s at 32 clients). */
    unsigned flags = MHD_USE_ERROR_LOG | (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    if (cfg->threads == 0)
        h->d = MHD_start_daemon(
            flags | MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL,
            on_request, h, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h, MHD_OPTION_SOCK_ADDR,
            ai->ai_addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_CONNECTION_LIMIT,
            (unsigned)VMDB_HTTP_MAX_CONNECTIONS, MHD_OPTION_END);
    else
        h->d = MHD_start_daemon(
            flags | MHD_USE_EPOLL_INTERNAL_THREAD, 0, NULL, NULL, on_request, h,
            MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
            MHD_OPTION_THREAD_POOL_SIZE, cfg->threads, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_CONNECTION_LIMIT,
            (unsigned)VMDB_HTTP_MAX_CONNECTIONS, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!h->d) {
        LOG_ERROR("cannot listen on %s", cfg->listen);
        free(h->swagger_dir);
        free(h);
        return VMDB_EIO;
    }
    *out = h;
    return 0;
}

void vmdb_http_stop(vmdb_http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->d);
    free(h->swagger_dir);
    free(h);
}
