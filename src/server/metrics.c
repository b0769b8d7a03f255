/*
 * Prometheus metrics (server/metrics.h). Every counter is a relaxed atomic
 * in a fixed array indexed by route slot, method and status, so the label
 * sets are bounded by construction: routes are templates
 * ("/api/models/{model}/read-batch"), never raw paths; methods outside the
 * usual few count as "OTHER"; a status outside the table counts under its
 * class ("5xx"). A series appears once its counter is non-zero.
 */
#include "server/metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "trust/status.h"
#include "util/histo.h"
#include "util/sb.h"

#ifndef VMDB_VERSION
#define VMDB_VERSION "unknown"
#endif

#define MAX_ROUTES 40 /* table routes; the extra slots follow */
#define SLOT_SEQ MAX_ROUTES
#define SLOT_TRANSITION (MAX_ROUTES + 1)
#define SLOT_ASSET (MAX_ROUTES + 2)
#define SLOT_NONE (MAX_ROUTES + 3)
#define NSLOTS (MAX_ROUTES + 4)

static const char *const methods[] = {"GET",    "HEAD",    "POST",  "PUT",
                                      "DELETE", "OPTIONS", "PATCH", "OTHER"};
#define NMETHODS (sizeof methods / sizeof methods[0])

static const int statuses[] = {200, 201, 204, 400, 401, 403, 404, 405, 408,
                               409, 413, 414, 415, 422, 429, 500, 502, 503};
#define NKNOWN (sizeof statuses / sizeof statuses[0])
#define NSTATUS (NKNOWN + 5) /* then 1xx..5xx */

/* Latency bounds in microseconds, rendered in seconds. */
static const uint64_t latency_bounds[] = {500,     1000,    2500,    5000,    10000,
                                          25000,   50000,   100000,  250000,  500000,
                                          1000000, 2500000, 5000000, 10000000};

/* The HTTP counters, owned by the HTTP server (one per vmdb_http). */
struct vmdb_metrics {
    _Atomic uint64_t requests[NSLOTS][NMETHODS][NSTATUS];
    vmdb_histo latency[NSLOTS];
    char templates[NSLOTS][80];
};

/* The reasons of trust/status.h, as label values. */
static const char *const block_names[VMDB_BLOCK_COUNT] = {
    "rollback", "trust", "state", "commit_lost", "anchor_wait", "lock_lost"};

int vmdb_metrics_new(vmdb_metrics **out)
{
    vmdb_metrics *m = calloc(1, sizeof *m);
    *out = NULL;
    if (!m)
        return VMDB_ENOMEM;
    for (size_t i = 0; i < NSLOTS; i++)
        vmdb_histo_init(&m->latency[i], latency_bounds,
                        sizeof latency_bounds / sizeof latency_bounds[0]);
    for (size_t i = 0; i < vmdb_nroutes && i < MAX_ROUTES; i++)
        snprintf(m->templates[i], sizeof m->templates[i], "%s%s",
                 vmdb_routes[i].model ? "/api/models/{model}/" : "", vmdb_routes[i].path);
    snprintf(m->templates[SLOT_SEQ], sizeof m->templates[SLOT_SEQ], "/api/roots/{seq}");
    snprintf(m->templates[SLOT_TRANSITION], sizeof m->templates[SLOT_TRANSITION], "%s",
             vmdb_route_transition.path);
    snprintf(m->templates[SLOT_ASSET], sizeof m->templates[SLOT_ASSET], "/swagger-ui/{file}");
    snprintf(m->templates[SLOT_NONE], sizeof m->templates[SLOT_NONE], "unmatched");
    *out = m;
    return 0;
}

void vmdb_metrics_free(vmdb_metrics *m)
{
    free(m);
}

int vmdb_metrics_route(const vmdb_route *rt)
{
    if (rt == &vmdb_route_root_by_seq)
        return SLOT_SEQ;
    if (rt == &vmdb_route_transition)
        return SLOT_TRANSITION;
    if (rt >= vmdb_routes && rt < vmdb_routes + vmdb_nroutes && rt - vmdb_routes < MAX_ROUTES)
        return (int)(rt - vmdb_routes);
    return VMDB_METRICS_ROUTE_NONE;
}

static size_t slot_of(int route)
{
    if (route == VMDB_METRICS_ROUTE_ASSET)
        return SLOT_ASSET;
    if (route < 0 || (route >= MAX_ROUTES && route != SLOT_SEQ && route != SLOT_TRANSITION))
        return SLOT_NONE;
    return (size_t)route;
}

