/*
 * vmdb-loadgen: a closed-loop load generator for `vmdb serve` and, as the
 * baseline, for plain PostgreSQL doing the same work at the same concurrency.
 *
 *   vmdb-loadgen http     --url URL --clients N --seconds S --batch B [--model M] [--shape X]
 *   vmdb-loadgen http-read --url URL --clients N --seconds S --batch B --max-id K [--model M]
 *                         [--proof]
 *   vmdb-loadgen pg       --dsn DSN --clients N --seconds S --batch B [--table T] [--prepare]
 *   vmdb-loadgen pg-read  --dsn DSN --clients N --seconds S --batch B --max-id K [--table T]
 * [--prepare] common: [--warmup W] (seconds run before measuring, default 1); http modes:
 * [--curl] (libcurl instead of the raw client below)
 *
 * N threads each own one keep-alive connection (a raw HTTP/1.1 socket, or a
 * curl easy handle with --curl, or a
 * libpq connection) and send the next request as soon as the last one is
 * answered. A request counts when it completes inside the measured window;
 * its latency is sampled. One line is printed:
 *
 *   mode=http clients=32 batch=1 seconds=10 ok=12345 err=0 rps=1234.5 rows_per_s=1234.5 p50_ms=..
 * p99_ms=.. loadgen_cpu_s=..
 *
 * (loadgen_cpu_s: CPU time this process used, warm-up included.)
 * Writes: B records {"owner": <thread>, "n": <counter>, "payload": {"k": "<100 random chars>"}}
 * per request (--shape rows, the default: bench/service.sh's bench_rows), or
 * {"name": "<unique>", "payload": {"k": "<100 random chars>"}, "created_at":
 * "<RFC 3339>"} (--shape agents: bench/bench.sh's table like the seed's
 * agents; the name is unique across runs: a per-process random prefix,
 * the thread and a counter), to POST /api/models/M/create-batch, or in one
 * autocommit INSERT ... VALUES (...),(...) RETURNING row_to_json(T.*) on
 * PostgreSQL (rows shape only).
 * Reads: B random ids in 1..K, POST /api/models/M/read-batch (with --proof:
 * "proof": true, PROTOCOL.md §9), or
 * SELECT row_to_json(t.*) FROM T t WHERE id = ANY($1::int8[]).
 * The PostgreSQL statements are sent unprepared (PQexecParams), as vmdb
 * sends its own; --prepare prepares them once per connection instead.
 */
#include <curl/curl.h>
#include <errno.h>
#include <libpq-fe.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

enum mode { M_HTTP, M_HTTP_READ, M_PG, M_PG_READ };

typedef struct opts {
    enum mode mode;
    const char *mode_name;
    const char *url, *dsn, *model, *table;
    long clients, seconds, warmup, batch, max_id;
    bool prepare, proof, agents;
    bool curl; /* --client curl: libcurl instead of the raw keep-alive client */
} opts;

/* --shape agents: makes the names of this process unique across runs. */
static char name_prefix[24];

/* 0 warm-up, 1 measuring, 2 stop. */
static atomic_int phase;

typedef struct worker {
    pthread_t tid;
    const opts *o;
    int id;
    uint64_t rng;
    long ok, err;
    double *lat; /* ms, measured requests only */
    size_t nlat, caplat;
    char first_error[256];
    bool failed_setup;
} worker;

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static int buf_reserve(buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t nc = b->cap ? b->cap : 1024;
    while (nc < b->len + extra + 1)
        nc *= 2;
    char *np = realloc(b->p, nc);
    if (!np)
        return -1;
    b->p = np;
    b->cap = nc;
    return 0;
}

