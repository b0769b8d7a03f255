/*
 * Authorization of HTTP requests with API keys (trust/apikeys.h): which
 * role each path needs, the check of `Authorization: Bearer <key>`, and the
 * running server's copy of the keys file, reloaded on SIGHUP and when the
 * file changes (looked at no more than once a second), so that a revoked
 * key stops working without a restart. Decided before routing: a refused
 * request never reaches a handler or the store.
 */
#ifndef VMDB_SERVER_AUTH_H
#define VMDB_SERVER_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/result.h"
#include "trust/apikeys.h"

typedef struct vmdb_auth vmdb_auth;

typedef struct vmdb_auth_config {
    const char *path;     /* the keys file */
    uint8_t pk[32];       /* the identity's public key: the file's signer */
    bool protect_health;  /* GET /health needs `read` */
    bool protect_metrics; /* GET /metrics needs `read` */
} vmdb_auth_config;

/* What an admitted request may do: its key's role and tables (copied, so
 * that a reload while the request runs does not matter). */
typedef struct vmdb_access {
    vmdb_role role;
    char id[VMDB_APIKEY_ID_LEN + 1];
    char **tables; /* NULL: every table */
    size_t ntables;
} vmdb_access;

/* Loads and checks the keys file. Errors (logged): VMDB_ENOTFOUND,
 * VMDB_EVERIFY (a file the identity did not sign), VMDB_EINVAL, VMDB_EIO,
 * VMDB_ENOMEM. */
int vmdb_auth_open(vmdb_auth **out, const vmdb_auth_config *cfg);
void vmdb_auth_free(vmdb_auth *a);
/* Reads the file again now (SIGHUP). A file that is gone or does not
 * verify leaves no key valid until a good one is back (logged). */
void vmdb_auth_reload(vmdb_auth *a);

/* The role a request for `url` needs (VMDB_ROLE_NONE: open), and for
 * routes under /api/models/{model}/ the model's name in `table` (trimmed,
 * lower case; "" otherwise). */
vmdb_role vmdb_auth_route_role(const vmdb_auth *a, const char *url, const char *method, char *table,
                               size_t table_size);

/* Checks `authorization` (the header's value, may be NULL) for a request
 * that needs `need` on `table` ("" or NULL: no table). 0 and *access filled
 * (release with vmdb_access_clear), or the failure in `f`: UNAUTHORIZED
 * (no key, not a key, unknown or revoked) or FORBIDDEN (the key's role or
 * tables do not cover it). */
int vmdb_auth_check(vmdb_auth *a, const char *authorization, vmdb_role need, const char *table,
                    vmdb_access *access, vmdb_fail *f);

/* Whether an admitted request may also do `need` on `table` (used where
 * the body says what a route does, as POST /api/execute's action). 0 or
 * FORBIDDEN in `f`. NULL access: no keys are enforced. */
int vmdb_access_allows(const vmdb_access *access, vmdb_role need, const char *table, vmdb_fail *f);
void vmdb_access_clear(vmdb_access *access);

/* A model name as the routes resolve it: trimmed, lower case, at most
 * size - 1 bytes. */
void vmdb_auth_table_name(char *out, size_t size, const char *name, size_t len);

/* Whether every address `listen` (host:port) names is a loopback one. */
bool vmdb_auth_listen_is_loopback(const char *listen);

#endif