static size_t method_of(const char *m)
{
    for (size_t i = 0; i + 1 < NMETHODS; i++)
        if (m && strcmp(m, methods[i]) == 0)
            return i;
    return NMETHODS - 1;
}

static size_t status_of(int status)
{
    for (size_t i = 0; i < NKNOWN; i++)
        if (statuses[i] == status)
            return i;
    return status >= 100 && status < 600 ? NKNOWN + (size_t)(status / 100 - 1) : NKNOWN + 4;
}

void vmdb_metrics_request(vmdb_metrics *m, int route, const char *method, int status,
                          uint64_t micros)
{
    size_t s = slot_of(route);
    atomic_fetch_add_explicit(&m->requests[s][method_of(method)][status_of(status)], 1,
                              memory_order_relaxed);
    vmdb_histo_observe(&m->latency[s], micros);
}

static int family(vmdb_buf *out, const char *name, const char *type, const char *help)
{
    return vmdb_sb_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: the format's escapes for \, " and newline. */
static int label_value(vmdb_buf *out, const char *v)
{
    int rc = vmdb_buf_putc(out, '"');
    for (; rc == 0 && *v; v++)
        rc = *v == '\\'   ? vmdb_sb_puts(out, "\\\\")
             : *v == '"'  ? vmdb_sb_puts(out, "\\\"")
             : *v == '\n' ? vmdb_sb_puts(out, "\\n")
                          : vmdb_buf_putc(out, *v);
    return rc ? rc : vmdb_buf_putc(out, '"');
}

/* One histogram's samples; `labels` (may be "") go before "le". Bounds and
 * sum are divided by `scale`. */
static int histogram(vmdb_buf *out, const char *name, const char *labels, const vmdb_histo_snap *h,
                     double scale)
{
    const char *sep = labels[0] ? "," : "";
    uint64_t cum = 0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < h->nbounds; i++) {
        cum += h->counts[i];
        rc = vmdb_sb_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep,
                            (double)h->bounds[i] / scale, (unsigned long long)cum);
    }
    rc = rc ? rc
            : vmdb_sb_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
                             (unsigned long long)h->count);
    rc = rc ? rc
            : (labels[0]
                   ? vmdb_sb_printf(out, "%s_sum{%s} %.6f\n%s_count{%s} %llu\n", name, labels,
                                    (double)h->sum / scale, name, labels,
                                    (unsigned long long)h->count)
                   : vmdb_sb_printf(out, "%s_sum %.6f\n%s_count %llu\n", name,
                                    (double)h->sum / scale, name, (unsigned long long)h->count));
    return rc;
}

static int status_label(char *buf, size_t len, size_t k)
{
    return k < NKNOWN ? snprintf(buf, len, "%d", statuses[k])
                      : snprintf(buf, len, "%zuxx", k - NKNOWN + 1);
}

static int http_metrics(vmdb_buf *out, vmdb_metrics *hm)
{
    char st[8];
    int rc = family(out, "vmdb_http_requests_total", "counter",
                    "HTTP requests answered, by route template, method and status.");
    for (size_t s = 0; rc == 0 && s < NSLOTS; s++)
        for (size_t m = 0; rc == 0 && m < NMETHODS; m++)
            for (size_t k = 0; rc == 0 && k < NSTATUS; k++) {
                uint64_t n = atomic_load_explicit(&hm->requests[s][m][k], memory_order_relaxed);
                if (!n || !hm->templates[s][0])
                    continue;
                status_label(st, sizeof st, k);
                rc = vmdb_sb_puts(out, "vmdb_http_requests_total{route=");
                rc = rc ? rc : label_value(out, hm->templates[s]);
                rc = rc ? rc
                        : vmdb_sb_printf(out, ",method=\"%s\",status=\"%s\"} %llu\n", methods[m],
                                         st, (unsigned long long)n);
            }
    rc = rc ? rc
            : family(out, "vmdb_http_request_duration_seconds", "histogram",
                     "Time from a request's headers to its answer, by route template.");
    for (size_t s = 0; rc == 0 && s < NSLOTS; s++) {
        vmdb_histo_snap h;
        vmdb_histo_snapshot(&hm->latency[s], &h);
        if (!h.count || !hm->templates[s][0])
            continue;
        vmdb_buf lab = VMDB_BUF_INIT;
        rc = vmdb_sb_puts(&lab, "route=");
        rc = rc ? rc : label_value(&lab, hm->templates[s]);
        rc = rc ? rc : vmdb_sb_cstr(&lab);
        rc = rc ? rc
                : histogram(out, "vmdb_http_request_duration_seconds", (const char *)lab.ptr, &h,
                            1e6);
        vmdb_buf_free(&lab);
    }
    return rc;
}