static int buf_put(buf *b, const char *s, size_t n)
{
    if (buf_reserve(b, n))
        return -1;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

static int buf_puts(buf *b, const char *s)
{
    return buf_put(b, s, strlen(s));
}

static int buf_putl(buf *b, long v)
{
    char t[32];
    int n = snprintf(t, sizeof t, "%ld", v);
    return n < 0 ? -1 : buf_put(b, t, (size_t)n);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rnd(worker *w)
{
    /* xorshift64* */
    uint64_t x = w->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    w->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static void rnd_text(worker *w, char *out, size_t n)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for (size_t i = 0; i < n; i++)
        out[i] = al[rnd(w) % (sizeof al - 1)];
    out[n] = 0;
}

static long rnd_id(worker *w)
{
    return 1 + (long)(rnd(w) % (uint64_t)w->o->max_id);
}

static void note_error(worker *w, const char *fmt_what, const char *detail)
{
    if (w->first_error[0])
        return;
    snprintf(w->first_error, sizeof w->first_error, "%s: %.180s", fmt_what, detail ? detail : "");
    for (char *p = w->first_error; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

/* Counts one finished request (started at t0) if it finished while measuring. */
static void record(worker *w, bool good, double t0)
{
    if (atomic_load_explicit(&phase, memory_order_relaxed) != 1)
        return;
    if (!good) {
        w->err++;
        return;
    }
    w->ok++;
    if (w->nlat == w->caplat) {
        size_t nc = w->caplat ? w->caplat * 2 : 4096;
        double *np = realloc(w->lat, nc * sizeof *np);
        if (!np)
            return;
        w->lat = np;
        w->caplat = nc;
    }
    w->lat[w->nlat++] = (now_s() - t0) * 1e3;
}

/* ---- HTTP ------------------------------------------------------------- */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    buf *b = ud;
    size_t n = size * nmemb;
    return buf_put(b, ptr, n) ? 0 : n;
}

static int http_body(worker *w, buf *body, long *counter)
{
    body->len = 0;
    int rc = 0;
    if (w->o->mode == M_HTTP && w->o->agents) {
        rc = buf_puts(body, "{\"records\":[");
        for (long i = 0; rc == 0 && i < w->o->batch; i++) {
            char k[101];
            rnd_text(w, k, 100);
            rc = buf_puts(body, i ? ",{\"name\":\"" : "{\"name\":\"");
            rc = rc ? rc : buf_puts(body, name_prefix);
            rc = rc ? rc : buf_puts(body, "-");
            rc = rc ? rc : buf_putl(body, w->id);
            rc = rc ? rc : buf_puts(body, "-");
            rc = rc ? rc : buf_putl(body, (*counter)++);
            rc = rc ? rc : buf_puts(body, "\",\"payload\":{\"k\":\"");
            rc = rc ? rc : buf_puts(body, k);
            rc = rc ? rc : buf_puts(body, "\"},\"created_at\":\"2026-12-01T12:00:00Z\"}");
        }
        rc = rc ? rc : buf_puts(body, "]}");
    } else if (w->o->mode == M_HTTP) {
        rc = buf_puts(body, "{\"records\":[");
        for (long i = 0; rc == 0 && i < w->o->batch; i++) {
            char k[101];
            rnd_text(w, k, 100);
            rc = buf_puts(body, i ? ",{\"owner\":" : "{\"owner\":");
            rc = rc ? rc : buf_putl(body, w->id);
            rc = rc ? rc : buf_puts(body, ",\"n\":");
            rc = rc ? rc : buf_putl(body, (*counter)++);
            rc = rc ? rc : buf_puts(body, ",\"payload\":{\"k\":\"");
            rc = rc ? rc : buf_puts(body, k);
            rc = rc ? rc : buf_puts(body, "\"}}");
        }
        rc = rc ? rc : buf_puts(body, "]}");
    } else {
        rc = buf_puts(body, "{\"ids\":[");
        for (long i = 0; rc == 0 && i < w->o->batch; i++) {
            rc = buf_puts(body, i ? ",\"" : "\"");
            rc = rc ? rc : buf_putl(body, rnd_id(w));
            rc = rc ? rc : buf_puts(body, "\"");
        }
        rc = rc ? rc : buf_puts(body, w->o->proof ? "],\"proof\":true}" : "]}");
    }
    return rc;
}

static void *http_worker(void *arg)
{
    worker *w = arg;
    const opts *o = w->o;
    char url[1024];
    snprintf(url, sizeof url, "%s/api/models/%s/%s", o->url, o->model,
             o->mode == M_HTTP ? "create-batch" : "read-batch");
    CURL *c = curl_easy_init();
    struct curl_slist *hdr = NULL;
    hdr = curl_slist_append(hdr, "Content-Type: application/json");
    hdr = curl_slist_append(hdr, "Expect:"); /* no 100-continue round trip */
    buf body = {0}, resp = {0};
    long counter = 0;
    if (!c || !hdr) {
        note_error(w, "setup", "curl_easy_init failed");
        w->failed_setup = true;
        goto out;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
    while (atomic_load_explicit(&phase, memory_order_relaxed) != 2) {
        if (http_body(w, &body, &counter)) {
            note_error(w, "setup", "out of memory");
            w->failed_setup = true;
            break;
        }
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.p);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body.len);
        resp.len = 0;
        if (resp.p)
            resp.p[0] = 0;
        double t0 = now_s();
        CURLcode cr = curl_easy_perform(c);
        long status = 0;
        if (cr == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        bool good = cr == CURLE_OK && status == 200 && resp.p && strstr(resp.p, "\"success\":true");
        if (!good) {
            char what[64];
            snprintf(what, sizeof what, "http status %ld", status);
            note_error(w, cr == CURLE_OK ? what : "curl",
                       cr == CURLE_OK ? resp.p : curl_easy_strerror(cr));
        }
        record(w, good, t0);
        if (cr != CURLE_OK) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL); /* do not spin on a dead server */
        }
    }
out:
    curl_slist_free_all(hdr);
    if (c)
        curl_easy_cleanup(c);
    free(body.p);
    free(resp.p);
    return NULL;
}

/* ---- the raw HTTP/1.1 client -------------------------------------------
 * libcurl costs the load generator 25-30 us of CPU per request, on the same
 * 2 cores that run vmdb and PostgreSQL, where libpq costs pgbench about 9:
 * the baseline would be measured with a lighter client than vmdb. This one
 * does what a keep-alive benchmark client needs and no more: one socket, the
 * request in one send, the answer read by its Content-Length (vmdb answers
 * are never chunked), reconnecting when the server closes. */

typedef struct rawconn {
    struct addrinfo *ai;
    int fd;
    char head[512]; /* the request line and headers up to Content-Length's value */
    size_t headlen;
    buf in;
} rawconn;

static int raw_open(rawconn *rc, const char *url, const char *path)
{
    char host[256], port[16] = "80";
    const char *h = strncmp(url, "http://", 7) == 0 ? url + 7 : url;
    const char *slash = strchr(h, '/');
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    if (hl == 0 || hl >= sizeof host)
        return -1;
    memcpy(host, h, hl);
    host[hl] = 0;
    char *colon = strrchr(host, ':');
    if (colon && !strchr(colon, ']')) {
        snprintf(port, sizeof port, "%s", colon + 1);
        *colon = 0;
    }
    char *hp = host;
    if (hp[0] == '[') {
        hp++;
        hp[strlen(hp) - 1] = 0;
    }
    struct addrinfo hints = {0};
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(hp, port, &hints, &rc->ai) != 0)
        return -1;
    rc->fd = -1;
    int n = snprintf(rc->head, sizeof rc->head,
                     "POST %s HTTP/1.1\r\nHost: %.*s\r\nContent-Type: application/json\r\n"
                     "Content-Length: ",
                     path, (int)hl, h);
    if (n < 0 || (size_t)n >= sizeof rc->head)
        return -1;
    rc->headlen = (size_t)n;
    return 0;
}

