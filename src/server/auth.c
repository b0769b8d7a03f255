/*
 * API key checks for the HTTP server (auth.h). The keys live in memory
 * under one mutex; a check costs a SHA-256 of 32 bytes and, at most once a
 * second, a stat() of the keys file, which is read again (and its
 * signature checked) only when it changed. A file that disappears or stops
 * verifying while vmdb runs leaves no key valid: failing closed, since the
 * only one who can make it so without the identity key is the host.
 */
#include "server/auth.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "util/log.h"

struct vmdb_auth {
    vmdb_auth_config cfg;
    char *path;
    pthread_mutex_t mu;
    vmdb_apikeys keys; /* empty while the file is gone or bad */
    uint64_t checked_ms;
    bool seen;      /* the file was there at the last look */
    struct stat st; /* as it was when last read */
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Reads the file; on any failure no key is valid. Called with mu held. */
static int load(vmdb_auth *a, const struct stat *st)
{
    vmdb_apikeys fresh = {NULL, 0};
    int rc = vmdb_apikeys_load(&fresh, a->path, a->cfg.pk);
    vmdb_apikeys_free(&a->keys);
    a->st = *st;
    a->seen = true;
    if (rc != 0) {
        LOG_ERROR("API keys file %s: %s (%s); no API key is accepted until it is fixed", a->path,
                  vmdb_error_last(), vmdb_error_name(rc));
        return rc;
    }
    a->keys = fresh;
    return 0;
}

/* Looks at the file when a second has passed since the last look, or when
 * `force`. Called with mu held. */
static void refresh(vmdb_auth *a, bool force)
{
    uint64_t now = now_ms();
    struct stat st;
    if (!force && now - a->checked_ms < 1000)
        return;
    a->checked_ms = now;
    if (stat(a->path, &st) != 0) {
        if (a->seen)
            LOG_ERROR("API keys file %s is gone; no API key is accepted until it is back", a->path);
        a->seen = false;
        vmdb_apikeys_free(&a->keys);
        return;
    }
    if (force || !a->seen || !same_file(&st, &a->st)) {
        if (load(a, &st) == 0)
            LOG_INFO("API keys: %zu key%s loaded from %s", a->keys.n, a->keys.n == 1 ? "" : "s",
                     a->path);
    }
}

int vmdb_auth_open(vmdb_auth **out, const vmdb_auth_config *cfg)
{
    struct stat st;
    *out = NULL;
    vmdb_auth *a = calloc(1, sizeof *a);
    if (!a || !(a->path = strdup(cfg->path))) {
        free(a);
        return VMDB_ENOMEM;
    }
    a->cfg = *cfg;
    a->cfg.path = a->path;
    pthread_mutex_init(&a->mu, NULL);
    if (stat(a->path, &st) != 0) {
        LOG_ERROR("API keys file %s does not exist", a->path);
        vmdb_auth_free(a);
        return VMDB_ENOTFOUND;
    }
    int rc = load(a, &st);
    if (rc != 0) {
        vmdb_auth_free(a);
        return rc;
    }
    a->checked_ms = now_ms();
    LOG_INFO("API keys: %zu key%s loaded from %s; requests need Authorization: Bearer <key>",
             a->keys.n, a->keys.n == 1 ? "" : "s", a->path);
    *out = a;
    return 0;
}

void vmdb_auth_free(vmdb_auth *a)
{
    if (!a)
        return;
    vmdb_apikeys_free(&a->keys);
    pthread_mutex_destroy(&a->mu);
    free(a->path);
    free(a);
}

void vmdb_auth_reload(vmdb_auth *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    refresh(a, true);
    pthread_mutex_unlock(&a->mu);
}

void vmdb_auth_table_name(char *out, size_t size, const char *name, size_t len)
{
    size_t b = 0, n = len, k = 0;
    while (b < n && (name[b] == ' ' || name[b] == '\t' || name[b] == '\n' || name[b] == '\r'))
        b++;
    while (n > b && (name[n - 1] == ' ' || name[n - 1] == '\t' || name[n - 1] == '\n' ||
                     name[n - 1] == '\r'))
        n--;
    for (size_t i = b; i < n && k + 1 < size; i++) {
        char ch = name[i];
        out[k++] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
    }
    if (size)
        out[k] = 0;
}

/* Routes under /api/models/{model}/ that only read. */
static bool read_action(const char *action)
{
    return strcmp(action, "read-batch") == 0 || strcmp(action, "read-latest") == 0;
}

vmdb_role vmdb_auth_route_role(const vmdb_auth *a, const char *url, const char *method, char *table,
                               size_t table_size)
{
    (void)method;
    if (table_size)
        table[0] = 0;
    if (strcmp(url, "/health") == 0)
        return a->cfg.protect_health ? VMDB_ROLE_READ : VMDB_ROLE_NONE;
    if (strcmp(url, "/metrics") == 0)
        return a->cfg.protect_metrics ? VMDB_ROLE_READ : VMDB_ROLE_NONE;
    if (strcmp(url, "/swagger-ui") == 0 || strncmp(url, "/swagger-ui/", 12) == 0 ||
        strcmp(url, "/api-docs/openapi.json") == 0)
        return VMDB_ROLE_NONE;
    if (strcmp(url, "/bootstrap/schema") == 0) {
        /* It describes every table: not for a key limited to some. */
        snprintf(table, table_size, "*");
        return VMDB_ROLE_READ;
    }
    if (strncmp(url, "/bootstrap/", 11) == 0)
        return VMDB_ROLE_ADMIN;
    size_t ul = strlen(url);
    if (strncmp(url, "/api/roots/", 11) == 0 && ul > 22 &&
        strcmp(url + ul - 11, "/transition") == 0) {
        /* A transition record names rows of any table (a repair's
         * changes): not for a key limited to some. */
        snprintf(table, table_size, "*");
        return VMDB_ROLE_READ;
    }
    if (strncmp(url, "/api/models/", 12) == 0) {
        const char *seg = url + 12, *slash = strchr(seg, '/');
        if (!slash)
            return VMDB_ROLE_READ;
        vmdb_auth_table_name(table, table_size, seg, (size_t)(slash - seg));
        /* Anything but a known read is taken for a write. */
        return read_action(slash + 1) ? VMDB_ROLE_READ : VMDB_ROLE_WRITE;
    }
    /* The other reads (/api/execute is checked again by its action),
     * and paths that are not routes (a 404 once the key is checked). */
    return VMDB_ROLE_READ;
}

static int unauthorized(vmdb_fail *f, const char *why)
{
    return vmdb_fail_set(f, VMDB_FAIL_UNAUTHORIZED, "%s", why);
}

static int copy_access(vmdb_access *out, const vmdb_apikey *k)
{
    memset(out, 0, sizeof *out);
    out->role = k->role;
    memcpy(out->id, k->id, sizeof out->id);
    if (!k->tables)
        return 0;
    if (!(out->tables = calloc(k->ntables, sizeof *out->tables)))
        return VMDB_ENOMEM;
    for (size_t i = 0; i < k->ntables; i++) {
        if (!(out->tables[i] = strdup(k->tables[i])))
            return VMDB_ENOMEM;
        out->ntables++;
    }
    return 0;
}

int vmdb_access_allows(const vmdb_access *access, vmdb_role need, const char *table, vmdb_fail *f)
{
    if (!access)
        return 0;
    if (access->role < need)
        return vmdb_fail_set(f, VMDB_FAIL_FORBIDDEN,
                             "API key %s has the role '%s'; this route needs '%s'", access->id,
                             vmdb_role_name(access->role), vmdb_role_name(need));
    if (!access->tables || !table || !table[0])
        return 0;
    for (size_t i = 0; i < access->ntables; i++)
        if (strcmp(access->tables[i], table) == 0)
            return 0;
    if (strcmp(table, "*") == 0)
        return vmdb_fail_set(f, VMDB_FAIL_FORBIDDEN,
                             "API key %s is limited to some tables; this route covers every table",
                             access->id);
    return vmdb_fail_set(f, VMDB_FAIL_FORBIDDEN, "API key %s does not cover the table '%.100s'",
                         access->id, table);
}

void vmdb_access_clear(vmdb_access *access)
{
    if (!access)
        return;
    for (size_t i = 0; access->tables && i < access->ntables; i++)
        free(access->tables[i]);
    free(access->tables);
    memset(access, 0, sizeof *access);
}

int vmdb_auth_check(vmdb_auth *a, const char *authorization, vmdb_role need, const char *table,
                    vmdb_access *access, vmdb_fail *f)
{
    static const char how[] = "send Authorization: Bearer <API key> (keys come from vmdb keys "
                              "create)";
    memset(access, 0, sizeof *access);
    const char *p = authorization;
    if (!p || !*p)
        return vmdb_fail_set(f, VMDB_FAIL_UNAUTHORIZED, "Missing API key: %s", how);
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncasecmp(p, "Bearer", 6) != 0 || (p[6] != ' ' && p[6] != '\t'))
        return vmdb_fail_set(f, VMDB_FAIL_UNAUTHORIZED, "Malformed Authorization header: %s", how);
    p += 6;
    while (*p == ' ' || *p == '\t')
        p++;
    size_t n = strlen(p);
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    pthread_mutex_lock(&a->mu);
    refresh(a, false);
    const vmdb_apikey *k = vmdb_apikeys_check(&a->keys, p, n);
    int rc = k ? copy_access(access, k) : 0;
    pthread_mutex_unlock(&a->mu);
    if (rc != 0) {
        vmdb_access_clear(access);
        return vmdb_fail_set(f, VMDB_FAIL_INTERNAL, "out of memory");
    }
    if (!k)
        return unauthorized(f, "Invalid API key (unknown, revoked or malformed)");
    rc = vmdb_access_allows(access, need, table, f);
    if (rc != 0)
        vmdb_access_clear(access);
    return rc;
}

bool vmdb_auth_listen_is_loopback(const char *listen)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof host)
        return false;
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = 0;
    char *hp = host;
    size_t hl = strlen(hp);
    if (hp[0] == '[' && hl > 2 && hp[hl - 1] == ']') {
        hp[hl - 1] = 0;
        hp++;
    }
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(hp, NULL, &hints, &ai) != 0 || !ai)
        return false;
    bool loop = true;
    for (const struct addrinfo *p = ai; p && loop; p = p->ai_next) {
        if (p->ai_family == AF_INET) {
            const struct sockaddr_in *s = (const struct sockaddr_in *)(const void *)p->ai_addr;
            loop = (ntohl(s->sin_addr.s_addr) >> 24) == 127;
        } else if (p->ai_family == AF_INET6) {
            const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)(const void *)p->ai_addr;
            const uint8_t *b = s->sin6_addr.s6_addr;
            loop = IN6_IS_ADDR_LOOPBACK(&s->sin6_addr) ||
                   (IN6_IS_ADDR_V4MAPPED(&s->sin6_addr) && b[12] == 127);
        } else {
            loop = false;
        }
    }
    freeaddrinfo(ai);
    return loop;
}