static int gauge(vmdb_buf *out, const char *name, const char *help, bool present, uint64_t v)
{
    int rc = family(out, name, "gauge", help);
    return rc || !present ? rc : vmdb_sb_printf(out, "%s %llu\n", name, (unsigned long long)v);
}

int vmdb_metrics_render(vmdb_buf *out, vmdb_metrics *hm, vmdb_engine *e)
{
    vmdb_metrics_info m;
    vmdb_engine_metrics(e, &m);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t now_ms = (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
    int rc = family(out, "vmdb_build_info", "gauge",
                    "The running build: version, commit and protocol version; always 1.");
    rc = rc ? rc : vmdb_sb_puts(out, "vmdb_build_info{version=");
    rc = rc ? rc : label_value(out, VMDB_VERSION);
#ifdef VMDB_COMMIT
    rc = rc ? rc : vmdb_sb_puts(out, ",commit=");
    rc = rc ? rc : label_value(out, VMDB_COMMIT);
#endif
    rc = rc ? rc : vmdb_sb_puts(out, ",protocol=\"2\"} 1\n");
    rc = rc ? rc : http_metrics(out, hm);
    rc = rc ? rc
            : family(out, "vmdb_write_group_requests", "histogram",
                     "Write requests committed per group commit.");
    rc = rc ? rc : histogram(out, "vmdb_write_group_requests", "", &m.group_reqs, 1);
    rc = rc ? rc
            : family(out, "vmdb_write_group_rows", "histogram", "Rows written per group commit.");
    rc = rc ? rc : histogram(out, "vmdb_write_group_rows", "", &m.group_rows, 1);
    rc = rc ? rc
            : gauge(out, "vmdb_tree_leaves", "Leaves of the newest tree version.", true, m.leaves);
    rc = rc ? rc
            : gauge(out, "vmdb_header_seq", "Seq of the newest signed header (absent: none yet).",
                    m.has_tip, m.header_seq);
    rc = rc ? rc
            : gauge(out, "vmdb_anchored_seq",
                    "Seq of the newest anchored header (absent: none anchored).", m.has_anchored,
                    m.anchored_seq);
    rc =
        rc ? rc
           : gauge(out, "vmdb_anchor_backlog", "Signed headers not yet anchored.", true, m.backlog);
    rc = rc ? rc
            : family(out, "vmdb_last_anchor_age_seconds", "gauge",
                     "Seconds since the newest anchor was made (absent: none anchored).");
    if (rc == 0 && m.has_anchored)
        rc = vmdb_sb_printf(out, "vmdb_last_anchor_age_seconds %.3f\n",
                            now_ms > m.anchored_at_ms ? (double)(now_ms - m.anchored_at_ms) / 1e3
                                                      : 0.0);
    rc = rc ? rc
            : family(out, "vmdb_integrity_violations_total", "counter",
                     "Integrity violations seen since start.");
    rc = rc ? rc
            : vmdb_sb_printf(out, "vmdb_integrity_violations_total %llu\n",
                             (unsigned long long)m.violations);
    rc = rc ? rc
            : family(out, "vmdb_writes_blocked", "gauge",
                     "1 while writes are refused for this reason, else 0.");
    for (int i = 0; rc == 0 && i < VMDB_BLOCK_COUNT; i++)
        rc = vmdb_sb_printf(out, "vmdb_writes_blocked{reason=\"%s\"} %d\n", block_names[i],
                            m.blocked[i] ? 1 : 0);
    rc = rc ? rc
            : gauge(out, "vmdb_pg_read_pool_connections", "Connections of the read pool.", true,
                    m.pool_size);
    rc = rc ? rc
            : gauge(out, "vmdb_pg_read_pool_in_use", "Read pool connections leased now.", true,
                    m.pool_in_use);
    return rc;
}

int vmdb_metrics_handler(vmdb_route_ctx *c, vmdb_reply *out)
{
    if (vmdb_metrics_render(&out->data, c->metrics, c->e) != 0) {
        out->data.len = 0;
        return vmdb_fail_set(&out->fail, VMDB_FAIL_INTERNAL, "out of memory");
    }
    out->bare = true;
    out->content_type = VMDB_METRICS_CTYPE;
    return 0;
}