static void raw_drop(rawconn *rc)
{
    if (rc->fd >= 0)
        close(rc->fd);
    rc->fd = -1;
}

static void raw_close(rawconn *rc)
{
    raw_drop(rc);
    if (rc->ai)
        freeaddrinfo(rc->ai);
    free(rc->in.p);
}

static int raw_connect(rawconn *rc)
{
    rc->fd = socket(rc->ai->ai_family, rc->ai->ai_socktype | SOCK_CLOEXEC, 0);
    if (rc->fd < 0)
        return -1;
    int one = 1;
    setsockopt(rc->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = {60, 0};
    setsockopt(rc->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(rc->fd, rc->ai->ai_addr, rc->ai->ai_addrlen) != 0) {
        raw_drop(rc);
        return -1;
    }
    return 0;
}

/* Finds header `name` in the head [p, end); its value or NULL. */
static const char *raw_header(const char *p, const char *end, const char *name)
{
    size_t n = strlen(name);
    for (const char *l = p; l < end;) {
        const char *eol = memchr(l, '\n', (size_t)(end - l));
        if (!eol)
            break;
        if ((size_t)(eol - l) > n && strncasecmp(l, name, n) == 0 && l[n] == ':')
            return l + n + 1;
        l = eol + 1;
    }
    return NULL;
}

/* Sends one POST and reads its answer: *status, the body in rc->in (NUL
 * terminated, from offset *body_at). 0, or -1 (the connection is dropped). */
static int raw_post(rawconn *rc, const buf *body, long *status, size_t *body_at)
{
    char cl[32];
    *status = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        bool fresh = rc->fd < 0;
        if (fresh && raw_connect(rc) != 0)
            return -1;
        int cn = snprintf(cl, sizeof cl, "%zu\r\n\r\n", body->len);
        struct iovec iov[3] = {{rc->head, rc->headlen}, {cl, (size_t)cn}, {body->p, body->len}};
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 3};
        size_t want = rc->headlen + (size_t)cn + body->len;
        ssize_t sent = sendmsg(rc->fd, &mh, MSG_NOSIGNAL);
        if (sent != (ssize_t)want) {
            /* Partial sends do not happen at these sizes on loopback; a
             * kept-alive connection the server closed is retried once. */
            raw_drop(rc);
            if (fresh)
                return -1;
            continue;
        }
        rc->in.len = 0;
        size_t head_end = 0, total = 0;
        for (;;) {
            if (buf_reserve(&rc->in, 65536) != 0) {
                raw_drop(rc);
                return -1;
            }
            ssize_t r = recv(rc->fd, rc->in.p + rc->in.len, rc->in.cap - rc->in.len - 1, 0);
            if (r <= 0)
                break;
            rc->in.len += (size_t)r;
            rc->in.p[rc->in.len] = 0;
            if (!head_end) {
                char *e = strstr(rc->in.p, "\r\n\r\n");
                if (!e)
                    continue;
                head_end = (size_t)(e - rc->in.p) + 4;
                const char *v = raw_header(rc->in.p, e + 2, "Content-Length");
                if (!v) {
                    raw_drop(rc);
                    return -1;
                }
                total = head_end + strtoull(v, NULL, 10);
            }
            if (rc->in.len >= total)
                break;
        }
        if (!head_end || rc->in.len < total) {
            raw_drop(rc);
            if (fresh || rc->in.len > 0)
                return -1;
            continue; /* closed while idle: once more on a new connection */
        }
        *status = strtol(rc->in.p + 9, NULL, 10); /* "HTTP/1.1 200" */
        const char *conn = raw_header(rc->in.p, rc->in.p + head_end, "Connection");
        if (conn && strstr(conn, "close"))
            raw_drop(rc);
        *body_at = head_end;
        return 0;
    }
    return -1;
}

