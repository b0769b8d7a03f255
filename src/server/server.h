/*
 * The HTTP side of vmdb serve: libmicrohttpd with a thread per connection
 * (or a pool), request bodies buffered under a hard cap, routing (http.c);
 * the route handlers that check requests and call the engine (handlers.c);
 * and the rendering of typed results into the seed's JSON envelope
 * (render.c). The only part of vmdb that knows HTTP statuses or builds
 * response JSON; knows nothing of SQL.
 */
#ifndef VMDB_SERVER_SERVER_H
#define VMDB_SERVER_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "server/tls.h"
#include "store/engine.h"
#include "util/arena.h"
#include "vmdb/json.h"

#define VMDB_MAX_BODY ((size_t)2 << 20) /* the seed's 2 MiB limit */
#define VMDB_MAX_IDS 1000

typedef struct vmdb_http vmdb_http;
typedef struct vmdb_auth vmdb_auth;
struct vmdb_access;

/* Open connections at most; more wait in the listen backlog. */
#define VMDB_HTTP_MAX_CONNECTIONS 1024
#define VMDB_HTTP_HEADER_TIMEOUT_DEFAULT 10
/* A body must arrive at least this fast (bytes/s) after its headers, on
 * top of the header timeout, or the connection is closed. */
#define VMDB_HTTP_MIN_BODY_RATE 16384

typedef struct vmdb_http_config {
    const char *listen;      /* host:port */
    unsigned threads;        /* 0: a thread per connection; N: a pool of N epoll threads */
    const char *swagger_dir; /* swagger-ui-dist directory (may not exist) */
    vmdb_tls *tls;           /* NULL: plain HTTP; else HTTPS with its certificate (not owned) */
    vmdb_tls_min tls_min;    /* the lowest TLS version accepted */
    vmdb_auth *auth;         /* API keys (server/auth.h); NULL: every route is open */

    /* Slow and greedy clients (http.c, live_conn). Open connections per
     * client address, 0: no cap; the seconds a request line and headers may
     * take from the connection's start or previous answer, 0: the default. */
    unsigned per_ip_connections;
    unsigned header_timeout_s;
} vmdb_http_config;

/* Starts serving. Errors: VMDB_EINVAL (bad listen address), VMDB_EIO
 * (cannot bind; or TLS asked for and this libmicrohttpd has no TLS),
 * VMDB_ENOMEM. */
int vmdb_http_start(vmdb_http **out, const vmdb_http_config *cfg, vmdb_engine *e);
/* Stops accepting, finishes running requests and frees (accepts NULL). */
void vmdb_http_stop(vmdb_http *h);

/* ---- routes (handlers.c) --------------------------------------------------- */

typedef struct vmdb_req {
    const char *method;
    const char *content_type; /* may be NULL */
    const uint8_t *body;
    size_t body_len;
    bool body_too_big;
    const char *path_param; /* the path's {model} or {seq} segment; NULL for other routes */
    unsigned fault_alloc;   /* test builds: fail the request arena's n-th allocation */
    /* The query string's argument `name` (NULL: absent). */
    const char *(*query)(void *query_ctx, const char *name);
    void *query_ctx;
    /* What the request's API key allows (server/auth.h); NULL: no keys. */
    const struct vmdb_access *access;
    struct vmdb_metrics *metrics; /* the server's HTTP counters (server/metrics.h) */
} vmdb_req;

/* What a route answers: a failure, or `data` (the envelope's data, or the
 * whole body when `bare`). */
typedef struct vmdb_reply {
    vmdb_fail fail;
    vmdb_buf data;
    bool bare;
    const char *content_type; /* a bare success's media type; NULL: application/json */
} vmdb_reply;

/* What every handler gets, prepared by vmdb_route_run from the route's
 * needs and released by it afterwards. */
typedef struct vmdb_route_ctx {
    vmdb_engine *e;
    struct vmdb_metrics *metrics; /* the server's HTTP counters (GET /metrics) */
    const vmdb_req *req;
    vmdb_arena ar;           /* request-scoped: results and parsed input live here */
    vmdb_registry *reg;      /* routes under /api/models/{model}/ */
    const vmdb_model *model; /* likewise */
    vmdb_json_doc *doc;      /* routes with a JSON body */
    const vmdb_json *body;   /* its root */
} vmdb_route_ctx;

/* Fills `out` (data or fail). The return value is 0 or the failure's
 * vmdb_err, per store/result.h's contract. */
typedef int (*vmdb_handler)(vmdb_route_ctx *c, vmdb_reply *out);

/* How a route's body is read before its handler runs. */
typedef enum vmdb_body_mode {
    VMDB_BODY_NONE,    /* no body (GET) */
    VMDB_BODY_JSON,    /* JSON; a wrong content type, size or syntax is the seed's 422 */
    VMDB_BODY_EXECUTE, /* JSON; 415, 413 and 400 as POST /api/execute answers them */
} vmdb_body_mode;

typedef struct vmdb_route {
    const char *path; /* exact path, or the action under /api/models/{model}/ */
    bool model;       /* under /api/models/{model}/: the model is resolved first */
    const char *method;
    vmdb_body_mode body;
    const char *hint; /* the "(expected: ...)" of the 422 text; NULL: none */
    vmdb_handler handler;
} vmdb_route;

extern const vmdb_route vmdb_routes[];
extern const size_t vmdb_nroutes;
/* GET /api/roots/{seq}: matched by prefix. */
extern const vmdb_route vmdb_route_root_by_seq;
extern const vmdb_route vmdb_route_transition; /* /api/roots/{seq}/transition */

/* Prepares the route's context (request arena, model, body), runs its
 * handler, renders the answer into `body` with its HTTP status and media
 * type (*ctype, a static string), and
 * releases the context. 0, or VMDB_ENOMEM / VMDB_ELIMIT when even the
 * envelope could not be rendered (the connection is then dropped). */
int vmdb_route_run(vmdb_engine *e, const vmdb_route *rt, const vmdb_req *req, vmdb_buf *body,
                   int *status, const char **ctype);

/* The OpenAPI document embedded at build time (openapi_data.c). */
extern const unsigned char vmdb_openapi_json[];
extern const size_t vmdb_openapi_json_len;

#endif