static void *raw_worker(void *arg)
{
    worker *w = arg;
    const opts *o = w->o;
    char path[512];
    snprintf(path, sizeof path, "/api/models/%s/%s", o->model,
             o->mode == M_HTTP ? "create-batch" : "read-batch");
    rawconn rc = {.fd = -1};
    buf body = {0};
    long counter = 0;
    if (raw_open(&rc, o->url, path) != 0) {
        note_error(w, "setup", "cannot parse or resolve --url");
        w->failed_setup = true;
        goto out;
    }
    while (atomic_load_explicit(&phase, memory_order_relaxed) != 2) {
        if (http_body(w, &body, &counter)) {
            note_error(w, "setup", "out of memory");
            w->failed_setup = true;
            break;
        }
        double t0 = now_s();
        long status = 0;
        size_t at = 0;
        int rrc = raw_post(&rc, &body, &status, &at);
        const char *resp = rrc == 0 ? rc.in.p + at : "";
        bool good = rrc == 0 && status == 200 && strstr(resp, "\"success\":true");
        if (!good) {
            char what[64];
            snprintf(what, sizeof what, "http status %ld", status);
            note_error(w, rrc == 0 ? what : "connection", rrc == 0 ? resp : strerror(errno));
        }
        record(w, good, t0);
        if (rrc != 0) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL); /* do not spin on a dead server */
        }
    }
out:
    raw_close(&rc);
    free(body.p);
    return NULL;
}

/* ---- PostgreSQL ------------------------------------------------------- */

static int pg_sql(const opts *o, buf *sql)
{
    int rc;
    if (o->mode == M_PG) {
        rc = buf_puts(sql, "INSERT INTO ");
        rc = rc ? rc : buf_puts(sql, o->table);
        rc = rc ? rc : buf_puts(sql, " (owner, n, payload) VALUES ");
        for (long i = 0; rc == 0 && i < o->batch; i++) {
            rc = buf_puts(sql, i ? ",($" : "($");
            rc = rc ? rc : buf_putl(sql, 3 * i + 1);
            rc = rc ? rc : buf_puts(sql, "::int4,$");
            rc = rc ? rc : buf_putl(sql, 3 * i + 2);
            rc = rc ? rc : buf_puts(sql, "::int4,$");
            rc = rc ? rc : buf_putl(sql, 3 * i + 3);
            rc = rc ? rc : buf_puts(sql, "::jsonb)");
        }
        rc = rc ? rc : buf_puts(sql, " RETURNING row_to_json(");
        rc = rc ? rc : buf_puts(sql, o->table);
        rc = rc ? rc : buf_puts(sql, ".*)");
    } else {
        rc = buf_puts(sql, "SELECT row_to_json(t.*) FROM ");
        rc = rc ? rc : buf_puts(sql, o->table);
        rc = rc ? rc : buf_puts(sql, " t WHERE id = ANY($1::int8[])");
    }
    return rc;
}

static void *pg_worker(void *arg)
{
    worker *w = arg;
    const opts *o = w->o;
    buf sql = {0}, vals = {0};
    long nparams = o->mode == M_PG ? 3 * o->batch : 1;
    const char **params = calloc((size_t)nparams, sizeof *params);
    size_t *offs = calloc((size_t)nparams, sizeof *offs);
    long counter = 0;
    PGconn *c = PQconnectdb(o->dsn);
    if (!params || !offs || pg_sql(o, &sql)) {
        note_error(w, "setup", "out of memory");
        w->failed_setup = true;
        goto out;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        note_error(w, "connect", PQerrorMessage(c));
        w->failed_setup = true;
        goto out;
    }
    if (o->prepare) {
        PGresult *r = PQprepare(c, "q", sql.p, (int)nparams, NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            note_error(w, "prepare", PQresultErrorMessage(r));
            w->failed_setup = true;
            PQclear(r);
            goto out;
        }
        PQclear(r);
    }
    while (atomic_load_explicit(&phase, memory_order_relaxed) != 2) {
        /* Parameter texts go into one buffer; pointers are taken after it
         * stops growing. */
        vals.len = 0;
        int rc = 0;
        if (o->mode == M_PG) {
            for (long i = 0; rc == 0 && i < o->batch; i++) {
                char k[101];
                rnd_text(w, k, 100);
                offs[3 * i] = vals.len;
                rc = buf_putl(&vals, w->id);
                rc = rc ? rc : buf_put(&vals, "", 1);
                offs[3 * i + 1] = vals.len;
                rc = rc ? rc : buf_putl(&vals, counter++);
                rc = rc ? rc : buf_put(&vals, "", 1);
                offs[3 * i + 2] = vals.len;
                rc = rc ? rc : buf_puts(&vals, "{\"k\": \"");
                rc = rc ? rc : buf_puts(&vals, k);
                rc = rc ? rc : buf_puts(&vals, "\"}");
                rc = rc ? rc : buf_put(&vals, "", 1);
            }
        } else {
            offs[0] = 0;
            rc = buf_puts(&vals, "{");
            for (long i = 0; rc == 0 && i < o->batch; i++) {
                rc = i ? buf_puts(&vals, ",") : 0;
                rc = rc ? rc : buf_putl(&vals, rnd_id(w));
            }
            rc = rc ? rc : buf_puts(&vals, "}");
        }
        if (rc) {
            note_error(w, "setup", "out of memory");
            w->failed_setup = true;
            break;
        }
        for (long i = 0; i < nparams; i++)
            params[i] = vals.p + offs[i];
        double t0 = now_s();
        PGresult *r = o->prepare
                          ? PQexecPrepared(c, "q", (int)nparams, params, NULL, NULL, 0)
                          : PQexecParams(c, sql.p, (int)nparams, NULL, params, NULL, NULL, 0);
        bool good = PQresultStatus(r) == PGRES_TUPLES_OK;
        if (good) {
            int nt = PQntuples(r);
            good = o->mode == M_PG ? nt == o->batch : nt > 0;
            /* Touch the rows as a client would. */
            size_t total = 0;
            for (int i = 0; i < nt; i++)
                total += (size_t)PQgetlength(r, i, 0);
            if (total == 0)
                good = false;
            if (!good)
                note_error(w, "result", "unexpected row count");
        } else {
            note_error(w, "query", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
        }
        PQclear(r);
        record(w, good, t0);
        if (PQstatus(c) != CONNECTION_OK) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
            PQreset(c);
        }
    }
out:
    PQfinish(c);
    free(params);
    free(offs);
    free(sql.p);
    free(vals.p);
    return NULL;
}

/* ---- main ------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

static void usage(void)
{
    fputs("usage: vmdb-loadgen http|http-read --url URL | pg|pg-read --dsn DSN\n"
          "         --clients N --seconds S --batch B [--max-id K] [--model M] [--table T]\n"
          "         [--warmup W] [--prepare] [--proof] [--shape rows|agents] [--curl]\n",
          stderr);
}

static int parse_long(const char *name, const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || !end || *end || end == s || v < lo || v > hi) {
        fprintf(stderr, "vmdb-loadgen: %s must be an integer in %ld..%ld (got '%s')\n", name, lo,
                hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    opts o = {.model = "bench_rows",
              .table = "bench_rows_pg",
              .clients = 1,
              .seconds = 5,
              .warmup = 1,
              .batch = 1,
              .max_id = 0};
    if (argc < 2) {
        usage();
        return 2;
    }
    o.mode_name = argv[1];
    if (!strcmp(argv[1], "http"))
        o.mode = M_HTTP;
    else if (!strcmp(argv[1], "http-read"))
        o.mode = M_HTTP_READ;
    else if (!strcmp(argv[1], "pg"))
        o.mode = M_PG;
    else if (!strcmp(argv[1], "pg-read"))
        o.mode = M_PG_READ;
    else {
        usage();
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--prepare")) {
            o.prepare = true;
            continue;
        }
        if (!strcmp(a, "--proof")) {
            o.proof = true;
            continue;
        }
        if (!strcmp(a, "--curl")) {
            o.curl = true;
            continue;
        }
        if (i + 1 >= argc) {
            usage();
            return 2;
        }
        const char *v = argv[++i];
        int bad = 0;
        if (!strcmp(a, "--url"))
            o.url = v;
        else if (!strcmp(a, "--dsn"))
            o.dsn = v;
        else if (!strcmp(a, "--model"))
            o.model = v;
        else if (!strcmp(a, "--table"))
            o.table = v;
        else if (!strcmp(a, "--shape") && (!strcmp(v, "rows") || !strcmp(v, "agents")))
            o.agents = !strcmp(v, "agents");
        else if (!strcmp(a, "--clients"))
            bad = parse_long(a, v, 1, 4096, &o.clients);
        else if (!strcmp(a, "--seconds"))
            bad = parse_long(a, v, 1, 86400, &o.seconds);
        else if (!strcmp(a, "--warmup"))
            bad = parse_long(a, v, 0, 3600, &o.warmup);
        else if (!strcmp(a, "--batch"))
            bad = parse_long(a, v, 1, 1000, &o.batch);
        else if (!strcmp(a, "--max-id"))
            bad = parse_long(a, v, 1, LONG_MAX, &o.max_id);
        else {
            usage();
            return 2;
        }
        if (bad)
            return 2;
    }
    bool http = o.mode == M_HTTP || o.mode == M_HTTP_READ;
    bool read = o.mode == M_HTTP_READ || o.mode == M_PG_READ;
    if ((http && !o.url) || (!http && !o.dsn) || (read && o.max_id == 0)) {
        fprintf(stderr, "vmdb-loadgen: %s needs %s%s\n", o.mode_name, http ? "--url" : "--dsn",
                read ? " and --max-id" : "");
        return 2;
    }
    if ((o.agents && o.mode != M_HTTP) || (o.proof && o.mode != M_HTTP_READ)) {
        fputs("vmdb-loadgen: --shape agents goes with http, --proof with http-read\n", stderr);
        return 2;
    }
    /* Identifiers go into SQL text and URLs: keep them plain. */
    for (const char *p = o.table; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) {
            fputs("vmdb-loadgen: --table must be a lower-case identifier\n", stderr);
            return 2;
        }
    for (const char *p = o.model; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_')) {
            fputs("vmdb-loadgen: --model must be an identifier\n", stderr);
            return 2;
        }
    if (http && curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK) {
        fputs("vmdb-loadgen: curl_global_init failed\n", stderr);
        return 1;
    }
    worker *ws = calloc((size_t)o.clients, sizeof *ws);
    if (!ws)
        return 1;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t seed =
        ((uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec) * 0x9E3779B97F4A7C15ULL;
    snprintf(name_prefix, sizeof name_prefix, "lg%016llx", (unsigned long long)seed);
    atomic_store(&phase, o.warmup ? 0 : 1);
    int started = 0;
    for (long i = 0; i < o.clients; i++) {
        ws[i].o = &o;
        ws[i].id = (int)i;
        ws[i].rng = (seed ^ ((uint64_t)(i + 1) * 0xD1B54A32D192ED03ULL)) | 1;
        if (pthread_create(&ws[i].tid, NULL, http ? (o.curl ? http_worker : raw_worker) : pg_worker,
                           &ws[i]) != 0) {
            fprintf(stderr, "vmdb-loadgen: cannot start thread %ld\n", i);
            break;
        }
        started++;
    }
    if (o.warmup) {
        struct timespec ts = {o.warmup, 0};
        nanosleep(&ts, NULL);
        atomic_store(&phase, 1);
    }
    double t0 = now_s();
    struct timespec ts = {o.seconds, 0};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    atomic_store(&phase, 2);
    double elapsed = now_s() - t0;
    long ok = 0, err = 0;
    size_t nlat = 0;
    for (int i = 0; i < started; i++) {
        pthread_join(ws[i].tid, NULL);
        ok += ws[i].ok;
        err += ws[i].err;
        nlat += ws[i].nlat;
    }
    double *all = malloc((nlat ? nlat : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; all && i < started; i++) {
        memcpy(all + k, ws[i].lat, ws[i].nlat * sizeof *all);
        k += ws[i].nlat;
    }
    if (all)
        qsort(all, k, sizeof *all, cmp_double);
    int shown = 0;
    bool setup_failed = false;
    for (int i = 0; i < started; i++) {
        setup_failed |= ws[i].failed_setup;
        if (ws[i].first_error[0] && shown < 3) {
            fprintf(stderr, "vmdb-loadgen: client %d: %s\n", i, ws[i].first_error);
            shown++;
        }
    }
    struct rusage ru;
    double cpu = 0;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
              (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
    printf("mode=%s clients=%ld batch=%ld seconds=%ld ok=%ld err=%ld rps=%.1f rows_per_s=%.1f "
           "p50_ms=%.2f p99_ms=%.2f loadgen_cpu_s=%.3f\n",
           o.mode_name, o.clients, o.batch, o.seconds, ok, err, (double)ok / elapsed,
           (double)ok * (double)o.batch / elapsed, all ? pct(all, k, 0.50) : 0.0,
           all ? pct(all, k, 0.99) : 0.0, cpu);
    fflush(stdout);
    for (int i = 0; i < started; i++)
        free(ws[i].lat);
    free(all);
    free(ws);
    if (http)
        curl_global_cleanup();
    return setup_failed || started < o.clients || ok == 0 ? 1 : 0;
}
